//! Streams over arrays: a `[B, T, F]` chunk fed to a [`StatefulBatch`] (Keras's
//! `stateful=True` layer called chunk after chunk), its outputs and states packed as
//! [`Rnn::run_arrays`](crate::Rnn::run_arrays) packs a run's.

use super::{outputs_to_arrays, states_to_arrays, ArrayBatch, ArrayError, ArrayRun};
use crate::cell::Cell;
use crate::drivers::batch::{Batch, BatchMasks};
use crate::drivers::stateful::StatefulBatch;
use crate::nested::Nested;

/// Arrays in Keras's layout.
impl<C> StatefulBatch<C>
where
    C: Cell + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Constants: Send + Sync,
    C::Input: Sync,
{
    /// Keras's `stateful=True` layer called on the next chunk, with `return_sequences=True`
    /// and `return_state=True`: the `[B, T, F]` array of `chunk` (with its mask or lengths,
    /// and its resets) continues the `B` streams, as [`feed`](StatefulBatch::feed) does. Returns the chunk's
    /// outputs `[B, T, ·]`, each stream's output at the chunk's last valid step `[B, ·]`
    /// (zeros when the chunk has none for it), and the streams' states after the chunk as
    /// Keras's list.
    ///
    /// The chunk's [`initial_states`](ArrayBatch::initial_states), when given, replace the
    /// streams' states before the chunk, as Keras 3 uses a stateful layer's `initial_state`
    /// instead of the states it kept (the states [`reset`](StatefulBatch::reset) returns to
    /// are unchanged).
    ///
    /// An error naming the expected and found shapes, and no state changed, when an array
    /// does not fit: the inputs must be `[streams, T, input width]`.
    ///
    /// ```
    /// use rnn::arrays::ArrayBatch;
    /// use rnn::cells::LstmCell;
    /// use rnn::Rnn;
    ///
    /// let rnn = Rnn::new(LstmCell::<2, 3>::keras_init(0)).batched_kernel(false);
    /// let x: Vec<f32> = (0..2 * 4 * 2).map(|i| i as f32 / 10.0).collect(); // [2, 4, 2]
    /// let whole = rnn.run_arrays(&ArrayBatch::new(&x, [2, 4, 2]), &()).unwrap();
    ///
    /// // The same sequences in two chunks of 2 steps: the same outputs and final states.
    /// let mut streams = rnn.stateful_batch(vec![(); 2]);
    /// let chunk = |k: usize| -> Vec<f32> {
    ///     (0..2).flat_map(|b| x[b * 8 + k * 4..b * 8 + k * 4 + 4].to_vec()).collect()
    /// };
    /// let (first, second) = (chunk(0), chunk(1));
    /// streams.feed_arrays(&ArrayBatch::new(&first, [2, 2, 2])).unwrap();
    /// let run = streams.feed_arrays(&ArrayBatch::new(&second, [2, 2, 2])).unwrap();
    /// assert_eq!(run.outputs().shape(), [2, 2, 3]);
    /// assert_eq!(run.states(), whole.states()); // [h, c]
    /// assert_eq!(run.last_outputs(), whole.last_outputs());
    ///
    /// let err = streams.feed_arrays(&ArrayBatch::new(&x, [4, 2, 2])).unwrap_err();
    /// assert_eq!(err.to_string(), "inputs: expected shape [2, 2, 2], found [4, 2, 2]");
    /// ```
    pub fn feed_arrays(&mut self, chunk: &ArrayBatch<'_>) -> Result<ArrayRun, ArrayError> {
        let [_, steps, _] = chunk.shape();
        let expected = [self.len(), steps, C::Input::SIZE];
        ArrayError::check_shape("inputs", &expected, &chunk.shape())?;
        let mut unpacked = chunk.unpack::<C::Input, C::State>()?;
        ArrayError::count("outputs", &[self.len(), steps, C::Output::SIZE])?;
        // Every check before any state changes: the masks (lengths longer than the chunk) and
        // resets, then the initial states (counted by `unpack`).
        Batch::<_, C::State>::new(&unpacked.sequences)
            .masks(&unpacked.masks)
            .resets(unpacked.batch_resets())
            .check()?;
        if let Some(states) = unpacked.initial_states.take() {
            self.set_states(states)?;
        }
        let masks = BatchMasks::Each(&unpacked.masks);
        let ran = self.feed_with_resets(&unpacked.sequences, masks, unpacked.batch_resets())?;
        let direction = self.rnn().direction;
        let (outputs, last_outputs) = outputs_to_arrays(&ran, unpacked.steps, |b| {
            let t = unpacked.last_valid(b, direction)?;
            Some(ran[b][t].clone())
        });
        let states: alloc::vec::Vec<C::State> = self.states().cloned().collect();
        Ok(ArrayRun {
            outputs,
            last_outputs,
            states: states_to_arrays(&states),
        })
    }
}
