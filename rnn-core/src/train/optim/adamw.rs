//! AdamW: Adam with decoupled weight decay.

use super::{Adam, Convention, Rule, Step};
use crate::real::Real;

/// Adam with weight decay decoupled from the gradient (Loshchilov & Hutter): before the Adam
/// step, each weight shrinks by `η·λ` of itself. Keras computes `p ← p − p·λ·η`, PyTorch
/// `p ← p·(1 − η·λ)`; their defaults differ (λ = 0.004 and 0.01).
///
/// ```
/// use rnn::prelude::*;
/// use rnn::train::optim::{AdamW, Optimizer};
///
/// #[derive(Parameters)]
/// struct Model {
///     w: SVector<f32, 1>,
/// }
///
/// let mut model = Model { w: SVector::from([2.0]) };
/// let zero = Model { w: SVector::zeros() };
/// let mut adamw = Optimizer::new(AdamW::torch().weight_decay(0.5), 0.1);
/// adamw.step(&mut model, &zero).unwrap();
/// // A zero gradient leaves only the decay: 2 · (1 − 0.1 · 0.5).
/// assert_eq!(model.w[0], 1.9);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    /// The Adam step, and whose convention (for the decay too).
    pub adam: Adam,
    /// λ, the decay per unit of learning rate.
    pub weight_decay: f64,
}

impl AdamW {
    /// Keras's `AdamW()`: [`Adam::keras`] and λ = 0.004.
    pub fn keras() -> Self {
        AdamW {
            adam: Adam::keras(),
            weight_decay: 0.004,
        }
    }

    /// PyTorch's `AdamW()`: [`Adam::torch`] and λ = 0.01.
    pub fn torch() -> Self {
        AdamW {
            adam: Adam::torch(),
            weight_decay: 0.01,
        }
    }

    /// The same with decay `weight_decay`.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        AdamW {
            weight_decay,
            ..self
        }
    }
}

impl Rule for AdamW {
    fn slots(&self) -> &'static [&'static str] {
        self.adam.slots()
    }

    fn update<T: Real>(&self, step: Step, params: &mut [T], grads: &[T], state: &mut [T]) {
        match self.adam.convention {
            Convention::Keras => {
                let (lr, wd): (T, T) = (
                    nalgebra::convert(step.learning_rate),
                    nalgebra::convert(self.weight_decay),
                );
                for p in params.iter_mut() {
                    *p -= *p * wd * lr;
                }
            }
            Convention::Torch => {
                let keep: T = nalgebra::convert(1.0 - step.learning_rate * self.weight_decay);
                for p in params.iter_mut() {
                    *p *= keep;
                }
            }
        }
        self.adam.apply(step, params, grads, state);
    }
}
