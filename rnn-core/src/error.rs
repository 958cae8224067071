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
