//! `BatchNormalization` in training: normalised with the batch's own statistics, the moving
//! averages updated, and the backward through the statistics.

use alloc::vec::Vec;

use nalgebra::SVector;

use crate::cells::BatchNormalization;
use crate::error::SequenceError;
use crate::real::Real;
use crate::train::BackwardError;

/// What [`BatchNormalization::forward_training`] keeps for its backward: the normalised
/// inputs `x̂` and `1/√(σ² + ε)`.
///
/// Keep one and pass it to every batch: it is refilled, not reallocated.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormResidual<const N: usize, T: Real = f32> {
    normalized: Vec<SVector<T, N>>,
    inverse_deviation: SVector<T, N>,
}

impl<const N: usize, T: Real> BatchNormResidual<N, T> {
    /// An empty residual.
    pub fn new() -> Self {
        BatchNormResidual {
            normalized: Vec::new(),
            inverse_deviation: SVector::zeros(),
        }
    }

    /// The number of vectors of the batch it was recorded on.
    pub fn len(&self) -> usize {
        self.normalized.len()
    }

    /// Whether it holds no vector.
    pub fn is_empty(&self) -> bool {
        self.normalized.is_empty()
    }
}

impl<const N: usize, T: Real> Default for BatchNormResidual<N, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, T: Real> BatchNormalization<N, T> {
    /// Keras's default momentum of the moving averages.
    pub const KERAS_MOMENTUM: f64 = 0.99;

    /// Keras's `BatchNormalization` with `training=True` over a batch of vectors (for a
    /// `[B, T, N]` batch, pass its `B·T` vectors: Keras reduces over every axis but the
    /// features'): normalises each feature with the batch's mean `μ` and biased variance `σ²`,
    /// `y = (x − μ)/√(σ² + ε) · γ + β`, and moves the averages, as Keras 3 does, by
    /// `moving = moving · momentum + statistic · (1 − momentum)` with the same biased `σ²`
    /// ([`KERAS_MOMENTUM`](Self::KERAS_MOMENTUM) is Keras's momentum). Records in `residual`
    /// what [`backward_training`](Self::backward_training) needs.
    ///
    /// An empty batch has no statistics: it returns no output and moves nothing.
    ///
    /// ```
    /// use rnn::cells::BatchNormalization;
    /// use rnn::train::BatchNormResidual;
    /// use nalgebra::SVector;
    ///
    /// let mut bn = BatchNormalization::<1, f64>::identity();
    /// let mut residual = BatchNormResidual::new();
    /// let xs = [1.0, 3.0].map(|x| SVector::from([x]));
    /// let ys = bn.forward_training(&xs, 0.99, &mut residual);
    /// // μ = 2, σ² = 1: y = ±1/√(1 + ε).
    /// assert!((ys[1][0] - 1.0 / 1.001f64.sqrt()).abs() < 1e-15);
    /// assert!((bn.moving_mean[0] - 0.02).abs() < 1e-15);
    /// assert!((bn.moving_variance[0] - 1.0).abs() < 1e-15); // 0.99 · 1 + 0.01 · 1
    /// ```
    pub fn forward_training(
        &mut self,
        inputs: &[SVector<T, N>],
        momentum: T,
        residual: &mut BatchNormResidual<N, T>,
    ) -> Vec<SVector<T, N>> {
        let mut outputs = Vec::new();
        self.forward_training_into(inputs, momentum, residual, &mut outputs);
        outputs
    }

    /// [`forward_training`](Self::forward_training) into `outputs` (cleared first).
    pub(crate) fn forward_training_into(
        &mut self,
        inputs: &[SVector<T, N>],
        momentum: T,
        residual: &mut BatchNormResidual<N, T>,
        outputs: &mut Vec<SVector<T, N>>,
    ) {
        residual.normalized.clear();
        outputs.clear();
        if inputs.is_empty() {
            return;
        }
        let count: T = nalgebra::convert(inputs.len() as f64);
        let mean = inputs.iter().fold(SVector::zeros(), |sum, x| sum + x) / count;
        let variance = inputs.iter().fold(SVector::zeros(), |sum, x| {
            let centered = x - mean;
            sum + centered.component_mul(&centered)
        }) / count;
        let epsilon = self.epsilon;
        let inverse_deviation = variance.map(|v| T::one() / (v + epsilon).sqrt());
        residual.inverse_deviation = inverse_deviation;
        residual.normalized.extend(
            inputs
                .iter()
                .map(|x| (x - mean).component_mul(&inverse_deviation)),
        );
        let keep = T::one() - momentum;
        self.moving_mean = self.moving_mean * momentum + mean * keep;
        self.moving_variance = self.moving_variance * momentum + variance * keep;
        outputs.extend(
            residual
                .normalized
                .iter()
                .map(|x_hat| x_hat.component_mul(&self.gamma) + self.beta),
        );
    }

    /// The backward of [`forward_training`](Self::forward_training), through the batch's
    /// statistics: adds `Σ dy·x̂` into `grads.gamma` and `Σ dy` into `grads.beta` (the moving
    /// averages are not trained: their gradients stay as they are) and returns the inputs'
    /// adjoints, `dx = (m·dx̂ − Σ dx̂ − x̂ · Σ dx̂·x̂) / (m·√(σ² + ε))` with `dx̂ = dy·γ`.
    ///
    /// `self` must be the layer as it was for the forward (γ is read; the moving averages
    /// the forward moved are not). An error when `d_outputs` does not have one adjoint per
    /// vector of the recorded batch.
    pub fn backward_training(
        &self,
        residual: &BatchNormResidual<N, T>,
        d_outputs: &[SVector<T, N>],
        grads: &mut Self,
    ) -> Result<Vec<SVector<T, N>>, BackwardError> {
        let mut d_inputs = Vec::new();
        self.backward_training_into(residual, d_outputs, grads, &mut d_inputs)?;
        Ok(d_inputs)
    }

    /// [`backward_training`](Self::backward_training) into `d_inputs` (cleared first; left as
    /// it was on an error).
    pub(crate) fn backward_training_into(
        &self,
        residual: &BatchNormResidual<N, T>,
        d_outputs: &[SVector<T, N>],
        grads: &mut Self,
        d_inputs: &mut Vec<SVector<T, N>>,
    ) -> Result<(), BackwardError> {
        let normalized = &residual.normalized;
        SequenceError::check_batch("output adjoints", normalized.len(), d_outputs.len())?;
        d_inputs.clear();
        if normalized.is_empty() {
            return Ok(());
        }
        let count: T = nalgebra::convert(normalized.len() as f64);
        let (mut sum_d, mut sum_d_x_hat) = (SVector::<T, N>::zeros(), SVector::<T, N>::zeros());
        for (dy, x_hat) in d_outputs.iter().zip(normalized) {
            sum_d += dy;
            sum_d_x_hat += dy.component_mul(x_hat);
        }
        grads.beta += sum_d;
        grads.gamma += sum_d_x_hat;
        // Σ dx̂ = γ Σ dy and Σ dx̂·x̂ = γ Σ dy·x̂.
        let (sum_dn, sum_dn_x_hat) = (
            sum_d.component_mul(&self.gamma),
            sum_d_x_hat.component_mul(&self.gamma),
        );
        let scale = residual.inverse_deviation / count;
        d_inputs.extend(d_outputs.iter().zip(normalized).map(|(dy, x_hat)| {
            let dn = dy.component_mul(&self.gamma);
            (dn * count - sum_dn - x_hat.component_mul(&sum_dn_x_hat)).component_mul(&scale)
        }));
        Ok(())
    }
}
