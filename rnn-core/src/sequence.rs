//! Per-step outputs of a run, and the result of a run.

use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

use crate::error::ShapeError;
use crate::nested::Nested;

/// The outputs of a run, one per timestep, in time order.
///
/// A slice of outputs (it derefs to `[O]`). For a cell with several outputs (a tuple),
/// [`unzip`](Sequence::unzip) splits it into one sequence per output, as Keras returns
/// `seqs, special_seqs = rnn(x)` for a cell with two outputs.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Sequence<O>(pub Vec<O>);

impl<O> Sequence<O> {
    /// The outputs as a `Vec`.
    pub fn into_vec(self) -> Vec<O> {
        self.0
    }
}

impl<O: Nested> Sequence<O> {
    /// The outputs as one row-major `[T, O::SIZE]` buffer, as numpy would hold them.
    pub fn to_flat_f32(&self) -> Vec<f32> {
        let mut flat = alloc::vec![0.0; self.0.len() * O::SIZE];
        for (o, row) in self.0.iter().zip(flat.chunks_exact_mut(O::SIZE.max(1))) {
            o.write_f32(&mut row[..O::SIZE]);
        }
        flat
    }

    /// Reads a sequence from a row-major `[T, O::SIZE]` buffer. An error when the buffer is
    /// not a whole number of steps.
    pub fn from_flat_f32(flat: &[f32]) -> Result<Self, ShapeError> {
        if O::SIZE == 0 {
            ShapeError::check_len("sequence buffer", 0, flat.len())?;
            return Ok(Sequence(Vec::new()));
        }
        if !flat.len().is_multiple_of(O::SIZE) {
            let steps = flat.len() / O::SIZE;
            return Err(ShapeError {
                what: "sequence buffer (a whole number of steps)",
                expected: (steps + 1) * O::SIZE,
                found: flat.len(),
                kind: crate::error::ShapeErrorKind::Scalars,
            });
        }
        Ok(Sequence(
            flat.chunks_exact(O::SIZE).map(O::read_f32).collect(),
        ))
    }
}

impl<O> From<Vec<O>> for Sequence<O> {
    fn from(v: Vec<O>) -> Self {
        Sequence(v)
    }
}

impl<O> FromIterator<O> for Sequence<O> {
    fn from_iter<I: IntoIterator<Item = O>>(iter: I) -> Self {
        Sequence(iter.into_iter().collect())
    }
}

impl<O> IntoIterator for Sequence<O> {
    type Item = O;
    type IntoIter = alloc::vec::IntoIter<O>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, O> IntoIterator for &'a Sequence<O> {
    type Item = &'a O;
    type IntoIter = core::slice::Iter<'a, O>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A layer's outputs are the next layer's inputs (`Batch::new(&run.outputs)`).
impl<O> AsRef<[O]> for Sequence<O> {
    fn as_ref(&self) -> &[O] {
        &self.0
    }
}

impl<O> Deref for Sequence<O> {
    type Target = [O];
    fn deref(&self) -> &[O] {
        &self.0
    }
}

impl<O> DerefMut for Sequence<O> {
    fn deref_mut(&mut self) -> &mut [O] {
        &mut self.0
    }
}

macro_rules! unzip_tuple {
    ($($name:ident . $idx:tt),+) => {
        impl<$($name),+> Sequence<($($name,)+)> {
            /// One sequence per output of a several-output cell.
            pub fn unzip(self) -> ($(Sequence<$name>,)+) {
                let mut parts = ($(Vec::<$name>::with_capacity(self.0.len()),)+);
                for o in self.0 {
                    $(parts.$idx.push(o.$idx);)+
                }
                ($(Sequence(parts.$idx),)+)
            }
        }
    };
}
unzip_tuple!(A.0, B.1);
unzip_tuple!(A.0, B.1, C.2);
unzip_tuple!(A.0, B.1, C.2, D.3);

/// What a dynamic run returns: every output and the final state (Keras's
/// `return_sequences=True, return_state=True`).
#[derive(Clone, Debug, PartialEq)]
pub struct Run<O, S> {
    /// The output of every timestep, in time order.
    pub outputs: Sequence<O>,
    /// The state after the last step (the initial state for an empty sequence).
    pub state: S,
}

impl<O, S> Run<O, S> {
    /// The output of the last timestep (Keras's default `return_sequences=False`);
    /// `None` for an empty sequence.
    pub fn last_output(&self) -> Option<&O> {
        self.outputs.last()
    }
}
