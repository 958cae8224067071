//! RMSprop: steps scaled by a moving root mean square of the gradient.

use super::{Convention, Rule, Step};
use crate::real::Real;

/// RMSprop (Hinton), as Keras or PyTorch computes it: both keep `v ← ρ·v + (1 − ρ)·g²`;
/// Keras moves by `η·g / √(v + ε)` (ε inside the root; defaults ρ 0.9, ε 1e-7), PyTorch by
/// `η·g / (√v + ε)` (outside; defaults ρ — its `alpha` — 0.99, ε 1e-8).
///
/// ```
/// use rnn::prelude::*;
/// use rnn::train::optim::{Optimizer, RmsProp};
///
/// #[derive(Parameters)]
/// struct Model {
///     w: SVector<f32, 1>,
/// }
///
/// let mut model = Model { w: SVector::from([0.0]) };
/// let grads = Model { w: SVector::from([2.0]) };
/// let mut rmsprop = Optimizer::new(RmsProp::keras(), 0.001);
/// rmsprop.step(&mut model, &grads).unwrap();
/// // v = 0.1 · 4: the step is 0.001 · 2 / √0.4.
/// assert!((model.w[0] + 0.002 / 0.4f32.sqrt()).abs() < 1e-8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsProp {
    /// ρ, the decay of the mean square (PyTorch's `alpha`).
    pub rho: f64,
    /// ε, placed as the [`convention`](RmsProp::convention) places it.
    pub epsilon: f64,
    /// Whose formula.
    pub convention: Convention,
}

impl RmsProp {
    /// Keras's `RMSprop()`: ρ 0.9, ε 1e-7 inside the square root.
    pub fn keras() -> Self {
        RmsProp {
            rho: 0.9,
            epsilon: 1e-7,
            convention: Convention::Keras,
        }
    }

    /// PyTorch's `RMSprop()`: ρ (`alpha`) 0.99, ε 1e-8 added to the root.
    pub fn torch() -> Self {
        RmsProp {
            rho: 0.99,
            epsilon: 1e-8,
            convention: Convention::Torch,
        }
    }
}

impl Rule for RmsProp {
    fn slots(&self) -> &'static [&'static str] {
        &["velocity"]
    }

    fn update<T: Real>(&self, step: Step, params: &mut [T], grads: &[T], state: &mut [T]) {
        let c = |x: f64| -> T { nalgebra::convert(x) };
        let (lr, rho, one_minus_rho, eps) = (
            c(step.learning_rate),
            c(self.rho),
            c(1.0 - self.rho),
            c(self.epsilon),
        );
        let squares = state.iter_mut();
        match self.convention {
            Convention::Keras => {
                for ((p, &g), v) in params.iter_mut().zip(grads).zip(squares) {
                    *v = rho * *v + one_minus_rho * (g * g);
                    *p -= lr * g / (*v + eps).sqrt();
                }
            }
            Convention::Torch => {
                for ((p, &g), v) in params.iter_mut().zip(grads).zip(squares) {
                    *v = *v * rho + one_minus_rho * g * g;
                    *p += -lr * (g / (v.sqrt() + eps));
                }
            }
        }
    }
}
