//! Stochastic gradient descent, with momentum and Nesterov momentum.

use super::{Convention, Rule, Step};
use crate::real::Real;

/// Gradient descent with optional (Nesterov) momentum.
///
/// With momentum μ and learning rate η, Keras keeps `m ← μ·m − η·g` and moves by `m`
/// (Nesterov: by `μ·m − η·g`); PyTorch keeps `b ← μ·b + g` (`b = g` at the first step) and
/// moves by `−η·b` (Nesterov: `−η·(g + μ·b)`). At a constant rate the two agree; under a
/// schedule Keras's momentum carries the rates of past steps, PyTorch's applies the current
/// one to all of it.
///
/// ```
/// use rnn::prelude::*;
/// use rnn::train::optim::{Optimizer, Sgd};
///
/// #[derive(Parameters)]
/// struct Model {
///     w: SVector<f32, 1>,
/// }
///
/// let mut model = Model { w: SVector::from([1.0]) };
/// let grads = Model { w: SVector::from([1.0]) };
/// let mut keras = Optimizer::new(Sgd::keras(0.9).nesterov(), 0.1);
/// keras.step(&mut model, &grads).unwrap();
/// // Nesterov's first step: m = −0.1, moves by 0.9·m − 0.1 = −0.19.
/// assert!((model.w[0] - 0.81).abs() < 1e-7);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    /// The momentum μ (0: none, and no state).
    pub momentum: f64,
    /// Whether the step looks ahead along the momentum (Nesterov).
    pub nesterov: bool,
    /// Whose momentum formula.
    pub convention: Convention,
}

impl Sgd {
    /// Plain gradient descent: `p ← p − η·g`, the same in both libraries.
    pub fn plain() -> Self {
        Sgd {
            momentum: 0.0,
            nesterov: false,
            convention: Convention::Keras,
        }
    }

    /// Keras's `SGD(momentum=momentum)`.
    pub fn keras(momentum: f64) -> Self {
        Sgd {
            momentum,
            nesterov: false,
            convention: Convention::Keras,
        }
    }

    /// PyTorch's `SGD(momentum=momentum)` (no dampening).
    pub fn torch(momentum: f64) -> Self {
        Sgd {
            momentum,
            nesterov: false,
            convention: Convention::Torch,
        }
    }

    /// The same, with Nesterov momentum.
    pub fn nesterov(self) -> Self {
        Sgd {
            nesterov: true,
            ..self
        }
    }
}

impl Rule for Sgd {
    fn slots(&self) -> &'static [&'static str] {
        if self.momentum == 0.0 {
            &[]
        } else {
            &["momentum"]
        }
    }

    fn update<T: Real>(&self, step: Step, params: &mut [T], grads: &[T], state: &mut [T]) {
        let lr: T = nalgebra::convert(step.learning_rate);
        let mu: T = nalgebra::convert(self.momentum);
        if self.momentum == 0.0 {
            for (p, &g) in params.iter_mut().zip(grads) {
                *p -= g * lr;
            }
            return;
        }
        let moments = state.iter_mut();
        match self.convention {
            Convention::Keras => {
                for ((p, &g), m) in params.iter_mut().zip(grads).zip(moments) {
                    *m = *m * mu - g * lr;
                    *p += if self.nesterov { *m * mu - g * lr } else { *m };
                }
            }
            Convention::Torch => {
                let first = step.iterations == 0;
                for ((p, &g), b) in params.iter_mut().zip(grads).zip(moments) {
                    *b = if first { g } else { *b * mu + g };
                    let direction = if self.nesterov { g + *b * mu } else { *b };
                    *p += -lr * direction;
                }
            }
        }
    }
}
