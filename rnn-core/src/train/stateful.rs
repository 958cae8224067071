//! Truncated backpropagation through time on a stateful stream: each chunk is taped from the
//! state the stream carries, and its backward stops at the chunk's start (PyTorch's
//! `detach()` between chunks, Keras's `stateful=True` training).

use core::borrow::Borrow;

use super::differentiable::{zeros_like, Differentiable};
use super::sequence::{record_resetting, replay, Adjoints, Gradients, Recording, Tape};
use crate::drivers::reset::ResetTo;
use crate::error::{SequenceError, ShapeError};
use crate::nested::Nested;
use crate::{Mask, Resets, Sequence, Stateful};

/// Training on a stream, one chunk at a time.
impl<C: Differentiable> Stateful<C> {
    /// [`feed_masked`](Stateful::feed_masked) (same outputs, same state and carried output
    /// afterwards, bit for bit), recording the chunk in `tape` for
    /// [`backward_chunk`](Stateful::backward_chunk). The stream advances as in inference: the
    /// next chunk starts from the state this one ends in.
    ///
    /// An error, and the state untouched, when the mask does not fit the chunk.
    ///
    /// ```
    /// use rnn::cells::GruCell;
    /// use rnn::train::Tape;
    /// use rnn::{Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// let rnn = Rnn::new(GruCell::<1, 2, f64>::keras_init(5));
    /// let mut stream = rnn.clone().stateful(());
    /// let chunks = [[1.0, -1.0], [0.5, 2.0]].map(|c| c.map(|x| SVector::from([x])));
    /// let mut tape = Tape::new();
    /// for chunk in &chunks {
    ///     stream.feed_taped(chunk, Mask::All, &mut tape).unwrap();
    ///     // The loss: the sum of the chunk's last output.
    ///     let d_outputs = [SVector::zeros(), SVector::repeat(1.0)];
    ///     let grads = stream.backward_chunk(&tape, chunk, &d_outputs, SVector::zeros()).unwrap();
    ///     // `grads.initial_state` is the carried state's adjoint: truncated, it goes no further.
    ///     assert_ne!(grads.initial_state, SVector::<f64, 2>::zeros());
    /// }
    /// let whole = rnn.run(chunks.concat(), &());
    /// assert_eq!(stream.state(), &whole.state); // the state carried as in inference
    /// ```
    pub fn feed_taped<'m, X: Borrow<C::Input>>(
        &mut self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        tape: &mut Tape<C::Residual>,
    ) -> Result<Sequence<C::Output>, SequenceError> {
        self.feed_taped_with_resets(inputs, mask, Resets::None, tape)
    }

    /// [`feed_with_resets`](Stateful::feed_with_resets) (the same bits), recording the chunk
    /// in `tape` for [`backward_chunk`](Stateful::backward_chunk). A reset step returns to the
    /// stream's initial state: its state's adjoint goes to
    /// [`Gradients::reset_state`](crate::train::Gradients::reset_state), the gradient of that
    /// initial state, and not to the chunk's start.
    ///
    /// An error, and the state untouched, when the mask or the flags do not fit the chunk.
    pub fn feed_taped_with_resets<'m, 'r, X: Borrow<C::Input>>(
        &mut self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        resets: impl Into<Resets<'r>>,
        tape: &mut Tape<C::Residual>,
    ) -> Result<Sequence<C::Output>, SequenceError> {
        let (mask, resets) = (mask.into(), resets.into());
        mask.check(inputs.len())?;
        resets.check(inputs.len())?;
        let reset = ResetTo::new(resets, &self.initial);
        let mut outputs = alloc::vec::Vec::new();
        record_resetting(
            &self.cell,
            Recording {
                inputs,
                mask,
                direction: self.direction,
                padding: self.padding,
                constants: &self.constants,
                dropout: None,
            },
            (&mut self.state.0, &mut self.carried, reset),
            tape,
            &mut outputs,
        );
        Ok(Sequence::from(outputs))
    }

    /// The backward of the chunk last recorded by [`feed_taped`](Stateful::feed_taped),
    /// truncated at its start: given the chunk's `tape`, its `inputs`, the adjoints of its
    /// outputs and of the state it ended in, the gradients of the parameters, the chunk's
    /// inputs, the state it started from and the constants.
    ///
    /// The state the chunk started from was carried from the previous chunk; its adjoint is
    /// returned (`initial_state`) but reaches no earlier chunk, and neither does the adjoint of
    /// an output carried over from the previous chunk by
    /// [`Padding::CarryLastOutput`](crate::Padding::CarryLastOutput): the previous chunks are
    /// constants here, as after PyTorch's `detach()`. The stream itself is not changed.
    ///
    /// An error when `inputs` or `d_outputs` does not have one entry per recorded step.
    pub fn backward_chunk<X: Borrow<C::Input>>(
        &self,
        tape: &Tape<C::Residual>,
        inputs: &[X],
        d_outputs: &[C::Output],
        d_final_state: C::State,
    ) -> Result<Gradients<C>, ShapeError>
    where
        C: Clone,
    {
        let steps = tape.len();
        ShapeError::check_steps("inputs", steps, inputs.len())?;
        ShapeError::check_steps("output adjoints", steps, d_outputs.len())?;
        let mut gradients = Gradients {
            parameters: zeros_like(&self.cell),
            inputs: alloc::vec![C::Input::zeros(); steps],
            initial_state: d_final_state,
            reset_state: C::State::zeros(),
            constants: C::Constants::zeros(),
        };
        let d_reset = replay(
            &self.cell,
            tape,
            inputs,
            d_outputs,
            &self.constants,
            Adjoints {
                state: &mut gradients.initial_state,
                constants: &mut gradients.constants,
                parameters: &mut gradients.parameters,
                inputs: Some(&mut gradients.inputs),
            },
        );
        if let Some(d_reset) = d_reset {
            gradients.reset_state = d_reset;
        }
        Ok(gradients)
    }
}
