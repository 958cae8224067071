//! Matrix-vector products with register-resident accumulators.
//!
//! [`accumulate_rows`] walks the output in blocks of up to 96 columns and, for each block,
//! every input row: the block's partial sums stay in vector registers and each weight is
//! loaded once. Every output element is summed in input order (`j = 0, 1, …`), whatever the
//! block, so [`accumulate_rows_block`] (`N` samples sharing each weight read) gives the same
//! bits as `N` calls of [`accumulate_rows`].

use core::mem::MaybeUninit;

use nalgebra::SVector;

use super::Rounding;
use crate::real::Real;

/// `out[g] += Σ_j x[j] · rows[j][g]`: a vector times a `[IN, G·H]` kernel.
///
/// The `G·H` output columns are taken in blocks of 96, 64 or 32 columns, by width (then 16,
/// 8, 4, 2, 1 for the tail; narrow odd widths in one pass); each block's partial sums live in
/// registers while every row's slice of the block is multiplied in, so the loop is bound by
/// loading each weight once.
#[inline(always)]
pub fn accumulate_rows<T: Real, const IN: usize, const G: usize, const H: usize>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    out: &mut [SVector<T, H>; G],
) {
    with_rounding!(R => accumulate_rows_with::<R, T, IN, G, H>(rows, x, out))
}

/// [`accumulate_rows`] with the multiply-adds rounded as `R` says, compiled where it is
/// called (see [`Rounding`]).
#[inline(always)]
pub fn accumulate_rows_with<
    R: Rounding,
    T: Real,
    const IN: usize,
    const G: usize,
    const H: usize,
>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    out: &mut [SVector<T, H>; G],
) {
    accumulate_rows_leading_with::<R, T, IN, G, H, G>(rows, x, out);
}

/// [`accumulate_rows_with`] in two passes: the first `LEADING` gates, whose sums are then in
/// `out`, and the others. A step whose next operation needs only the leading gates starts on
/// it while the others' multiply-adds still run (the LSTM's cell state needs `i f c̃`, not
/// `o`). Each sum is the same, in the same order: the same bits.
#[inline(always)]
pub(crate) fn accumulate_rows_leading_with<
    R: Rounding,
    T: Real,
    const IN: usize,
    const G: usize,
    const H: usize,
    const LEADING: usize,
>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    out: &mut [SVector<T, H>; G],
) {
    const { assert!(LEADING <= G, "the leading gates are some of the kernel's") };
    let mut acc = zeroed_sums::<T, G, H>();
    let acc = &mut acc.0;
    for (a, o) in acc.iter_mut().zip(out.iter()) {
        a.copy_from_slice(o.as_slice());
    }
    // Two explicit passes, not a loop over them: each pass's width must stay a constant
    // for its column blocks to be chosen at compile time.
    let (leading, rest) = acc.split_at_mut(LEADING);
    accumulate_columns_with::<R, T, IN, G, H>(rows, x, 0, leading.as_flattened_mut());
    for (a, o) in leading.iter().zip(out.iter_mut()) {
        o.as_mut_slice().copy_from_slice(a);
    }
    accumulate_columns_with::<R, T, IN, G, H>(rows, x, LEADING * H, rest.as_flattened_mut());
    for (a, o) in rest.iter().zip(&mut out[LEADING..]) {
        o.as_mut_slice().copy_from_slice(a);
    }
}

/// Zeroed sums on a cache line of their own. Out of line in unoptimized builds: there, an
/// array built and then wrapped is held twice in the caller's frame, and a product of 4,096
/// sums deep in a backward pass took a test thread past its 2 MiB stack.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn zeroed_sums<T: Real, const G: usize, const H: usize>() -> super::CacheAligned<[[T; H]; G]> {
    super::CacheAligned([[T::zero(); H]; G])
}

/// `acc[k] += Σ_j x[j] · rows[j][first + k]` for the `acc.len()` columns from `first` of
/// the `G·H` (the fused layers' rows, flat): [`accumulate_rows_with`] on some columns.
#[inline(always)]
pub(crate) fn accumulate_columns_with<
    R: Rounding,
    T: Real,
    const IN: usize,
    const G: usize,
    const H: usize,
>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    first: usize,
    acc: &mut [T],
) {
    assert!(first + acc.len() <= G * H, "columns of the G·H");
    span::<R, T, IN, G, H>(rows, x, first, acc);
}

/// `out += Σ_j x[j] · rows[j][g]` for the one gate `g`.
///
/// # Panics
/// If `g` is not a gate of the kernel (`g >= G`), as indexing past a slice's end does.
#[inline(always)]
pub fn accumulate_gate<T: Real, const IN: usize, const G: usize, const H: usize>(
    rows: &[[[T; H]; G]; IN],
    g: usize,
    x: &[T; IN],
    out: &mut SVector<T, H>,
) {
    with_rounding!(R => accumulate_gate_with::<R, T, IN, G, H>(rows, g, x, out))
}

/// [`accumulate_gate`] with the multiply-adds rounded as `R` says; it panics as that does.
#[inline(always)]
pub fn accumulate_gate_with<
    R: Rounding,
    T: Real,
    const IN: usize,
    const G: usize,
    const H: usize,
>(
    rows: &[[[T; H]; G]; IN],
    g: usize,
    x: &[T; IN],
    out: &mut SVector<T, H>,
) {
    assert!(g < G, "gate {g} of a kernel with {G} gates");
    span::<R, T, IN, G, H>(rows, x, g * H, out.as_mut_slice());
}

/// `acc[k] += Σ_j x[j] · row_j[offset + k]` over the flattened `G·H` rows, in column blocks.
#[inline(always)]
fn span<R: Rounding, T: Real, const IN: usize, const G: usize, const H: usize>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    offset: usize,
    acc: &mut [T],
) {
    let n = acc.len();
    if n <= SMALL && !n.is_multiple_of(32) {
        // Narrow products of odd widths (10, 15 or 30 units): one pass over the rows
        // with every column in registers, each input value broadcast once rather than once
        // per block of the 16/8/4/2/1 split. (Widths of 32 and 64 measured faster in blocks.)
        small::<R, T, IN, G, H>(rows, x, offset, acc);
        return;
    }
    // Row tiles of ROW_TILE rows: a tile's weights stay in L2 while every column block of it
    // is multiplied in, so a matrix bigger than the cache streams through memory once, in
    // order. The tiles run in row order: each sum still runs over j = 0, 1, ….
    for j0 in (0..IN).step_by(ROW_TILE) {
        let tile = j0..(j0 + ROW_TILE).min(IN);
        let mut s = 0;
        // 96 columns (12 sums per row) for a product of exactly 96 (a GRU's at H = 32, which
        // otherwise runs as three 32-column blocks of 4 sums, bound by the add latency:
        // 294 -> 263 ns per step) and, in the AVX2 copy, from 256 columns on (the LSTM step
        // at H = 128: 9.7 -> 8.0 µs). Measured slower elsewhere: at 128 columns (H = 32 LSTM,
        // whose 32-column remainder is latency-bound: 366 -> 392 ns) and at 192 (H = 64 GRU:
        // 1.29 -> 1.38 µs). 64 columns (8 independent sums per row, enough to hide the add
        // latency) when there are at least two such blocks; measured slower than 2 × 32 at
        // 64 columns.
        // Compiled for AVX-512, 256 columns (16 sums of 16 lanes per row, half its
        // registers): each row is read once, in order, rather than in three strided passes
        // (LSTM at H = 64: 1,088 -> 1,029-1,046 ns per step; H = 128: 4,070 -> 3,890). With
        // AVX2's 16 registers of 8 lanes, those sums would not fit (H = 128 measured 4-5%
        // slower).
        if R::WIDE && n >= 256 {
            blocks::<R, T, IN, G, H, 256>(rows, x, &tile, offset, acc, &mut s);
        }
        if n >= 256 || n == 96 {
            blocks::<R, T, IN, G, H, 96>(rows, x, &tile, offset, acc, &mut s);
        }
        if n >= 128 {
            blocks::<R, T, IN, G, H, 64>(rows, x, &tile, offset, acc, &mut s);
        }
        blocks::<R, T, IN, G, H, 32>(rows, x, &tile, offset, acc, &mut s);
        blocks::<R, T, IN, G, H, 16>(rows, x, &tile, offset, acc, &mut s);
        blocks::<R, T, IN, G, H, 8>(rows, x, &tile, offset, acc, &mut s);
        blocks::<R, T, IN, G, H, 4>(rows, x, &tile, offset, acc, &mut s);
        blocks::<R, T, IN, G, H, 2>(rows, x, &tile, offset, acc, &mut s);
        blocks::<R, T, IN, G, H, 1>(rows, x, &tile, offset, acc, &mut s);
    }
}

/// Outputs up to which a product is done in one pass ([`small`]).
const SMALL: usize = 64;

/// `acc[k] += Σ_j x[j] · row_j[offset + k]` in one pass over the rows, for `acc.len() ≤ 64`.
#[inline(always)]
fn small<R: Rounding, T: Real, const IN: usize, const G: usize, const H: usize>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    offset: usize,
    acc: &mut [T],
) {
    let n = acc.len();
    let mut a = super::CacheAligned([T::zero(); SMALL]);
    let a = &mut a.0;
    a[..n].copy_from_slice(acc);
    for (row, &xj) in rows.iter().zip(x) {
        let w = &row.as_flattened()[offset..offset + n];
        for (a, &w) in a[..n].iter_mut().zip(w) {
            *a = R::mul_add(xj, w, *a);
        }
    }
    acc.copy_from_slice(&a[..n]);
}

/// Rows per tile of the matrix-vector kernels (64 rows of a 600-column kernel: 150 KB).
const ROW_TILE: usize = 64;

/// Every whole block of `W` columns of `acc` from `*s` on (advancing `*s`), each by
/// [`block`]: a descent through decreasing widths covers every column.
#[inline(always)]
fn blocks<R: Rounding, T: Real, const IN: usize, const G: usize, const H: usize, const W: usize>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    tile: &core::ops::Range<usize>,
    offset: usize,
    acc: &mut [T],
    s: &mut usize,
) {
    while acc.len() - *s >= W {
        block::<R, T, IN, G, H, W>(rows, x, tile.clone(), offset + *s, &mut acc[*s..*s + W]);
        *s += W;
    }
}

/// One block of `W` columns starting at `col`: `W` accumulators, one pass over the rows.
///
/// The block's sums are then pinned to memory (`black_box`): otherwise LLVM keeps every
/// block's finished sums in registers until the end of the product, and the last blocks'
/// accumulators spill to the stack inside their loops (measured: the LSTM step at H = 32
/// spent a quarter of its time on those spills).
#[inline(always)]
fn block<R: Rounding, T: Real, const IN: usize, const G: usize, const H: usize, const W: usize>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    tile: core::ops::Range<usize>,
    col: usize,
    out: &mut [T],
) {
    let out: &mut [T; W] = out.try_into().expect("a block of W columns");
    let mut a = *out;
    for (row, &xj) in rows[tile.clone()].iter().zip(&x[tile]) {
        let w: &[T; W] = row.as_flattened()[col..col + W]
            .try_into()
            .expect("a block of W columns");
        for (a, &w) in a.iter_mut().zip(w) {
            *a = R::mul_add(xj, w, *a);
        }
    }
    *out = a;
    core::hint::black_box(out);
}

/// [`accumulate_rows`] for `N` samples at once: `out[n][g] += Σ_j xs[n][j] · rows[j][g]`,
/// each weight loaded once for the `N` samples instead of once per sample.
///
/// For a cell whose weights do not fit in the cache (a 4.9 MB kernel, say) the step is
/// bound by reading them; a block of samples sharing each read turns it into arithmetic.
/// Each output element is summed in the same order as [`accumulate_rows`], so the results
/// are bit-identical to `N` separate calls.
#[inline(always)]
pub fn accumulate_rows_block<
    T: Real,
    const IN: usize,
    const G: usize,
    const H: usize,
    const N: usize,
>(
    rows: &[[[T; H]; G]; IN],
    xs: [&[T; IN]; N],
    out: &mut [[SVector<T, H>; G]; N],
) {
    with_rounding!(R => rows_block::<R, T, IN, G, H, N>(rows, xs, out))
}

#[inline(always)]
fn rows_block<
    R: Rounding,
    T: Real,
    const IN: usize,
    const G: usize,
    const H: usize,
    const N: usize,
>(
    rows: &[[[T; H]; G]; IN],
    xs: [&[T; IN]; N],
    out: &mut [[SVector<T, H>; G]; N],
) {
    let mut acc = [[[T::zero(); H]; G]; N];
    for (a, o) in acc.iter_mut().zip(out.iter()) {
        for (a, o) in a.iter_mut().zip(o) {
            a.copy_from_slice(o.as_slice());
        }
    }
    accumulate_block_in_place::<R, T, T, IN, G, H, N>(rows, xs, None, &mut acc);
    for (a, o) in acc.iter().zip(out.iter_mut()) {
        for (a, o) in a.iter().zip(o) {
            o.as_mut_slice().copy_from_slice(a);
        }
    }
}

/// [`accumulate_rows_block`] on the sums as plain arrays (the fused layers' rows). With
/// `start`, every sample's sums start from `start` instead of `acc`'s values, which are then
/// only written (the fused layers' projection: from the bias, without first copying it into
/// every row).
#[inline(always)]
pub(crate) fn accumulate_block_in_place<
    R: Rounding,
    T: Real,
    S: SumSlot<T>,
    const IN: usize,
    const G: usize,
    const H: usize,
    const N: usize,
>(
    rows: &[[[T; H]; G]; IN],
    xs: [&[T; IN]; N],
    start: Option<&[[T; H]; G]>,
    acc: &mut [[[S; H]; G]; N],
) {
    if IN == 0 {
        if let Some(start) = start {
            set_all(acc, start);
        }
        return;
    }
    if N.is_multiple_of(8) && G * H >= 16 && super::Isa::active() == super::Isa::Avx512 {
        // AVX-512's 32 registers hold 8 samples' sums of 16 columns: each weight loaded
        // serves 8 multiply-adds, and 8 independent sums hide their latency. (Measured: the
        // guide's NestedCell 12% faster than in groups of 4; 32 columns were slower.)
        super::vectorized_for(
            16,
            #[inline(always)]
            || in_groups::<R, T, S, IN, G, H, N, 8>(rows, xs, start, acc),
        );
    } else if N > 4 && N.is_multiple_of(4) {
        // Groups of 4 samples: 8 sums of 16 columns fit AVX2's 16 registers.
        in_groups::<R, T, S, IN, G, H, N, 4>(rows, xs, start, acc);
    } else {
        in_groups::<R, T, S, IN, G, H, N, N>(rows, xs, start, acc);
    }
}

/// `start + xs[n] · rows` for every sample into sums not yet written, returned written: a
/// chunk's input products without zeroing its buffer first. The bits of
/// [`accumulate_block_in_place`] from `start`.
#[inline(always)]
pub(crate) fn accumulate_block_into<
    'a,
    R: Rounding,
    T: Real,
    const IN: usize,
    const G: usize,
    const H: usize,
    const N: usize,
>(
    rows: &[[[T; H]; G]; IN],
    xs: [&[T; IN]; N],
    start: &[[T; H]; G],
    out: &'a mut [[[MaybeUninit<T>; H]; G]; N],
) -> &'a [[[T; H]; G]; N] {
    // In one row tile the product writes every sum from `start` and reads none; a later tile
    // would continue from the sums, so with more rows they are set to `start` first.
    let one_tile = IN <= ROW_TILE;
    if one_tile {
        accumulate_block_in_place::<R, T, _, IN, G, H, N>(rows, xs, Some(start), out);
    } else {
        set_all(out, start);
    }
    // SAFETY: every one of the `N · G · H` values is written by now. With more than one tile,
    // by `set_all` just above. In one tile, by `accumulate_block_in_place`: with `IN = 0` it
    // sets every sum to `start`; otherwise `in_groups` runs every group of `K` samples (`K`
    // divides `N` in each of its three calls), `block_columns` ends with blocks of one
    // column, so its blocks cover columns `0 .. G · H`, and `block_n` sets its `W` columns of
    // each of the group's samples. `MaybeUninit<T>` has the size and alignment of `T`, so the
    // arrays have the same layout, and `out`'s borrow is moved into the returned one.
    let out: &'a mut [[[T; H]; G]; N] = unsafe { &mut *core::ptr::from_mut(out).cast() };
    if !one_tile {
        accumulate_block_in_place::<R, T, T, IN, G, H, N>(rows, xs, None, out);
    }
    out
}

/// Every sample's sums set to `start`.
#[inline(always)]
fn set_all<T: Real, S: SumSlot<T>, const G: usize, const H: usize, const N: usize>(
    acc: &mut [[[S; H]; G]; N],
    start: &[[T; H]; G],
) {
    for sums in acc.iter_mut() {
        for (sum, &value) in sums.as_flattened_mut().iter_mut().zip(start.as_flattened()) {
            sum.set(value);
        }
    }
}

/// [`accumulate_block_in_place`] in groups of `K` samples, row tile by row tile: the tile
/// stays in L2 from one group to the next, so memory is read once for the `N` samples.
#[inline(always)]
fn in_groups<
    R: Rounding,
    T: Real,
    S: SumSlot<T>,
    const IN: usize,
    const G: usize,
    const H: usize,
    const N: usize,
    const K: usize,
>(
    rows: &[[[T; H]; G]; IN],
    xs: [&[T; IN]; N],
    start: Option<&[[T; H]; G]>,
    acc: &mut [[[S; H]; G]; N],
) {
    for j0 in (0..IN).step_by(ROW_TILE) {
        let tile = j0..(j0 + ROW_TILE).min(IN);
        // The first tile starts the sums; the later ones add to them.
        let start = start.filter(|_| j0 == 0);
        for g in (0..N).step_by(K) {
            let xs: [&[T; IN]; K] = core::array::from_fn(|i| xs[g + i]);
            let acc: &mut [[[S; H]; G]; K] = (&mut acc[g..g + K]).try_into().expect("K samples");
            block_columns::<R, T, S, IN, G, H, K>(rows, &xs, tile.clone(), start, acc);
        }
    }
}

/// Every column block of one row tile for `N` samples.
#[inline(always)]
fn block_columns<
    R: Rounding,
    T: Real,
    S: SumSlot<T>,
    const IN: usize,
    const G: usize,
    const H: usize,
    const N: usize,
>(
    rows: &[[[T; H]; G]; IN],
    xs: &[&[T; IN]; N],
    tile: core::ops::Range<usize>,
    start: Option<&[[T; H]; G]>,
    acc: &mut [[[S; H]; G]; N],
) {
    let mut s = 0;
    // N · W accumulators must fit in the vector registers (8 samples only come in the
    // AVX-512 copy).
    if N <= 4 || N == 8 {
        blocks_n::<R, T, S, IN, G, H, N, 16>(rows, xs, &tile, start, acc, &mut s);
    }
    blocks_n::<R, T, S, IN, G, H, N, 8>(rows, xs, &tile, start, acc, &mut s);
    blocks_n::<R, T, S, IN, G, H, N, 4>(rows, xs, &tile, start, acc, &mut s);
    // Blocks of one column take whatever is left: every column of every sample is written.
    blocks_n::<R, T, S, IN, G, H, N, 1>(rows, xs, &tile, start, acc, &mut s);
}

/// Every whole block of `W` of the `G · H` columns from `*s` on (advancing `*s`), each by
/// [`block_n`].
#[inline(always)]
fn blocks_n<
    R: Rounding,
    T: Real,
    S: SumSlot<T>,
    const IN: usize,
    const G: usize,
    const H: usize,
    const N: usize,
    const W: usize,
>(
    rows: &[[[T; H]; G]; IN],
    xs: &[&[T; IN]; N],
    tile: &core::ops::Range<usize>,
    start: Option<&[[T; H]; G]>,
    acc: &mut [[[S; H]; G]; N],
    s: &mut usize,
) {
    while G * H - *s >= W {
        block_n::<R, T, S, IN, G, H, N, W>(rows, xs, tile.clone(), *s, start, acc);
        *s += W;
    }
}

/// One block of `W` columns for `N` samples: `N · W` accumulators, one pass over the rows.
#[inline(always)]
fn block_n<
    R: Rounding,
    T: Real,
    S: SumSlot<T>,
    const IN: usize,
    const G: usize,
    const H: usize,
    const N: usize,
    const W: usize,
>(
    rows: &[[[T; H]; G]; IN],
    xs: &[&[T; IN]; N],
    tile: core::ops::Range<usize>,
    col: usize,
    start: Option<&[[T; H]; G]>,
    acc: &mut [[[S; H]; G]; N],
) {
    // Each sample written out: see `written_out`.
    let mut a = [[T::zero(); W]; N];
    super::written_out!(n < N => match start {
        Some(start) => a[n].copy_from_slice(&start.as_flattened()[col..col + W]),
        None => {
            let sums = &acc[n].as_flattened()[col..col + W];
            for (a, sum) in a[n].iter_mut().zip(sums) {
                *a = sum.value();
            }
        }
    });
    for (j, row) in rows.iter().enumerate().take(tile.end).skip(tile.start) {
        // Copied, not borrowed: the compiler then loads each 16-column block as one AVX-512
        // vector, where through the reference it loaded two halves and joined them (a shuffle
        // per weight: the NestedCell 3-5% slower, the LSTM at H = 64 about 1%).
        let w: [T; W] = row.as_flattened()[col..col + W]
            .try_into()
            .expect("a block of W columns");
        super::written_out!(n < N => {
            let xj = xs[n][j];
            for (a, &w) in a[n].iter_mut().zip(&w) {
                *a = R::mul_add(xj, w, *a);
            }
        });
    }
    super::written_out!(n < N => {
        let sums = &mut acc[n].as_flattened_mut()[col..col + W];
        for (sum, &a) in sums.iter_mut().zip(&a[n]) {
            sum.set(a);
        }
    });
}

/// Where a block product keeps a sum: a value it may continue from, or a slot not yet
/// written (`MaybeUninit`), which a product that starts from `start` in one row tile only
/// writes. Zeroing a chunk's sums first cost more than the stores themselves (a call per
/// chunk), so the chunk's projection writes into slots.
pub(crate) trait SumSlot<T: Real> {
    /// The sum so far, which a product continues from when it has no `start`.
    fn value(&self) -> T;
    /// Writes the sum.
    fn set(&mut self, value: T);
}

impl<T: Real> SumSlot<T> for T {
    #[inline(always)]
    fn value(&self) -> T {
        *self
    }

    #[inline(always)]
    fn set(&mut self, value: T) {
        *self = value;
    }
}

impl<T: Real> SumSlot<T> for MaybeUninit<T> {
    /// Never called: a product over unwritten sums starts from `start` in one row tile
    /// ([`accumulate_block_into`]), so it reads none; reading one would read memory never
    /// written, so this panics instead.
    fn value(&self) -> T {
        unreachable!("a product over unwritten sums must start from `start`")
    }

    #[inline(always)]
    fn set(&mut self, value: T) {
        self.write(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Fused;

    /// A block's sums started three ways have the same bits: from `acc` holding `start`, from
    /// `start` (`acc` is then only written) and from `start` into memory not yet written.
    /// No rows, one row tile (up to 64 rows) and two (only the first may start the sums), 4
    /// and 8 samples (8 take the AVX-512 copy's groups), 18 columns (blocks of 16 and of 1).
    /// Under Miri, a sum left unwritten would be a read of uninitialised memory.
    fn starts_agree<const IN: usize, const N: usize>() {
        const G: usize = 3;
        const H: usize = 6;
        let value = |i: usize| (i as f32 * 0.618).sin();
        let rows: [[[f32; H]; G]; IN] = core::array::from_fn(|j| {
            core::array::from_fn(|g| core::array::from_fn(|k| value(j * 31 + g * 7 + k)))
        });
        let xs: [[f32; IN]; N] =
            core::array::from_fn(|n| core::array::from_fn(|j| value(n * 97 + j + 5)));
        let start: [[f32; H]; G] =
            core::array::from_fn(|g| core::array::from_fn(|k| value(g * 11 + k + 3)));
        let bits = |sums: &[[[f32; H]; G]; N]| sums.map(|s| s.map(|g| g.map(f32::to_bits)));
        let mut given = [start; N];
        accumulate_block_in_place::<Fused, f32, f32, IN, G, H, N>(
            &rows,
            xs.each_ref(),
            None,
            &mut given,
        );
        let mut started = [[[f32::NAN; H]; G]; N];
        accumulate_block_in_place::<Fused, f32, f32, IN, G, H, N>(
            &rows,
            xs.each_ref(),
            Some(&start),
            &mut started,
        );
        assert_eq!(
            bits(&started),
            bits(&given),
            "from start: IN = {IN}, N = {N}"
        );
        let mut slots = [[[MaybeUninit::uninit(); H]; G]; N];
        let written = accumulate_block_into::<Fused, f32, IN, G, H, N>(
            &rows,
            xs.each_ref(),
            &start,
            &mut slots,
        );
        assert_eq!(bits(written), bits(&given), "unwritten: IN = {IN}, N = {N}");
    }

    #[test]
    fn a_block_starts_its_sums_from_a_given_row_even_unwritten() {
        starts_agree::<0, 4>();
        starts_agree::<7, 4>();
        starts_agree::<7, 8>();
        starts_agree::<64, 8>();
        starts_agree::<70, 4>();
        starts_agree::<70, 8>();
    }

    /// A 4-gate product's kernel, input and starting sums, with values that vary along
    /// every index; and the bits of a product's sums, to compare two of them exactly.
    #[allow(clippy::type_complexity)]
    fn product<const IN: usize, const H: usize>(
    ) -> ([[[f32; H]; 4]; IN], [f32; IN], [SVector<f32, H>; 4]) {
        let value = |i: usize| (i as f32 * 0.377).cos() * 1.3;
        let rows = core::array::from_fn(|j| {
            core::array::from_fn(|g| core::array::from_fn(|k| value(j * 53 + g * 17 + k)))
        });
        let x = core::array::from_fn(|j| value(j * 7 + 2));
        let start = core::array::from_fn(|g| SVector::from_fn(|k, _| value(g * 13 + k + 1)));
        (rows, x, start)
    }

    fn bits<const H: usize>(sums: &[SVector<f32, H>; 4]) -> Vec<u32> {
        sums.iter()
            .flat_map(|s| s.iter().map(|v| v.to_bits()))
            .collect()
    }

    /// Summing some leading gates first, then the others, computes every sum of the one-pass
    /// product, to the bit: narrow and wide gates, one row tile and two, each split.
    fn leading_gates_first_is_the_product<const IN: usize, const H: usize>() {
        const G: usize = 4;
        let (rows, x, start) = product::<IN, H>();
        let mut once = start;
        accumulate_rows_with::<Fused, f32, IN, G, H>(&rows, &x, &mut once);
        let mut split = [start; 4];
        accumulate_rows_leading_with::<Fused, f32, IN, G, H, 0>(&rows, &x, &mut split[0]);
        accumulate_rows_leading_with::<Fused, f32, IN, G, H, 1>(&rows, &x, &mut split[1]);
        accumulate_rows_leading_with::<Fused, f32, IN, G, H, 3>(&rows, &x, &mut split[2]);
        accumulate_rows_leading_with::<Fused, f32, IN, G, H, 4>(&rows, &x, &mut split[3]);
        for (leading, sums) in [0, 1, 3, 4].into_iter().zip(&split) {
            assert_eq!(
                bits(sums),
                bits(&once),
                "IN = {IN}, H = {H}, {leading} leading"
            );
        }
    }

    /// The AVX-512 copy's wide column blocks compute every sum of the narrower blocks, to
    /// the bit: exactly 256 columns, 256 and a remainder of every narrower width (4 × 100),
    /// and two row tiles.
    fn wide_blocks_are_the_narrow_product<const IN: usize, const H: usize>() {
        const G: usize = 4;
        let (rows, x, start) = product::<IN, H>();
        let (mut narrow, mut wide) = (start, start);
        accumulate_rows_with::<Fused, f32, IN, G, H>(&rows, &x, &mut narrow);
        accumulate_rows_with::<crate::kernels::FusedWide, f32, IN, G, H>(&rows, &x, &mut wide);
        assert_eq!(bits(&wide), bits(&narrow), "IN = {IN}, H = {H}");
    }

    #[test]
    fn wide_column_blocks_sum_as_the_narrow_ones() {
        wide_blocks_are_the_narrow_product::<9, 64>();
        wide_blocks_are_the_narrow_product::<70, 64>();
        wide_blocks_are_the_narrow_product::<9, 100>();
        wide_blocks_are_the_narrow_product::<70, 100>();
    }

    #[test]
    fn leading_gates_first_sum_as_the_one_pass_product() {
        leading_gates_first_is_the_product::<5, 7>();
        leading_gates_first_is_the_product::<8, 8>();
        leading_gates_first_is_the_product::<16, 16>();
        leading_gates_first_is_the_product::<70, 33>();
    }
}
