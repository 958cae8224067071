//! The arithmetic inner loops of the built-in cells, over fixed-size arrays so the compiler
//! sees every trip count.
//!
//! Two things make a small cell's step fast, and both are here:
//! - **Activations without libm.** [`exp_f32`], [`sigmoid_f32`] and [`tanh_f32`] are
//!   branch-free (comparisons become selects), so a loop over an array of them vectorizes;
//!   a libm call per element cannot. They are accurate to a few ulp over all of `f32`
//!   (the tests sweep every range and the special values; figures in each function's doc).
//!   `f64` keeps libm.
//! - **Matrix-vector products with register-resident accumulators.** [`accumulate_rows`]
//!   walks the output in blocks of up to 32 columns and, for each block, every input row:
//!   the block's partial sums stay in vector registers and each weight is loaded once.
//!
//! Every output element is still summed in input order (`j = 0, 1, …`) and no product is
//! fused into an FMA, so the result is bit-identical to the naive loop, on every target
//! feature level and in every driver.

use nalgebra::SVector;

use crate::real::Real;

/// `e^x` for `f32`, branch-free (it vectorizes in a loop).
///
/// Cody–Waite reduction `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2`, Cephes's degree-6 polynomial for
/// `e^r`, and the scaling by `2^n` done as two exact multiplications so that results in the
/// subnormal range round once. Measured against `f64`: ≤ 1 ulp (0.98) on normal results
/// (relative error ≤ 8.2e-8). `e^x` overflows to `+inf` above `ln(f32::MAX)` ≈ 88.72, is
/// `0` below ≈ −103.97, `+inf → +inf`, `−inf → 0`, `NaN → NaN`.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2_E: f32 = core::f32::consts::LOG2_E;
    // ln 2 split so that `n · LN2_HI` is exact for |n| < 2^15.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding it rounds to the nearest integer, kept in the low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    // Outside [-104, 89] the result is 0 or inf anyway; clamping keeps `n` in range. A NaN
    // fails both comparisons and flows through the arithmetic to the result.
    let x_in = x;
    let x = if x < -104.0 { -104.0 } else { x };
    let x = if x > 89.0 { 89.0 } else { x };
    let t = x * LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    // n ∈ [-150, 129]: 2^n = 2^(n/2) · 2^(n - n/2), both factors normal.
    let n = (t.to_bits() as i32).wrapping_sub(SHIFTER.to_bits() as i32);
    let n1 = n >> 1;
    let n2 = n - n1;
    let scale1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let scale2 = f32::from_bits(((n2 + 127) as u32) << 23);
    let y = e_r * scale1 * scale2;
    // A NaN input is returned unchanged (the clamp above may have replaced it
    // on targets whose select does not keep NaN).
    if x_in.is_nan() {
        x_in
    } else {
        y
    }
}

/// The logistic sigmoid `1 / (1 + e^-x)` for `f32`, branch-free, from [`exp_f32`].
///
/// Measured against `f64`: ≤ 2.8 ulp (relative error ≤ 2.0e-7, down to the subnormals);
/// `1` above ≈ 17, `0` below ≈ −104; `+inf → 1`, `−inf → 0`; `NaN → NaN`.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    // With e = e^-|x| ≤ 1 nothing overflows: σ(|x|) = 1 / (1 + e) and σ(-|x|) = e · σ(|x|),
    // which keeps full relative accuracy down to the subnormals.
    let e = exp_f32(-f32::from_bits(x.to_bits() & 0x7fff_ffff));
    let s = 1.0 / (1.0 + e);
    if x < 0.0 {
        e * s
    } else {
        s
    }
}

/// `tanh(x)` for `f32`, branch-free (both branches are computed and one is selected).
///
/// `|x| < 0.625`: Cephes's odd polynomial `x + x³·P(x²)` (no cancellation near 0);
/// otherwise `1 − 2 / (e^{2|x|} + 1)`; then `x`'s sign. Measured against `f64`: ≤ 1.3 ulp
/// (relative error ≤ 1.4e-7); exactly `±1` beyond ≈ ±9.01; `±inf → ±1`; `NaN → NaN`;
/// `−0 → −0`.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    const SIGN: u32 = 0x8000_0000;
    let a = f32::from_bits(x.to_bits() & !SIGN);
    let z = x * x;
    let mut p = -5.704_988_7e-3_f32;
    p = p * z + 2.063_909e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 0.133_314_42;
    p = p * z - 0.333_332_8;
    let small = p * z * a + a;
    let e = exp_f32(a + a);
    let large = 1.0 - 2.0 / (e + 1.0);
    let magnitude = if a < 0.625 { small } else { large };
    // tanh is odd: the sign of x (−0 included) goes back on.
    f32::from_bits(magnitude.to_bits() | (x.to_bits() & SIGN))
}

/// `out[g] += Σ_j x[j] · rows[j][g]`: a vector times a `[IN, G·H]` kernel.
///
/// The `G·H` output columns are taken in blocks of 32 (then 16, 8, 4, 2, 1 for the tail);
/// each block's partial sums live in registers while every row's slice of the block is
/// multiplied in, so the loop is bound by loading each weight once.
#[inline(always)]
pub fn accumulate_rows<T: Real, const IN: usize, const G: usize, const H: usize>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    out: &mut [SVector<T, H>; G],
) {
    let mut acc = [[T::zero(); H]; G];
    for (a, o) in acc.iter_mut().zip(out.iter()) {
        a.copy_from_slice(o.as_slice());
    }
    accumulate_span(rows, x, 0, acc.as_flattened_mut());
    for (a, o) in acc.iter().zip(out.iter_mut()) {
        o.as_mut_slice().copy_from_slice(a);
    }
}

/// `out += Σ_j x[j] · rows[j][g]` for the one gate `g`.
#[inline(always)]
pub fn accumulate_gate<T: Real, const IN: usize, const G: usize, const H: usize>(
    rows: &[[[T; H]; G]; IN],
    g: usize,
    x: &[T; IN],
    out: &mut SVector<T, H>,
) {
    accumulate_span(rows, x, g * H, out.as_mut_slice());
}

/// `acc[k] += Σ_j x[j] · row_j[offset + k]` over the flattened `G·H` rows, in column blocks.
#[inline(always)]
fn accumulate_span<T: Real, const IN: usize, const G: usize, const H: usize>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    offset: usize,
    acc: &mut [T],
) {
    let n = acc.len();
    if n <= SMALL && n % 32 != 0 {
        // Narrow products of odd widths (seed 000's 10, 15 and 30): one pass over the rows
        // with every column in registers, each input value broadcast once rather than once
        // per block of the 16/8/4/2/1 split. (Widths of 32 and 64 measured faster in blocks.)
        small(rows, x, offset, acc);
        return;
    }
    // Row tiles of ROW_TILE rows: a tile's weights stay in L2 while every column block of it
    // is multiplied in, so a matrix bigger than the cache streams through memory once, in
    // order. The tiles run in row order: each sum still runs over j = 0, 1, ….
    for j0 in (0..IN).step_by(ROW_TILE) {
        let tile = j0..(j0 + ROW_TILE).min(IN);
        let mut s = 0;
        // 64 columns (8 independent sums per row, enough to hide the add latency) when
        // there are at least two such blocks; measured slower than 2 × 32 at 64 columns.
        while n >= 128 && n - s >= 64 {
            block::<T, IN, G, H, 64>(rows, x, tile.clone(), offset + s, &mut acc[s..s + 64]);
            s += 64;
        }
        if n - s >= 32 {
            block::<T, IN, G, H, 32>(rows, x, tile.clone(), offset + s, &mut acc[s..s + 32]);
            s += 32;
        }
        if n - s >= 16 {
            block::<T, IN, G, H, 16>(rows, x, tile.clone(), offset + s, &mut acc[s..s + 16]);
            s += 16;
        }
        if n - s >= 8 {
            block::<T, IN, G, H, 8>(rows, x, tile.clone(), offset + s, &mut acc[s..s + 8]);
            s += 8;
        }
        if n - s >= 4 {
            block::<T, IN, G, H, 4>(rows, x, tile.clone(), offset + s, &mut acc[s..s + 4]);
            s += 4;
        }
        if n - s >= 2 {
            block::<T, IN, G, H, 2>(rows, x, tile.clone(), offset + s, &mut acc[s..s + 2]);
            s += 2;
        }
        if n - s >= 1 {
            block::<T, IN, G, H, 1>(rows, x, tile, offset + s, &mut acc[s..s + 1]);
        }
    }
}

/// Outputs up to which a product is done in one pass ([`small`]).
const SMALL: usize = 64;

/// `acc[k] += Σ_j x[j] · row_j[offset + k]` in one pass over the rows, for `acc.len() ≤ 64`.
#[inline(always)]
fn small<T: Real, const IN: usize, const G: usize, const H: usize>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    offset: usize,
    acc: &mut [T],
) {
    let n = acc.len();
    let mut a = [T::zero(); SMALL];
    a[..n].copy_from_slice(acc);
    for (row, &xj) in rows.iter().zip(x) {
        let w = &row.as_flattened()[offset..offset + n];
        for (a, &w) in a[..n].iter_mut().zip(w) {
            *a += xj * w;
        }
    }
    acc.copy_from_slice(&a[..n]);
}

/// Rows per tile of the matrix-vector kernels (64 rows of a 600-column kernel: 150 KB).
const ROW_TILE: usize = 64;

/// One block of `W` columns starting at `col`: `W` accumulators, one pass over the rows.
///
/// The block's sums are then pinned to memory (`black_box`): otherwise LLVM keeps every
/// block's finished sums in registers until the end of the product, and the last blocks'
/// accumulators spill to the stack inside their loops (measured: the LSTM step at H = 32
/// spent a quarter of its time on those spills).
#[inline(always)]
fn block<T: Real, const IN: usize, const G: usize, const H: usize, const W: usize>(
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
            *a += xj * w;
        }
    }
    *out = a;
    core::hint::black_box(out);
}

/// [`accumulate_rows`] for `N` samples at once: `out[n][g] += Σ_j xs[n][j] · rows[j][g]`,
/// each weight loaded once for the `N` samples instead of once per sample.
///
/// For a cell whose weights do not fit in the cache (seed 001's 4.9 MB kernel) the step is
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
    let mut acc = [[[T::zero(); H]; G]; N];
    for (a, o) in acc.iter_mut().zip(out.iter()) {
        for (a, o) in a.iter_mut().zip(o) {
            a.copy_from_slice(o.as_slice());
        }
    }
    for j0 in (0..IN).step_by(ROW_TILE) {
        let tile = j0..(j0 + ROW_TILE).min(IN);
        if N > 4 && N % 4 == 0 {
            // Groups of 4 samples (8 accumulators of 16 columns fit the registers); the row
            // tile stays in L2 from one group to the next, so memory is read once per N.
            for g in (0..N).step_by(4) {
                let xs4: [&[T; IN]; 4] = core::array::from_fn(|i| xs[g + i]);
                let acc4: &mut [[[T; H]; G]; 4] =
                    (&mut acc[g..g + 4]).try_into().expect("4 samples");
                block_columns(rows, &xs4, tile.clone(), acc4);
            }
        } else {
            block_columns(rows, &xs, tile, &mut acc);
        }
    }
    for (a, o) in acc.iter().zip(out.iter_mut()) {
        for (a, o) in a.iter().zip(o) {
            o.as_mut_slice().copy_from_slice(a);
        }
    }
}

/// Every column block of one row tile for `N` samples.
#[inline(always)]
fn block_columns<T: Real, const IN: usize, const G: usize, const H: usize, const N: usize>(
    rows: &[[[T; H]; G]; IN],
    xs: &[&[T; IN]; N],
    tile: core::ops::Range<usize>,
    acc: &mut [[[T; H]; G]; N],
) {
    let n = G * H;
    let mut s = 0;
    // N · W accumulators must fit in the vector registers.
    if N <= 4 {
        while n - s >= 16 {
            block_n::<T, IN, G, H, N, 16>(rows, xs, tile.clone(), s, acc);
            s += 16;
        }
    }
    while n - s >= 8 {
        block_n::<T, IN, G, H, N, 8>(rows, xs, tile.clone(), s, acc);
        s += 8;
    }
    if n - s >= 4 {
        block_n::<T, IN, G, H, N, 4>(rows, xs, tile.clone(), s, acc);
        s += 4;
    }
    while n - s >= 1 {
        block_n::<T, IN, G, H, N, 1>(rows, xs, tile.clone(), s, acc);
        s += 1;
    }
}

/// One block of `W` columns for `N` samples: `N · W` accumulators, one pass over the rows.
#[inline(always)]
fn block_n<
    T: Real,
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
    acc: &mut [[[T; H]; G]; N],
) {
    let mut a = [[T::zero(); W]; N];
    for (a, acc) in a.iter_mut().zip(acc.iter()) {
        a.copy_from_slice(&acc.as_flattened()[col..col + W]);
    }
    for (j, row) in rows.iter().enumerate().take(tile.end).skip(tile.start) {
        let w: &[T; W] = row.as_flattened()[col..col + W]
            .try_into()
            .expect("a block of W columns");
        for (a, x) in a.iter_mut().zip(xs) {
            let xj = x[j];
            for (a, &w) in a.iter_mut().zip(w) {
                *a += xj * w;
            }
        }
    }
    for (a, acc) in a.iter().zip(acc.iter_mut()) {
        acc.as_flattened_mut()[col..col + W].copy_from_slice(a);
    }
}

/// `e^x` of every element, in place.
#[inline(always)]
pub fn exp<T: Real, const N: usize>(xs: &mut [T; N]) {
    T::exp_slice(xs);
}

/// `tanh` of every element, in place.
#[inline(always)]
pub fn tanh<T: Real, const N: usize>(xs: &mut [T; N]) {
    T::tanh_slice(xs);
}

/// The logistic sigmoid `1 / (1 + e^-x)` of every element, in place.
#[inline(always)]
pub fn sigmoid<T: Real, const N: usize>(xs: &mut [T; N]) {
    T::sigmoid_slice(xs);
}

/// Keras 3's `hard_sigmoid`, `relu6(x + 3) / 6`, of every element, in place (the same
/// operations in the same order as Keras, so the same bits).
#[inline(always)]
pub fn hard_sigmoid<T: Real, const N: usize>(xs: &mut [T; N]) {
    let three = nalgebra::convert::<f64, T>(3.0);
    let six = nalgebra::convert::<f64, T>(6.0);
    for x in xs {
        *x = (*x + three).clamp(T::zero(), six) / six;
    }
}

/// `max(x, 0)` of every element, in place.
#[inline(always)]
pub fn relu<T: Real, const N: usize>(xs: &mut [T; N]) {
    for x in xs {
        *x = x.max(T::zero());
    }
}

/// Softmax over the whole array, in place, shifted by the maximum so `exp` cannot overflow.
#[inline(always)]
pub fn softmax<T: Real, const N: usize>(xs: &mut [T; N]) {
    let max = xs
        .iter()
        .copied()
        .fold(T::min_value().unwrap_or(T::zero()), T::max);
    for x in xs.iter_mut() {
        *x -= max;
    }
    T::exp_slice(xs);
    let mut sum = T::zero();
    for x in xs.iter() {
        sum += *x;
    }
    for x in xs.iter_mut() {
        *x /= sum;
    }
}
