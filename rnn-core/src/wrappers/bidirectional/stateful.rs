//! A [`Bidirectional`] layer whose two states persist between calls (Keras's
//! `Bidirectional(layer(stateful=True))`).

use core::borrow::Borrow;

use super::episodes::{Episodes, Leaves};
use super::{Bidirectional, Both, Merge, ReadsSameInput};
use crate::cell::Cell;
use crate::drivers::constants::BothConstantsOf;
use crate::drivers::mask::Mask;
use crate::drivers::reset::Resets;
use crate::{Sequence, SequenceError};

/// A [`Bidirectional`] layer with its constants and both directions' states, fed one chunk
/// at a time.
///
/// Each chunk is a [`Bidirectional::run_masked_from`] from the states the previous chunk left:
/// the forward cell continues where it stopped, and the backward cell, which reads each chunk
/// last step first, continues from the state it reached at the previous chunk's first step (as
/// Keras's stateful halves do). So the forward half of two chunks equals one forward run over
/// their concatenation; the backward half does not (it would need the future), which is what
/// Keras computes too. [`reset`](BidirectionalStateful::reset) returns both halves to the
/// initial states (Keras's `reset_states()`);
/// [`feed_with_resets`](BidirectionalStateful::feed_with_resets) does so where episodes begin
/// inside a chunk.
///
/// ```
/// use rnn::{cell, Bidirectional, NoMerge};
/// use nalgebra::SVector;
///
/// /// `s' = s + x`, `y = 10 s'`.
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let xs = [1.0, 2.0, 3.0].map(|x| SVector::from([x]));
/// let mut stream = Bidirectional::new(Accumulate, Accumulate).merge_mode(NoMerge).stateful(());
/// stream.feed(&xs[..2]);
/// let (forward, backward) = stream.feed(&xs[2..]).unzip();
/// assert_eq!(forward[0][0], 60.0); // 1 + 2 + 3: the forward half continued
/// assert_eq!(backward[0][0], 60.0); // 3 on top of the backward state 2 + 1
/// assert_eq!(stream.state().forward[0], 6.0);
/// stream.reset();
/// assert_eq!(stream.state().backward[0], 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct BidirectionalStateful<F: Cell, B: Cell, M> {
    pub(crate) layer: Bidirectional<F, B, M>,
    pub(crate) constants: Both<F::Constants, B::Constants>,
    pub(crate) initial: Both<F::State, B::State>,
    pub(crate) state: Both<F::State, B::State>,
    // Each half's last output, for `Padding::CarryLastOutput` at the start of the next chunk.
    pub(crate) carried: Both<Option<F::Output>, Option<B::Output>>,
}

impl<F: Cell, B: ReadsSameInput<F>, M> Bidirectional<F, B, M> {
    /// A stream over this layer, starting from the cells' initial states (Keras's
    /// `stateful=True`). `constants` is `()` when neither cell has constants, `k` when both
    /// read `k`, else `Both::new(forward_k, backward_k)`.
    pub fn stateful(
        self,
        constants: impl BothConstantsOf<F::Constants, B::Constants>,
    ) -> BidirectionalStateful<F, B, M>
    where
        M: Merge<F::Output, B::Output>,
    {
        let constants = constants.into();
        let initial = self.initial_state(Both::new(&constants.forward, &constants.backward));
        BidirectionalStateful {
            layer: self,
            constants,
            state: initial.clone(),
            initial,
            carried: Both::default(),
        }
    }
}

impl<F: Cell, B: ReadsSameInput<F>, M: Merge<F::Output, B::Output>> BidirectionalStateful<F, B, M> {
    /// Starts from `initial` instead; [`reset`](BidirectionalStateful::reset) returns to it.
    pub fn with_initial_state(mut self, initial: Both<F::State, B::State>) -> Self {
        self.state = initial.clone();
        self.initial = initial;
        self
    }

    /// Runs a chunk and returns its merged outputs, in time order.
    pub fn feed<X: Borrow<F::Input>>(&mut self, inputs: &[X]) -> Sequence<M::Output> {
        self.feed_checked(inputs, Mask::All, Resets::None)
    }

    /// Runs a chunk with a mask: padded steps keep the states and output per the layer's
    /// padding policy. An error, and the states untouched, when the mask does not fit the chunk.
    pub fn feed_masked<'m, X: Borrow<F::Input>>(
        &mut self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
    ) -> Result<Sequence<M::Output>, SequenceError> {
        let mask = mask.into();
        mask.check(inputs.len())?;
        Ok(self.feed_checked(inputs, mask, Resets::None))
    }

    /// Runs a chunk with a mask and per-step resets (Haiku's `hk.ResetCore`; see
    /// [`Resets`]): `resets[t]` begins an episode at step `t`, and each episode is read from
    /// the initial states, as [`Bidirectional::run_with_resets`] reads them. The chunk's
    /// first episode continues the stream's last one unless step 0 resets, and the stream
    /// keeps the states of the chunk's last episode (the backward one it reached at that
    /// episode's first step in the chunk). So the stream equals each episode fed, chunk by
    /// chunk, to a stream of its own. An error, and the states untouched, when the mask or
    /// the flags do not fit the chunk.
    ///
    /// ```
    /// use rnn::{cell, Bidirectional, Mask, NoMerge};
    /// use nalgebra::SVector;
    ///
    /// /// `s' = s + x`, `y = 10 s'`.
    /// #[cell]
    /// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    ///     *s += x;
    ///     *s * 10.0
    /// }
    ///
    /// let mut stream = Bidirectional::new(Accumulate, Accumulate).merge_mode(NoMerge).stateful(());
    /// stream.feed(&[SVector::from([1.0])]);
    /// // The first step continues the episode; a new one begins at the second.
    /// let xs = [SVector::from([2.0]), SVector::from([5.0])];
    /// let (forward, backward) = stream.feed_with_resets(&xs, Mask::All, &[false, true]).unwrap().unzip();
    /// assert_eq!(forward.iter().map(|y| y[0]).collect::<Vec<_>>(), [30.0, 50.0]);
    /// assert_eq!(backward.iter().map(|y| y[0]).collect::<Vec<_>>(), [30.0, 50.0]);
    /// // The stream goes on with the second episode, in both halves.
    /// assert_eq!((stream.state().forward[0], stream.state().backward[0]), (5.0, 5.0));
    /// ```
    pub fn feed_with_resets<'m, 'r, X: Borrow<F::Input>>(
        &mut self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        resets: impl Into<Resets<'r>>,
    ) -> Result<Sequence<M::Output>, SequenceError> {
        let (mask, resets) = (mask.into(), resets.into());
        mask.check(inputs.len())?;
        resets.check(inputs.len())?;
        Ok(self.feed_checked(inputs, mask, resets))
    }

    fn feed_checked<X: Borrow<F::Input>>(
        &mut self,
        inputs: &[X],
        mask: Mask<'_>,
        resets: Resets<'_>,
    ) -> Sequence<M::Output> {
        let constants = Both::new(&self.constants.forward, &self.constants.backward);
        let episodes = Episodes {
            leaves: Leaves::LastEpisode,
            ..Episodes::new(mask, resets, Some(&self.initial))
        };
        self.layer.run_checked(
            inputs,
            episodes,
            &mut self.state,
            &mut self.carried,
            constants,
        )
    }

    /// Returns both halves to the initial states (and forgets the carried outputs).
    pub fn reset(&mut self) {
        self.state.clone_from(&self.initial);
        self.carried = Both::default();
    }

    /// Both halves' current states.
    pub fn state(&self) -> &Both<F::State, B::State> {
        &self.state
    }

    /// The layer.
    pub fn layer(&self) -> &Bidirectional<F, B, M> {
        &self.layer
    }
}
