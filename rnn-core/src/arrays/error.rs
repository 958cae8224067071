//! What goes wrong at the array boundary: an array of the wrong shape, a buffer that does not
//! hold its shape's values, a mask, length or row of resets that does not fit its sequence,
//! or a token outside an embedding's vocabulary.

use alloc::vec::Vec;
use core::fmt;

use crate::error::SequenceError;

/// An array that does not fit the layer, naming the expected and found shapes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArrayError {
    /// An array whose shape is not the one the layer reads (a feature width that is not the
    /// cell's input width, a mask that is not `[B, T]`, a state that is not `[B, units]`).
    Shape {
        /// Which array.
        what: &'static str,
        /// The shape the layer reads.
        expected: Vec<usize>,
        /// The shape given.
        found: Vec<usize>,
    },
    /// An array with another number of axes than the layer reads.
    Rank {
        /// Which array.
        what: &'static str,
        /// The axes the layer reads, named.
        expected: &'static str,
        /// The shape given.
        found: Vec<usize>,
    },
    /// A buffer that does not hold the number of values its shape says.
    Values {
        /// Which array.
        what: &'static str,
        /// Its shape.
        shape: Vec<usize>,
        /// The number of values in the buffer.
        found: usize,
    },
    /// An array with more values than a `usize` counts.
    TooLarge {
        /// Which array.
        what: &'static str,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// A length, mask or row of resets that does not fit its sequence, or a token outside
    /// an embedding's vocabulary.
    Sequence(SequenceError),
}

impl ArrayError {
    /// `Ok` when `found` is `expected`.
    pub(crate) fn check_shape(
        what: &'static str,
        expected: &[usize],
        found: &[usize],
    ) -> Result<(), Self> {
        if expected == found {
            Ok(())
        } else {
            Err(ArrayError::Shape {
                what,
                expected: expected.to_vec(),
                found: found.to_vec(),
            })
        }
    }

    /// The number of values of an array of `shape`, or an error when a `usize` cannot count
    /// them.
    pub(crate) fn count(what: &'static str, shape: &[usize]) -> Result<usize, Self> {
        shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| ArrayError::TooLarge {
                what,
                shape: shape.to_vec(),
            })
    }

    /// `Ok` when a buffer of `found` values holds an array of `shape`.
    pub(crate) fn check_values(
        what: &'static str,
        shape: &[usize],
        found: usize,
    ) -> Result<(), Self> {
        if Self::count(what, shape)? == found {
            Ok(())
        } else {
            Err(ArrayError::Values {
                what,
                shape: shape.to_vec(),
                found,
            })
        }
    }
}

impl From<SequenceError> for ArrayError {
    fn from(e: SequenceError) -> Self {
        ArrayError::Sequence(e)
    }
}

impl fmt::Display for ArrayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArrayError::Shape {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected shape {expected:?}, found {found:?}"),
            ArrayError::Rank {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected shape {expected}, found {found:?}"),
            ArrayError::Values { what, shape, found } => {
                let values: usize = shape.iter().product();
                write!(
                    f,
                    "{what}: a {shape:?} array holds {values} values, found {found}"
                )
            }
            ArrayError::TooLarge { what, shape } => write!(
                f,
                "{what}: a {shape:?} array holds more values than a usize counts"
            ),
            ArrayError::Sequence(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for ArrayError {}
