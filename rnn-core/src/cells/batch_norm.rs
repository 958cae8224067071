//! `BatchNormalization` at inference: the moving statistics a trained Keras layer keeps.

use nalgebra::SVector;

use crate::init::Initializer;
use crate::real::Real;

/// Keras's `BatchNormalization` over `N` features, as it computes at inference:
/// `(x − moving_mean) / √(moving_variance + ε) · γ + β` (the digits model puts one
/// between its LSTM and its classifier). Training statistics are not updated: this crate
/// runs trained models.
///
/// ```
/// use rnn::cells::BatchNormalization;
/// use nalgebra::SVector;
///
/// let mut bn = BatchNormalization::<2>::identity();
/// bn.moving_mean = SVector::from([1.0, 2.0]);
/// bn.epsilon = 0.0;
/// assert_eq!(bn.forward(&SVector::from([3.0, 2.0])), SVector::from([2.0, 0.0]));
/// ```
#[derive(Clone, Debug, PartialEq, crate::Parameters)]
#[parameters(crate = crate)]
pub struct BatchNormalization<const N: usize, T: Real = f32> {
    /// γ, Keras's `gamma` (ones when initialised).
    #[parameters(init = Initializer::Constant(1.0))]
    pub gamma: SVector<T, N>,
    /// β, Keras's `beta`.
    #[parameters(init = Initializer::Zeros)]
    pub beta: SVector<T, N>,
    /// Keras's `moving_mean`.
    #[parameters(init = Initializer::Zeros)]
    pub moving_mean: SVector<T, N>,
    /// Keras's `moving_variance` (ones when initialised).
    #[parameters(init = Initializer::Constant(1.0))]
    pub moving_variance: SVector<T, N>,
    /// ε, Keras's `epsilon` (default `1e-3`); configuration, not a weight.
    #[parameters(skip)]
    pub epsilon: T,
}

impl<const N: usize, T: Real> BatchNormalization<N, T> {
    /// The freshly initialised layer (γ = 1, β = 0, mean 0, variance 1, ε = 1e-3), which
    /// only divides by `√(1 + ε)`.
    pub fn identity() -> Self {
        BatchNormalization {
            gamma: SVector::repeat(T::one()),
            beta: SVector::zeros(),
            moving_mean: SVector::zeros(),
            moving_variance: SVector::repeat(T::one()),
            epsilon: nalgebra::convert(1e-3),
        }
    }

    /// Normalises `x` with the moving statistics.
    pub fn forward(&self, x: &SVector<T, N>) -> SVector<T, N> {
        SVector::from_fn(|i, _| {
            let scale = self.gamma[i] / (self.moving_variance[i] + self.epsilon).sqrt();
            (x[i] - self.moving_mean[i]) * scale + self.beta[i]
        })
    }
}

// At inference, a layer without state: what `TimeDistributed(BatchNormalization)` applies at
// each step. Training it (batch statistics) is a `Layer`'s job, not a cell's.
#[crate::cell(crate = crate, inference)]
impl<const N: usize, T: Real> BatchNormalization<N, T> {
    /// The layer at inference, applied at each timestep.
    fn step(&self, #[input] x: &SVector<T, N>) -> SVector<T, N> {
        self.forward(x)
    }
}
