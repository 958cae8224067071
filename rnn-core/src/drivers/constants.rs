//! The constants a driver is given: the cell's [`Cell::Constants`], under a trait of ours so
//! that constants of the wrong shape are reported in words.

use core::borrow::Borrow;

#[cfg(doc)]
use crate::cell::Cell;

/// Constants given to a run: anything that borrows as the cell's constants `K` (the constants
/// themselves, or a reference to them).
///
/// `Borrow<K>` under a name of ours, so that constants of the wrong type (one layer's constants
/// given to a [`Stacked`](crate::cells::Stacked), a tuple of the wrong length) are reported as
/// such, saying what to write, not as two tuple types that differ.
///
/// ```
/// use rnn::cells::{GruCell, Stacked};
/// use rnn::Rnn;
/// use nalgebra::SVector;
///
/// // A stack's constants: one entry per layer, `()` for a layer without any.
/// let stack = Rnn::new(Stacked((GruCell::<2, 3>::zeros(), GruCell::<3, 3>::zeros())));
/// let run = stack.run(&[SVector::<f32, 2>::zeros(); 4], &((), ()));
/// assert_eq!(run.outputs.len(), 4);
/// ```
#[diagnostic::on_unimplemented(
    message = "the constants given are `{Self}`, but the cell's constants are `{K}`",
    label = "expected the cell's `Constants`, or a reference to them",
    note = "`&()` for a cell without constants; a `Stacked` takes a tuple with one entry per layer, \
            first layer first, `()` for each layer without constants: \
            `&((), ())` for two layers without any, `&((), k)` when only the second reads `k`"
)]
pub trait ConstantsOf<K>: Borrow<K> {}

#[diagnostic::do_not_recommend]
impl<K, X: Borrow<K>> ConstantsOf<K> for X {}
