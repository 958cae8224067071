//! Runs over arrays: the layer's batch run between an [`ArrayBatch`] unpacked and an
//! [`ArrayRun`] packed.

use alloc::vec::Vec;

use super::{outputs_to_arrays, states_to_arrays, ArrayBatch, ArrayError, ArrayRun};
use crate::cell::Cell;
use crate::drivers::constants::{BothConstantsOf, ConstantsOf};
use crate::drivers::direction::Direction;
use crate::nested::Nested;
use crate::wrappers::bidirectional::{Bidirectional, Merge, NoMerge, ReadsSameInput};
use crate::Rnn;

/// Arrays in Keras's layout.
impl<C> Rnn<C>
where
    C: Cell + Sync,
    C::State: Send + Sync,
    C::Output: Send,
    C::Constants: Sync,
    C::Input: Sync,
{
    /// Keras's `layer(x, mask=..., initial_state=[...])` with `return_sequences=True` and
    /// `return_state=True`: runs the `[B, T, F]` array of `batch` (with its mask or lengths,
    /// and initial states) as [`run_batch`](Rnn::run_batch) does, and returns the outputs
    /// `[B, T, ·]`, each sequence's last valid output `[B, ·]` and the final states as
    /// Keras's list. An error naming the expected and found shapes, and nothing computed, when
    /// an array does not fit.
    ///
    /// ```
    /// use rnn::arrays::ArrayBatch;
    /// use rnn::cells::{GruCell, LstmCell, Stacked};
    /// use rnn::Rnn;
    ///
    /// // An LSTM(4) under a GRU(3), over 2 sequences of 3 steps of 5 features.
    /// let stack = Rnn::new(Stacked((LstmCell::<5, 4>::keras_init(0), GruCell::<4, 3>::keras_init(1))));
    /// let x = vec![0.5f32; 2 * 3 * 5];
    /// let mask = [true, true, true, true, false, false];
    /// let run = stack.run_arrays(&ArrayBatch::new(&x, [2, 3, 5]).mask(&mask), &((), ())).unwrap();
    /// assert_eq!(run.outputs().shape(), [2, 3, 3]);
    /// assert_eq!(run.last_outputs().shape(), [2, 3]);
    /// // Keras's [[h0, c0], [h1]], flattened:
    /// let shapes: Vec<&[usize]> = run.states().iter().map(|s| s.shape()).collect();
    /// assert_eq!(shapes, [&[2, 4][..], &[2, 4], &[2, 3]]);
    ///
    /// let err = stack.run_arrays(&ArrayBatch::new(&x, [2, 5, 3]), &((), ())).unwrap_err();
    /// assert_eq!(err.to_string(), "inputs: expected shape [2, 5, 5], found [2, 5, 3]");
    /// ```
    pub fn run_arrays(
        &self,
        batch: &ArrayBatch<'_>,
        constants: &impl ConstantsOf<C::Constants>,
    ) -> Result<ArrayRun, ArrayError> {
        let constants: &C::Constants = constants.borrow();
        let unpacked = batch.unpack::<C::Input, C::State>()?;
        let [b, t, _] = batch.shape();
        ArrayError::count("outputs", &[b, t, C::Output::SIZE])?;
        let run = self.run_batch(&unpacked.batch(), constants)?;
        let direction = self.direction;
        let (outputs, last_outputs) = outputs_to_arrays(&run.outputs, unpacked.steps, |b| {
            let t = unpacked.last_valid(b, direction)?;
            Some(run.outputs[b][t].clone())
        });
        Ok(ArrayRun {
            outputs,
            last_outputs,
            states: states_to_arrays(&run.states),
        })
    }
}

/// Arrays in Keras's layout.
impl<F, B, M> Bidirectional<F, B, M>
where
    F: Cell + Sync,
    B: ReadsSameInput<F> + Sync,
    M: Merge<F::Output, B::Output>,
    M::Output: Nested,
    F::State: Send + Sync,
    B::State: Send + Sync,
    F::Output: Send,
    B::Output: Send,
    F::Constants: Sync,
    B::Constants: Sync,
    F::Input: Sync,
{
    /// [`Rnn::run_arrays`] for the two directions: the merged outputs `[B, T, ·]`, the merge
    /// of each direction's last output `[B, ·]` (Keras's `return_sequences=False`: the forward
    /// half's at the last valid step, the backward half's at the first), and the final states
    /// as Keras's list, forward then backward (`[h_f, c_f, h_b, c_b]` for two LSTMs).
    ///
    /// ```
    /// use rnn::arrays::ArrayBatch;
    /// use rnn::cells::GruCell;
    /// use rnn::Bidirectional;
    ///
    /// let bi = Bidirectional::new(GruCell::<2, 3>::keras_init(0), GruCell::<2, 3>::keras_init(1));
    /// let x = [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    /// let run = bi.run_arrays(&ArrayBatch::new(&x, [2, 2, 2]).lengths(&[2, 1]), &()).unwrap();
    /// assert_eq!((run.outputs().shape(), run.last_outputs().shape()), (&[2, 2, 6][..], &[2, 6][..]));
    /// assert_eq!(run.states().len(), 2); // [h_f, h_b]
    /// ```
    pub fn run_arrays<'k>(
        &self,
        batch: &ArrayBatch<'_>,
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
    ) -> Result<ArrayRun, ArrayError>
    where
        F::Constants: 'k,
        B::Constants: 'k,
    {
        let unpacked = batch.unpack::<F::Input, crate::Both<F::State, B::State>>()?;
        let [b, t, _] = batch.shape();
        ArrayError::count("outputs", &[b, t, M::Output::SIZE])?;
        // Unmerged, so that the last output merges each half's own last step.
        let halves = Bidirectional {
            forward: &self.forward,
            backward: &self.backward,
            merge: NoMerge,
            padding: self.padding,
        };
        let run = halves.run_batch(&unpacked.batch(), constants)?;
        let merged = crate::Batched(
            run.outputs
                .iter()
                .map(|sequence| {
                    sequence
                        .iter()
                        .map(|(f, b)| self.merge.merge(f, b))
                        .collect()
                })
                .collect::<Vec<_>>(),
        );
        let (outputs, last_outputs) = outputs_to_arrays(&merged, unpacked.steps, |b| {
            let forward = unpacked.last_valid(b, Direction::Forward)?;
            let backward = unpacked.last_valid(b, Direction::Reversed)?;
            let outputs = &run.outputs[b];
            Some(self.merge.merge(&outputs[forward].0, &outputs[backward].1))
        });
        Ok(ArrayRun {
            outputs,
            last_outputs,
            states: states_to_arrays(&run.states),
        })
    }
}
