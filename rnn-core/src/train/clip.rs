//! Gradient clipping, as Keras's optimizers apply it (`clipnorm`, `clipvalue`,
//! `global_clipnorm`) and as PyTorch's `clip_grad_norm_` does.

use core::fmt;

use crate::real::Real;

/// How gradients are clipped before an update: at most one way, as Keras allows one of its
/// three arguments at a time (a second is a type error here, not a runtime one).
///
/// ```
/// use rnn::train::clip::Clip;
///
/// // Two tensors, [3, 4] and [0]: norms 5 and 0, global norm 5.
/// let mut grads = [3.0f32, 4.0, 0.0];
/// Clip::norm(1.0).unwrap().apply(&mut grads, &[2, 3]);
/// assert_eq!(grads, [0.6, 0.8, 0.0]);
///
/// let mut grads = [3.0f32, 4.0, 0.0];
/// Clip::value(3.5).unwrap().apply(&mut grads, &[2, 3]);
/// assert_eq!(grads, [3.0, 3.5, 0.0]);
///
/// assert!(Clip::global_norm(-1.0).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Clip(Mode);

#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Mode {
    #[default]
    None,
    Norm(f64),
    Value(f64),
    GlobalNorm(f64),
    GlobalNormTorch(f64),
}

/// A clipping threshold that is not a positive finite number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipError {
    /// The threshold given.
    pub found: f64,
}

impl fmt::Display for ClipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "clipping threshold: expected a positive finite number, found {}",
            self.found
        )
    }
}

impl core::error::Error for ClipError {}

fn positive(threshold: f64) -> Result<f64, ClipError> {
    if threshold.is_finite() && threshold > 0.0 {
        Ok(threshold)
    } else {
        Err(ClipError { found: threshold })
    }
}

impl Clip {
    /// No clipping.
    pub const NONE: Clip = Clip(Mode::None);

    /// Keras's `clipnorm`: each tensor `g` becomes `g · c / max(‖g‖, c)`, its L2 norm at most
    /// `c`.
    pub fn norm(c: f64) -> Result<Clip, ClipError> {
        positive(c).map(|c| Clip(Mode::Norm(c)))
    }

    /// Keras's `clipvalue`: every value clamped to `[−c, c]`.
    pub fn value(c: f64) -> Result<Clip, ClipError> {
        positive(c).map(|c| Clip(Mode::Value(c)))
    }

    /// Keras's `global_clipnorm`: every tensor scaled by `c · min(1/‖G‖, 1/c)`, with `‖G‖`
    /// the L2 norm of all of them together (a non-finite norm makes every value NaN, as in
    /// Keras).
    pub fn global_norm(c: f64) -> Result<Clip, ClipError> {
        positive(c).map(|c| Clip(Mode::GlobalNorm(c)))
    }

    /// PyTorch's `clip_grad_norm_(max_norm=c)`: the same global norm, the scale
    /// `min(c / (‖G‖ + 1e-6), 1)`.
    pub fn global_norm_torch(c: f64) -> Result<Clip, ClipError> {
        positive(c).map(|c| Clip(Mode::GlobalNormTorch(c)))
    }

    /// Clips `grads`, the gradients of every tensor back to back in path order; tensor `i`
    /// ends at `ends[i]` (ends past `grads.len()` are cut to it).
    pub fn apply<T: Real>(&self, grads: &mut [T], ends: &[usize]) {
        let c = |x: f64| -> T { nalgebra::convert(x) };
        match self.0 {
            Mode::None => {}
            Mode::Value(limit) => {
                let limit = c(limit);
                for g in grads.iter_mut() {
                    *g = g.clamp(-limit, limit);
                }
            }
            Mode::Norm(limit) => {
                let limit = c(limit);
                for tensor in tensors(grads, ends) {
                    let norm = sum_of_squares(tensor).sqrt();
                    let denominator = if norm > limit { norm } else { limit };
                    for g in tensor.iter_mut() {
                        *g = *g * limit / denominator;
                    }
                }
            }
            Mode::GlobalNorm(limit) => {
                let limit = c(limit);
                let norm = tensors(grads, ends)
                    .map(|t| sum_of_squares(t))
                    .fold(T::zero(), |a, b| a + b)
                    .sqrt();
                let (a, b) = (T::one() / norm, T::one() / limit);
                // A non-finite norm makes the scale NaN (Keras adds `norm − norm`): ∞·0 is.
                let scale = if norm.is_finite() {
                    limit * (if a < b { a } else { b })
                } else {
                    norm * T::zero()
                };
                for g in grads.iter_mut() {
                    *g *= scale;
                }
            }
            Mode::GlobalNormTorch(limit) => {
                // PyTorch takes the norm of the tensors' norms.
                let norm = tensors(grads, ends)
                    .map(|t| sum_of_squares(t).sqrt())
                    .map(|n| n * n)
                    .fold(T::zero(), |a, b| a + b)
                    .sqrt();
                let coefficient = c(limit) / (norm + c(1e-6));
                let scale = if coefficient > T::one() {
                    T::one()
                } else {
                    coefficient
                };
                for g in grads.iter_mut() {
                    *g *= scale;
                }
            }
        }
    }
}

fn sum_of_squares<T: Real>(values: &[T]) -> T {
    values.iter().fold(T::zero(), |sum, &v| sum + v * v)
}

/// The tensors of a flat buffer, from their end offsets.
fn tensors<'g, T>(grads: &'g mut [T], ends: &'g [usize]) -> impl Iterator<Item = &'g mut [T]> {
    let mut rest = grads;
    let mut start = 0usize;
    ends.iter().map(move |&end| {
        let len = end.saturating_sub(start).min(rest.len());
        start = start.max(end);
        let (tensor, tail) = core::mem::take(&mut rest).split_at_mut(len);
        rest = tail;
        tensor
    })
}
