//! Training: losses with their adjoints, optimizers, gradient clipping and learning-rate
//! schedules, each following Keras's definitions (and PyTorch's where they differ, named).
//!
//! A model's gradient is a value of the model's own type, with the same paths (JAX's
//! convention): the optimizer walks both in path order as flat buffers, which is also the
//! layout its state is exported in for checkpoints.

pub mod clip;
pub mod loss;
pub mod optim;
pub mod schedule;
