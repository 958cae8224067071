//! Learning-rate schedules, as Keras defines them (`keras.optimizers.schedules`): the rate of
//! a step from the number of steps done before it.

use alloc::vec::Vec;
use core::fmt;

// f64's rounding functions, without std.
use nalgebra::ComplexField;

/// A learning rate that depends on the step: `learning_rate(i)` is the rate of the step
/// taken after `i` others (Keras calls the schedule with `optimizer.iterations`). An `f64`
/// is the constant schedule.
pub trait Schedule {
    /// The rate of the step after `step` others.
    fn learning_rate(&self, step: u64) -> f64;
}

impl Schedule for f64 {
    fn learning_rate(&self, _: u64) -> f64 {
        *self
    }
}

/// A schedule that cannot be built from the arguments given.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScheduleError {
    /// `decay_steps` is 0 (the rate would divide by it).
    ZeroDecaySteps,
    /// A piecewise schedule has `found` values where its boundaries need `expected` (one
    /// more than the boundaries).
    Values {
        /// The number of boundaries plus one.
        expected: usize,
        /// The number of values given.
        found: usize,
    },
    /// The boundaries of a piecewise schedule do not increase at `index`.
    Unordered {
        /// The first boundary not above the one before it.
        index: usize,
    },
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::ZeroDecaySteps => {
                f.write_str("decay_steps: expected a positive number of steps, found 0")
            }
            ScheduleError::Values { expected, found } => write!(
                f,
                "piecewise schedule values: expected {expected} (one more than the boundaries), \
                 found {found}"
            ),
            ScheduleError::Unordered { index } => write!(
                f,
                "piecewise schedule boundaries: expected increasing, found boundary {index} \
                 not above the one before it"
            ),
        }
    }
}

impl core::error::Error for ScheduleError {}

fn nonzero(decay_steps: u64) -> Result<f64, ScheduleError> {
    if decay_steps == 0 {
        Err(ScheduleError::ZeroDecaySteps)
    } else {
        Ok(decay_steps as f64)
    }
}

/// Keras's `PiecewiseConstantDecay`: `values[0]` up to and including step `boundaries[0]`,
/// `values[i]` for steps in `(boundaries[i − 1], boundaries[i]]`, the last value after the
/// last boundary. Step decay is this schedule.
///
/// ```
/// use rnn::train::schedule::{PiecewiseConstant, Schedule};
///
/// let rate = PiecewiseConstant::new(vec![10, 50], vec![0.1, 0.05, 0.01]).unwrap();
/// assert_eq!([0, 10, 11, 50, 51].map(|s| rate.learning_rate(s)), [0.1, 0.1, 0.05, 0.05, 0.01]);
/// assert!(PiecewiseConstant::new(vec![10], vec![0.1]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PiecewiseConstant {
    boundaries: Vec<u64>,
    values: Vec<f64>,
}

impl PiecewiseConstant {
    /// The schedule: `values` needs one more entry than `boundaries`, which must increase.
    pub fn new(boundaries: Vec<u64>, values: Vec<f64>) -> Result<Self, ScheduleError> {
        let expected = boundaries.len().saturating_add(1);
        if values.len() != expected {
            return Err(ScheduleError::Values {
                expected,
                found: values.len(),
            });
        }
        if let Some(index) = (1..boundaries.len()).find(|&i| boundaries[i] <= boundaries[i - 1]) {
            return Err(ScheduleError::Unordered { index });
        }
        Ok(PiecewiseConstant { boundaries, values })
    }
}

impl Schedule for PiecewiseConstant {
    fn learning_rate(&self, step: u64) -> f64 {
        let piece = self.boundaries.partition_point(|&b| b < step);
        self.values.get(piece).copied().unwrap_or(f64::NAN)
    }
}

/// Keras's `ExponentialDecay`: `initial · rate^(step / decay_steps)`, the exponent floored
/// with [`staircase`](ExponentialDecay::staircase).
///
/// ```
/// use rnn::train::schedule::{ExponentialDecay, Schedule};
///
/// let smooth = ExponentialDecay::new(0.1, 10, 0.5).unwrap();
/// assert!((smooth.learning_rate(5) - 0.1 * 0.5f64.sqrt()).abs() < 1e-15);
/// let stairs = smooth.staircase();
/// assert_eq!([9, 10, 25].map(|s| stairs.learning_rate(s)), [0.1, 0.05, 0.025]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialDecay {
    initial: f64,
    decay_steps: f64,
    decay_rate: f64,
    staircase: bool,
}

impl ExponentialDecay {
    /// The rate `initial`, multiplied by `decay_rate` every `decay_steps` steps (> 0).
    pub fn new(initial: f64, decay_steps: u64, decay_rate: f64) -> Result<Self, ScheduleError> {
        Ok(ExponentialDecay {
            initial,
            decay_steps: nonzero(decay_steps)?,
            decay_rate,
            staircase: false,
        })
    }

    /// The same, decaying in steps of `decay_steps` (Keras's `staircase=True`).
    pub fn staircase(self) -> Self {
        ExponentialDecay {
            staircase: true,
            ..self
        }
    }
}

impl Schedule for ExponentialDecay {
    fn learning_rate(&self, step: u64) -> f64 {
        let mut p = step as f64 / self.decay_steps;
        if self.staircase {
            p = ComplexField::floor(p);
        }
        self.initial * ComplexField::powf(self.decay_rate, p)
    }
}

/// Keras's `CosineDecay`: from its rate down to `alpha` times it along half a cosine over
/// `decay_steps`, then flat; with a [`warmup`](CosineDecay::warmup), first a linear ramp
/// from `initial` to the warm-up target over `warmup_steps`, the cosine then starting from
/// the target.
///
/// ```
/// use rnn::train::schedule::{CosineDecay, Schedule};
///
/// let rate = CosineDecay::new(0.0, 100).unwrap().warmup(0.1, 10);
/// assert_eq!(rate.learning_rate(0), 0.0);
/// assert!((rate.learning_rate(5) - 0.05).abs() < 1e-15); // halfway up the ramp
/// assert!((rate.learning_rate(60) - 0.05).abs() < 1e-15); // halfway down the cosine
/// assert_eq!(rate.learning_rate(500), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineDecay {
    initial: f64,
    decay_steps: f64,
    alpha: f64,
    warmup: Option<(f64, f64)>,
}

impl CosineDecay {
    /// Decay from `initial` to 0 over `decay_steps` (> 0) steps.
    pub fn new(initial: f64, decay_steps: u64) -> Result<Self, ScheduleError> {
        Ok(CosineDecay {
            initial,
            decay_steps: nonzero(decay_steps)?,
            alpha: 0.0,
            warmup: None,
        })
    }

    /// The same, ending at `alpha` times the rate it decays from.
    pub fn alpha(self, alpha: f64) -> Self {
        CosineDecay { alpha, ..self }
    }

    /// The same, first rising linearly from the initial rate to `target` over `steps` steps
    /// (Keras's `warmup_target`, `warmup_steps`).
    pub fn warmup(self, target: f64, steps: u64) -> Self {
        CosineDecay {
            warmup: Some((target, steps as f64)),
            ..self
        }
    }

    fn decay(&self, step: f64, from: f64) -> f64 {
        let completed = step / self.decay_steps;
        let cosine = 0.5 * (1.0 + ComplexField::cos(core::f64::consts::PI * completed));
        from * ((1.0 - self.alpha) * cosine + self.alpha)
    }
}

impl Schedule for CosineDecay {
    fn learning_rate(&self, step: u64) -> f64 {
        let step = step as f64;
        match self.warmup {
            None => self.decay(step.min(self.decay_steps), self.initial),
            Some((target, warmup_steps)) => {
                let step = step.min(self.decay_steps + warmup_steps);
                if step < warmup_steps {
                    (target - self.initial) * (step / warmup_steps) + self.initial
                } else {
                    self.decay(step - warmup_steps, target)
                }
            }
        }
    }
}
