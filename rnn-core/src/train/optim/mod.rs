//! Optimizers: an [`Optimizer`] applies an update [`Rule`] ([`Sgd`], [`Adam`], [`AdamW`],
//! [`RmsProp`]) to a model from its gradient, with a learning-rate
//! [`Schedule`] and optional [`Clip`]ping.
//!
//! Where Keras and PyTorch define a rule differently, both are offered and named by a
//! [`Convention`]: `Adam::keras()` adds ε̂ = 1e-7 to √v before the bias correction,
//! `Adam::torch()` adds ε = 1e-8 after it. One step does what Keras's
//! `optimizer.apply(grads)` does, in its order: clip the gradient, apply the decoupled weight
//! decay (AdamW), update, count the iteration. The learning rate is the schedule's value at
//! the number of iterations done so far (0 for the first step), as Keras evaluates it.
//!
//! The state (the iteration count and the rule's buffers, each as long as the model's
//! parameters in path order) is exported and loaded as flat buffers: a checkpoint resumes
//! the same steps bit for bit.
//!
//! ```
//! use rnn::prelude::*;
//! use rnn::train::optim::{Optimizer, Sgd};
//!
//! #[derive(Parameters)]
//! struct Line {
//!     w: SVector<f32, 2>,
//! }
//!
//! let mut model = Line { w: SVector::from([1.0, -1.0]) };
//! let grads = Line { w: SVector::from([0.5, 2.0]) };
//! let mut sgd = Optimizer::new(Sgd::keras(0.9), 0.1);
//! sgd.step(&mut model, &grads).unwrap();
//! assert_eq!(model.w, SVector::from([1.0 - 0.05, -1.0 - 0.2]));
//! // Momentum: the second step moves 0.9 times the first step's move, plus its own.
//! sgd.step(&mut model, &grads).unwrap();
//! assert!((model.w[0] - (0.95 - 0.05 * 1.9)).abs() < 1e-6);
//! assert_eq!(sgd.iterations(), 2);
//! ```

mod adam;
mod adamw;
mod flat;
mod rmsprop;
mod sgd;

use alloc::vec::Vec;
use core::fmt;

pub use adam::Adam;
pub use adamw::AdamW;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

use self::flat::Layout;
use super::clip::Clip;
use super::schedule::Schedule;
use crate::error::ShapeError;
use crate::parameters::{Dtype, Parameters};
use crate::real::Real;

/// Whose definition of an update rule to follow, where Keras's and PyTorch's differ in more
/// than their defaults (where ε goes, how momentum holds the learning rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Convention {
    /// Keras 3's formulas (`keras/src/optimizers/*.py`).
    Keras,
    /// PyTorch's formulas (`torch.optim`, single-tensor path).
    Torch,
}

/// What a rule needs to know about the step it applies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// The learning rate of this step, from the schedule.
    pub learning_rate: f64,
    /// The number of steps applied before this one (Keras's `optimizer.iterations`; the
    /// bias corrections use `iterations + 1`).
    pub iterations: u64,
}

/// An update rule: how parameters move given their gradient and the rule's state. Rules are
/// elementwise, so they see every tensor of the model as one flat slice in path order.
pub trait Rule {
    /// The names of the per-parameter state buffers, in the order of the state (Keras's
    /// optimizer variable names: `momentum`, `velocity`).
    fn slots(&self) -> &'static [&'static str];

    /// Applies one step to `params` from `grads` (as long). `state` holds the
    /// [`slots`](Rule::slots) buffers back to back, each as long as `params`, zero before the
    /// first step.
    fn update<T: Real>(&self, step: Step, params: &mut [T], grads: &[T], state: &mut [T]);
}

/// Why a step or a state could not be applied to a model.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptimizerError {
    /// The gradient's tensors, or the model's, are not laid out as the model's were at the
    /// first step (or as the state loaded): `what` names which.
    Shape(ShapeError),
    /// A tensor's element type is not the optimizer's scalar.
    Dtype {
        /// The optimizer's scalar.
        expected: Dtype,
        /// The tensor's.
        found: Dtype,
    },
}

impl fmt::Display for OptimizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptimizerError::Shape(error) => error.fmt(f),
            OptimizerError::Dtype { expected, found } => {
                write!(f, "parameter dtype: expected {expected}, found {found}")
            }
        }
    }
}

impl core::error::Error for OptimizerError {}

impl From<ShapeError> for OptimizerError {
    fn from(error: ShapeError) -> Self {
        OptimizerError::Shape(error)
    }
}

/// An update [`Rule`] with its state, a learning-rate [`Schedule`] and a [`Clip`]: what
/// trains a model of any [`Parameters`] type from gradients of the same type.
///
/// `T` is the models' scalar (`f32`, or `f64` through [`Optimizer::new_f64`]); the update is
/// computed in it, as Keras computes in the variable's dtype. Buffers are sized at the first
/// step; later steps allocate nothing.
#[derive(Clone, Debug)]
pub struct Optimizer<R, S = f64, T = f32> {
    rule: R,
    schedule: S,
    clip: Clip,
    iterations: u64,
    layout: Layout,
    params: Vec<T>,
    grads: Vec<T>,
    state: Vec<T>,
}

impl<R: Rule, S: Schedule> Optimizer<R, S, f32> {
    /// An optimizer of `f32` models, with `learning_rate` a [`Schedule`] (an `f64` is a
    /// constant rate) and no clipping.
    pub fn new(rule: R, learning_rate: S) -> Self {
        Self::with_scalar(rule, learning_rate)
    }
}

impl<R: Rule, S: Schedule> Optimizer<R, S, f64> {
    /// [`new`](Optimizer::new), for `f64` models.
    pub fn new_f64(rule: R, learning_rate: S) -> Self {
        Self::with_scalar(rule, learning_rate)
    }
}

impl<R: Rule, S: Schedule, T: Real> Optimizer<R, S, T> {
    fn with_scalar(rule: R, schedule: S) -> Self {
        Optimizer {
            rule,
            schedule,
            clip: Clip::NONE,
            iterations: 0,
            layout: Layout::default(),
            params: Vec::new(),
            grads: Vec::new(),
            state: Vec::new(),
        }
    }

    /// Clips every gradient before the update (Keras's `clipnorm`, `clipvalue` or
    /// `global_clipnorm`: one [`Clip`], so at most one of them).
    pub fn with_clip(mut self, clip: Clip) -> Self {
        self.clip = clip;
        self
    }

    /// The rule.
    pub fn rule(&self) -> &R {
        &self.rule
    }

    /// The clipping applied to gradients.
    pub fn clip(&self) -> Clip {
        self.clip
    }

    /// The number of steps applied (Keras's `optimizer.iterations`).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// The learning rate the next step uses.
    pub fn learning_rate(&self) -> f64 {
        self.schedule.learning_rate(self.iterations)
    }

    /// Applies one step to `model` from `grads`, its gradient (a value of the same type,
    /// the same paths): clip, update, count.
    ///
    /// The first step records the model's layout and sizes the state; a later model or
    /// gradient whose tensors differ from it is an [`OptimizerError`], and nothing changes.
    pub fn step<P: Parameters>(&mut self, model: &mut P, grads: &P) -> Result<(), OptimizerError> {
        let first = self.layout.is_unset();
        let layout = if first {
            Layout::record::<T, P>(model)?
        } else {
            core::mem::take(&mut self.layout)
        };
        let gathered = layout
            .gather("gradient tensors", grads, &mut self.grads)
            .and_then(|()| layout.gather("model tensors", model, &mut self.params));
        if let Err(error) = gathered {
            // Keep the layout of the steps already taken; a first step records none.
            if !first {
                self.layout = layout;
            }
            return Err(error);
        }
        let state_len = layout.len().saturating_mul(self.rule.slots().len());
        if self.state.len() != state_len {
            self.state.clear();
            self.state.resize(state_len, T::zero());
        }
        self.clip.apply(&mut self.grads, layout.ends());
        let step = Step {
            learning_rate: self.schedule.learning_rate(self.iterations),
            iterations: self.iterations,
        };
        self.rule
            .update(step, &mut self.params, &self.grads, &mut self.state);
        layout.scatter(&self.params, model);
        self.layout = layout;
        self.iterations = self.iterations.saturating_add(1);
        Ok(())
    }

    /// The rule's state buffers with their names, in the order of [`Rule::slots`], each as
    /// long as the model's parameters in path order (empty before the first step).
    pub fn state(&self) -> impl Iterator<Item = (&'static str, &[T])> + '_ {
        let len = self.layout.len();
        self.rule
            .slots()
            .iter()
            .enumerate()
            .map(move |(i, &name)| (name, self.state.get(i * len..(i + 1) * len).unwrap_or(&[])))
    }

    /// The whole state as one buffer: the [`state`](Optimizer::state) buffers back to back.
    /// With [`iterations`](Optimizer::iterations), what a checkpoint saves.
    pub fn state_buffer(&self) -> &[T] {
        &self.state
    }

    /// Resumes from a checkpoint of a model shaped like `model`: `iterations` steps done and
    /// `state`, as [`state_buffer`](Optimizer::state_buffer) gave it (empty for a rule with
    /// no state, or for a checkpoint taken before any step).
    pub fn load_state<P: Parameters>(
        &mut self,
        model: &P,
        iterations: u64,
        state: &[T],
    ) -> Result<(), OptimizerError> {
        let layout = Layout::record::<T, P>(model)?;
        let expected = layout.len().saturating_mul(self.rule.slots().len());
        if !(state.is_empty() && iterations == 0) {
            ShapeError::check_len("optimizer state", expected, state.len())?;
        }
        self.state.clear();
        self.state.extend_from_slice(state);
        self.layout = layout;
        self.iterations = iterations;
        Ok(())
    }
}
