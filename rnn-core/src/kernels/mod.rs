//! The arithmetic inner loops of the built-in cells, over fixed-size arrays so the compiler
//! sees every trip count.
//!
//! Two things make a small cell's step fast, and both are here:
//! - **Activations without libm** ([`transcendental`]): [`exp_f32`], [`sigmoid_f32`] and
//!   [`tanh_f32`] are branch-free (comparisons become selects), so a loop over an array of
//!   them vectorizes; a libm call per element cannot. `f64` keeps libm.
//! - **Matrix-vector products with register-resident accumulators** ([`accumulate_rows`]):
//!   each weight is loaded once, each output summed in input order.
//!
//! Every multiply-add is rounded as the CPU does best ([`fused_multiply_add`]): once (FMA) on
//! x86-64 with AVX2 and FMA, twice elsewhere. The choice is made here, in the kernels, the
//! same way for every caller, so all drivers and direct calls give the same bits on one
//! machine.

/// Runs `$call` with `$r` naming the rounding of this CPU's kernels: [`Fused`] where the CPU
/// has FMA (`$call` then runs inside [`vectorized`](crate::vectorized), compiled for AVX2 +
/// FMA), else [`Separate`].
///
/// A step made of several kernel calls chooses once and calls the kernels' `_with::<R>`
/// forms, which are compiled where they are called: one entry into the vectorized code per
/// step instead of one per product and activation. The built-in cells' steps are written
/// this way.
///
/// The fused path enters the AVX2 + FMA copy even when the caller is already in it. The
/// compiler does not inline that entry (measured: each is a call of its own), so it costs a
/// call per `with_rounding!`, hence one per step; but only this makes sure the code is
/// compiled for FMA. Compiled without, a fused multiply-add is a call to a software
/// `fmaf`, tens of times slower, and what the compiler inlines is its own decision.
///
/// `with_rounding!(R, lanes = H => call)` says the call's vectors are `H` wide: the call then
/// runs in the AVX-512 copy where the CPU has it and `H` fills its registers, else in the AVX2
/// one (see `vectorized_for`), and `R` says which: `FusedWide` in the AVX-512 copy, so that
/// the products inside can take the wider column blocks its registers hold. The built-in
/// cells' steps pass their `H`: a whole step runs in one copy. Without `lanes` (the kernels
/// called one by one, as a custom step calls them) the call runs in the AVX2 copy, as
/// [`vectorized`](crate::vectorized) does: between the 8-lane code of a custom step, a kernel
/// compiled for AVX-512 measured slower, its 16-lane loads waiting on the step's 8-lane
/// stores.
///
/// ```
/// use rnn::cells::Dense;
/// use rnn::ops::Activation;
/// use rnn::nalgebra::SVector;
///
/// let dense = Dense::<3, 2>::keras_init(0);
/// let x = SVector::from([1.0f32, 2.0, 3.0]);
/// // One product and one activation, both with the rounding chosen once.
/// let y = rnn::with_rounding!(R => {
///     let mut z = [SVector::zeros()];
///     dense.kernel.accumulate_with::<R>(&x, &mut z);
///     Activation::Tanh.apply_with::<R, f32, 2>(&mut z[0]);
///     z[0]
/// });
/// assert_eq!(y, dense.with_activation(Activation::Tanh).forward(&x));
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! with_rounding {
    ($r:ident, lanes = $lanes:expr => $call:expr) => {
        // One arm per copy, so that `R` also says which copy the call is compiled in.
        match $crate::kernels::copy_for($lanes) {
            $crate::kernels::Isa::Avx512 => {
                $crate::with_rounding!(@in Avx512, FusedWide, $r => $call)
            }
            $crate::kernels::Isa::Avx2 => $crate::with_rounding!(@in Avx2, Fused, $r => $call),
            $crate::kernels::Isa::Baseline => {
                type $r = $crate::kernels::Separate;
                $call
            }
        }
    };
    ($r:ident => $call:expr) => {
        if $crate::kernels::fused_multiply_add() {
            $crate::with_rounding!(@in Avx2, Fused, $r => $call)
        } else {
            type $r = $crate::kernels::Separate;
            $call
        }
    };
    // `call` inlined into the copy for `isa`, with `R` the rounding that copy runs.
    (@in $isa:ident, $rounding:ident, $r:ident => $call:expr) => {
        $crate::kernels::vectorized_in(
            $crate::kernels::Isa::$isa,
            #[inline(always)]
            || {
                type $r = $crate::kernels::$rounding;
                $call
            },
        )
    };
}

pub use crate::with_rounding;

/// `body` for each `i` in `0..count`, written out once per value when `count <= 8`, else a
/// loop. Written out, the compiler keeps per-`i` sums in registers and vectorizes each copy
/// along its own columns; as a loop it may keep them in memory or vectorize across `i`
/// (gathers and scatters). `count` is a constant, so the branch folds away.
macro_rules! written_out {
    ($i:ident < $count:expr => $body:expr) => {
        if $count <= 8 {
            $crate::kernels::written_out!(@ $i $count, $body; 0 1 2 3 4 5 6 7)
        } else {
            for $i in 0..$count {
                $body;
            }
        }
    };
    (@ $i:ident $count:expr, $body:expr; $($k:literal)*) => {{$(
        if $k < $count {
            let $i = $k;
            $body;
        }
    )*}};
}

pub(crate) use written_out;

/// A value that starts a cache line (64-byte aligned), for the state and the sums a step
/// reads back with vector loads.
///
/// An `f32` array is only 4-byte aligned, so where it falls depends on where the stack
/// happened to start: 16 bytes into a line, every 64-byte load of it straddles two lines,
/// and a load of a value just stored that way cannot be forwarded from the store. On the
/// step's dependency chain that made one run slower in some processes than in others.
#[repr(C, align(64))]
#[derive(Clone)]
pub(crate) struct CacheAligned<T>(pub(crate) T);

/// Prints the value alone: the alignment is not part of what a `Stateful` shows.
impl<T: core::fmt::Debug> core::fmt::Debug for CacheAligned<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

pub(crate) mod dispatch;
#[doc(hidden)]
pub use dispatch::{copy_for, vectorized_for, vectorized_in, Isa};
mod matvec;
// The fused layers' products, on their flat rows; the cells' chunk projections and products
// with leading gates.
#[cfg(feature = "std")]
pub(crate) use matvec::{accumulate_block_in_place, accumulate_columns_with};
pub(crate) use matvec::{accumulate_block_into, accumulate_rows_leading_with};
pub mod transcendental;

pub use matvec::{
    accumulate_gate, accumulate_gate_with, accumulate_rows, accumulate_rows_block,
    accumulate_rows_with,
};
pub use transcendental::{
    exp_f32, exp_f32_with, sigmoid_f32, sigmoid_f32_with, tanh_f32, tanh_f32_with,
};

use crate::real::Real;

/// How a kernel rounds `a · b + c`.
///
/// The kernels are generic over it; [`fused_multiply_add`] says which one they use here.
pub trait Rounding: Copy + 'static {
    /// Whether the code is compiled for AVX-512 ([`FusedWide`]): its 32 registers of 16
    /// lanes hold wider blocks of sums than AVX2's 16 of 8, so the products choose wider
    /// column blocks there (the same bits: each sum runs in the same order either way).
    #[doc(hidden)]
    const WIDE: bool = false;

    /// `a · b + c`, rounded this way.
    fn mul_add<T: Real>(a: T, b: T, c: T) -> T;
}

/// One rounding: `a · b + c` is computed exactly, then rounded (an FMA instruction where the
/// code runs in the AVX2 + FMA copy).
#[derive(Clone, Copy, Debug)]
pub struct Fused;

/// [`Fused`], in code compiled for AVX-512: what a built-in step whose vectors fill its
/// registers runs with there (see [`Rounding::WIDE`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct FusedWide;

/// Two roundings, the product's and the sum's: what `a * b + c` means in Rust.
#[derive(Clone, Copy, Debug)]
pub struct Separate;

impl Rounding for Fused {
    #[inline(always)]
    fn mul_add<T: Real>(a: T, b: T, c: T) -> T {
        a.fused_mul_add(b, c)
    }
}

impl Rounding for FusedWide {
    const WIDE: bool = true;

    #[inline(always)]
    fn mul_add<T: Real>(a: T, b: T, c: T) -> T {
        a.fused_mul_add(b, c)
    }
}

impl Rounding for Separate {
    #[inline(always)]
    fn mul_add<T: Real>(a: T, b: T, c: T) -> T {
        a * b + c
    }
}

/// Whether the kernels round multiply-adds once ([`Fused`]) on this CPU: x86-64 with AVX2 and
/// FMA (or AVX-512), detected at run time. Elsewhere they use [`Separate`].
///
/// ```
/// use rnn::kernels::{exp_f32_with, fused_multiply_add, Fused, Separate};
///
/// // The array kernels compute what the scalar function of this CPU's rounding computes.
/// let mut xs = [0.5f32, -2.0];
/// rnn::kernels::exp(&mut xs);
/// let scalar = if fused_multiply_add() { exp_f32_with::<Fused> } else { exp_f32_with::<Separate> };
/// assert_eq!(xs, [scalar(0.5), scalar(-2.0)]);
/// ```
#[inline(always)]
pub fn fused_multiply_add() -> bool {
    crate::kernels::dispatch::fma()
}

/// `e^x` of every element, in place.
#[inline(always)]
pub fn exp<T: Real, const N: usize>(xs: &mut [T; N]) {
    exp_slice(xs);
}

/// `tanh` of every element, in place.
#[inline(always)]
pub fn tanh<T: Real, const N: usize>(xs: &mut [T; N]) {
    tanh_slice(xs);
}

/// The logistic sigmoid `1 / (1 + e^-x)` of every element, in place.
#[inline(always)]
pub fn sigmoid<T: Real, const N: usize>(xs: &mut [T; N]) {
    sigmoid_slice(xs);
}

/// [`exp`] over a slice of any length.
#[inline(always)]
pub fn exp_slice<T: Real>(xs: &mut [T]) {
    with_rounding!(R => exp_with::<R, T>(xs))
}

/// [`tanh`] over a slice of any length.
#[inline(always)]
pub fn tanh_slice<T: Real>(xs: &mut [T]) {
    with_rounding!(R => tanh_with::<R, T>(xs))
}

/// [`sigmoid`] over a slice of any length.
#[inline(always)]
pub fn sigmoid_slice<T: Real>(xs: &mut [T]) {
    with_rounding!(R => sigmoid_with::<R, T>(xs))
}

/// [`exp_slice`] with the multiply-adds rounded as `R` says, compiled where it is called.
#[inline(always)]
pub fn exp_with<R: Rounding, T: Real>(xs: &mut [T]) {
    each_in_lanes(xs, |x| x.exp_with::<R>());
}

/// [`tanh_slice`] with the multiply-adds rounded as `R` says, compiled where it is called.
#[inline(always)]
pub fn tanh_with<R: Rounding, T: Real>(xs: &mut [T]) {
    each_in_lanes(xs, |x| x.tanh_with::<R>());
}

/// [`sigmoid_slice`] with the multiply-adds rounded as `R` says, compiled where it is called.
#[inline(always)]
pub fn sigmoid_with<R: Rounding, T: Real>(xs: &mut [T]) {
    each_in_lanes(xs, |x| x.sigmoid_with::<R>());
}

/// Values per block of [`each_in_lanes`]: one AVX-512 vector of `f32`, or two AVX2 ones (two
/// independent chains, which keep the FMA units busier than one).
const LANES: usize = 16;

/// `x = f(x)` for every element, in blocks of [`LANES`], then one of half as many; a tail
/// shorter than that is computed as a whole half block (padded with zeros), since one vector
/// costs less than a few elements one by one (10 and 15 units: a vector and 2 or 7 scalar
/// activations, each some 40 instructions). The half block keeps a narrow row (8 units) from
/// computing a whole block of padding. The loops are plain `for` loops, not `for_each`: an
/// adaptor the compiler left out of line would also be left out of the vectorized copy.
#[inline(always)]
fn each_in_lanes<T: Real>(xs: &mut [T], f: impl Fn(T) -> T) {
    const HALF: usize = LANES / 2;
    let (blocks, rest) = xs.as_chunks_mut::<LANES>();
    for block in blocks {
        for x in block {
            *x = f(*x);
        }
    }
    let (halves, tail) = rest.as_chunks_mut::<HALF>();
    for block in halves {
        for x in block {
            *x = f(*x);
        }
    }
    if !tail.is_empty() {
        let mut block = [T::zero(); HALF];
        block[..tail.len()].copy_from_slice(tail);
        for x in &mut block {
            *x = f(*x);
        }
        tail.copy_from_slice(&block[..tail.len()]);
    }
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

/// `max(x, 0)` of every element, in place; a NaN stays NaN, as in Keras and PyTorch.
#[inline(always)]
pub fn relu<T: Real, const N: usize>(xs: &mut [T; N]) {
    relu_slice(xs);
}

/// [`relu`] over a slice of any length. A comparison, not `max`: IEEE's `maxNum` turns a NaN
/// into the other operand, which would hide a NaN input behind zeros.
#[inline(always)]
pub fn relu_slice<T: Real>(xs: &mut [T]) {
    for x in xs {
        if *x < T::zero() {
            *x = T::zero();
        }
    }
}

/// Softmax over the whole array, in place, shifted by the maximum so `exp` cannot overflow.
#[inline(always)]
pub fn softmax<T: Real, const N: usize>(xs: &mut [T; N]) {
    with_rounding!(R => softmax_with::<R, T, N>(xs))
}

/// [`softmax`] with the multiply-adds of its `exp` rounded as `R` says.
#[inline(always)]
pub fn softmax_with<R: Rounding, T: Real, const N: usize>(xs: &mut [T; N]) {
    let max = xs
        .iter()
        .copied()
        .fold(T::min_value().unwrap_or(T::zero()), T::max);
    for x in xs.iter_mut() {
        *x -= max;
    }
    exp_with::<R, T>(xs);
    let mut sum = T::zero();
    for x in xs.iter() {
        sum += *x;
    }
    for x in xs.iter_mut() {
        *x /= sum;
    }
}
