//! Errors of the runtime APIs that take data whose size the compiler cannot see (slices,
//! buffers). Each names what was expected and what was found.

use core::fmt;

use crate::parameters::Shape;

/// A buffer or slice whose length does not match the static shape it must fill, or a shape too
/// large to exist (its size overflows `usize`, or its buffer cannot be allocated). The
/// [`kind`](ShapeError::kind) says which, and what `expected` and `found` count.
///
/// ```
/// use rnn::{ShapeError, ShapeErrorKind};
///
/// let err = ShapeError::check_len("kernel", 6, 5).unwrap_err();
/// assert_eq!(err.to_string(), "kernel: expected 6 scalars, found 5");
/// let err = ShapeError::product("inputs [B, T, I]", [1 << 63, 4], 12).unwrap_err();
/// assert_eq!(err.kind, ShapeErrorKind::Overflow { factors: [1 << 63, 4] });
/// assert_eq!(
///     err.to_string(),
///     "inputs [B, T, I]: expected 9223372036854775808 × 4 scalars, more than a usize counts; \
///      found 12"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError {
    /// What the buffer holds (`"input buffer"`, `"kernel"`, ...).
    pub what: &'static str,
    /// The number of scalars the static shape needs (steps for
    /// [`ShapeErrorKind::Steps`]; `usize::MAX` for [`ShapeErrorKind::Overflow`], whose true
    /// count does not fit).
    pub expected: usize,
    /// The number of scalars given (steps for [`ShapeErrorKind::Steps`]); for a buffer the
    /// call sizes itself, the length it had.
    pub found: usize,
    /// What the two counts are, and why they disagree.
    pub kind: ShapeErrorKind,
}

/// Why a [`ShapeError`]'s sizes do not fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShapeErrorKind {
    /// `found` scalars where the shape needs `expected`.
    #[default]
    Scalars,
    /// A sequence of `found` steps where `expected` are needed (the sequences of a block must
    /// all be as long).
    Steps,
    /// The shape's size is the product of `factors` (the dimensions given, such as a batch
    /// size and a feature count), which does not fit in a `usize`: no buffer can have it.
    Overflow {
        /// The two dimensions whose product overflows.
        factors: [usize; 2],
    },
    /// The shape needs `expected` scalars, more than can be allocated: more than `isize::MAX`
    /// bytes, or more than the allocator gave (`expected` is `usize::MAX` for a buffer of
    /// parts whose sizes sum past it).
    Allocation,
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
                kind: ShapeErrorKind::Scalars,
            })
        }
    }

    /// `Ok` when a sequence of `found` steps has the `expected` number, else the error naming
    /// `what`.
    pub fn check_steps(what: &'static str, expected: usize, found: usize) -> Result<(), Self> {
        Self::check_len(what, expected, found).map_err(|e| ShapeError {
            kind: ShapeErrorKind::Steps,
            ..e
        })
    }

    /// `a × b`, the size of `what` (a buffer of `found` scalars), or the error when it
    /// overflows `usize`.
    pub fn product(what: &'static str, [a, b]: [usize; 2], found: usize) -> Result<usize, Self> {
        a.checked_mul(b).ok_or(ShapeError {
            what,
            expected: usize::MAX,
            found,
            kind: ShapeErrorKind::Overflow { factors: [a, b] },
        })
    }

    /// `what` needs `expected` scalars, which cannot be allocated; its buffer held `found`.
    pub fn allocation(what: &'static str, expected: usize, found: usize) -> Self {
        ShapeError {
            what,
            expected,
            found,
            kind: ShapeErrorKind::Allocation,
        }
    }
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, expected, found) = (self.what, self.expected, self.found);
        match self.kind {
            ShapeErrorKind::Scalars => {
                write!(f, "{what}: expected {expected} scalars, found {found}")
            }
            ShapeErrorKind::Steps => write!(f, "{what}: expected {expected} steps, found {found}"),
            ShapeErrorKind::Overflow { factors: [a, b] } => write!(
                f,
                "{what}: expected {a} × {b} scalars, more than a usize counts; found {found}"
            ),
            ShapeErrorKind::Allocation => write!(
                f,
                "{what}: expected {expected} scalars, more than can be allocated; found {found}"
            ),
        }
    }
}

impl core::error::Error for ShapeError {}

/// A weight tensor whose shape does not fit the cell it is loaded into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightError {
    /// The tensor's name, in the layout it was given in (`"kernel"`, `"weight_hh"`, ...).
    pub tensor: &'static str,
    /// The shape the cell needs (`[I, 4H]` for an LSTM kernel).
    pub expected: Shape,
    /// The number of values given.
    pub found: usize,
}

impl WeightError {
    /// `Ok` when `found` values fill `expected`.
    pub fn check(tensor: &'static str, expected: Shape, found: usize) -> Result<(), Self> {
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
/// batches, [`Embedding`](crate::cells::Embedding)) return instead of panicking. Each variant
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
    /// Reset flags whose count is not the sequence's number of timesteps.
    ResetsLength {
        /// Index of the sequence in its batch.
        sequence: usize,
        /// The number of timesteps.
        expected: usize,
        /// The number of flags.
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
            | SequenceError::ResetsLength { sequence, .. }
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
            SequenceError::ResetsLength {
                sequence,
                expected,
                found,
            } => write!(
                f,
                "sequence {sequence}: {found} reset flags given, expected {expected} (one per timestep)"
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

/// Keras GRU weights that do not fit the cell, or contradict each other: what
/// [`GruCell::from_keras`](crate::cells::GruCell::from_keras) returns. Keras stores the GRU's
/// bias as `[2, 3H]` (an input and a recurrent row) when `reset_after = true` and as `[3H]`
/// when `false` ([`keras_bias_shape`](GruWeightError::keras_bias_shape)), so the bias says
/// which variant the weights are.
///
/// ```
/// use rnn::cells::GruCell;
/// use rnn::GruWeightError;
///
/// // Kernels of a GRU(4) on 5 inputs (3·4 = 12 gate columns), and a bias of 10 values.
/// let err = GruCell::<5, 4>::from_keras(&[0.0; 60], &[0.0; 48], Some(&[0.0; 10])).unwrap_err();
/// assert_eq!(err, GruWeightError::Bias { units: 4, found: 10 });
/// assert_eq!(
///     err.to_string(),
///     "weight `bias`: expected shape [2, 12] (reset_after = true) or [12] (reset_after = false), \
///      the 3 gates × 4 units of the kernels; found 10 values"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GruWeightError {
    /// A kernel whose size is not the cell's (`kernel [I, 3H]`, `recurrent_kernel [H, 3H]`).
    Weight(WeightError),
    /// A bias of neither variant's shape for the kernels' `units` (`H`).
    Bias {
        /// The cell's units, `H`: the bias is expected `[2, 3H]` or `[3H]`.
        units: usize,
        /// The number of values given.
        found: usize,
    },
    /// A bias of one variant's shape where `reset_after` was given as the other: expected
    /// `keras_bias_shape(units, reset_after)`, found `keras_bias_shape(units, !reset_after)`.
    ResetAfter {
        /// The `reset_after` given.
        reset_after: bool,
        /// The cell's units, `H`.
        units: usize,
    },
}

impl GruWeightError {
    /// The shape of Keras's bias of a GRU of `units`: `[2, 3·units]` when `reset_after`, else
    /// `[3·units]`.
    pub fn keras_bias_shape(units: usize, reset_after: bool) -> Shape {
        let columns = units.saturating_mul(3);
        if reset_after {
            Shape::new(&[2, columns])
        } else {
            Shape::new(&[columns])
        }
    }
}

impl From<WeightError> for GruWeightError {
    fn from(err: WeightError) -> Self {
        GruWeightError::Weight(err)
    }
}

impl fmt::Display for GruWeightError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = Self::keras_bias_shape;
        match *self {
            GruWeightError::Weight(ref err) => err.fmt(f),
            GruWeightError::Bias { units, found } => write!(
                f,
                "weight `bias`: expected shape {} (reset_after = true) or {} (reset_after = \
                 false), the 3 gates × {units} units of the kernels; found {found} values",
                shape(units, true),
                shape(units, false)
            ),
            GruWeightError::ResetAfter { reset_after, units } => write!(
                f,
                "weight `bias`: reset_after = {reset_after} expects shape {}, found {}, the bias \
                 of a GRU with reset_after = {}",
                shape(units, reset_after),
                shape(units, !reset_after),
                !reset_after
            ),
        }
    }
}

impl core::error::Error for GruWeightError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            GruWeightError::Weight(err) => Some(err),
            _ => None,
        }
    }
}
