//! Truncated backpropagation through time on a [`BidirectionalStateful`] stream: each chunk
//! is taped from the states (and carried outputs) the stream holds, and its backward stops
//! at the chunk's start, as [`Stateful`](crate::Stateful)'s does for one cell.

use core::borrow::Borrow;

use super::{BidirectionalGradients, BidirectionalTape, MergeAdjoint};
use crate::error::{SequenceError, ShapeError};
use crate::train::Differentiable;
use crate::{BidirectionalStateful, Both, Mask, Merge, Sequence};

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
    /// inference. Resets are not taped: a stream with resets trains on whole episodes as a
    /// batch ([`Bidirectional::run_batch_taped`](crate::Bidirectional::run_batch_taped)).
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
        let mask = mask.into();
        mask.check(inputs.len())?;
        let constants = Both::new(&self.constants.forward, &self.constants.backward);
        let carried = (&mut self.state, &mut self.carried);
        Ok(self.layer.record(inputs, mask, carried, constants, tape))
    }

    /// The backward of the chunk last recorded by
    /// [`feed_taped`](BidirectionalStateful::feed_taped), truncated at its start: given the
    /// chunk's `tape`, its `inputs`, the adjoints of its merged outputs and of both states it
    /// ended in, the gradients of both halves' parameters, the chunk's inputs, the states it
    /// started from and the constants ([`Bidirectional::backward`](crate::Bidirectional::backward)'s,
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
