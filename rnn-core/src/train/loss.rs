//! Losses and their adjoints, as Keras 3 defines them: the value of the reduced loss and its
//! gradient with respect to every prediction, which starts a backward pass.
//!
//! A [`Loss`] defines the loss of one sample, a prediction `SVector<T, N>` against a target;
//! the provided methods reduce a batch ([`batch`](Loss::batch)), every step of a batch of
//! sequences with masks ([`steps`](Loss::steps)), or the last valid step of each
//! ([`last_step`](Loss::last_step)), with per-sample weights, as Keras's `loss(y_true,
//! y_pred, sample_weight)` does with the predictions' mask.
//!
//! ```
//! use rnn::prelude::*;
//! use rnn::train::loss::{Loss, Reduction, SparseCategoricalCrossentropy};
//!
//! let loss = SparseCategoricalCrossentropy { from_logits: true };
//! let logits = [SVector::<f32, 3>::from([2.0, 0.0, 0.0]), SVector::from([0.0, 0.0, 0.0])];
//! let out = loss.batch(&[0, 2], &logits, None, Reduction::SumOverBatchSize).unwrap();
//! // The mean of −log softmax: of the first sample's class 0 and the second's class 2.
//! let lse = (2f32.exp() + 2.0).ln();
//! assert!((out.value - ((lse - 2.0) + 3f32.ln()) / 2.0).abs() < 1e-6);
//! // d/dlogits = (softmax − one-hot) / batch size.
//! assert!((out.adjoints[1][2] - (1.0 / 3.0 - 1.0) / 2.0).abs() < 1e-7);
//! ```

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use nalgebra::SVector;

use crate::error::ShapeError;
use crate::real::Real;

/// Keras's `backend.epsilon()`: probabilities are clipped to `[ε, 1 − ε]` before their log.
pub const EPSILON: f64 = 1e-7;

/// How the weighted losses of a batch become one number (Keras's `reduction`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// The weighted sum over the number of losses (Keras's default `"sum_over_batch_size"`,
    /// also its `"mean"`); with a mask, over the number of valid steps.
    #[default]
    SumOverBatchSize,
    /// The weighted sum (`"sum"`).
    Sum,
    /// The weighted sum over the sum of the weights (`"mean_with_sample_weight"`). As in
    /// Keras, the weights summed are those given, one per sample, unless a mask spreads
    /// them over the steps: over every step of unmasked sequences the divisor is still the
    /// sum of the per-sequence weights.
    MeanWithSampleWeight,
}

/// Why a loss could not be computed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LossError {
    /// Targets, predictions, weights, masks or lengths of different sizes.
    Shape(ShapeError),
    /// A sparse target names a class the predictions do not have.
    Class {
        /// The number of classes (the predictions' size).
        classes: usize,
        /// The target given.
        found: usize,
    },
    /// A sequence whose last valid output is asked for has no valid step.
    Empty {
        /// The sequence's index in the batch.
        sequence: usize,
    },
}

impl fmt::Display for LossError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossError::Shape(error) => error.fmt(f),
            LossError::Class { classes, found } => {
                write!(f, "class index: expected below {classes}, found {found}")
            }
            LossError::Empty { sequence } => write!(
                f,
                "sequence {sequence}: expected at least one valid step for its last output, \
                 found none"
            ),
        }
    }
}

impl core::error::Error for LossError {}

impl From<ShapeError> for LossError {
    fn from(error: ShapeError) -> Self {
        LossError::Shape(error)
    }
}

/// A reduced loss and the adjoints of the predictions (the gradient of the value with
/// respect to each, laid out as the predictions).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated<T, A> {
    /// The loss.
    pub value: T,
    /// d value / d prediction, one per prediction.
    pub adjoints: A,
}

/// The weighting and reduction of a batch's losses, as Keras's `reduce_weighted_values`
/// merges sample weights and a mask.
struct Weighting<'w, T> {
    sample_weights: Option<&'w [T]>,
    reduction: Reduction,
    /// Whether a mask is given, and how many of `total` losses it keeps.
    masked: bool,
    valid: usize,
    total: usize,
}

impl<T: Real> Weighting<'_, T> {
    /// The weight of the loss of sample `b` at a step the mask keeps or not.
    fn weight(&self, b: usize, kept: bool) -> T {
        let sample = self
            .sample_weights
            .and_then(|w| w.get(b).copied())
            .unwrap_or_else(T::one);
        if !self.masked {
            return sample;
        }
        let kept_weight = match self.reduction {
            // Kept losses weigh total/valid, so that dividing by the total divides by the
            // valid count (0 when none is valid, as `divide_no_nan`).
            Reduction::SumOverBatchSize if self.valid == 0 => T::zero(),
            Reduction::SumOverBatchSize => {
                real::<T>(self.total as f64) / real::<T>(self.valid as f64)
            }
            Reduction::Sum | Reduction::MeanWithSampleWeight => T::one(),
        };
        if kept {
            sample * kept_weight
        } else {
            T::zero()
        }
    }

    /// What the weighted sum is divided by; `weights` is the sum of the weights applied.
    fn divisor(&self, weights: T) -> T {
        match self.reduction {
            Reduction::SumOverBatchSize => real(self.total as f64),
            Reduction::Sum => T::one(),
            Reduction::MeanWithSampleWeight if self.masked => weights,
            Reduction::MeanWithSampleWeight => match self.sample_weights {
                Some(w) => w.iter().fold(T::zero(), |a, &b| a + b),
                None => real(self.total as f64),
            },
        }
    }
}

fn real<T: Real>(x: f64) -> T {
    nalgebra::convert(x)
}

/// The adjoints of a batch of sequences: one per step of each.
pub type Sequences<T, const N: usize> = Vec<Vec<SVector<T, N>>>;

/// The loss of one sample, and its reductions over batches and sequences.
pub trait Loss<T: Real, const N: usize> {
    /// What a prediction is compared with: a vector, or a class index.
    type Target;

    /// The loss of one prediction and its gradient with respect to the prediction, before
    /// any weighting or reduction (Keras's loss function, on one sample).
    fn sample(
        &self,
        target: &Self::Target,
        prediction: &SVector<T, N>,
    ) -> Result<(T, SVector<T, N>), LossError>;

    /// The reduced loss of a batch (one prediction per sample) and the predictions'
    /// adjoints, with optional `sample_weights` (one per sample).
    fn batch(
        &self,
        targets: &[Self::Target],
        predictions: &[SVector<T, N>],
        sample_weights: Option<&[T]>,
        reduction: Reduction,
    ) -> Result<Evaluated<T, Vec<SVector<T, N>>>, LossError> {
        let mut adjoints = vec![SVector::zeros(); predictions.len()];
        let value = self.batch_into(
            targets,
            predictions,
            sample_weights,
            reduction,
            &mut adjoints,
        )?;
        Ok(Evaluated { value, adjoints })
    }

    /// [`batch`](Loss::batch), writing the adjoints into `adjoints` (one per prediction):
    /// no allocation.
    fn batch_into(
        &self,
        targets: &[Self::Target],
        predictions: &[SVector<T, N>],
        sample_weights: Option<&[T]>,
        reduction: Reduction,
        adjoints: &mut [SVector<T, N>],
    ) -> Result<T, LossError> {
        let batch = predictions.len();
        ShapeError::check_len("targets", batch, targets.len())?;
        ShapeError::check_len("adjoints", batch, adjoints.len())?;
        if let Some(w) = sample_weights {
            ShapeError::check_len("sample weights", batch, w.len())?;
        }
        let weighting = Weighting {
            sample_weights,
            reduction,
            masked: false,
            valid: batch,
            total: batch,
        };
        let (mut sum, mut weights) = (T::zero(), T::zero());
        for (b, ((target, prediction), adjoint)) in targets
            .iter()
            .zip(predictions)
            .zip(adjoints.iter_mut())
            .enumerate()
        {
            let (loss, gradient) = self.sample(target, prediction)?;
            let weight = weighting.weight(b, true);
            sum += loss * weight;
            weights += weight;
            *adjoint = gradient * weight;
        }
        Ok(divide(sum, weighting.divisor(weights), adjoints))
    }

    /// The reduced loss over every step of a batch of sequences (a model's outputs with
    /// `return_sequences`), and the adjoint of every step's prediction.
    ///
    /// `masks[b][t]` says whether step `t` of sequence `b` counts; with
    /// [`Reduction::SumOverBatchSize`] the loss is then the mean over the valid steps (a
    /// masked step's adjoint is zero). `sample_weights` hold one weight per sequence, applied
    /// to each of its steps. Sequences may differ in length; targets and masks follow them.
    fn steps<Ts, Ps, Ms>(
        &self,
        targets: &[Ts],
        predictions: &[Ps],
        masks: Option<&[Ms]>,
        sample_weights: Option<&[T]>,
        reduction: Reduction,
    ) -> Result<Evaluated<T, Sequences<T, N>>, LossError>
    where
        Ts: AsRef<[Self::Target]>,
        Ps: AsRef<[SVector<T, N>]>,
        Ms: AsRef<[bool]>,
    {
        let batch = predictions.len();
        ShapeError::check_len("target sequences", batch, targets.len())?;
        if let Some(w) = sample_weights {
            ShapeError::check_len("sample weights", batch, w.len())?;
        }
        if let Some(masks) = masks {
            ShapeError::check_len("masks", batch, masks.len())?;
        }
        let (mut total, mut valid) = (0usize, 0usize);
        for (b, (target, prediction)) in targets.iter().zip(predictions).enumerate() {
            let steps = prediction.as_ref().len();
            ShapeError::check_steps("target steps", steps, target.as_ref().len())?;
            total = total.saturating_add(steps);
            match masks {
                Some(masks) => {
                    let mask = masks[b].as_ref();
                    ShapeError::check_steps("mask steps", steps, mask.len())?;
                    valid += mask.iter().filter(|&&kept| kept).count();
                }
                None => valid += steps,
            }
        }
        let weighting = Weighting {
            sample_weights,
            reduction,
            masked: masks.is_some(),
            valid,
            total,
        };
        let (mut sum, mut weights) = (T::zero(), T::zero());
        let mut adjoints = Vec::with_capacity(batch);
        for (b, (target, prediction)) in targets.iter().zip(predictions).enumerate() {
            let mask = masks.map(|m| m[b].as_ref());
            let mut sequence = Vec::with_capacity(prediction.as_ref().len());
            for (t, (target, prediction)) in
                target.as_ref().iter().zip(prediction.as_ref()).enumerate()
            {
                let kept = mask.is_none_or(|m| m[t]);
                let weight = weighting.weight(b, kept);
                if kept {
                    let (loss, gradient) = self.sample(target, prediction)?;
                    sum += loss * weight;
                    weights += weight;
                    sequence.push(gradient * weight);
                } else {
                    sequence.push(SVector::zeros());
                }
            }
            adjoints.push(sequence);
        }
        let divisor = weighting.divisor(weights);
        let value = divide(sum, divisor, adjoints.iter_mut().flatten());
        Ok(Evaluated { value, adjoints })
    }

    /// The reduced loss of each sequence's last valid output (a model without
    /// `return_sequences`): step `lengths[b] − 1` of sequence `b`, or its last step without
    /// `lengths`. The adjoints are laid out as `predictions`, zero at every other step.
    fn last_step<Ps>(
        &self,
        targets: &[Self::Target],
        predictions: &[Ps],
        lengths: Option<&[usize]>,
        sample_weights: Option<&[T]>,
        reduction: Reduction,
    ) -> Result<Evaluated<T, Sequences<T, N>>, LossError>
    where
        Ps: AsRef<[SVector<T, N>]>,
    {
        let batch = predictions.len();
        if let Some(lengths) = lengths {
            ShapeError::check_len("lengths", batch, lengths.len())?;
        }
        let mut last = Vec::with_capacity(batch);
        for (b, prediction) in predictions.iter().enumerate() {
            let steps = prediction.as_ref().len();
            let length = lengths.map_or(steps, |l| l[b]);
            if length > steps {
                return Err(ShapeError::check_steps("sequence length", steps, length)
                    .unwrap_err()
                    .into());
            }
            let index = length
                .checked_sub(1)
                .ok_or(LossError::Empty { sequence: b })?;
            last.push(index);
        }
        let outputs: Vec<SVector<T, N>> = predictions
            .iter()
            .zip(&last)
            .map(|(p, &t)| p.as_ref()[t])
            .collect();
        let evaluated = self.batch(targets, &outputs, sample_weights, reduction)?;
        let adjoints = predictions
            .iter()
            .zip(last.iter().zip(evaluated.adjoints))
            .map(|(p, (&t, adjoint))| {
                let mut sequence = vec![SVector::zeros(); p.as_ref().len()];
                sequence[t] = adjoint;
                sequence
            })
            .collect();
        Ok(Evaluated {
            value: evaluated.value,
            adjoints,
        })
    }
}

/// `sum / divisor`, and the adjoints (weighted, not yet divided) divided too; 0 for both
/// when the divisor is 0 (Keras's `divide_no_nan`).
fn divide<'a, T: Real, const N: usize>(
    sum: T,
    divisor: T,
    adjoints: impl IntoIterator<Item = &'a mut SVector<T, N>>,
) -> T {
    let zero = divisor == T::zero();
    for adjoint in adjoints {
        if zero {
            adjoint.fill(T::zero());
        } else {
            *adjoint /= divisor;
        }
    }
    if zero {
        T::zero()
    } else {
        sum / divisor
    }
}

/// Keras's `MeanSquaredError`: the mean over the prediction's `N` values of
/// `(prediction − target)²`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MeanSquaredError;

impl<T: Real, const N: usize> Loss<T, N> for MeanSquaredError {
    type Target = SVector<T, N>;

    fn sample(
        &self,
        target: &SVector<T, N>,
        prediction: &SVector<T, N>,
    ) -> Result<(T, SVector<T, N>), LossError> {
        let n = real::<T>(N as f64);
        let difference = prediction - target;
        Ok((
            difference.dot(&difference) / n,
            difference * (real::<T>(2.0) / n),
        ))
    }
}

/// Keras's `CategoricalCrossentropy`: `−Σ target · log(probability)` against a target
/// distribution.
///
/// From logits, the probabilities are their softmax. From probabilities, as Keras: each
/// prediction is first divided by its sum, then clipped to `[ε, 1 − ε]` ([`EPSILON`]); a
/// clipped value passes no gradient. Targets are expected to sum to 1 (TensorFlow's
/// gradient from logits, `softmax − target`, assumes it; this one, `softmax · Σ target −
/// target`, does not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CategoricalCrossentropy {
    /// Whether predictions are logits (else probabilities).
    pub from_logits: bool,
}

impl<T: Real, const N: usize> Loss<T, N> for CategoricalCrossentropy {
    type Target = SVector<T, N>;

    fn sample(
        &self,
        target: &SVector<T, N>,
        prediction: &SVector<T, N>,
    ) -> Result<(T, SVector<T, N>), LossError> {
        if self.from_logits {
            let (softmax, log_sum_exp) = softmax(prediction);
            let loss = target
                .iter()
                .zip(prediction.iter())
                .fold(T::zero(), |sum, (&y, &x)| sum + y * (log_sum_exp - x));
            return Ok((loss, softmax * target.sum() - target));
        }
        let sum = prediction.sum();
        let normalized = prediction / sum;
        let (low, high) = (real::<T>(EPSILON), real::<T>(1.0 - EPSILON));
        let mut loss = T::zero();
        // The gradient with respect to the normalised probabilities, then through the
        // normalisation: d/dp_j = (g_j − Σ_i g_i q_i) / Σp.
        let mut gradient = SVector::<T, N>::zeros();
        for ((g, &q), &y) in gradient
            .iter_mut()
            .zip(normalized.iter())
            .zip(target.iter())
        {
            let clipped = q.clamp(low, high);
            loss -= y * clipped.ln();
            if q >= low && q <= high {
                *g = -y / clipped;
            }
        }
        let through = gradient.dot(&normalized);
        Ok((loss, gradient.map(|g| (g - through) / sum)))
    }
}

/// Keras's `SparseCategoricalCrossentropy`: `−log(probability of the target class)`, the
/// target a class index.
///
/// From logits, the probabilities are their softmax. From probabilities, as Keras: clipped
/// to `[ε, 1 − ε]` ([`EPSILON`]), their logs taken as logits (so the clipped values are
/// renormalised by the softmax); a clipped value passes no gradient.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SparseCategoricalCrossentropy {
    /// Whether predictions are logits (else probabilities).
    pub from_logits: bool,
}

impl<T: Real, const N: usize> Loss<T, N> for SparseCategoricalCrossentropy {
    type Target = usize;

    fn sample(
        &self,
        &class: &usize,
        prediction: &SVector<T, N>,
    ) -> Result<(T, SVector<T, N>), LossError> {
        if class >= N {
            return Err(LossError::Class {
                classes: N,
                found: class,
            });
        }
        if self.from_logits {
            let (mut gradient, log_sum_exp) = softmax(prediction);
            gradient[class] -= T::one();
            return Ok((log_sum_exp - prediction[class], gradient));
        }
        let (low, high) = (real::<T>(EPSILON), real::<T>(1.0 - EPSILON));
        let clipped = prediction.map(|p| p.clamp(low, high));
        let logits = clipped.map(|c| c.ln());
        let (mut gradient, log_sum_exp) = softmax(&logits);
        gradient[class] -= T::one();
        // Through the log (d/dc = d/dz / c) and the clipping.
        for ((g, &p), &c) in gradient
            .iter_mut()
            .zip(prediction.iter())
            .zip(clipped.iter())
        {
            *g = if p >= low && p <= high {
                *g / c
            } else {
                T::zero()
            };
        }
        Ok((log_sum_exp - logits[class], gradient))
    }
}

/// Keras's `BinaryCrossentropy`: the mean over the prediction's `N` values of
/// `−(y · log p + (1 − y) · log(1 − p))`, each value an independent probability.
///
/// From logits, `p` is their sigmoid (computed as TensorFlow does, without overflow). From
/// probabilities, `p` is clipped to `[ε, 1 − ε]` ([`EPSILON`]); a clipped value passes no
/// gradient.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BinaryCrossentropy {
    /// Whether predictions are logits (else probabilities).
    pub from_logits: bool,
}

impl<T: Real, const N: usize> Loss<T, N> for BinaryCrossentropy {
    type Target = SVector<T, N>;

    fn sample(
        &self,
        target: &SVector<T, N>,
        prediction: &SVector<T, N>,
    ) -> Result<(T, SVector<T, N>), LossError> {
        let n = real::<T>(N as f64);
        let mut loss = T::zero();
        let mut gradient = SVector::<T, N>::zeros();
        let (low, high) = (real::<T>(EPSILON), real::<T>(1.0 - EPSILON));
        for ((g, &x), &y) in gradient
            .iter_mut()
            .zip(prediction.iter())
            .zip(target.iter())
        {
            if self.from_logits {
                // max(x, 0) − x·y + log(1 + e^−|x|)
                let relu = if x > T::zero() { x } else { T::zero() };
                loss += relu - x * y + (-x.abs()).exp().ln_1p();
                *g = (T::one() / (T::one() + (-x).exp()) - y) / n;
            } else {
                let p = x.clamp(low, high);
                let one_minus = T::one() - p;
                loss -= y * p.ln() + (T::one() - y) * one_minus.ln();
                if x >= low && x <= high {
                    *g = (-y / p + (T::one() - y) / one_minus) / n;
                }
            }
        }
        Ok((loss / n, gradient))
    }
}

/// The softmax of `x` and `log Σ exp x`, shifted by the maximum so neither overflows.
fn softmax<T: Real, const N: usize>(x: &SVector<T, N>) -> (SVector<T, N>, T) {
    let max = x.iter().fold(T::min_value().unwrap_or(T::zero()), |m, &v| {
        if v > m {
            v
        } else {
            m
        }
    });
    let exp = x.map(|v| (v - max).exp());
    let sum = exp.sum();
    (exp / sum, max + sum.ln())
}
