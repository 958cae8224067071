//! The shape of a tensor, as numpy prints it.

use core::fmt;

/// The highest rank a [`Shape`] holds.
pub const MAX_RANK: usize = 8;

/// The shape of a tensor, as numpy prints it: `[64, 32, 20, 30]`; `[]` for a scalar.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// The shape of a scalar, `[]`.
    pub const SCALAR: Shape = Shape {
        dims: [0; MAX_RANK],
        rank: 0,
    };

    /// A shape from its dimensions; `None` above [`MAX_RANK`] dimensions.
    pub const fn try_new(dims: &[usize]) -> Option<Shape> {
        if dims.len() > MAX_RANK {
            return None;
        }
        let mut shape = Shape::SCALAR;
        let mut i = 0;
        while i < dims.len() {
            shape.dims[i] = dims[i];
            i += 1;
        }
        shape.rank = dims.len() as u8;
        Some(shape)
    }

    /// A shape from its dimensions, for shapes written in code.
    ///
    /// # Panics
    /// With more than [`MAX_RANK`] dimensions (a constant mistake, caught when the shape is
    /// built in a `const`).
    pub const fn new(dims: &[usize]) -> Shape {
        match Shape::try_new(dims) {
            Some(shape) => shape,
            None => panic!("a Shape has at most MAX_RANK dimensions"),
        }
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..usize::from(self.rank)]
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        usize::from(self.rank)
    }

    /// The number of values (1 for a scalar); `None` when it overflows `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        self.dims()
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// The number of values (1 for a scalar), saturating at `usize::MAX`.
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Whether the shape holds no value (a zero dimension).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[n, dims…]`; `None` when the rank is already [`MAX_RANK`].
    pub fn prepend(&self, n: usize) -> Option<Shape> {
        if self.rank() == MAX_RANK {
            return None;
        }
        let mut shape = Shape::SCALAR;
        shape.dims[0] = n;
        shape.dims[1..=self.rank()].copy_from_slice(self.dims());
        shape.rank = self.rank + 1;
        Some(shape)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
