//! Training: the backward passes of the built-in cells and of the drivers, losses with their
//! adjoints, optimizers, gradient clipping, learning-rate schedules, and Keras's `fit`.
//!
//! Most programs build a [`Model`] from a tuple of [`Layer`]s (an `Rnn` of a built-in cell,
//! `BatchNormalization`, `Dense`), a loss and an optimizer, and call [`Model::fit`]; the rest of
//! this module is what `fit` is made of, for training loops of one's own.
//!
//! A cell that can be trained implements [`Differentiable`]: a forward step that also returns
//! what its backward needs (a typed *residual*, one per step), and the backward step, which
//! turns the adjoints of the step's output and new state into those of its input, old state
//! and constants, and adds its parameters' gradients into a value of the cell's own type.
//! Gradients are laid out as the parameters are (JAX's convention: the gradient of a pytree is
//! a pytree of the same structure), so optimizers, clipping and checkpoints walk one structure
//! through [`Parameters`](crate::Parameters); [`zeros_like`] starts one. The optimizer walks a
//! model and its gradient in path order as flat buffers, which is also the layout its state is
//! exported in for checkpoints.
//!
//! [`Rnn::run_taped`](crate::Rnn::run_taped) runs a sequence as
//! [`Rnn::run_masked_from`](crate::Rnn::run_masked_from) does, recording a [`Tape`];
//! [`Rnn::backward`](crate::Rnn::backward) walks the tape last step first.
//! The other drivers follow the same pattern, each with its tape: batches over the cores
//! ([`Rnn::run_batch_taped`](crate::Rnn::run_batch_taped), [`BatchTape`]),
//! [`Bidirectional`](crate::Bidirectional) for every merge with an adjoint ([`MergeAdjoint`]),
//! and a stateful stream chunk by chunk, truncated at each chunk's start
//! ([`Stateful::feed_taped`](crate::Stateful::feed_taped)).
//! [`Stacked`](crate::cells::Stacked) cells are differentiable when their layers are, and so is
//! [`TimeDistributed`](crate::TimeDistributed) when its layer is. Per-step
//! [`Resets`](crate::Resets) stop the state's adjoint at each reset step and send it to the
//! initial state ([`Rnn::run_taped_with_resets`](crate::Rnn::run_taped_with_resets), and
//! [`Rnn::unroll_taped_with_resets`](crate::Rnn::unroll_taped_with_resets) in the static
//! unroll, and for both halves of a [`Bidirectional`](crate::Bidirectional) in
//! `run_taped_with_resets`, a stream's `feed_taped_with_resets` and a batch's resets in
//! `run_batch_taped`); a model whose samples hold several episodes trains with an [`Episodic`] layer on
//! [`Episodes`].
//! Keras's `dropout` and `recurrent_dropout` are [`Rnn::dropout`](crate::Rnn::dropout): the
//! training drivers draw one set of [`DropoutMasks`] per sequence from its seed and fold them
//! into a copy of the cell's kernels ([`Differentiable::with_dropout`]); inference ignores it.
//! `BatchNormalization` trains with its batch's statistics
//! ([`forward_training`](crate::cells::BatchNormalization::forward_training)), and an
//! `Embedding` adds its outputs' adjoints into the rows it looked up
//! ([`Embedding::backward`](crate::cells::Embedding::backward)).
//!
//! A custom cell is differentiable too: `#[cell]` generates its backward from the step's body
//! when the cell's type has [`Parameters`](crate::Parameters) (derive them). The step is
//! lowered into single-assignment form, every operation (`+`, `-`, `*`, `component_mul`,
//! `dot`, `sum`, `transpose`, the `ops` activations, `concat`, `split`, `Dense::forward`,
//! `Kernel::apply`, `MatVec::forward`, a sub-cell's `step`, helpers marked
//! [`#[differentiable]`](crate::differentiable)) paired with its adjoint, and the backward runs
//! the statements in reverse; `if`, `match` and `for` over a constant range are allowed. The
//! training forward computes exactly the step's bits. What cannot be differentiated is a
//! compile error on the expression, saying what to write instead; `#[cell(inference)]` keeps
//! a cell inference-only.
//!
//! ```
//! use rnn::cells::Dense;
//! use rnn::ops;
//! use rnn::prelude::*;
//! use rnn::train::{Differentiable, Tape};
//!
//! /// A minimal gated unit; its backward is generated.
//! #[derive(Clone, Debug, PartialEq, Parameters)]
//! struct Mgu {
//!     forget: Dense<5, 2, f64>,
//!     candidate: Dense<5, 2, f64>,
//! }
//!
//! #[cell]
//! impl Mgu {
//!     fn step(&self, #[input] x: &SVector<f64, 3>, #[state] h: &mut SVector<f64, 2>) -> SVector<f64, 2> {
//!         let hx: SVector<f64, 5> = ops::concat(h, x);
//!         let f = ops::sigmoid(&self.forget.forward(&hx));
//!         let fhx: SVector<f64, 5> = ops::concat(&f.component_mul(h), x);
//!         let candidate = ops::tanh(&self.candidate.forward(&fhx));
//!         *h = (SVector::repeat(1.0) - f).component_mul(h) + f.component_mul(&candidate);
//!         *h
//!     }
//! }
//!
//! let rnn = Rnn::new(Mgu { forget: Dense::keras_init(1), candidate: Dense::keras_init(2) });
//! let xs = [SVector::from([0.5, -1.0, 0.25]); 3];
//! // The loss: the sum of the last output.
//! let loss = |x0: f64| {
//!     let mut xs = xs;
//!     xs[0][0] = x0;
//!     rnn.run(&xs, &()).state.sum()
//! };
//! let mut tape = Tape::new();
//! rnn.run_taped(&xs, Mask::All, SVector::zeros(), &(), &mut tape).unwrap();
//! let d_outputs = [SVector::zeros(); 3];
//! let grads = rnn.backward(&tape, &xs, &d_outputs, SVector::repeat(1.0), &()).unwrap();
//! let slope = (loss(0.5 + 1e-6) - loss(0.5 - 1e-6)) / 2e-6;
//! assert!((grads.inputs[0][0] - slope).abs() < 1e-8);
//! ```
//!
//! The built-ins' backward passes are derived by hand, fused per step; they are checked against
//! central differences in `f64` and against Keras's `tf.GradientTape` on masked batches. The
//! losses, optimizers and schedules follow Keras's definitions (and PyTorch's where they
//! differ, named), checked against both.

// The runtime of the backward `#[cell]` generates; generated code reaches it through
// `__private`.
#[doc(hidden)]
pub mod adjoint;
mod batch;
mod bidirectional;
mod cells;
#[cfg(feature = "std")]
mod checkpoint;
mod differentiable;
mod episodic;
mod error;
#[cfg(feature = "std")]
mod fit;
mod layer;
#[cfg(feature = "std")]
mod lowered;
mod sequence;
mod stacked;
mod stateful;
mod time_distributed;
mod unrolled;

pub mod clip;
pub mod loss;
pub mod optim;
pub mod schedule;

pub use crate::drivers::dropout::DropoutMasks;
pub use batch::{BatchGradients, BatchTape};
pub use bidirectional::{
    BidirectionalBatchGradients, BidirectionalBatchTape, BidirectionalGradients, BidirectionalTape,
    MergeAdjoint,
};
pub use cells::{BatchNormResidual, DenseResidual, GruResidual, LstmResidual, SimpleRnnResidual};
pub use differentiable::{set_to_zero, zeros_like, Differentiable};
pub use episodic::{Episodes, Episodic};
pub use error::BackwardError;
#[cfg(feature = "std")]
pub use fit::{Class, Epoch, Fit, FitError, History, Metrics, Model, Verbosity};
pub use layer::{BatchNormTape, ChainTape, DenseTape, Layer, RnnTape};
pub use sequence::{Gradients, Tape};
pub use unrolled::{UnrolledGradients, UnrolledTape};
