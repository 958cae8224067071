//! The operations a step is written with, and the fast way to write one.
//!
//! A cell's step is ordinary Rust over nalgebra's static vectors, so anything nalgebra offers
//! works. These operations are the ones the built-in cells are made of, and the fast path:
//!
//! - **activations** ([`sigmoid`], [`tanh`], [`relu`], [`hard_sigmoid`], [`softmax`],
//!   [`exp`], or an [`Activation`] chosen at run time): vectorized, a whole vector at a time,
//!   with no libm call per element. A closure such as `v.map(|x| 1.0 / (1.0 + (-x).exp()))`
//!   calls libm once per element and makes a small step several times slower;
//! - **products**: [`Dense::forward`](crate::cells::Dense::forward) (`x · W + b`, then its
//!   activation), [`Kernel::apply`](crate::weights::Kernel::apply) (`x · W` for every gate of
//!   a stacked kernel at once) and [`MatVec::forward`](crate::shape::MatVec::forward) for a
//!   plain `SMatrix`, each summing column-wise so that it vectorizes, with a compile error in
//!   words when the sizes disagree;
//! - **joining and splitting** vectors: [`concat`](fn@concat) and [`split`], sizes checked at compile
//!   time (name the result's type: `let hx: SVector<f32, 6> = concat(h, x);`);
//! - elementwise arithmetic: nalgebra's `+`, `-`, `component_mul`, scalar `*`.
//!
//! Each is a named function rather than a closure over elements, so that it has one meaning
//! everywhere: the built-in cells and a custom cell compute the same activation, bit for bit
//! on one machine. (The batched layers in `fused` use a cheaper rational `tanh` and sigmoid,
//! within 3.5e-7 of these.)
//!
//! ```
//! use rnn::ops::{self, Activation};
//! use rnn::prelude::*;
//!
//! /// A minimal gated unit: `f = σ(W_f [h; x])`, `h' = (1 − f) h + f tanh(W_h [f h; x])`.
//! struct Mgu {
//!     forget: rnn::cells::Dense<6, 2>,
//!     candidate: rnn::cells::Dense<6, 2>,
//! }
//!
//! #[cell]
//! impl Mgu {
//!     fn step(&self, #[input] x: &SVector<f32, 4>, #[state] h: &mut SVector<f32, 2>) -> SVector<f32, 2> {
//!         let hx: SVector<f32, 6> = ops::concat(h, x);
//!         let f = ops::sigmoid(&self.forget.forward(&hx));
//!         let fhx: SVector<f32, 6> = ops::concat(&f.component_mul(h), x);
//!         let candidate = ops::tanh(&self.candidate.forward(&fhx));
//!         *h = (SVector::repeat(1.0) - f).component_mul(h) + f.component_mul(&candidate);
//!         *h
//!     }
//! }
//!
//! let cell = Mgu { forget: rnn::cells::Dense::keras_init(1), candidate: rnn::cells::Dense::keras_init(2) };
//! let xs = [SVector::<f32, 4>::repeat(0.5); 3];
//! let run = Rnn::new(cell).run(&xs, &());
//! assert!(run.state.iter().all(|h| h.abs() < 1.0));
//! assert_eq!(ops::relu(&SVector::from([-1.0f32, 2.0])), SVector::from([0.0, 2.0]));
//! assert_eq!(Activation::Relu.of(&SVector::from([-1.0f32, 2.0])), SVector::from([0.0, 2.0]));
//! ```

mod activation;
mod join;

pub use activation::Activation;
pub use join::{concat, split};

use nalgebra::SVector;

use crate::real::Real;

/// The logistic sigmoid `1 / (1 + e^-x)` of every element.
#[inline(always)]
pub fn sigmoid<T: Real, const N: usize>(x: &SVector<T, N>) -> SVector<T, N> {
    Activation::Sigmoid.of(x)
}

/// `tanh(x)` of every element.
#[inline(always)]
pub fn tanh<T: Real, const N: usize>(x: &SVector<T, N>) -> SVector<T, N> {
    Activation::Tanh.of(x)
}

/// `max(x, 0)` of every element; a NaN stays NaN.
#[inline(always)]
pub fn relu<T: Real, const N: usize>(x: &SVector<T, N>) -> SVector<T, N> {
    Activation::Relu.of(x)
}

/// Keras 3's `hard_sigmoid`, `relu6(x + 3) / 6`, of every element.
#[inline(always)]
pub fn hard_sigmoid<T: Real, const N: usize>(x: &SVector<T, N>) -> SVector<T, N> {
    Activation::HardSigmoid.of(x)
}

/// `e^x_i / Σ_j e^x_j` over the whole vector, shifted by its maximum so nothing overflows.
#[inline(always)]
pub fn softmax<T: Real, const N: usize>(x: &SVector<T, N>) -> SVector<T, N> {
    Activation::Softmax.of(x)
}

/// `e^x` of every element.
#[inline(always)]
pub fn exp<T: Real, const N: usize>(x: &SVector<T, N>) -> SVector<T, N> {
    let mut y = *x;
    crate::kernels::exp_slice(y.as_mut_slice());
    y
}

/// Dropout on `x` inside a custom step, Keras's variational kind: `x` itself outside training.
///
/// In a [`#[cell]`](crate::cell) step, a training run of an [`Rnn`](crate::Rnn) configured
/// with [`Rnn::dropout`](crate::Rnn::dropout) drops each unit of `x` with probability
/// [`Dropout::rate`](crate::Dropout::rate) and scales the kept ones by `1/(1 − rate)`
/// (inverted dropout). Each call in the step has its own mask, drawn once per sequence from the
/// `Rnn`'s seed, the training run and the sequence's place in its batch, and reused at every
/// step of that sequence (as Keras's `DropoutRNNCell` reuses `get_dropout_mask`); a call in a
/// `for` loop uses its one mask at every iteration. The generated backward multiplies the
/// adjoint by the same mask. Inference ([`Cell::step`](crate::Cell::step), so
/// [`Rnn::run`](crate::Rnn::run) and every inference driver) never drops: there this function
/// is the identity, bit for bit.
///
/// ```
/// use rnn::prelude::*;
/// use rnn::train::{BatchTape, Tape};
/// use rnn::{Dropout, Mask};
///
/// #[derive(Clone, Debug, PartialEq, Parameters)]
/// struct Dropped {
///     w: SMatrix<f32, 3, 3>,
/// }
///
/// #[cell]
/// impl Dropped {
///     fn step(&self, #[input] x: &SVector<f32, 3>, #[state] h: &mut SVector<f32, 3>) -> SVector<f32, 3> {
///         *h = rnn::ops::tanh(&(self.w * rnn::ops::dropout(x) + rnn::ops::recurrent_dropout(h)));
///         *h
///     }
/// }
///
/// let cell = Dropped { w: SMatrix::identity() };
/// let plain = Rnn::new(cell.clone());
/// let rnn = Rnn::new(cell).dropout(Dropout { rate: 0.5, recurrent_rate: 0.0, seed: 7 }).unwrap();
/// let xs = [SVector::from([1.0, 1.0, 1.0]); 4];
/// // Inference drops nothing.
/// assert_eq!(rnn.run(&xs, &()), plain.run(&xs, &()));
/// // Training drops some units of the input, the same ones at every step.
/// let trained = rnn.run_taped(&xs, Mask::All, SVector::zeros(), &(), &mut Tape::new()).unwrap();
/// assert_ne!(trained.state, plain.run(&xs, &()).state);
/// ```
#[inline(always)]
pub fn dropout<T: Real, const R: usize, const C: usize>(
    x: &nalgebra::SMatrix<T, R, C>,
) -> nalgebra::SMatrix<T, R, C> {
    *x
}

/// Keras's `recurrent_dropout` inside a custom step: [`dropout`] at the
/// [`Dropout::recurrent_rate`](crate::Dropout::recurrent_rate), for the state a step reads.
/// `x` itself outside training.
#[inline(always)]
pub fn recurrent_dropout<T: Real, const R: usize, const C: usize>(
    x: &nalgebra::SMatrix<T, R, C>,
) -> nalgebra::SMatrix<T, R, C> {
    *x
}
