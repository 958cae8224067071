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
