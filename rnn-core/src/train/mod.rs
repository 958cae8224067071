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
//! [`Stacked`](crate::cells::Stacked) cells are differentiable when their layers are.
//! `BatchNormalization` trains with its batch's statistics
//! ([`forward_training`](crate::cells::BatchNormalization::forward_training)), and an
//! `Embedding` adds its outputs' adjoints into the rows it looked up
//! ([`Embedding::backward`](crate::cells::Embedding::backward)).
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
mod error;
#[cfg(feature = "std")]
mod fit;
mod layer;
#[cfg(feature = "std")]
mod lowered;
mod sequence;
mod stacked;
mod stateful;

pub mod clip;
pub mod loss;
pub mod optim;
pub mod schedule;

pub use batch::{BatchGradients, BatchTape};
pub use bidirectional::{BidirectionalGradients, BidirectionalTape, MergeAdjoint};
pub use cells::{BatchNormResidual, DenseResidual, GruResidual, LstmResidual, SimpleRnnResidual};
pub use differentiable::{zeros_like, Differentiable};
pub use error::BackwardError;
#[cfg(feature = "std")]
pub use fit::{Class, Epoch, Fit, FitError, History, Metrics, Model, Verbosity};
pub use layer::{BatchNormTape, ChainTape, DenseTape, Layer, RnnTape};
pub use sequence::{Gradients, Tape};
