//! Truncated backpropagation through time on a [`BidirectionalStateful`] stream: each chunk
//! is taped from the states (and carried outputs) the stream holds, and its backward stops
//! at the chunk's start, as [`Stateful`](crate::Stateful)'s does for one cell.

use core::borrow::Borrow;

use super::{BidirectionalGradients, BidirectionalTape, MergeAdjoint};
use crate::error::{SequenceError, ShapeError};
use crate::train::Differentiable;
use crate::wrappers::bidirectional::episodes::{Episodes, Leaves};
use crate::{BidirectionalStateful, Both, Mask, Merge, Resets, Sequence};

/// Training on a stream, one chunk at a time.
impl<F, B, M> BidirectionalStateful<F, B, M>
where
    F: Differentiable,
    B: Differentiable<Input = F::Input>,
    M: Merge<F::Output, B::Output>,
{
    /// [`feed_masked`](BidirectionalStateful::feed_masked) (same outputs, same states and
    /// carried outputs afterwards, bit for bit), recording the chunk in `tape` for
    /// [`backward_chunk`](BidirectionalStateful::backward_chunk). The stream advances as in
    /// inference.
    ///
    /// An error, and the states untouched, when the mask does not fit the chunk.
    ///
    /// ```
    /// use rnn::cells::GruCell;
    /// use rnn::train::BidirectionalTape;
    /// use rnn::{Bidirectional, Both, Mask, Sum};
    /// use nalgebra::SVector;
    ///
    /// let bi = Bidirectional::new(GruCell::<1, 2, f64>::keras_init(5), GruCell::keras_init(6))
    ///     .merge_mode(Sum);
    /// let mut stream = bi.clone().stateful(());
    /// let mut inference = bi.stateful(());
    /// let chunks = [[1.0, -1.0], [0.5, 2.0]].map(|c| c.map(|x| SVector::from([x])));
    /// let mut tape = BidirectionalTape::new();
    /// for chunk in &chunks {
    ///     let ys = stream.feed_taped(chunk, Mask::All, &mut tape).unwrap();
    ///     assert_eq!(ys, inference.feed(chunk));
    ///     // The loss: the sum of the chunk's last merged output.
    ///     let d_outputs = [SVector::zeros(), SVector::repeat(1.0)];
    ///     let d_states = Both::new(SVector::zeros(), SVector::zeros());
    ///     let grads = stream.backward_chunk(&tape, chunk, &d_outputs, d_states).unwrap();
    ///     // The carried states' adjoints: truncated, they go no further.
    ///     assert_ne!(grads.initial_state.forward, SVector::<f64, 2>::zeros());
    /// }
    /// ```
    pub fn feed_taped<'m, X: Borrow<F::Input>>(
        &mut self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        tape: &mut BidirectionalTape<F, B>,
    ) -> Result<Sequence<M::Output>, SequenceError> {
        self.feed_taped_with_resets(inputs, mask, Resets::None, tape)
    }

    /// [`feed_with_resets`](BidirectionalStateful::feed_with_resets) (the same bits),
    /// recording the chunk in `tape` for
    /// [`backward_chunk`](BidirectionalStateful::backward_chunk). A step that returns a half
    /// to the stream's initial state stops that half's state adjoint there: it goes to
    /// [`BidirectionalGradients::reset_state`], the gradient of the stream's initial states,
    /// and not to the chunk's start, as
    /// [`Stateful::feed_taped_with_resets`](crate::Stateful::feed_taped_with_resets) does for
    /// one cell.
    ///
    /// An error, and the states untouched, when the mask or the flags do not fit the chunk.
    ///
    /// ```
    /// use rnn::cells::SimpleRnnCell;
    /// use rnn::train::BidirectionalTape;
    /// use rnn::{Bidirectional, Both, Mask, Sum};
    /// use nalgebra::SVector;
    ///
    /// let cell = |seed| SimpleRnnCell::<1, 2, f64>::keras_init(seed);
    /// let bi = Bidirectional::new(cell(1), cell(2)).merge_mode(Sum);
    /// let mut stream = bi.clone().stateful(());
    /// let mut inference = bi.stateful(());
    /// let chunk = [0.5, -1.0, 2.0].map(|x| SVector::from([x]));
    /// let resets = [false, true, false]; // a new episode from step 1
    /// let mut tape = BidirectionalTape::new();
    /// let ys = stream.feed_taped_with_resets(&chunk, Mask::All, &resets, &mut tape).unwrap();
    /// assert_eq!(ys, inference.feed_with_resets(&chunk, Mask::All, &resets).unwrap());
    ///
    /// // The loss: the sum of the last merged output, which reads the second episode only.
    /// let d_outputs = [SVector::zeros(), SVector::zeros(), SVector::repeat(1.0)];
    /// let d_states = Both::new(SVector::zeros(), SVector::zeros());
    /// let grads = stream.backward_chunk(&tape, &chunk, &d_outputs, d_states).unwrap();
    /// assert_eq!(grads.inputs[0], SVector::<f64, 1>::zeros());
    /// // It read the stream's initial states, not the states the chunk started from.
    /// assert_eq!(grads.initial_state.forward, SVector::<f64, 2>::zeros());
    /// assert_ne!(grads.reset_state.forward, SVector::<f64, 2>::zeros());
    /// ```
    pub fn feed_taped_with_resets<'m, 'r, X: Borrow<F::Input>>(
        &mut self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        resets: impl Into<Resets<'r>>,
        tape: &mut BidirectionalTape<F, B>,
    ) -> Result<Sequence<M::Output>, SequenceError> {
        let (mask, resets) = (mask.into(), resets.into());
        mask.check(inputs.len())?;
        resets.check(inputs.len())?;
        let constants = Both::new(&self.constants.forward, &self.constants.backward);
        let episodes = Episodes {
            leaves: Leaves::LastEpisode,
            ..Episodes::new(mask, resets, Some(&self.initial))
        };
        let carried = (&mut self.state, &mut self.carried);
        Ok(self
            .layer
            .record(inputs, episodes, carried, constants, tape))
    }

    /// The backward of the chunk last recorded by
    /// [`feed_taped`](BidirectionalStateful::feed_taped) or
    /// [`feed_taped_with_resets`](BidirectionalStateful::feed_taped_with_resets), truncated at
    /// its start: given the chunk's `tape`, its `inputs`, the adjoints of its merged outputs
    /// and of both states it ended in, the gradients of both halves' parameters, the chunk's
    /// inputs, the states it started from, the stream's initial states when a step reset to
    /// them, and the constants ([`Bidirectional::backward`](crate::Bidirectional::backward)'s,
    /// from the carried states).
    ///
    /// The states the chunk started from were carried from the previous chunk; their adjoints
    /// are returned (`initial_state`) but reach no earlier chunk, and neither does the adjoint
    /// of an output carried over by [`Padding::CarryLastOutput`](crate::Padding::CarryLastOutput):
    /// the previous chunks are constants here, as after PyTorch's `detach()`. The stream
    /// itself is not changed.
    ///
    /// An error when `inputs` or `d_outputs` does not have one entry per recorded step.
    pub fn backward_chunk<X: Borrow<F::Input>>(
        &self,
        tape: &BidirectionalTape<F, B>,
        inputs: &[X],
        d_outputs: &[M::Output],
        d_final_state: Both<F::State, B::State>,
    ) -> Result<BidirectionalGradients<F, B, M>, ShapeError>
    where
        M: MergeAdjoint<F::Output, B::Output> + Clone,
        F: Clone,
        B: Clone,
    {
        let constants = Both::new(&self.constants.forward, &self.constants.backward);
        self.layer
            .backward(tape, inputs, d_outputs, d_final_state, constants)
    }
}
