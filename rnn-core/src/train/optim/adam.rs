//! Adam: moments of the gradient with bias correction.

use nalgebra::ComplexField;

use super::{Convention, Rule, Step};
use crate::real::Real;

/// Adam (Kingma & Ba), as Keras or PyTorch computes it.
///
/// With `t = iterations + 1`, both keep `m ← m + (1 − β₁)(g − m)` and
/// `v ← β₂·v + (1 − β₂)·g²`; they differ in where ε goes:
///
/// - Keras: `p ← p − α·m / (√v + ε̂)` with `α = η·√(1 − β₂ᵗ) / (1 − β₁ᵗ)`, ε̂ = 1e-7 (the
///   paper's ε̂, added before the bias correction of `v`);
/// - PyTorch: `p ← p − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)`, ε = 1e-8 (after it).
///
/// ```
/// use rnn::prelude::*;
/// use rnn::train::optim::{Adam, Optimizer};
///
/// #[derive(Parameters)]
/// struct Model {
///     w: SVector<f32, 2>,
/// }
///
/// let mut model = Model { w: SVector::from([1.0, 1.0]) };
/// let grads = Model { w: SVector::from([0.5, -4.0]) };
/// let mut adam = Optimizer::new(Adam::keras(), 0.01);
/// adam.step(&mut model, &grads).unwrap();
/// // The first step moves each weight by about η against its gradient's sign.
/// assert!((model.w[0] - 0.99).abs() < 1e-6 && (model.w[1] - 1.01).abs() < 1e-6);
/// let names: Vec<_> = adam.state().map(|(name, buffer)| (name, buffer.len())).collect();
/// assert_eq!(names, [("momentum", 2), ("velocity", 2)]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// β₁, the first moment's decay.
    pub beta_1: f64,
    /// β₂, the second moment's decay.
    pub beta_2: f64,
    /// ε, placed as the [`convention`](Adam::convention) places it.
    pub epsilon: f64,
    /// Whose formula.
    pub convention: Convention,
}

impl Adam {
    /// Keras's `Adam()`: β₁ 0.9, β₂ 0.999, ε̂ 1e-7 added to √v.
    pub fn keras() -> Self {
        Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            convention: Convention::Keras,
        }
    }

    /// PyTorch's `Adam()`: β₁ 0.9, β₂ 0.999, ε 1e-8 added to the bias-corrected √v.
    pub fn torch() -> Self {
        Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            convention: Convention::Torch,
        }
    }

    /// The moments' update and the step, on `m` and `v` (AdamW runs it after its decay).
    pub(super) fn apply<T: Real>(
        &self,
        step: Step,
        params: &mut [T],
        grads: &[T],
        state: &mut [T],
    ) {
        let (m, v) = state.split_at_mut(params.len());
        let c = |x: f64| -> T { nalgebra::convert(x) };
        let t = step.iterations.saturating_add(1);
        let (one_minus_b1, one_minus_b2) = (c(1.0 - self.beta_1), c(1.0 - self.beta_2));
        let eps = c(self.epsilon);
        let moments = m.iter_mut().zip(v.iter_mut());
        match self.convention {
            Convention::Keras => {
                // Computed in the variable's dtype, as Keras does.
                let t = c(t as f64);
                let b1_power = c(self.beta_1).powf(t);
                let b2_power = c(self.beta_2).powf(t);
                let alpha =
                    c(step.learning_rate) * (T::one() - b2_power).sqrt() / (T::one() - b1_power);
                for ((p, &g), (m, v)) in params.iter_mut().zip(grads).zip(moments) {
                    *m += (g - *m) * one_minus_b1;
                    *v += (g * g - *v) * one_minus_b2;
                    *p -= *m * alpha / (v.sqrt() + eps);
                }
            }
            Convention::Torch => {
                // The bias corrections are Python floats in PyTorch: f64.
                let t = i32::try_from(t).unwrap_or(i32::MAX);
                let correction_1 = 1.0 - ComplexField::powi(self.beta_1, t);
                let correction_2_sqrt =
                    ComplexField::sqrt(1.0 - ComplexField::powi(self.beta_2, t));
                let step_size = c(-(step.learning_rate / correction_1));
                let correction_2_sqrt = c(correction_2_sqrt);
                let b2 = c(self.beta_2);
                for ((p, &g), (m, v)) in params.iter_mut().zip(grads).zip(moments) {
                    *m += one_minus_b1 * (g - *m);
                    *v = *v * b2 + one_minus_b2 * g * g;
                    let denominator = v.sqrt() / correction_2_sqrt + eps;
                    *p += step_size * (*m / denominator);
                }
            }
        }
    }
}

impl Rule for Adam {
    fn slots(&self) -> &'static [&'static str] {
        &["momentum", "velocity"]
    }

    fn update<T: Real>(&self, step: Step, params: &mut [T], grads: &[T], state: &mut [T]) {
        self.apply(step, params, grads, state);
    }
}
