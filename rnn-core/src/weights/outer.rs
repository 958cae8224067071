//! A kernel gradient's outer products, kept and added in blocks.
//!
//! The backward of `x · W` adds `x dzᵀ` to the kernel's gradient at every step. Added at once,
//! each term reads and writes the whole gradient: for a kernel larger than the caches, a
//! trip to memory per sample-step. Kept instead (the two vectors, a few kilobytes), a block
//! of [`TERMS`] terms is added in one sweep over the gradient, `dW += Xᵀ dZ`, with each
//! block of the gradient's columns summed in registers over the block's terms; memory is
//! crossed once per block.
//!
//! Each value of the gradient receives the same additions in the same order as term by term
//! (`w + x·d`, a product rounded and then added, never fused), so the sums are bit-identical.

use alloc::vec::Vec;

use crate::real::Real;

/// The terms kept before they are added: a block of them is one sweep over the gradient, and
/// a block's `dz` columns in registers' width (`TERMS × 64` values) stay in the first-level
/// cache while a sweep reads them once per row.
pub(super) const TERMS: usize = 64;

/// The terms `x dzᵀ` added to a kernel's gradient and not yet in it.
pub(super) struct Outer<T> {
    /// The terms' `x`, one after another (`IN` values each).
    xs: Vec<T>,
    /// The terms' `dz`, one after another (`G · H` values each).
    dzs: Vec<T>,
    /// Whether new terms are kept; off, they are added at once.
    pub(super) on: bool,
}

impl<T> Default for Outer<T> {
    fn default() -> Self {
        Outer {
            xs: Vec::new(),
            dzs: Vec::new(),
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
    }

    /// Whether terms are kept that the gradient lacks.
    #[inline(always)]
    pub(super) fn is_pending(&self) -> bool {
        !self.dzs.is_empty()
    }

    /// Adds the kept terms into `w`, the `[IN, n]` gradient, row-major, and forgets them.
    pub(super) fn add_into(&mut self, w: &mut [T], n: usize) {
        if n > 0 && !self.dzs.is_empty() {
            crate::vectorized(
                #[inline(always)]
                || {
                    let mut c = 0;
                    c = columns::<T, 64>(w, n, c, &self.xs, &self.dzs);
                    c = columns::<T, 16>(w, n, c, &self.xs, &self.dzs);
                    columns::<T, 1>(w, n, c, &self.xs, &self.dzs);
                },
            );
        }
        self.xs.clear();
        self.dzs.clear();
    }
}

/// `w[j, c..c + W] += Σ_k xs[k][j] · dzs[k][c..c + W]` for every whole block of `W` columns
/// from `c` on, each block's sums in registers while the terms are added in order; returns
/// the first column left.
#[inline(always)]
fn columns<T: Real, const W: usize>(
    w: &mut [T],
    n: usize,
    mut c: usize,
    xs: &[T],
    dzs: &[T],
) -> usize {
    let inputs = xs.len() / (dzs.len() / n);
    while n - c >= W {
        for (j, row) in w.chunks_exact_mut(n).enumerate() {
            let out: &mut [T; W] = (&mut row[c..c + W]).try_into().expect("W columns");
            let mut sums = *out;
            for (x, dz) in xs.chunks_exact(inputs).zip(dzs.chunks_exact(n)) {
                let xj = x[j];
                let dz: &[T; W] = dz[c..c + W].try_into().expect("W columns");
                for (s, &d) in sums.iter_mut().zip(dz) {
                    *s += xj * d;
                }
            }
            *out = sums;
        }
        c += W;
    }
    c
}

#[cfg(test)]
mod tests {
    use nalgebra::SVector;

    use super::TERMS;
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
}
