//! Recurrent neural networks whose cells are plain, size-checked step functions.
//!
//! Write one step with [`#[cell]`](macro@cell); run it over a sequence with [`Rnn`]: a dynamic
//! loop over any length, or a static unroll at a const-generic length with no heap.
//!
//! ```
//! use rnn::prelude::*;
//!
//! /// `s' = s + x`, `y = 10 s'`.
//! #[cell]
//! fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
//!     *s += x;
//!     *s * 10.0
//! }
//!
//! let xs = [SVector::from([1.0]), SVector::from([2.0])];
//! let run = Rnn::new(Accumulate).run(&xs, &());
//! assert_eq!((run.outputs[1][0], run.state[0]), (30.0, 3.0));
//! ```
#![cfg_attr(not(feature = "std"), no_std)]

pub use rnn_core::*;

/// What most programs need: the traits, the drivers, the macros and nalgebra's static types.
pub mod prelude {
    pub use rnn_core::nalgebra::{self, SMatrix, SVector};
    pub use rnn_core::MatVec;
    pub use rnn_core::{cell, Cell, Nested, Parameters, Rnn, ShapeOf, Stateful};
    #[cfg(feature = "std")]
    pub use rnn_core::{Batch, Run, Sequence};
    pub use rnn_core::{
        Bidirectional, Both, Direction, Mask, Padding, Resets, SequenceError, TimeDistributed,
    };
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
