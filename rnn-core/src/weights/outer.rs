//! A kernel gradient's outer products, kept and added in blocks.
//!
//! The backward of `x · W` adds `x dzᵀ` to the kernel's gradient at every step. Added at once,
//! each term reads and writes the whole gradient: for a kernel larger than the caches, a
//! trip to memory per sample-step. Kept instead (the two vectors, a few kilobytes), a block
//! of [`TERMS`] terms is added in one sweep over the gradient, `dW += Xᵀ dZ`, with each
//! tile of the gradient (a few rows by a register's width of columns) summed in registers
//! over the block's terms; memory is crossed once per block.
//!
//! Each value of the gradient receives the same additions in the same order as term by term
//! (`w + x·d`, a product rounded and then added, never fused), so the sums are bit-identical.

use alloc::vec::Vec;

use crate::kernels::dispatch::copy_for;
use crate::kernels::{vectorized_for, Isa};
use crate::real::Real;

/// The terms kept before they are added: a block of them is one sweep over the gradient, and
/// a block's `dz` for a [`PANEL`] of columns stays in the second-level cache while a sweep
/// reads it once per tile of rows.
pub(super) const TERMS: usize = 64;

/// The column blocks of one panel: a sweep takes the rows, tile by tile, over one panel of
/// columns before the next, so that the block's `dz` for those columns stays in the
/// second-level cache. Wide, so that each row of a tile is a long run of the gradient, which
/// the prefetchers follow; narrower panels (`dz` in the first-level cache) measured slower.
const PANEL: usize = 32;

/// The terms `x dzᵀ` added to a kernel's gradient and not yet in it.
pub(super) struct Outer<T> {
    /// The terms' `x`, one after another (`IN` values each).
    xs: Vec<T>,
    /// The terms' `dz`, one after another (`G · H` values each).
    dzs: Vec<T>,
    /// The terms' `x` again, in the order a sweep reads them (see [`pack`]); kept to reuse
    /// its room.
    packed: Vec<T>,
    /// Whether new terms are kept; off, they are added at once.
    pub(super) on: bool,
}

impl<T> Default for Outer<T> {
    fn default() -> Self {
        Outer {
            xs: Vec::new(),
            dzs: Vec::new(),
            packed: Vec::new(),
            on: false,
        }
    }
}

impl<T: Real> Outer<T> {
    /// Keeps the term `x dzᵀ`; `true` when [`TERMS`] are kept, to be added.
    #[inline(always)]
    pub(super) fn keep(&mut self, x: &[T], dz: impl Iterator<Item = T>) -> bool {
        self.xs.extend_from_slice(x);
        let len = self.dzs.len();
        self.dzs.extend(dz);
        let n = self.dzs.len() - len;
        n > 0 && self.dzs.len() / n >= TERMS
    }

    /// Room for a block of terms of `inputs` and `outputs` values, past any kept.
    pub(super) fn reserve(&mut self, inputs: usize, outputs: usize) {
        self.xs.reserve(TERMS * inputs);
        self.dzs.reserve(TERMS * outputs);
        self.packed.reserve(TERMS * inputs);
    }

    /// Whether terms are kept that the gradient lacks.
    #[inline(always)]
    pub(super) fn is_pending(&self) -> bool {
        !self.dzs.is_empty()
    }

    /// Adds the kept terms into `w`, the `[IN, n]` gradient, row-major, and forgets them.
    ///
    /// The tile of sums held in registers is sized for each copy of the code: as many as its
    /// registers hold with room for the operands, and enough independent sums that the adds
    /// do not wait on one another.
    pub(super) fn add_into(&mut self, w: &mut [T], n: usize) {
        if n > 0 && !self.dzs.is_empty() {
            let (xs, dzs, packed) = (&self.xs, &self.dzs, &mut self.packed);
            match copy_for(n) {
                // 32 registers of 64 bytes: 8 rows by one register, 8 sums.
                Isa::Avx512 => vectorized_for(
                    n,
                    #[inline(always)]
                    || sweep::<T, 8, 64>(w, n, xs, dzs, packed),
                ),
                // 16 registers of 32 bytes: 4 rows by two registers, 8 sums.
                Isa::Avx2 => crate::vectorized(
                    #[inline(always)]
                    || sweep::<T, 4, 64>(w, n, xs, dzs, packed),
                ),
                // 16 registers of 16 bytes: 4 rows by two registers, 8 sums.
                Isa::Baseline => sweep::<T, 4, 32>(w, n, xs, dzs, packed),
            }
        }
        self.xs.clear();
        self.dzs.clear();
    }
}

/// `w += Σ_k xs[k] dzs[k]ᵀ`, in tiles of `R` rows by `BYTES` of columns whose sums stay in
/// registers while the terms are added in order.
#[inline(always)]
fn sweep<T: Real, const R: usize, const BYTES: usize>(
    w: &mut [T],
    n: usize,
    xs: &[T],
    dzs: &[T],
    packed: &mut Vec<T>,
) {
    let terms = dzs.len() / n;
    pack::<T, R>(xs, xs.len() / terms, terms, packed);
    match BYTES / core::mem::size_of::<T>() {
        16 => panels::<T, R, 16>(w, n, packed, dzs),
        8 => panels::<T, R, 8>(w, n, packed, dzs),
        4 => panels::<T, R, 4>(w, n, packed, dzs),
        _ => panels::<T, R, 1>(w, n, packed, dzs),
    }
}

/// Lays the terms' `x` out as [`panels`] reads them: the rows in tiles of `R` (the rows left
/// over one by one), each tile's values term after term, so that the values one term
/// multiplies in a tile are side by side. A tile from row `j` of height `h` holds
/// `packed[j · terms..][..h · terms]`, `x_k[j + r]` at `k · h + r`.
#[inline(always)]
fn pack<T: Real, const R: usize>(xs: &[T], inputs: usize, terms: usize, packed: &mut Vec<T>) {
    packed.clear();
    packed.resize(xs.len(), T::zero());
    let whole = inputs - inputs % R;
    let (tiles, rest) = packed.split_at_mut(whole * terms);
    // Tile by tile, so that the writes run on and each line of `xs` read serves the tiles it
    // spans while it is in the cache.
    for (tile, start) in tiles.chunks_exact_mut(R * terms).zip((0..).step_by(R)) {
        for (to, x) in tile.chunks_exact_mut(R).zip(xs.chunks_exact(inputs)) {
            to.copy_from_slice(&x[start..start + R]);
        }
    }
    for (row, j) in rest.chunks_exact_mut(terms).zip(whole..) {
        for (to, x) in row.iter_mut().zip(xs.chunks_exact(inputs)) {
            *to = x[j];
        }
    }
}

/// The sweep over the gradient in panels of [`PANEL`] blocks of `C` columns, each panel tile
/// of rows by tile of rows.
#[inline(always)]
fn panels<T: Real, const R: usize, const C: usize>(w: &mut [T], n: usize, packed: &[T], dzs: &[T]) {
    let terms = dzs.len() / n;
    let whole = packed.len() / terms / R * R;
    let (tiles, rest) = packed.split_at(whole * terms);
    let (w_tiles, w_rest) = w.split_at_mut(whole * n);
    for start in (0..n).step_by(PANEL * C) {
        let end = n.min(start + PANEL * C);
        for (w, x) in w_tiles
            .chunks_exact_mut(R * n)
            .zip(tiles.chunks_exact(R * terms))
        {
            row_tile::<T, R, C>(w, n, start..end, x, dzs);
        }
        for (w, x) in w_rest.chunks_exact_mut(n).zip(rest.chunks_exact(terms)) {
            row_tile::<T, 1, C>(w, n, start..end, x, dzs);
        }
    }
}

/// Adds the terms into the columns `columns` of the `R` rows `w`, with `x` their tile of
/// [`pack`]: in blocks of `C` columns, then of 4 and of 1 for the ones left.
#[inline(always)]
fn row_tile<T: Real, const R: usize, const C: usize>(
    w: &mut [T],
    n: usize,
    columns: core::ops::Range<usize>,
    x: &[T],
    dzs: &[T],
) {
    let mut c = columns.start;
    while columns.end - c >= C {
        tile::<T, R, C>(w, n, c, x, dzs);
        c += C;
    }
    while columns.end - c >= 4 {
        tile::<T, R, 4>(w, n, c, x, dzs);
        c += 4;
    }
    while c < columns.end {
        tile::<T, R, 1>(w, n, c, x, dzs);
        c += 1;
    }
}

/// `w[r, c..c + C] += Σ_k x_k[r] · dzs[k][c..c + C]` for the `R` rows `w`: the `R × C` sums
/// in registers, the terms added in order.
#[inline(always)]
fn tile<T: Real, const R: usize, const C: usize>(
    w: &mut [T],
    n: usize,
    c: usize,
    x: &[T],
    dzs: &[T],
) {
    // Each row written out, its sums in registers: see `written_out`.
    const { assert!(R <= 8, "a tile of at most 8 rows") };
    let mut sums = [[T::zero(); C]; R];
    crate::kernels::written_out!(r < R => sums[r].copy_from_slice(&w[r * n + c..][..C]));
    for (k, x) in x.chunks_exact(R).enumerate() {
        let dz: &[T; C] = dzs[k * n + c..][..C].try_into().expect("C columns");
        crate::kernels::written_out!(r < R => add_product(&mut sums[r], x[r], dz));
    }
    crate::kernels::written_out!(r < R => w[r * n + c..][..C].copy_from_slice(&sums[r]));
}

/// `s += x · d`, each product rounded and then added.
#[inline(always)]
fn add_product<T: Real, const C: usize>(s: &mut [T; C], x: T, d: &[T; C]) {
    for (s, &d) in s.iter_mut().zip(d) {
        *s += x * d;
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::SVector;

    use alloc::vec::Vec;

    use super::{sweep, Outer, TERMS};
    use crate::real::Real;
    use crate::weights::Kernel;

    /// The first value where `a` and `b` differ, if any.
    fn first_difference(a: &[f32], b: &[f32]) -> Option<(usize, f32, f32)> {
        let mut pairs = a.iter().zip(b).enumerate();
        pairs
            .find(|(_, (a, b))| a.to_bits() != b.to_bits())
            .map(|(i, (&a, &b))| (i, a, b))
    }

    /// `n` pseudo-random values in `[-1, 1)`, different for each `seed`.
    fn values<const N: usize>(seed: u64) -> SVector<f32, N> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        SVector::from_fn(|_, _| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
    }

    /// A gradient that keeps its terms (more than two blocks of them, columns that are no
    /// multiple of a register block, two gates) holds the same bits as one that adds each at
    /// once, and adds at once again once turned off.
    #[test]
    fn kept_terms_add_the_same_bits() {
        const IN: usize = 150;
        const H: usize = 223;
        let mut at_once = Kernel::<f32, IN, 2, H>::zeros();
        let mut kept = Kernel::<f32, IN, 2, H>::zeros();
        kept.defer_outer(true);
        let terms = 2 * TERMS + 7;
        for t in 0..terms as u64 {
            let x = values::<IN>(3 * t);
            let dz = [values::<H>(3 * t + 1), values::<H>(3 * t + 2)];
            at_once.add_outer(&x, &dz);
            kept.add_outer(&x, &dz);
            if t == TERMS as u64 + 1 {
                assert!(kept.outer.as_ref().is_some_and(|o| o.is_pending()));
            }
        }
        kept.defer_outer(false);
        assert!(!kept.outer.as_ref().is_some_and(|o| o.is_pending()));
        assert_eq!(first_difference(kept.as_slice(), at_once.as_slice()), None);
        let (x, dz) = (values::<IN>(1000), [values::<H>(1001), values::<H>(1002)]);
        at_once.add_outer(&x, &dz);
        kept.add_outer(&x, &dz);
        assert!(!kept.outer.as_ref().is_some_and(|o| o.is_pending()));
        assert_eq!(first_difference(kept.as_slice(), at_once.as_slice()), None);
    }

    /// A write through `rows_mut` after kept terms comes after them.
    #[test]
    fn a_write_adds_the_kept_terms_first() {
        let mut kept = Kernel::<f32, 256, 1, 256>::zeros();
        kept.defer_outer(true);
        let x = SVector::<f32, 256>::repeat(2.0);
        kept.add_outer(&x, &[SVector::repeat(3.0)]);
        kept.rows_mut()[0][0][0] *= 10.0;
        kept.defer_outer(false);
        assert_eq!(kept.rows()[0][0][..2], [60.0, 6.0]);
    }

    /// `len` pseudo-random values in `[-1, 1)`, different for each `seed`.
    fn randoms<T: Real>(len: usize, seed: u64, from: impl Fn(f64) -> T) -> Vec<T> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        };
        (0..len).map(|_| from(next())).collect()
    }

    /// [`sweep`] for one shape of tile.
    type Sweep<T> = fn(&mut [T], usize, &[T], &[T], &mut Vec<T>);

    /// For each number of terms, the gradient `w0 + Σ_k x_k dz_kᵀ` of `inputs` rows and `n`
    /// columns added term by term, and as every copy's tile adds it: the same bits.
    fn tiles_agree<T: Real>(inputs: usize, n: usize, from: impl Fn(f64) -> T + Copy) {
        // The shortest text that reads back as the same value: equal text, equal bits.
        let bits = |w: &[T]| w.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>();
        for terms in [1, 37, TERMS] {
            let xs = randoms(terms * inputs, 1, from);
            let dzs = randoms(terms * n, 2, from);
            let w0 = randoms(inputs * n, 3, from);
            let mut expected = w0.clone();
            for (x, dz) in xs.chunks_exact(inputs).zip(dzs.chunks_exact(n)) {
                for (row, &x) in expected.chunks_exact_mut(n).zip(x) {
                    for (w, &d) in row.iter_mut().zip(dz) {
                        *w += x * d;
                    }
                }
            }
            let tiles: [(&str, Sweep<T>); 3] = [
                ("avx512", sweep::<T, 8, 64>),
                ("avx2", sweep::<T, 4, 64>),
                ("baseline", sweep::<T, 4, 32>),
            ];
            for (name, sweep) in tiles {
                let mut w = w0.clone();
                sweep(&mut w, n, &xs, &dzs, &mut Vec::new());
                assert!(bits(&w) == bits(&expected), "{name}, {terms} terms");
            }
            let mut outer = Outer::default();
            for (x, dz) in xs.chunks_exact(inputs).zip(dzs.chunks_exact(n)) {
                outer.keep(x, dz.iter().copied());
            }
            let mut w = w0.clone();
            outer.add_into(&mut w, n);
            assert!(!outer.is_pending());
            assert!(bits(&w) == bits(&expected), "add_into, {terms} terms");
        }
    }

    /// Rows, columns and terms that whole tiles, blocks and panels leave over are added in
    /// the same order as term by term, in `f32` and `f64`: 13 rows (a tile of 8 and 5 rows
    /// alone, or 3 tiles of 4 and 1), 535 columns (in `f32` on AVX-512, a panel of 512, then
    /// blocks of 16, 4 and 1), fewer terms than a block; and a gradient smaller than one
    /// tile.
    #[test]
    fn tiles_add_the_same_bits_as_term_by_term() {
        tiles_agree::<f32>(13, 535, |v| v as f32);
        tiles_agree::<f64>(13, 535, |v| v);
        tiles_agree::<f32>(3, 5, |v| v as f32);
    }
}
