//! Batches: many sequences run at once, each with its own length or mask, initial state and
//! constants, spread over the cores (rayon, with the `std` feature).
//!
//! A batch of a custom cell runs every sequence through the same single-sequence driver as
//! [`Rnn::run_masked_from`], so it gives exactly the bits of its sequences run one by one, on
//! any number of threads. A batch of a built-in `f32` cell (LSTM, GRU, SimpleRNN) whose masks
//! allow runs on the cell's batched kernel instead, one matrix product per step for the whole
//! batch, within 1e-5 of those bits ([`Rnn::batched_kernel`] chooses). Results come per sequence (`[B][T]`, a [`Batched`]) or as one
//! row-major `[B, T, features]` buffer ([`Batched::to_flat_f32`]) for numpy/PyTorch. A loop
//! serving batch after batch calls [`Rnn::run_batch_into`], which refills the last result's
//! buffers instead of allocating new ones.

use alloc::vec::Vec;
use core::borrow::Borrow;
use core::ops::Deref;

use crate::cell::Cell;
use crate::drivers::constants::BatchConstantsOf;
use crate::drivers::mask::Mask;
use crate::drivers::reset::{BatchResets, ResetTo};
use crate::drivers::rnn::Rnn;
use crate::error::SequenceError;
use crate::nested::Nested;
use crate::sequence::Sequence;

/// The masks of a batch: none, one valid length per sequence (right padding), or one [`Mask`]
/// per sequence (any pattern; lengths and step masks may be mixed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchMasks<'a> {
    /// Every step of every sequence is valid.
    #[default]
    All,
    /// `lengths[b]` valid steps in sequence `b` (tf.nn.dynamic_rnn's `sequence_length`).
    Lengths(&'a [usize]),
    /// `masks[b]` for sequence `b`.
    Each(&'a [Mask<'a>]),
}

impl<'a> BatchMasks<'a> {
    /// The mask of sequence `b` (the count must have been checked).
    pub(crate) fn get(&self, b: usize) -> Mask<'a> {
        match *self {
            BatchMasks::All => Mask::All,
            BatchMasks::Lengths(lengths) => Mask::Length(lengths[b]),
            BatchMasks::Each(masks) => masks[b],
        }
    }

    /// `Ok` when there is one mask per sequence and each fits its sequence's length.
    pub fn check(&self, steps: impl ExactSizeIterator<Item = usize>) -> Result<(), SequenceError> {
        let batch = steps.len();
        match *self {
            BatchMasks::All => return Ok(()),
            BatchMasks::Lengths(lengths) => {
                SequenceError::check_batch("lengths", batch, lengths.len())?
            }
            BatchMasks::Each(masks) => SequenceError::check_batch("masks", batch, masks.len())?,
        }
        for (b, t) in steps.enumerate() {
            self.get(b).check(t).map_err(|e| e.in_sequence(b))?;
        }
        Ok(())
    }
}

/// The constants of a batch: one value for every sequence, or one per sequence (Keras's
/// `constants` tensors have a batch axis).
///
/// Converted from `&K` (shared) and from `&[K]`, `&[K; N]` or `&Vec<K>` (per sequence).
#[derive(Debug)]
pub enum BatchConstants<'a, K> {
    /// The same constants for every sequence.
    Shared(&'a K),
    /// `constants[b]` for sequence `b`.
    PerSequence(&'a [K]),
}

impl<K> Clone for BatchConstants<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for BatchConstants<'_, K> {}

impl<'a, K> BatchConstants<'a, K> {
    /// The constants of sequence `b` (the count must have been checked).
    pub(crate) fn get(&self, b: usize) -> &'a K {
        match *self {
            BatchConstants::Shared(k) => k,
            BatchConstants::PerSequence(ks) => &ks[b],
        }
    }

    /// `Ok` when shared, or when there is one per sequence.
    pub fn check(&self, batch: usize) -> Result<(), SequenceError> {
        match *self {
            BatchConstants::Shared(_) => Ok(()),
            BatchConstants::PerSequence(ks) => {
                SequenceError::check_batch("constants", batch, ks.len())
            }
        }
    }
}

impl<'a, K> From<&'a K> for BatchConstants<'a, K> {
    fn from(k: &'a K) -> Self {
        BatchConstants::Shared(k)
    }
}

impl<'a, K> From<&'a [K]> for BatchConstants<'a, K> {
    fn from(ks: &'a [K]) -> Self {
        BatchConstants::PerSequence(ks)
    }
}

impl<'a, K, const N: usize> From<&'a [K; N]> for BatchConstants<'a, K> {
    fn from(ks: &'a [K; N]) -> Self {
        BatchConstants::PerSequence(ks)
    }
}

impl<'a, K> From<&'a Vec<K>> for BatchConstants<'a, K> {
    fn from(ks: &'a Vec<K>) -> Self {
        BatchConstants::PerSequence(ks)
    }
}

/// A batch of sequences (equal or ragged lengths) with optional masks and initial states: the
/// argument of [`Rnn::run_batch`].
///
/// ```
/// use rnn::{cell, Batch, Mask, Rnn};
/// use nalgebra::SVector;
///
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let v = |xs: &[f32]| xs.iter().map(|&x| SVector::from([x])).collect::<Vec<_>>();
/// let sequences = [v(&[1.0, 2.0, 0.0]), v(&[3.0]), v(&[1.0, 1.0, 1.0])];
/// let masks = [Mask::Length(2), Mask::All, Mask::Steps(&[true, false, true])];
/// let initial_states = [SVector::from([0.0]), SVector::from([1.0]), SVector::from([0.0])];
/// let batch = Batch::new(&sequences).masks(&masks).initial_states(&initial_states);
/// let run = Rnn::new(Accumulate).run_batch(&batch, &()).unwrap();
/// assert_eq!(run.states.iter().map(|s| s[0]).collect::<Vec<_>>(), [3.0, 4.0, 2.0]);
/// assert_eq!(run.outputs.shape(), [3, 3, 1]); // ragged: padded to the longest
/// assert_eq!(run.outputs.to_flat_f32(), [10.0, 30.0, 30.0, 40.0, 0.0, 0.0, 10.0, 10.0, 20.0]);
/// ```
#[derive(Debug)]
pub struct Batch<'a, Q, S> {
    pub(crate) sequences: &'a [Q],
    pub(crate) masks: BatchMasks<'a>,
    pub(crate) resets: BatchResets<'a>,
    pub(crate) initial_states: Option<&'a [S]>,
}

impl<Q, S> Clone for Batch<'_, Q, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<Q, S> Copy for Batch<'_, Q, S> {}

impl<'a, Q, S> Batch<'a, Q, S> {
    /// The sequences (each a `Vec`, array or slice of inputs); every step valid, every
    /// sequence from its cell's initial state.
    pub fn new(sequences: &'a [Q]) -> Self {
        Batch {
            sequences,
            masks: BatchMasks::All,
            resets: BatchResets::None,
            initial_states: None,
        }
    }

    /// One valid length per sequence (right padding).
    pub fn lengths(mut self, lengths: &'a [usize]) -> Self {
        self.masks = BatchMasks::Lengths(lengths);
        self
    }

    /// One mask per sequence.
    pub fn masks(mut self, masks: &'a [Mask<'a>]) -> Self {
        self.masks = BatchMasks::Each(masks);
        self
    }

    /// Sets the masks of every sequence at once.
    pub fn batch_masks(mut self, masks: BatchMasks<'a>) -> Self {
        self.masks = masks;
        self
    }

    /// Per-step resets (Haiku's `hk.ResetCore`): `resets[b][t]` sets sequence `b` back to its
    /// initial state before step `t` (see [`Resets`](crate::Resets) and
    /// [`Rnn::run_with_resets`]). A batch with resets runs the loop per sequence, never a
    /// built-in cell's batched kernel; training on it resets too, and
    /// [`Bidirectional::run_batch`](crate::Bidirectional::run_batch) reads them as each of its
    /// directions needs.
    ///
    /// ```
    /// use rnn::{cell, Batch, Rnn};
    /// use nalgebra::SVector;
    ///
    /// #[cell]
    /// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    ///     *s += x;
    ///     *s * 10.0
    /// }
    ///
    /// let sequences = vec![vec![SVector::from([1.0]); 3]; 2];
    /// let resets = vec![vec![false, true, false], vec![false, false, true]];
    /// let initial_states = [SVector::from([5.0]), SVector::from([0.0])];
    /// let batch = Batch::new(&sequences).resets(&resets).initial_states(&initial_states);
    /// let run = Rnn::new(Accumulate).run_batch(&batch, &()).unwrap();
    /// assert_eq!(run.outputs.to_flat_f32(), [60.0, 60.0, 70.0, 10.0, 20.0, 10.0]);
    /// assert_eq!(run.states.iter().map(|s| s[0]).collect::<Vec<_>>(), [7.0, 1.0]);
    /// ```
    pub fn resets(mut self, resets: impl Into<BatchResets<'a>>) -> Self {
        self.resets = resets.into();
        self
    }

    /// One initial state per sequence (Keras's `initial_state` with a batch axis).
    pub fn initial_states(mut self, initial_states: &'a [S]) -> Self {
        self.initial_states = Some(initial_states);
        self
    }

    /// The number of sequences.
    pub fn len(&self) -> usize {
        self.sequences.len()
    }

    /// Whether the batch has no sequence.
    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }

    /// `Ok` when masks, resets and initial states have one entry per sequence and every mask
    /// and row of resets fits its sequence.
    pub fn check<X>(&self) -> Result<(), SequenceError>
    where
        Q: AsRef<[X]>,
    {
        let steps = || self.sequences.iter().map(|q| q.as_ref().len());
        self.masks.check(steps())?;
        self.resets.check(steps())?;
        if let Some(states) = self.initial_states {
            SequenceError::check_batch("initial states", self.len(), states.len())?;
        }
        Ok(())
    }
}

/// Outputs of a batch, `[B][T]`: one [`Sequence`] per sequence (ragged lengths allowed).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Batched<O>(pub Vec<Sequence<O>>);

impl<O> Batched<O> {
    /// The longest sequence's number of steps (0 for an empty batch).
    pub fn steps(&self) -> usize {
        self.0.iter().map(|s| s.len()).max().unwrap_or(0)
    }

    /// The sequences as a `Vec`.
    pub fn into_vec(self) -> Vec<Sequence<O>> {
        self.0
    }
}

impl<O: Nested> Batched<O> {
    /// The shape of [`to_flat_f32`](Batched::to_flat_f32)'s buffer: `[B, T, O::SIZE]`, `T` the
    /// longest sequence's steps.
    pub fn shape(&self) -> [usize; 3] {
        [self.0.len(), self.steps(), O::SIZE]
    }

    /// The outputs as one row-major `[B, T, O::SIZE]` buffer, as numpy/PyTorch hold a batch;
    /// shorter sequences are padded with zeros at the end (PyTorch's `pad_packed_sequence`).
    ///
    /// # Panics
    /// When `B × T × O::SIZE` does not fit in a `usize` (many sequences and one very long:
    /// the padded buffer would be larger than any memory), rather than return a buffer of the
    /// wrong size.
    pub fn to_flat_f32(&self) -> Vec<f32> {
        let [b, t, f] = self.shape();
        let len = b
            .checked_mul(t)
            .and_then(|bt| bt.checked_mul(f))
            .expect("Batched::to_flat_f32: B × T × features overflows usize");
        let mut flat = alloc::vec![0.0; len];
        // `t·f ≤ len`: with `t > 0` there is a sequence, `b ≥ 1`.
        if t * f == 0 {
            return flat;
        }
        for (sequence, rows) in self.0.iter().zip(flat.chunks_exact_mut(t * f)) {
            for (o, row) in sequence.iter().zip(rows.chunks_exact_mut(f)) {
                o.write_f32(row);
            }
        }
        flat
    }
}

impl<O> Deref for Batched<O> {
    type Target = [Sequence<O>];
    fn deref(&self) -> &[Sequence<O>] {
        &self.0
    }
}

macro_rules! unzip_batched {
    ($($name:ident . $idx:tt),+) => {
        impl<$($name),+> Batched<($($name,)+)> {
            /// One `[B][T]` batch per output of a several-output cell.
            pub fn unzip(self) -> ($(Batched<$name>,)+) {
                let mut parts = ($(Vec::<Sequence<$name>>::with_capacity(self.0.len()),)+);
                for sequence in self.0 {
                    let split = sequence.unzip();
                    $(parts.$idx.push(split.$idx);)+
                }
                ($(Batched(parts.$idx),)+)
            }
        }
    };
}
unzip_batched!(A.0, B.1);
unzip_batched!(A.0, B.1, C.2);
unzip_batched!(A.0, B.1, C.2, D.3);

/// What [`Rnn::run_batch`] returns: every output of every sequence and each final state.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchRun<O, S> {
    /// `outputs[b][t]`.
    pub outputs: Batched<O>,
    /// The state of each sequence after its last valid step.
    pub states: Vec<S>,
    /// The buffers of a batch run on a built-in cell's batched kernel, kept for the next call.
    #[cfg(feature = "std")]
    pub(crate) lowered: super::lowering::Lowered,
    /// The sequences of a larger earlier batch, kept so that the next larger batch reuses
    /// their buffers.
    pub(crate) spare: Spare<Sequence<O>>,
}

impl<O, S> BatchRun<O, S> {
    /// `outputs` resized to `len` sequences: the ones past `len` are set aside, and new ones
    /// are taken from those set aside before any is allocated.
    pub(crate) fn sequences(&mut self, len: usize) -> &mut Vec<Sequence<O>> {
        self.spare
            .resize(&mut self.outputs.0, len, || Sequence(Vec::new()));
        &mut self.outputs.0
    }
}

/// Values set aside by a buffer that shrank, for it to grow back into without allocating:
/// a batch's last, smaller minibatch followed by a full one reuses the full one's buffers.
/// Not a result: any two compare equal, and a clone starts empty.
pub(crate) struct Spare<T>(Vec<T>);

impl<T> Spare<T> {
    /// Nothing set aside.
    pub(crate) const fn new() -> Self {
        Spare(Vec::new())
    }

    /// Resizes `values` to `len`: moves the values past `len` here, or takes values from here
    /// (else from `new`) up to `len`.
    pub(crate) fn resize(&mut self, values: &mut Vec<T>, len: usize, mut new: impl FnMut() -> T) {
        while values.len() > len {
            if let Some(value) = values.pop() {
                self.0.push(value);
            }
        }
        while values.len() < len {
            values.push(self.0.pop().unwrap_or_else(&mut new));
        }
        // Room to set every value aside, taken while `values` grows (an allocating call
        // anyway), so that setting them aside later allocates nothing.
        self.0.reserve(values.len().saturating_sub(self.0.len()));
    }
}

impl<T> Default for Spare<T> {
    fn default() -> Self {
        Spare::new()
    }
}

impl<T> Clone for Spare<T> {
    fn clone(&self) -> Self {
        Spare::default()
    }
}

impl<T> PartialEq for Spare<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> core::fmt::Debug for Spare<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Spare({})", self.0.len())
    }
}

/// No sequence: the buffers [`Rnn::run_batch_into`] fills (and grows on first use).
impl<O, S> Default for BatchRun<O, S> {
    fn default() -> Self {
        BatchRun {
            outputs: Batched(Vec::new()),
            states: Vec::new(),
            #[cfg(feature = "std")]
            lowered: Default::default(),
            spare: Spare::default(),
        }
    }
}

/// `f(i, &mut a[i], &mut b[i])` for every index of two slices of equal length, in parallel
/// with the `std` feature. Allocates nothing of its own.
pub(crate) fn for_each_pair_mut<A: Send, B: Send>(
    a: &mut [A],
    b: &mut [B],
    f: impl Fn(usize, &mut A, &mut B) + Sync + Send,
) {
    // The zip would silently skip the longer slice's tail: a batch partly run. Every caller
    // sizes one slice from the other, so a mismatch is a bug, checked in release builds too.
    assert_eq!(
        a.len(),
        b.len(),
        "for_each_pair_mut: slices of different lengths"
    );
    #[cfg(feature = "std")]
    {
        use rayon::prelude::*;
        a.par_iter_mut()
            .zip(b.par_iter_mut())
            .enumerate()
            .for_each(|(i, (a, b))| f(i, a, b));
    }
    #[cfg(not(feature = "std"))]
    {
        for (i, (a, b)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
            f(i, a, b);
        }
    }
}

/// Batches.
impl<C> Rnn<C>
where
    C: Cell + Sync,
    C::State: Send + Sync,
    C::Output: Send,
    C::Constants: Sync,
{
    /// Runs every sequence of `batch` (with its mask, initial state and constants) and returns
    /// all outputs and final states. Sequences run in parallel with the `std` feature; the
    /// results are those of [`run_masked_from`](Rnn::run_masked_from) on each sequence, bit for
    /// bit, unless the batch runs on a built-in cell's batched kernel (then within 1e-5; see
    /// [`batched_kernel`](Rnn::batched_kernel)). An error, and nothing computed, when a
    /// per-sequence argument does not match the batch size or a mask does not fit its sequence.
    ///
    /// `constants` is one value for all sequences (`&k`) or one per sequence (`&ks[..]`).
    pub fn run_batch<'c, Q, X>(
        &self,
        batch: &Batch<'_, Q, C::State>,
        constants: impl BatchConstantsOf<'c, C::Constants>,
    ) -> Result<BatchRun<C::Output, C::State>, SequenceError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<C::Input> + Sync,
        C::Constants: 'c,
    {
        let mut run = BatchRun::default();
        self.run_batch_into(batch, constants, &mut run)?;
        Ok(run)
    }

    /// Whether [`run_batch`](Rnn::run_batch) runs `batch` on the cell's batched kernel (see
    /// [`batched_kernel`](Rnn::batched_kernel)) rather than a loop per sequence: a built-in
    /// `f32` cell, allowed to, on a non-empty batch whose every sequence has its valid steps
    /// consecutive.
    ///
    /// ```
    /// use rnn::cells::GruCell;
    /// use rnn::{Batch, Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// let sequences = vec![vec![SVector::<f32, 2>::zeros(); 3]; 4];
    /// let rnn = Rnn::new(GruCell::<2, 3>::keras_init(0));
    /// assert!(rnn.runs_on_batched_kernel(&Batch::new(&sequences).lengths(&[3, 1, 0, 2])));
    /// let holes = [Mask::Steps(&[true, false, true]); 4];
    /// assert!(!rnn.runs_on_batched_kernel(&Batch::new(&sequences).masks(&holes)));
    /// assert!(!rnn.batched_kernel(false).runs_on_batched_kernel(&Batch::new(&sequences)));
    /// ```
    #[cfg(feature = "std")]
    pub fn runs_on_batched_kernel<Q, X>(&self, batch: &Batch<'_, Q, C::State>) -> bool
    where
        Q: AsRef<[X]>,
    {
        self.batched_kernel && super::lowering::applies(self.cell(), self.direction, batch)
    }

    /// [`run_batch`](Rnn::run_batch) into the buffers of an earlier run, for a serving loop:
    /// each sequence's outputs go into the storage `out` already has, so once `out` has held
    /// a batch as large (as many sequences, each as long), a call allocates nothing. The
    /// results are those of `run_batch`, bit for bit; what `out` held before is replaced.
    /// On an error, `out` is left as it was.
    ///
    /// ```
    /// use rnn::{cell, Batch, BatchRun, Rnn};
    /// use nalgebra::SVector;
    ///
    /// #[cell]
    /// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    ///     *s += x;
    ///     *s * 10.0
    /// }
    ///
    /// let rnn = Rnn::new(Accumulate);
    /// let mut out = BatchRun::default();
    /// for shift in [0.0, 1.0] {
    ///     let sequences = [[1.0, 2.0].map(|x| SVector::from([x + shift])); 2];
    ///     rnn.run_batch_into(&Batch::new(&sequences), &(), &mut out).unwrap();
    /// }
    /// assert_eq!(out.outputs.to_flat_f32(), [20.0, 50.0, 20.0, 50.0]);
    /// assert_eq!(out, rnn.run_batch(&Batch::new(&[[2.0, 3.0].map(|x| SVector::from([x])); 2]), &()).unwrap());
    /// ```
    pub fn run_batch_into<'c, Q, X>(
        &self,
        batch: &Batch<'_, Q, C::State>,
        constants: impl BatchConstantsOf<'c, C::Constants>,
        out: &mut BatchRun<C::Output, C::State>,
    ) -> Result<(), SequenceError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<C::Input> + Sync,
        C::Constants: 'c,
    {
        let constants = constants.into();
        batch.check()?;
        constants.check(batch.len())?;
        #[cfg(feature = "std")]
        if self.batched_kernel {
            let config = (self.direction, self.padding);
            if super::lowering::run_lowered(self.cell(), config, batch, constants, out) {
                return Ok(());
            }
        }
        out.sequences(batch.len());
        out.states.clear();
        out.states
            .extend((0..batch.len()).map(|b| match batch.initial_states {
                Some(states) => states[b].clone(),
                None => self.cell().initial_state(constants.get(b)),
            }));
        for_each_pair_mut(&mut out.outputs.0, &mut out.states, |b, outputs, state| {
            let reset = ResetTo::new(batch.resets.get(b), state);
            crate::drivers::masked::masked_unroll_into(
                self.cell(),
                batch.sequences[b].as_ref(),
                batch.masks.get(b),
                self.direction,
                self.padding,
                (state, &mut None, reset),
                constants.get(b),
                &mut outputs.0,
            );
        });
        Ok(())
    }
}
