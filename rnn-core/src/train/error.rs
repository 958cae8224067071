//! The error of a backward pass given adjoints that do not fit what was recorded.

use core::fmt;

use crate::error::{SequenceError, ShapeError};

/// Adjoints or inputs that do not match the taped run they are the backward of: a
/// per-sequence argument whose count is not the batch size ([`SequenceError::BatchSize`]), a
/// sequence with the wrong number of steps ([`ShapeError`] of kind
/// [`Steps`](crate::ShapeErrorKind::Steps)), or a token outside an embedding's vocabulary.
/// Nothing is computed when it is returned.
///
/// ```
/// use rnn::cells::Embedding;
/// use rnn::train::{zeros_like, BackwardError};
/// use rnn::SequenceError;
/// use nalgebra::SVector;
///
/// let embedding = Embedding::<4, 2, f64>::zeros();
/// let mut grads = zeros_like(&embedding);
/// let err = embedding.backward(&[1, 9], &[SVector::zeros(); 2], &mut grads).unwrap_err();
/// assert!(matches!(err, BackwardError::Sequence(SequenceError::TokenOutOfRange { found: 9, .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackwardError {
    /// A count or length of steps that does not match the tape.
    Shape(ShapeError),
    /// A batch argument of the wrong size, or a token outside the vocabulary.
    Sequence(SequenceError),
}

impl From<ShapeError> for BackwardError {
    fn from(e: ShapeError) -> Self {
        BackwardError::Shape(e)
    }
}

impl From<SequenceError> for BackwardError {
    fn from(e: SequenceError) -> Self {
        BackwardError::Sequence(e)
    }
}

impl fmt::Display for BackwardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackwardError::Shape(e) => e.fmt(f),
            BackwardError::Sequence(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for BackwardError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            BackwardError::Shape(e) => Some(e),
            BackwardError::Sequence(e) => Some(e),
        }
    }
}
