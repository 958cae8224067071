//! Streaming: a cell whose state persists between calls (Keras's `stateful=True`).

#[cfg(feature = "alloc")]
use core::borrow::Borrow;
use core::mem::MaybeUninit;

use crate::cell::Cell;
use crate::drivers::constants::ConstantsOf;
use crate::drivers::direction::Direction;
use crate::drivers::mask::Padding;
#[cfg(feature = "alloc")]
use crate::drivers::reset::ResetTo;
use crate::kernels::CacheAligned;

/// A cell with its state and constants, fed one step or one chunk at a time.
///
/// Feeding two chunks one after the other gives the outputs and state of one run over their
/// concatenation. [`reset`](Stateful::reset) returns to the initial state (Keras's
/// `reset_states()`: the given initial state, else zeros).
///
/// [`feed_masked`](Stateful::feed_masked) skips padded steps with the padding policy of the
/// [`Rnn`](crate::Rnn) it came from; the output carried over a padded step is carried across
/// chunks too, so masked chunks also equal one masked run. A backward direction reverses each
/// chunk (Keras's `stateful=True, go_backwards=True`).
///
/// ```
/// use rnn::{cell, Rnn};
/// use nalgebra::SVector;
///
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let mut stream = Rnn::new(Accumulate).stateful(());
/// stream.feed(&[SVector::from([1.0])]);
/// let ys = stream.feed(&[SVector::from([2.0])]);
/// assert_eq!(ys[0][0], 30.0);
/// stream.reset();
/// assert_eq!(stream.state()[0], 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct Stateful<C: Cell> {
    pub(crate) cell: C,
    pub(crate) constants: C::Constants,
    pub(crate) initial: C::State,
    // On a cache line of its own: the steps read it back with vector loads.
    pub(crate) state: CacheAligned<C::State>,
    pub(crate) padding: Padding,
    pub(crate) direction: Direction,
    // The last output, for `Padding::CarryLastOutput` at the start of the next chunk.
    pub(crate) carried: Option<C::Output>,
}

impl<C: Cell> Stateful<C> {
    /// Starts from the cell's initial state. `constants` are the cell's constants, which the
    /// stream keeps, or a reference to them, which it clones.
    pub fn new(cell: C, constants: impl ConstantsOf<C::Constants>) -> Self {
        let constants: C::Constants = constants.borrow().clone();
        let initial = cell.initial_state(&constants);
        Stateful {
            state: CacheAligned(initial.clone()),
            initial,
            cell,
            constants,
            padding: Padding::default(),
            direction: Direction::default(),
            carried: None,
        }
    }

    pub(crate) fn configured(mut self, padding: Padding, direction: Direction) -> Self {
        self.padding = padding;
        self.direction = direction;
        self
    }

    /// Starts from `initial` instead; [`reset`](Stateful::reset) returns to it.
    pub fn with_initial_state(mut self, initial: C::State) -> Self {
        self.state = CacheAligned(initial.clone());
        self.initial = initial;
        self
    }

    /// Runs one step (in the CPU's vectorized copy of the code, as every driver does).
    #[inline]
    pub fn step(&mut self, input: &C::Input) -> C::Output {
        let (cell, state, constants) = (&self.cell, &mut self.state.0, &self.constants);
        let y = crate::kernels::dispatch::vectorized(
            #[inline(always)]
            || cell.step(input, state, constants),
        );
        self.carried = Some(y.clone());
        y
    }

    /// Runs a chunk of steps and returns their outputs (in the configured direction).
    #[cfg(feature = "alloc")]
    pub fn feed<X: Borrow<C::Input>>(
        &mut self,
        inputs: impl IntoIterator<Item = X>,
    ) -> crate::Sequence<C::Output> {
        if self.direction == Direction::Forward {
            let inputs = inputs.into_iter();
            let mut outputs = alloc::vec::Vec::with_capacity(inputs.size_hint().0);
            let (cell, state, constants) = (&self.cell, &mut self.state.0, &self.constants);
            crate::kernels::dispatch::vectorized(
                #[inline(always)]
                || {
                    crate::drivers::unroll::push_forward(
                        cell,
                        inputs,
                        state,
                        constants,
                        &mut outputs,
                    )
                },
            );
            if let Some(last) = outputs.last() {
                self.carried = Some(last.clone());
            }
            return crate::Sequence::from(outputs);
        }
        let inputs: alloc::vec::Vec<X> = inputs.into_iter().collect();
        self.feed_checked(&inputs, crate::Mask::All, crate::Resets::None)
    }

    /// Runs a chunk with a mask: padded steps keep the state and output per the padding policy.
    /// An error, and the state untouched, when the mask does not fit the chunk.
    #[cfg(feature = "alloc")]
    pub fn feed_masked<'m, X: Borrow<C::Input>>(
        &mut self,
        inputs: &[X],
        mask: impl Into<crate::Mask<'m>>,
    ) -> Result<crate::Sequence<C::Output>, crate::SequenceError> {
        let mask = mask.into();
        mask.check(inputs.len())?;
        Ok(self.feed_checked(inputs, mask, crate::Resets::None))
    }

    /// Runs a chunk with a mask and per-step resets (Haiku's `hk.ResetCore`; see
    /// [`Resets`](crate::Resets)): before each flagged step the stream returns to its initial
    /// state, as [`reset`](Stateful::reset) does between chunks, so an episode may end
    /// anywhere inside a chunk. An error, and the state untouched, when the mask or the
    /// flags do not fit the chunk.
    ///
    /// ```
    /// use rnn::{cell, Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// #[cell]
    /// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    ///     *s += x;
    ///     *s * 10.0
    /// }
    ///
    /// let mut stream = Rnn::new(Accumulate).stateful(()).with_initial_state(SVector::from([1.0]));
    /// stream.feed(&[SVector::from([2.0])]);
    /// let xs = [SVector::from([1.0]); 3];
    /// let ys = stream.feed_with_resets(&xs, Mask::All, &[false, true, false]).unwrap();
    /// assert_eq!(ys.iter().map(|y| y[0]).collect::<Vec<_>>(), [40.0, 20.0, 30.0]);
    /// assert_eq!(stream.state()[0], 3.0);
    /// ```
    #[cfg(feature = "alloc")]
    pub fn feed_with_resets<'m, 'r, X: Borrow<C::Input>>(
        &mut self,
        inputs: &[X],
        mask: impl Into<crate::Mask<'m>>,
        resets: impl Into<crate::Resets<'r>>,
    ) -> Result<crate::Sequence<C::Output>, crate::SequenceError> {
        let (mask, resets) = (mask.into(), resets.into());
        mask.check(inputs.len())?;
        resets.check(inputs.len())?;
        Ok(self.feed_checked(inputs, mask, resets))
    }

    #[cfg(feature = "alloc")]
    pub(crate) fn feed_checked<X: Borrow<C::Input>>(
        &mut self,
        inputs: &[X],
        mask: crate::Mask<'_>,
        resets: crate::Resets<'_>,
    ) -> crate::Sequence<C::Output> {
        let reset = ResetTo::new(resets, &self.initial);
        let mut outputs = alloc::vec::Vec::new();
        crate::drivers::masked::masked_unroll_into(
            &self.cell,
            inputs,
            mask,
            self.direction,
            self.padding,
            (&mut self.state.0, &mut self.carried, reset),
            &self.constants,
            &mut outputs,
        );
        crate::Sequence::from(outputs)
    }

    /// Runs a chunk of exactly `T` steps with no heap allocation (in the configured direction).
    /// Its outputs take the stack space [`Rnn::unroll`](crate::Rnn::unroll)'s do.
    pub fn feed_array<const T: usize>(&mut self, inputs: &[C::Input; T]) -> [C::Output; T] {
        let mut outputs = MaybeUninit::<[C::Output; T]>::uninit();
        crate::drivers::unroll::fill_outputs(
            &self.cell,
            inputs,
            (&mut self.state.0, &mut self.carried),
            &self.constants,
            self.direction,
            &mut outputs,
        );
        // SAFETY: `fill_outputs` initialized every output.
        unsafe { outputs.assume_init() }
    }

    /// Returns to the initial state (and forgets the carried output).
    pub fn reset(&mut self) {
        self.state.0.clone_from(&self.initial);
        self.carried = None;
    }

    /// The current state.
    pub fn state(&self) -> &C::State {
        &self.state.0
    }

    /// Replaces the current state (the initial state [`reset`](Stateful::reset) returns to
    /// is unchanged).
    pub fn set_state(&mut self, state: C::State) {
        self.state = CacheAligned(state);
    }

    /// The cell.
    pub fn cell(&self) -> &C {
        &self.cell
    }
}

/// A batch of streams whose states persist between chunks (Keras's `stateful=True` with a
/// fixed batch size): sequence `b` of each chunk continues sequence `b` of the previous chunk.
///
/// Feeding chunk after chunk gives the outputs and states of one run over the concatenated
/// sequences, masks included. Sequences run in parallel like [`Rnn::run_batch`](crate::Rnn::run_batch).
///
/// ```
/// use rnn::{cell, BatchMasks, Rnn};
/// use nalgebra::SVector;
///
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let v = |xs: &[f32]| xs.iter().map(|&x| SVector::from([x])).collect::<Vec<_>>();
/// let mut streams = Rnn::new(Accumulate).stateful_batch(vec![(); 2]);
/// streams.feed(&[v(&[1.0]), v(&[5.0])], BatchMasks::All).unwrap();
/// let ys = streams.feed(&[v(&[2.0, 9.0]), v(&[1.0, 1.0])], BatchMasks::Lengths(&[1, 2])).unwrap();
/// assert_eq!(ys.to_flat_f32(), [30.0, 30.0, 60.0, 70.0]);
/// assert_eq!(streams.states().map(|s| s[0]).collect::<Vec<_>>(), [3.0, 7.0]);
/// streams.reset();
/// assert_eq!(streams.states().map(|s| s[0]).collect::<Vec<_>>(), [0.0, 0.0]);
/// ```
#[cfg(feature = "alloc")]
#[derive(Clone, Debug)]
pub struct StatefulBatch<C: Cell> {
    rnn: crate::Rnn<C>,
    streams: alloc::vec::Vec<Stream<C>>,
}

#[cfg(feature = "alloc")]
#[derive(Clone, Debug)]
struct Stream<C: Cell> {
    constants: C::Constants,
    initial: C::State,
    state: C::State,
    carried: Option<C::Output>,
}

#[cfg(feature = "alloc")]
impl<C: Cell> crate::Rnn<C> {
    /// A batch of `constants.len()` streams that keep their states between chunks (Keras's
    /// `stateful=True`), each from its cell's initial state; keeps this `Rnn`'s padding
    /// policy and direction.
    pub fn stateful_batch(self, constants: alloc::vec::Vec<C::Constants>) -> StatefulBatch<C> {
        let streams = constants
            .into_iter()
            .map(|k| {
                let initial = self.cell().initial_state(&k);
                Stream {
                    constants: k,
                    state: initial.clone(),
                    initial,
                    carried: None,
                }
            })
            .collect();
        StatefulBatch { rnn: self, streams }
    }
}

#[cfg(feature = "alloc")]
impl<C> StatefulBatch<C>
where
    C: Cell + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Constants: Send + Sync,
{
    /// Starts (and [`reset`](StatefulBatch::reset)s) from one given state per stream; an error
    /// when the count is not the batch size.
    pub fn with_initial_states(
        mut self,
        initial_states: alloc::vec::Vec<C::State>,
    ) -> Result<Self, crate::SequenceError> {
        crate::SequenceError::check_batch("initial states", self.len(), initial_states.len())?;
        for (stream, initial) in self.streams.iter_mut().zip(initial_states) {
            stream.state = initial.clone();
            stream.initial = initial;
            stream.carried = None;
        }
        Ok(self)
    }

    /// Runs the next chunk: `sequences[b]` continues stream `b`. An error, and no state
    /// changed, when the chunk's size or masks do not match the batch.
    pub fn feed<Q, X>(
        &mut self,
        sequences: &[Q],
        masks: crate::BatchMasks<'_>,
    ) -> Result<crate::Batched<C::Output>, crate::SequenceError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<C::Input> + Sync,
    {
        let mut outputs = crate::Batched(alloc::vec::Vec::new());
        self.feed_into(sequences, masks, &mut outputs)?;
        Ok(outputs)
    }

    /// [`feed`](StatefulBatch::feed) into the buffers of the last chunk's outputs: once `out`
    /// has held a chunk as large (as many streams, each as long), a call allocates nothing.
    /// What `out` held is replaced; on an error it is left as it was, like the states.
    pub fn feed_into<Q, X>(
        &mut self,
        sequences: &[Q],
        masks: crate::BatchMasks<'_>,
        out: &mut crate::Batched<C::Output>,
    ) -> Result<(), crate::SequenceError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<C::Input> + Sync,
    {
        self.feed_with_resets_into(sequences, masks, crate::BatchResets::None, out)
    }

    /// Runs the next chunk with per-step resets (Haiku's `hk.ResetCore`; see
    /// [`Resets`](crate::Resets)): `resets[b][t]` returns stream `b` to its initial state
    /// before step `t`, so each stream's episodes may end anywhere inside a chunk. An error,
    /// and no state changed, when the chunk's size, masks or resets do not match the batch.
    ///
    /// ```
    /// use rnn::{cell, BatchMasks, Rnn};
    /// use nalgebra::SVector;
    ///
    /// #[cell]
    /// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    ///     *s += x;
    ///     *s * 10.0
    /// }
    ///
    /// let mut streams = Rnn::new(Accumulate).stateful_batch(vec![(); 2]);
    /// let chunk = vec![vec![SVector::from([1.0]); 2]; 2];
    /// streams.feed(&chunk, BatchMasks::All).unwrap();
    /// let resets = vec![vec![false, true], vec![false, false]];
    /// let ys = streams.feed_with_resets(&chunk, BatchMasks::All, &resets).unwrap();
    /// assert_eq!(ys.to_flat_f32(), [30.0, 10.0, 30.0, 40.0]);
    /// ```
    pub fn feed_with_resets<'r, Q, X>(
        &mut self,
        sequences: &[Q],
        masks: crate::BatchMasks<'_>,
        resets: impl Into<crate::BatchResets<'r>>,
    ) -> Result<crate::Batched<C::Output>, crate::SequenceError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<C::Input> + Sync,
    {
        let mut outputs = crate::Batched(alloc::vec::Vec::new());
        self.feed_with_resets_into(sequences, masks, resets.into(), &mut outputs)?;
        Ok(outputs)
    }

    /// [`feed_with_resets`](StatefulBatch::feed_with_resets) into `out`, as
    /// [`feed_into`](StatefulBatch::feed_into).
    pub fn feed_with_resets_into<Q, X>(
        &mut self,
        sequences: &[Q],
        masks: crate::BatchMasks<'_>,
        resets: crate::BatchResets<'_>,
        out: &mut crate::Batched<C::Output>,
    ) -> Result<(), crate::SequenceError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<C::Input> + Sync,
    {
        crate::SequenceError::check_batch("sequences", self.len(), sequences.len())?;
        crate::Batch::<Q, C::State>::new(sequences)
            .batch_masks(masks)
            .resets(resets)
            .check()?;
        let rnn = &self.rnn;
        out.0.resize_with(self.streams.len(), || {
            crate::Sequence(alloc::vec::Vec::new())
        });
        crate::drivers::batch::for_each_pair_mut(
            &mut self.streams,
            &mut out.0,
            |b, stream, outputs| {
                crate::drivers::masked::masked_unroll_into(
                    rnn.cell(),
                    sequences[b].as_ref(),
                    masks.get(b),
                    rnn.direction,
                    rnn.padding,
                    (
                        &mut stream.state,
                        &mut stream.carried,
                        ResetTo::new(resets.get(b), &stream.initial),
                    ),
                    &stream.constants,
                    &mut outputs.0,
                );
            },
        );
        Ok(())
    }

    /// The number of streams.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether there is no stream.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Every stream back to its initial state (Keras's `reset_states()`).
    pub fn reset(&mut self) {
        for stream in &mut self.streams {
            stream.state.clone_from(&stream.initial);
            stream.carried = None;
        }
    }

    /// The current state of each stream.
    pub fn states(&self) -> impl ExactSizeIterator<Item = &C::State> + '_ {
        self.streams.iter().map(|s| &s.state)
    }

    /// Replaces the current state of each stream (the initial states
    /// [`reset`](StatefulBatch::reset) returns to are unchanged), as
    /// [`Stateful::set_state`] does for one stream. An error, and no state changed, when the
    /// count is not the batch size.
    pub fn set_states(
        &mut self,
        states: alloc::vec::Vec<C::State>,
    ) -> Result<(), crate::SequenceError> {
        crate::SequenceError::check_batch("states", self.len(), states.len())?;
        for (stream, state) in self.streams.iter_mut().zip(states) {
            stream.state = state;
        }
        Ok(())
    }

    /// The `Rnn` the streams run: its cell, padding policy and direction.
    pub fn rnn(&self) -> &crate::Rnn<C> {
        &self.rnn
    }
}
