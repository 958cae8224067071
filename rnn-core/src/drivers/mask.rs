//! Masks: which timesteps of a sequence are data and which are padding, and what a run outputs
//! at a padded step.
//!
//! A [`Mask`] is a per-step pattern (Keras's mask: any pattern, left padding, holes) or a valid
//! length (tf.nn.dynamic_rnn's `sequence_length`, PyTorch's packed sequences: right padding).
//! A masked step never calls the cell: the state stays as it is, and the output is chosen by the
//! [`Padding`] policy. The final state is the state after the last valid step; a sequence with
//! no valid step returns its initial state.
//!
//! Masks can also come from the data, as in Keras: [`Masking`] marks the steps whose features
//! all equal a value, and [`Embedding`](crate::cells::Embedding)'s `mask_zero` marks token 0.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;

use nalgebra::RealField;

use crate::error::SequenceError;
use crate::nested::{Nested, ScalarOp};

/// Which timesteps of one sequence are valid (data) and which are padding.
///
/// ```
/// use rnn::Mask;
///
/// assert!(Mask::Length(2).is_valid(1) && !Mask::Length(2).is_valid(2));
/// let holes = [true, false, true];
/// assert_eq!(Mask::from(&holes), Mask::Steps(&holes));
/// assert_eq!(Mask::Length(5).check(4), Err(rnn::SequenceError::LengthAboveSteps {
///     sequence: 0, steps: 4, found: 5,
/// }));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mask<'a> {
    /// Every step is valid.
    #[default]
    All,
    /// The first `n` steps are valid, the rest is padding (right padding; `sequence_length`).
    Length(usize),
    /// Step `t` is valid when `mask[t]` is `true` (Keras's boolean mask; any pattern).
    Steps(&'a [bool]),
}

impl<'a> Mask<'a> {
    /// Whether timestep `t` is valid. A step beyond a [`Mask::Steps`] slice is padding.
    #[inline]
    pub fn is_valid(&self, t: usize) -> bool {
        match *self {
            Mask::All => true,
            Mask::Length(n) => t < n,
            Mask::Steps(mask) => mask.get(t).copied().unwrap_or(false),
        }
    }

    /// The mask of the steps `range` of the sequence it fits, renumbered from 0.
    #[cfg(feature = "alloc")]
    pub(crate) fn range(&self, range: core::ops::Range<usize>) -> Mask<'a> {
        match *self {
            Mask::All => Mask::All,
            Mask::Length(n) => Mask::Length(n.saturating_sub(range.start).min(range.len())),
            Mask::Steps(mask) => Mask::Steps(mask.get(range).unwrap_or(&[])),
        }
    }

    /// `Ok` when the mask fits a sequence of `steps` timesteps: a step mask of exactly that
    /// length, a length of at most that.
    pub fn check(&self, steps: usize) -> Result<(), SequenceError> {
        match *self {
            Mask::All => Ok(()),
            Mask::Length(n) if n > steps => Err(SequenceError::LengthAboveSteps {
                sequence: 0,
                steps,
                found: n,
            }),
            Mask::Length(_) => Ok(()),
            Mask::Steps(mask) if mask.len() != steps => Err(SequenceError::MaskLength {
                sequence: 0,
                expected: steps,
                found: mask.len(),
            }),
            Mask::Steps(_) => Ok(()),
        }
    }
}

impl<'a> From<&'a [bool]> for Mask<'a> {
    fn from(mask: &'a [bool]) -> Self {
        Mask::Steps(mask)
    }
}

impl<'a, const N: usize> From<&'a [bool; N]> for Mask<'a> {
    fn from(mask: &'a [bool; N]) -> Self {
        Mask::Steps(mask)
    }
}

#[cfg(feature = "alloc")]
impl<'a> From<&'a Vec<bool>> for Mask<'a> {
    fn from(mask: &'a Vec<bool>) -> Self {
        Mask::Steps(mask)
    }
}

/// What a run outputs at a masked step. The state is kept either way; only the output differs.
///
/// Canonical cell `s' = s + x`, `y = 10 s'`, input `[1, 2, pad, pad]`:
///
/// ```
/// use rnn::{cell, Mask, Padding, Rnn};
/// use nalgebra::SVector;
///
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let xs = [1.0, 2.0, 9.0, 9.0].map(|x| SVector::from([x]));
/// let outputs = |padding| -> Vec<f32> {
///     let run = Rnn::new(Accumulate).padding(padding).run_masked(&xs, Mask::Length(2), &()).unwrap();
///     assert_eq!(run.state[0], 3.0);
///     run.outputs.iter().map(|y| y[0]).collect()
/// };
/// assert_eq!(outputs(Padding::Zero), [10.0, 30.0, 0.0, 0.0]);
/// assert_eq!(outputs(Padding::CarryLastOutput), [10.0, 30.0, 30.0, 30.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Repeat the previous step's output; zero before any valid step. Keras's default (its
    /// TensorFlow backend). It is the previous *output*, never `state[0]`.
    #[default]
    CarryLastOutput,
    /// Output zeros: tf.nn.dynamic_rnn, PyTorch's packed sequences, Keras's
    /// `zero_output_for_mask=True`.
    Zero,
}

impl Padding {
    /// The output of a masked step, given the output of the step before it (`None` before the
    /// first step).
    #[inline]
    pub fn masked_output<O: Nested>(self, previous: Option<&O>) -> O {
        match (self, previous) {
            (Padding::CarryLastOutput, Some(previous)) => previous.clone(),
            _ => O::zeros(),
        }
    }
}

/// Keras's `Masking(mask_value)`: a timestep is padding when every one of its features equals
/// `mask_value` (for a nested input: every scalar of every leaf).
///
/// ```
/// use rnn::Masking;
/// use nalgebra::SVector;
///
/// let xs = [[1.0, 1.0], [0.37, 0.37], [0.37, 2.0]].map(SVector::<f32, 2>::from);
/// let masking = Masking::new(0.37);
/// assert_eq!(masking.compute_mask(&xs), [true, false, true]);
/// // Keras's `Masking.call` also zeroes the masked steps.
/// assert_eq!(masking.apply(&xs)[1], SVector::<f32, 2>::zeros());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Masking {
    /// The padding value; compared in the input's own scalar type (0.37 is `0.37f32` for
    /// `f32` inputs, as Keras compares).
    pub mask_value: f64,
}

impl Masking {
    /// Masks the steps whose features all equal `mask_value`.
    pub const fn new(mask_value: f64) -> Self {
        Masking { mask_value }
    }

    /// Whether `x` is padding: every scalar equals `mask_value`.
    pub fn is_padding<X: Nested>(&self, x: &X) -> bool {
        // Visits every leaf with `zip_apply` on a copy (stack only), recording any difference.
        let seen = DiffersFrom {
            value: self.mask_value,
            differs: core::cell::Cell::new(false),
        };
        let mut copy = x.clone();
        copy.zip_apply(x, &seen);
        !seen.differs.get()
    }

    /// The step mask of `inputs`: `true` where a step is data (Keras's `compute_mask`).
    #[cfg(feature = "alloc")]
    pub fn compute_mask<X: Nested>(&self, inputs: &[X]) -> Vec<bool> {
        inputs.iter().map(|x| !self.is_padding(x)).collect()
    }

    /// The inputs with every masked step set to zero (Keras's `Masking.call`), so that a
    /// driver that ignores the mask sees zeros there.
    #[cfg(feature = "alloc")]
    pub fn apply<X: Nested>(&self, inputs: &[X]) -> Vec<X> {
        inputs
            .iter()
            .map(|x| {
                if self.is_padding(x) {
                    X::zeros()
                } else {
                    x.clone()
                }
            })
            .collect()
    }

    /// The backward of [`apply`](Masking::apply): the adjoint of each input is its output's,
    /// and zero at a masked step, whose output was a constant (the mask itself does not
    /// move under a small change of the inputs, so it passes no gradient). An error, and
    /// nothing computed, when `d_outputs` does not have one adjoint per input.
    ///
    /// ```
    /// use rnn::Masking;
    /// use nalgebra::SVector;
    ///
    /// let xs = [[1.0, 2.0], [0.0, 0.0]].map(SVector::<f64, 2>::from);
    /// let d = Masking::new(0.0).backward(&xs, &[SVector::repeat(3.0); 2]).unwrap();
    /// assert_eq!(d, [SVector::<f64, 2>::repeat(3.0), SVector::zeros()]);
    /// ```
    #[cfg(feature = "alloc")]
    pub fn backward<X: Nested>(
        &self,
        inputs: &[X],
        d_outputs: &[X],
    ) -> Result<Vec<X>, crate::error::ShapeError> {
        crate::error::ShapeError::check_steps("output adjoints", inputs.len(), d_outputs.len())?;
        Ok(inputs
            .iter()
            .zip(d_outputs)
            .map(|(x, d)| {
                if self.is_padding(x) {
                    X::zeros()
                } else {
                    d.clone()
                }
            })
            .collect())
    }
}

struct DiffersFrom {
    value: f64,
    differs: core::cell::Cell<bool>,
}

impl ScalarOp for DiffersFrom {
    fn apply<T: RealField>(&self, a: T, _: T) -> T {
        if a != nalgebra::convert::<f64, T>(self.value) {
            self.differs.set(true);
        }
        a
    }
}
