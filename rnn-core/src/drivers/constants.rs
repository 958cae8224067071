//! The constants a driver is given: the cell's [`Cell::Constants`], under traits of ours so
//! that constants of the wrong shape are reported in words. One trait per form a caller
//! writes: one run's or stream's constants ([`ConstantsOf`]), a batch's
//! ([`BatchConstantsOf`]) and a bidirectional layer's, one per direction ([`BothConstantsOf`]).

use core::borrow::Borrow;

#[cfg(feature = "alloc")]
use super::batch::BatchConstants;
use crate::wrappers::bidirectional::Both;

#[cfg(doc)]
use crate::cell::Cell;

/// Constants given to a run: anything that borrows as the cell's constants `K` (the constants
/// themselves, or a reference to them). A stream ([`Rnn::stateful`](crate::Rnn::stateful))
/// keeps a clone of what it is given.
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

/// Constants given to a batch: the cell's constants `K` shared by every sequence (`&k`), or
/// one per sequence (`&ks[..]`, `&[k0, k1]`, `&vec`); see [`BatchConstants`].
///
/// `Into<BatchConstants<K>>` under a name of ours, so that constants of the wrong type are
/// reported as such, as [`ConstantsOf`] reports them for one sequence.
///
/// ```
/// use rnn::cells::{GruCell, Stacked};
/// use rnn::{Batch, Rnn};
/// use nalgebra::SVector;
///
/// let stack = Rnn::new(Stacked((GruCell::<2, 3>::zeros(), GruCell::<3, 3>::zeros())));
/// let sequences = [[SVector::<f32, 2>::zeros(); 4]; 2];
/// // Shared by both sequences, or one per sequence: the same runs.
/// let shared = stack.run_batch(&Batch::new(&sequences), &((), ())).unwrap();
/// let each = stack.run_batch(&Batch::new(&sequences), &[((), ()); 2]).unwrap();
/// assert_eq!(shared, each);
/// ```
#[cfg(feature = "alloc")]
#[diagnostic::on_unimplemented(
    message = "the constants given are `{Self}`, but the batch's are the cell's constants `{K}`",
    label = "expected `&K` shared by every sequence, or `&[K]` with one per sequence",
    note = "`&()` for a cell without constants; a `Stacked` takes a tuple with one entry per layer, \
            first layer first, `()` for each layer without constants: \
            `&((), ())` for two layers without any, `&((), k)` when only the second reads `k`"
)]
pub trait BatchConstantsOf<'c, K: 'c>: Into<BatchConstants<'c, K>> {}

#[cfg(feature = "alloc")]
#[diagnostic::do_not_recommend]
impl<'c, K: 'c, X: Into<BatchConstants<'c, K>>> BatchConstantsOf<'c, K> for X {}

/// Constants given to a [`Bidirectional`](crate::Bidirectional) layer, which has two cells:
/// `k` when both cells read `k` (`()` when neither has constants), else
/// `Both::new(forward_k, backward_k)`. A run borrows them (`KF` and `KB` are then the
/// references `&F::Constants` and `&B::Constants`: `&k`, `&()`,
/// `Both::new(&forward_k, &backward_k)`); a stream keeps them (`KF` and `KB` are the cells'
/// constants themselves).
///
/// `Into<Both<KF, KB>>` under a name of ours, so that constants of the wrong type are
/// reported as such, as [`ConstantsOf`] reports them for one cell.
///
/// ```
/// use rnn::cells::{GruCell, Stacked};
/// use rnn::Bidirectional;
/// use nalgebra::SVector;
///
/// let stack = || Stacked((GruCell::<2, 3>::zeros(), GruCell::<3, 3>::zeros()));
/// let layer = Bidirectional::new(stack(), stack());
/// // Both stacks read the same constants: one `()` per layer.
/// let run = layer.run(&[SVector::<f32, 2>::zeros(); 4], &((), ()));
/// assert_eq!(run.outputs.len(), 4);
/// // A stream keeps its own.
/// let mut stream = layer.stateful(((), ()));
/// assert_eq!(stream.feed(&[SVector::<f32, 2>::zeros(); 4]), run.outputs);
/// ```
#[diagnostic::on_unimplemented(
    message = "the constants given are `{Self}`, but the cells' constants are `{KF}` (forward) and `{KB}` (backward)",
    label = "expected the constants both cells read, or `Both::new(forward_k, backward_k)`",
    note = "`()` for cells without constants (`&()` where they are borrowed); a `Stacked` takes a \
            tuple with one entry per layer, first layer first, `()` for each layer without \
            constants: `((), ())` for two layers without any, `((), k)` when only the second \
            reads `k`"
)]
pub trait BothConstantsOf<KF, KB>: Into<Both<KF, KB>> {}

#[diagnostic::do_not_recommend]
impl<KF, KB, X: Into<Both<KF, KB>>> BothConstantsOf<KF, KB> for X {}
