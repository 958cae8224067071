//! `Bidirectional`'s backward over a batch: each half on its own taped batch driver
//! ([`Rnn::run_batch_taped`], [`Rnn::backward_batch`]), the forward half forward and the
//! backward half [`Reversed`](Direction::Reversed), the merged outputs' adjoints split by the
//! merge, the inputs' adjoints summed.

use alloc::vec::Vec;
use core::borrow::Borrow;

use super::MergeAdjoint;
use crate::cell::Cell;
use crate::drivers::reset::BatchResets;
use crate::error::{SequenceError, ShapeError};
use crate::nested::{ops::Add, Nested};
use crate::train::{BackwardError, BatchTape, Differentiable};
use crate::{
    Batch, BatchRun, BiBatchRun, Bidirectional, Both, BothConstantsOf, Direction, Merge, Rnn,
};

/// What [`Bidirectional::run_batch_taped`] records for [`Bidirectional::backward_batch`]:
/// each half's [`BatchTape`] and unmerged outputs (a product's adjoint needs the other
/// factor).
///
/// Keep one and pass it to every batch: its buffers are refilled.
#[derive(Clone, Debug)]
pub struct BidirectionalBatchTape<F: Differentiable, B: Differentiable> {
    forward: BatchTape<F::Residual>,
    backward: BatchTape<B::Residual>,
    forward_run: BatchRun<F::Output, F::State>,
    backward_run: BatchRun<B::Output, B::State>,
}

impl<F: Differentiable, B: Differentiable> BidirectionalBatchTape<F, B> {
    /// An empty tape.
    pub fn new() -> Self {
        BidirectionalBatchTape {
            forward: BatchTape::new(),
            backward: BatchTape::new(),
            forward_run: BatchRun::default(),
            backward_run: BatchRun::default(),
        }
    }

    /// The number of sequences recorded.
    pub fn len(&self) -> usize {
        self.forward_run.outputs.0.len()
    }

    /// Whether no sequence is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<F: Differentiable, B: Differentiable> Default for BidirectionalBatchTape<F, B> {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`Bidirectional::backward_batch`] returns: the gradient of the loss with respect to
/// everything the batch read.
#[derive(Clone, Debug)]
pub struct BidirectionalBatchGradients<F: Cell, B: Cell, M> {
    /// Both halves' parameter gradients, summed over the batch: a value shaped like the layer.
    pub parameters: Bidirectional<F, B, M>,
    /// `inputs[b][t]`: the adjoint of each input (both directions' summed), zeros where a
    /// step was masked.
    pub inputs: Vec<Vec<F::Input>>,
    /// The adjoints of each sequence's initial states.
    pub initial_states: Vec<Both<F::State, B::State>>,
    /// The adjoints of both directions' constants, per sequence (sum them for constants
    /// shared by the batch).
    pub constants: Vec<Both<F::Constants, B::Constants>>,
}

/// A batch of a Bidirectional seen by each half: the same sequences and masks, each half's
/// initial states, and the backward half's resets moved to the ends of the episodes (it reads
/// them last step first).
struct Halves<FS, BS> {
    forward_states: Option<Vec<FS>>,
    backward_states: Option<Vec<BS>>,
    backward_resets: Option<Vec<Vec<bool>>>,
}

impl<FS: Clone, BS: Clone> Halves<FS, BS> {
    fn of<Q: AsRef<[X]>, X>(batch: &Batch<'_, Q, Both<FS, BS>>) -> Self {
        let states = batch.initial_states;
        Halves {
            forward_states: states.map(|s| s.iter().map(|s| s.forward.clone()).collect()),
            backward_states: states.map(|s| s.iter().map(|s| s.backward.clone()).collect()),
            backward_resets: (batch.resets != BatchResets::None).then(|| {
                (batch.sequences.iter().enumerate())
                    .map(|(b, xs)| batch.resets.get(b).episode_ends(xs.as_ref().len()))
                    .collect()
            }),
        }
    }

    fn forward<'a, Q>(&'a self, batch: &Batch<'a, Q, Both<FS, BS>>) -> Batch<'a, Q, FS> {
        Batch {
            sequences: batch.sequences,
            masks: batch.masks,
            resets: batch.resets,
            initial_states: self.forward_states.as_deref(),
        }
    }

    fn backward<'a, Q>(&'a self, batch: &Batch<'a, Q, Both<FS, BS>>) -> Batch<'a, Q, BS> {
        Batch {
            sequences: batch.sequences,
            masks: batch.masks,
            resets: self
                .backward_resets
                .as_deref()
                .map_or(BatchResets::None, BatchResets::Rows),
            initial_states: self.backward_states.as_deref(),
        }
    }
}

/// Training on batches.
impl<F, B, M> Bidirectional<F, B, M>
where
    F: Differentiable + Clone + Send + Sync,
    B: Differentiable<Input = F::Input> + Clone + Send + Sync,
    F::Input: Send + Sync,
    F::State: Send + Sync,
    F::Output: Send + Sync,
    F::Constants: Send + Sync,
    F::Residual: Send + Sync,
    B::State: Send + Sync,
    B::Output: Send + Sync,
    B::Constants: Send + Sync,
    B::Residual: Send + Sync,
{
    /// Each half as a layer of its own, on the loop per sequence (the bits of
    /// [`run_batch`](Bidirectional::run_batch)).
    fn halves(&self) -> (Rnn<F>, Rnn<B>) {
        let forward = Rnn::new(self.forward.clone()).padding(self.padding);
        let backward = Rnn::new(self.backward.clone()).padding(self.padding);
        (
            forward.batched_kernel(false),
            backward
                .direction(Direction::Reversed)
                .batched_kernel(false),
        )
    }

    /// [`run_batch`](Bidirectional::run_batch) (the same bits), recording in `tape` what
    /// [`backward_batch`](Bidirectional::backward_batch) needs: each half runs on
    /// [`Rnn::run_batch_taped`].
    ///
    /// An error, and nothing computed, when a per-sequence argument does not match the batch
    /// size or a mask or row of resets does not fit its sequence.
    ///
    /// ```
    /// use rnn::cells::{GruCell, LstmCell};
    /// use rnn::train::{BidirectionalBatchTape, BidirectionalTape};
    /// use rnn::{Batch, Bidirectional, Both, Mask, Nested, Sum};
    /// use nalgebra::SVector;
    ///
    /// let bi = Bidirectional::new(LstmCell::<2, 3, f64>::keras_init(1), GruCell::keras_init(2))
    ///     .merge_mode(Sum);
    /// let sequences = vec![vec![SVector::from([1.0, -1.0]); 4], vec![SVector::from([0.5, 0.0]); 2]];
    /// let batch = Batch::new(&sequences).lengths(&[4, 1]);
    /// let mut tape = BidirectionalBatchTape::new();
    /// let run = bi.run_batch_taped(&batch, &(), &mut tape).unwrap();
    /// assert_eq!(run, bi.run_batch(&batch, &()).unwrap());
    ///
    /// // The loss: the sum of every merged output.
    /// let d_outputs = [vec![SVector::repeat(1.0); 4], vec![SVector::repeat(1.0); 2]];
    /// let d_states = vec![Both::new(Nested::zeros(), SVector::zeros()); 2];
    /// let grads = bi.backward_batch(&tape, &batch, &d_outputs, &d_states, &()).unwrap();
    /// assert_eq!(grads.inputs[1][1], SVector::<f64, 2>::zeros()); // past the length
    ///
    /// // The parameters' gradients are the sum of the sequences' own.
    /// let mut one = BidirectionalTape::new();
    /// let mut sum = 0.0;
    /// for (b, length) in [4, 1].into_iter().enumerate() {
    ///     let s0 = bi.initial_state(&());
    ///     bi.run_taped(&sequences[b], Mask::Length(length), s0, &(), &mut one).unwrap();
    ///     let g = bi.backward(&one, &sequences[b], &d_outputs[b], d_states[b].clone(), &()).unwrap();
    ///     sum += g.parameters.backward_cell().kernel.rows()[0][0][0];
    /// }
    /// let batched = grads.parameters.backward_cell().kernel.rows()[0][0][0];
    /// assert!((batched - sum).abs() < 1e-15);
    /// ```
    pub fn run_batch_taped<'k, Q, X>(
        &self,
        batch: &Batch<'_, Q, Both<F::State, B::State>>,
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
        tape: &mut BidirectionalBatchTape<F, B>,
    ) -> Result<BiBatchRun<M::Output, F, B>, SequenceError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<F::Input> + Sync,
        M: Merge<F::Output, B::Output>,
        F::Constants: 'k,
        B::Constants: 'k,
    {
        let constants = constants.into();
        batch.check()?;
        let (forward, backward) = self.halves();
        let halves = Halves::of(batch);
        forward.run_batch_taped_into(
            &halves.forward(batch),
            constants.forward,
            &mut tape.forward,
            &mut tape.forward_run,
        )?;
        backward.run_batch_taped_into(
            &halves.backward(batch),
            constants.backward,
            &mut tape.backward,
            &mut tape.backward_run,
        )?;
        let (f, b) = (&tape.forward_run, &tape.backward_run);
        let mut run = BatchRun::default();
        run.outputs.0 = (f.outputs.0.iter().zip(&b.outputs.0))
            .map(|(f, b)| {
                (f.iter().zip(b.iter()))
                    .map(|(f, b)| self.merge.merge(f, b))
                    .collect()
            })
            .collect();
        run.states = pairs(f.states.clone(), b.states.clone());
        Ok(run)
    }

    /// The backward of a [`run_batch_taped`](Bidirectional::run_batch_taped) run: given its
    /// `tape`, the same `batch` and `constants`, the adjoints of every merged output
    /// (`d_outputs[b][t]`, time order) and of both final states of each sequence, the
    /// gradients of both halves' parameters (summed over the batch in a fixed order, as
    /// [`Rnn::backward_batch`] sums them), of each input (both directions' summed), of each
    /// sequence's initial states and constants.
    ///
    /// An error, and nothing computed, when `batch`, `d_outputs` or `d_final_states` does not
    /// have one entry per taped sequence, or a sequence's inputs or output adjoints one per
    /// taped step.
    pub fn backward_batch<'k, Q, X, D>(
        &self,
        tape: &BidirectionalBatchTape<F, B>,
        batch: &Batch<'_, Q, Both<F::State, B::State>>,
        d_outputs: &[D],
        d_final_states: &[Both<F::State, B::State>],
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
    ) -> Result<BidirectionalBatchGradients<F, B, M>, BackwardError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<F::Input> + Sync,
        D: AsRef<[M::Output]>,
        M: MergeAdjoint<F::Output, B::Output> + Clone,
        F::Constants: 'k,
        B::Constants: 'k,
    {
        let constants = constants.into();
        let sequences = tape.len();
        SequenceError::check_batch("sequences", sequences, batch.len())?;
        SequenceError::check_batch("output adjoints", sequences, d_outputs.len())?;
        SequenceError::check_batch("final-state adjoints", sequences, d_final_states.len())?;
        let taped = (tape.forward_run.outputs.0.iter()).zip(&tape.backward_run.outputs.0);
        let mut d_forward = Vec::with_capacity(sequences);
        let mut d_backward = Vec::with_capacity(sequences);
        for (d, (f, b)) in d_outputs.iter().zip(taped) {
            let d = d.as_ref();
            ShapeError::check_steps("output adjoints", f.len(), d.len())?;
            let (df, db): (Vec<F::Output>, Vec<B::Output>) = (d.iter().zip(f.iter().zip(b.iter())))
                .map(|(dy, (f, b))| self.merge.merge_adjoint(f, b, dy))
                .unzip();
            d_forward.push(df);
            d_backward.push(db);
        }
        let d_final_forward: Vec<F::State> =
            d_final_states.iter().map(|s| s.forward.clone()).collect();
        let d_final_backward: Vec<B::State> =
            d_final_states.iter().map(|s| s.backward.clone()).collect();
        let (forward, backward) = self.halves();
        let halves = Halves::of(batch);
        let f = forward.backward_batch(
            &tape.forward,
            &halves.forward(batch),
            &d_forward,
            &d_final_forward,
            constants.forward,
        )?;
        let b = backward.backward_batch(
            &tape.backward,
            &halves.backward(batch),
            &d_backward,
            &d_final_backward,
            constants.backward,
        )?;
        let mut inputs = f.inputs;
        for (sum, d) in inputs.iter_mut().zip(&b.inputs) {
            for (sum, d) in sum.iter_mut().zip(d) {
                sum.zip_apply(d, &Add);
            }
        }
        Ok(BidirectionalBatchGradients {
            parameters: Bidirectional {
                forward: f.parameters,
                backward: b.parameters,
                merge: self.merge.clone(),
                padding: self.padding,
            },
            inputs,
            initial_states: pairs(f.initial_states, b.initial_states),
            constants: pairs(f.constants, b.constants),
        })
    }
}

/// Each forward value with the backward value of the same sequence.
fn pairs<P, R>(forward: Vec<P>, backward: Vec<R>) -> Vec<Both<P, R>> {
    (forward.into_iter().zip(backward))
        .map(|(f, b)| Both::new(f, b))
        .collect()
}
