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
