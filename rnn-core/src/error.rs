//! Errors of the runtime APIs that take data whose size the compiler cannot see (slices,
//! buffers). Each names what was expected and what was found.

use core::fmt;

/// A buffer or slice whose length does not match the static shape it must fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError {
    /// What the buffer holds (`"input buffer"`, `"kernel"`, ...).
    pub what: &'static str,
    /// The number of scalars the static shape needs.
    pub expected: usize,
    /// The number of scalars given.
    pub found: usize,
}

impl ShapeError {
    /// `Ok` when `found == expected`, else the error naming `what`.
    pub fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), Self> {
        if expected == found {
            Ok(())
        } else {
            Err(ShapeError {
                what,
                expected,
                found,
            })
        }
    }
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {} scalars, found {}",
            self.what, self.expected, self.found
        )
    }
}

impl core::error::Error for ShapeError {}

/// A weight tensor whose shape does not fit the cell it is loaded into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightError {
    /// The tensor's name, in the layout it was given in (`"kernel"`, `"weight_hh"`, ...).
    pub tensor: &'static str,
    /// The shape the cell needs (`[I, 4H]` for an LSTM kernel), at most two dimensions.
    pub expected: TensorShape,
    /// The number of values given.
    pub found: usize,
}

/// A tensor shape of rank 1 or 2, as printed in errors: `[5, 16]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorShape {
    dims: [usize; 2],
    rank: usize,
}

impl TensorShape {
    /// A vector of `n`.
    pub const fn vector(n: usize) -> Self {
        TensorShape {
            dims: [n, 1],
            rank: 1,
        }
    }

    /// A `rows × cols` matrix.
    pub const fn matrix(rows: usize, cols: usize) -> Self {
        TensorShape {
            dims: [rows, cols],
            rank: 2,
        }
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank]
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.dims().iter().product()
    }

    /// Whether the shape holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for TensorShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.dims() {
            [n] => write!(f, "[{n}]"),
            [r, c] => write!(f, "[{r}, {c}]"),
            _ => unreachable!("rank 1 or 2"),
        }
    }
}

impl WeightError {
    /// `Ok` when `found` values fill `expected`.
    pub fn check(tensor: &'static str, expected: TensorShape, found: usize) -> Result<(), Self> {
        if expected.len() == found {
            Ok(())
        } else {
            Err(WeightError {
                tensor,
                expected,
                found,
            })
        }
    }
}

impl fmt::Display for WeightError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "weight `{}`: expected shape {} ({} values), found {} values",
            self.tensor,
            self.expected,
            self.expected.len(),
            self.found
        )
    }
}

impl core::error::Error for WeightError {}

/// A sequence, mask or batch whose sizes do not agree: what the runtime drivers (masked runs,
/// batches, [`Embedding`](crate::embedding::Embedding)) return instead of panicking. Each variant
/// names what was expected and what was found; when it is returned, nothing was computed.
///
/// `sequence` is the index of the offending sequence in its batch (0 for a single run).
///
/// ```
/// use rnn::{cell, Mask, Rnn, SequenceError};
/// use nalgebra::SVector;
///
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let xs = [SVector::from([1.0]), SVector::from([2.0])];
/// let err = Rnn::new(Accumulate).run_masked(&xs, Mask::Steps(&[true]), &()).unwrap_err();
/// assert_eq!(err, SequenceError::MaskLength { sequence: 0, expected: 2, found: 1 });
/// assert_eq!(err.to_string(), "sequence 0: the mask has 1 steps, expected 2 (one per timestep)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SequenceError {
    /// A step mask whose length is not the sequence's number of timesteps.
    MaskLength {
        /// Index of the sequence in its batch.
        sequence: usize,
        /// The number of timesteps.
        expected: usize,
        /// The mask's length.
        found: usize,
    },
    /// A valid length above the sequence's number of timesteps.
    LengthAboveSteps {
        /// Index of the sequence in its batch.
        sequence: usize,
        /// The number of timesteps (the largest valid length).
        steps: usize,
        /// The length given.
        found: usize,
    },
    /// A per-sequence argument of a batch (masks, lengths, initial states, constants) whose
    /// count is not the batch size.
    BatchSize {
        /// Which argument: `"masks"`, `"lengths"`, `"initial states"`, `"constants"`, ...
        what: &'static str,
        /// The batch size.
        expected: usize,
        /// How many were given.
        found: usize,
    },
    /// A token id outside an embedding's vocabulary.
    TokenOutOfRange {
        /// Index of the sequence in its batch.
        sequence: usize,
        /// The timestep of the token.
        step: usize,
        /// The vocabulary size (valid ids are `0..vocabulary`).
        vocabulary: usize,
        /// The token id given.
        found: usize,
    },
}

impl SequenceError {
    /// `Ok` when a batch argument has one entry per sequence.
    pub fn check_batch(what: &'static str, expected: usize, found: usize) -> Result<(), Self> {
        if expected == found {
            Ok(())
        } else {
            Err(SequenceError::BatchSize {
                what,
                expected,
                found,
            })
        }
    }

    /// The same error attributed to sequence `index` of a batch.
    pub fn in_sequence(mut self, index: usize) -> Self {
        match &mut self {
            SequenceError::MaskLength { sequence, .. }
            | SequenceError::LengthAboveSteps { sequence, .. }
            | SequenceError::TokenOutOfRange { sequence, .. } => *sequence = index,
            SequenceError::BatchSize { .. } => {}
        }
        self
    }
}

impl fmt::Display for SequenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SequenceError::MaskLength {
                sequence,
                expected,
                found,
            } => write!(
                f,
                "sequence {sequence}: the mask has {found} steps, expected {expected} (one per timestep)"
            ),
            SequenceError::LengthAboveSteps {
                sequence,
                steps,
                found,
            } => write!(
                f,
                "sequence {sequence}: length {found} is above the sequence's {steps} timesteps"
            ),
            SequenceError::BatchSize {
                what,
                expected,
                found,
            } => write!(
                f,
                "batch: {found} {what} given, expected {expected} (one per sequence)"
            ),
            SequenceError::TokenOutOfRange {
                sequence,
                step,
                vocabulary,
                found,
            } => write!(
                f,
                "sequence {sequence}, step {step}: token {found} is outside the vocabulary of {vocabulary}"
            ),
        }
    }
}

impl core::error::Error for SequenceError {}
