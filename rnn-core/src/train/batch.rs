//! The backward of a batch: one [`Tape`] per sequence, the sequences over the cores, and the
//! parameters' gradients summed over the batch in a fixed order; or, for a built-in cell's
//! batch that its fused kernel runs, that kernel's record (see `lowered`).

use alloc::vec::Vec;
use core::borrow::Borrow;

use super::differentiable::{
    add_parameters, defer_products, set_to_zero, zeros_like, Differentiable,
};
use super::error::BackwardError;
#[cfg(feature = "std")]
use super::lowered::{self, LoweredTape};
use super::sequence::{record_block, record_resetting, replay, Adjoints, Recording, Tape};
use crate::cell::Cell;
use crate::drivers::batch::Spare;
use crate::drivers::reset::ResetTo;
use crate::error::{SequenceError, ShapeError};
use crate::nested::{ops::Add, Nested};
use crate::parameters::Parameters;
use crate::sequence::Sequence;
use crate::{Batch, BatchConstantsOf, BatchRun, Rnn};

/// What [`Rnn::run_batch_taped`] records for [`Rnn::backward_batch`]: one [`Tape`] per
/// sequence, or, for a batch that ran on a built-in cell's batched kernel, the kernel's record
/// of the whole batch.
///
/// Keep one and pass it to every batch: its buffers are cleared, not reallocated, so a
/// training loop allocates its steps once.
#[derive(Clone, Debug)]
pub struct BatchTape<R> {
    /// One per sequence, when the batch ran the loop per sequence.
    tapes: Vec<Tape<R>>,
    /// The tapes of a larger earlier batch, for the next larger batch to reuse.
    spare: Spare<Tape<R>>,
    /// The kernel's record, when the batch ran on the cell's batched kernel: the backward
    /// follows it.
    #[cfg(feature = "std")]
    lowered: Option<alloc::boxed::Box<LoweredTape>>,
    /// Whether the last batch ran on the batched kernel (`lowered` is kept either way, so
    /// that a cell without one does not allocate it anew every batch).
    #[cfg(feature = "std")]
    on_kernel: bool,
    /// How many batches with dropout this tape recorded: the next batch's draw.
    draws: u64,
}

impl<R> BatchTape<R> {
    /// An empty tape.
    pub const fn new() -> Self {
        BatchTape {
            tapes: Vec::new(),
            spare: Spare::new(),
            #[cfg(feature = "std")]
            lowered: None,
            #[cfg(feature = "std")]
            on_kernel: false,
            draws: 0,
        }
    }

    /// The batched kernel's record, when the last batch ran on it.
    #[cfg(feature = "std")]
    fn kernel_record(&self) -> Option<&LoweredTape> {
        self.lowered.as_deref().filter(|_| self.on_kernel)
    }

    /// The number of sequences recorded.
    pub fn len(&self) -> usize {
        #[cfg(feature = "std")]
        if let Some(lowered) = self.kernel_record() {
            return lowered.len();
        }
        self.tapes.len()
    }

    /// Whether no sequence is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tape of sequence `b`; `None` past the batch, or when the batch ran on a batched
    /// kernel, which records the batch as a whole.
    pub fn sequence(&self, b: usize) -> Option<&Tape<R>> {
        #[cfg(feature = "std")]
        if self.kernel_record().is_some() {
            return None;
        }
        self.tapes.get(b)
    }

    /// The next batch with dropout draws as the `draws`-th batch of a fresh tape.
    pub(crate) fn set_draws(&mut self, draws: u64) {
        self.draws = draws;
    }

    /// The number of steps sequence `b` was recorded with (`b` below [`len`](Self::len)).
    fn steps(&self, b: usize) -> usize {
        #[cfg(feature = "std")]
        if let Some(lowered) = self.kernel_record() {
            return lowered.steps(b);
        }
        self.tapes[b].len()
    }
}

impl<R> Default for BatchTape<R> {
    fn default() -> Self {
        BatchTape::new()
    }
}

/// What [`Rnn::backward_batch`] returns: the gradient of the loss with respect to everything
/// the batch read.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchGradients<C: Cell> {
    /// The parameters' gradients summed over the batch, shaped like the cell.
    pub parameters: C,
    /// `inputs[b][t]`: the adjoint of each input, zeros where a step was masked; each
    /// sequence's is empty for gradients made [`without_input_adjoints`](Self::without_input_adjoints).
    pub inputs: Vec<Vec<C::Input>>,
    /// The adjoint of each sequence's initial state.
    pub initial_states: Vec<C::State>,
    /// The adjoint of each sequence's constants (sum them for constants shared by the batch).
    pub constants: Vec<C::Constants>,
    /// Whether the backward computes `inputs`.
    pub(crate) input_adjoints: bool,
    /// The backward's working buffers, kept for the next call.
    pub(crate) scratch: Scratch<C>,
}

impl<C: Cell + Parameters + Clone> BatchGradients<C> {
    /// Gradients for batches of `cell`, empty until
    /// [`backward_batch_into`](Rnn::backward_batch_into) fills them; keep one and pass it to
    /// every batch, so that a training loop allocates its buffers once.
    pub fn new(cell: &C) -> Self {
        BatchGradients {
            parameters: zeros_like(cell),
            inputs: Vec::new(),
            initial_states: Vec::new(),
            constants: Vec::new(),
            input_adjoints: true,
            scratch: Scratch::default(),
        }
    }

    /// These gradients without the inputs' adjoints, for a batch of data whose adjoint
    /// nothing reads (as PyTorch skips an input that does not require a gradient): each
    /// sequence's [`inputs`](Self::inputs) stays empty, and the backward of a cell whose
    /// input adjoint costs a product skips it. The other gradients are the same bits.
    ///
    /// ```
    /// use rnn::cells::LstmCell;
    /// use rnn::train::{BatchGradients, BatchTape};
    /// use rnn::{Batch, Rnn};
    /// use nalgebra::SVector;
    ///
    /// let rnn = Rnn::new(LstmCell::<2, 3>::keras_init(1));
    /// let xs = vec![vec![SVector::from([0.5, -1.0]); 4]; 2];
    /// let batch = Batch::new(&xs);
    /// let mut tape = BatchTape::new();
    /// let run = rnn.run_batch_taped(&batch, &[(); 2], &mut tape).unwrap();
    /// let adjoints = (&run.outputs[..], &run.states[..]);
    ///
    /// let mut full = BatchGradients::new(rnn.cell());
    /// rnn.backward_batch_into(&tape, &batch, adjoints, &[(); 2], &mut full).unwrap();
    /// let mut data = BatchGradients::new(rnn.cell()).without_input_adjoints();
    /// rnn.backward_batch_into(&tape, &batch, adjoints, &[(); 2], &mut data).unwrap();
    ///
    /// assert_eq!(data.parameters, full.parameters);
    /// assert_eq!(full.inputs[0].len(), 4);
    /// assert!(data.inputs.iter().all(Vec::is_empty));
    /// ```
    pub fn without_input_adjoints(mut self) -> Self {
        self.input_adjoints = false;
        self
    }
}

/// What the backward of a batch works in, besides its results. Not a result: any two compare
/// equal, and a clone starts empty.
pub(crate) struct Scratch<C: Cell> {
    /// One partial gradient per thread (the loop per sequence).
    partials: Vec<C>,
    /// The flat values [`add_parameters`] sums through.
    sum: Vec<f64>,
    /// The inputs' adjoints of a larger earlier batch.
    pub(crate) spare: Spare<Vec<C::Input>>,
    /// The batched kernel's buffers.
    #[cfg(feature = "std")]
    pub(crate) lowered: lowered::Scratch,
}

impl<C: Cell> Default for Scratch<C> {
    fn default() -> Self {
        Scratch {
            partials: Vec::new(),
            sum: Vec::new(),
            spare: Spare::default(),
            #[cfg(feature = "std")]
            lowered: Default::default(),
        }
    }
}

impl<C: Cell> Clone for Scratch<C> {
    fn clone(&self) -> Self {
        Scratch::default()
    }
}

impl<C: Cell> PartialEq for Scratch<C> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<C: Cell> core::fmt::Debug for Scratch<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Scratch")
    }
}

/// Training on batches.
impl<C> Rnn<C>
where
    C: Differentiable + Clone + Send + Sync,
    C::Input: Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Constants: Send + Sync,
    C::Residual: Send + Sync,
{
    /// [`run_batch`](Rnn::run_batch) (the same bits), recording in `tape` what
    /// [`backward_batch`](Rnn::backward_batch) needs.
    ///
    /// Where `run_batch` runs a built-in cell's batched kernel (see
    /// [`runs_on_batched_kernel`](Rnn::runs_on_batched_kernel)), so does this: the fused
    /// layer's training forward records its gates for the whole batch, and the backward runs
    /// the batch at once, as cuDNN trains Keras's `LSTM` (unless [`dropout`](Rnn::dropout)
    /// is configured: the kernel does not drop units). Otherwise, the generic path for any
    /// [`Differentiable`] cell: the loop per sequence (each sequence's bits those of
    /// [`run_masked_from`](Rnn::run_masked_from)), one [`Tape`] per sequence, the sequences in
    /// parallel with the `std` feature. The backward follows whichever the forward recorded.
    ///
    /// With [`dropout`](Rnn::dropout), sequence `b` drops units with masks drawn from the
    /// seed, the number of batches `tape` recorded before, and `b`.
    ///
    /// An error, and nothing computed, when a per-sequence argument does not match the batch
    /// size or a mask does not fit its sequence.
    ///
    /// ```
    /// use rnn::cells::GruCell;
    /// use rnn::train::BatchTape;
    /// use rnn::{Batch, Rnn};
    /// use nalgebra::SVector;
    ///
    /// let rnn = Rnn::new(GruCell::<2, 3, f64>::keras_init(3));
    /// let sequences = vec![vec![SVector::from([1.0, -1.0]); 4], vec![SVector::from([0.5, 0.0]); 2]];
    /// let batch = Batch::new(&sequences).lengths(&[4, 1]);
    /// let mut tape = BatchTape::new();
    /// let run = rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    /// assert_eq!(run, rnn.clone().batched_kernel(false).run_batch(&batch, &()).unwrap());
    ///
    /// // The loss: the sum of every final state.
    /// let d_outputs = [vec![SVector::zeros(); 4], vec![SVector::zeros(); 2]];
    /// let d_states = [SVector::repeat(1.0); 2];
    /// let grads = rnn.backward_batch(&tape, &batch, &d_outputs, &d_states, &()).unwrap();
    /// assert_eq!(grads.inputs[1][1], SVector::<f64, 2>::zeros()); // past the length: read nothing
    ///
    /// // The parameter gradients are the sum of the sequences' own.
    /// let mut one = rnn::train::Tape::new();
    /// let mut sum = 0.0;
    /// for (b, length) in [4, 1].into_iter().enumerate() {
    ///     let s0 = SVector::zeros();
    ///     rnn.run_taped(&sequences[b], rnn::Mask::Length(length), s0, &(), &mut one).unwrap();
    ///     let g = rnn.backward(&one, &sequences[b], &d_outputs[b], d_states[b], &()).unwrap();
    ///     sum += g.parameters.kernel.rows()[0][0][0];
    /// }
    /// assert!((grads.parameters.kernel.rows()[0][0][0] - sum).abs() < 1e-15);
    /// ```
    pub fn run_batch_taped<'c, Q, X>(
        &self,
        batch: &Batch<'_, Q, C::State>,
        constants: impl BatchConstantsOf<'c, C::Constants>,
        tape: &mut BatchTape<C::Residual>,
    ) -> Result<BatchRun<C::Output, C::State>, SequenceError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<C::Input> + Sync,
        C::Constants: 'c,
    {
        let mut run = BatchRun::default();
        self.run_batch_taped_into(batch, constants, tape, &mut run)?;
        Ok(run)
    }

    /// [`run_batch_taped`](Rnn::run_batch_taped) into `out`, reusing its buffers and the
    /// tape's: once they have held as large a batch, a call on the batched kernel allocates
    /// nothing.
    pub fn run_batch_taped_into<'c, Q, X>(
        &self,
        batch: &Batch<'_, Q, C::State>,
        constants: impl BatchConstantsOf<'c, C::Constants>,
        tape: &mut BatchTape<C::Residual>,
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
        let cell = self.cell();
        #[cfg(feature = "std")]
        {
            // The batched kernel does not drop units: a batch with dropout takes the loop.
            if self.batched_kernel && !self.dropout.is_active() {
                let kept = tape.lowered.get_or_insert_with(Default::default);
                let config = (self.direction, self.padding);
                tape.on_kernel = lowered::record(cell, config, batch, constants, kept, out);
                if tape.on_kernel {
                    let BatchTape { tapes, spare, .. } = tape;
                    spare.resize(tapes, 0, Tape::new);
                    return Ok(());
                }
            }
            tape.on_kernel = false;
        }
        let BatchTape {
            tapes,
            spare,
            draws,
            ..
        } = tape;
        out.sequences(batch.len());
        out.states.clear();
        out.states
            .extend((0..batch.len()).map(|b| match batch.initial_states {
                Some(states) => states[b].clone(),
                None => cell.initial_state(constants.get(b)),
            }));
        spare.resize(tapes, batch.len(), Tape::new);
        // Sequence `b` of the batch draws its masks from the seed, the batch's draw and `b`:
        // the same masks on any number of threads.
        let draw = *draws;
        if self.dropout.is_active() {
            *draws += 1;
        }
        let each = |b: usize,
                    outputs: &mut Sequence<C::Output>,
                    state: &mut C::State,
                    tape: &mut Tape<C::Residual>| {
            let recording = Recording {
                inputs: batch.sequences[b].as_ref(),
                mask: batch.masks.get(b),
                direction: self.direction,
                padding: self.padding,
                constants: constants.get(b),
                dropout: self
                    .dropout
                    .is_active()
                    .then(|| self.dropout.masks(draw, b)),
            };
            let reset = ResetTo::new(batch.resets.get(b), state);
            let state = (state, &mut None, reset);
            record_resetting(cell, recording, state, tape, &mut outputs.0);
        };
        let (outputs, states) = (&mut out.outputs.0, &mut out.states);
        // A cell whose block step shares its kernels' reads steps blocks of sequences of one
        // length in lockstep, where each step of each is valid.
        let blocks = C::STEP_BLOCK && !self.dropout.is_active();
        let in_block = |b: usize, steps: usize| {
            let len = batch.sequences[b].as_ref().len();
            let whole = match batch.masks.get(b) {
                crate::Mask::All => true,
                crate::Mask::Length(n) => n == len,
                crate::Mask::Steps(_) => false,
            };
            whole && len == steps && !batch.resets.get(b).any()
        };
        // A chunk of sequences: one block in lockstep when it fits, else one by one.
        let chunk = if blocks { BLOCK } else { 1 };
        let record = |first: usize,
                      outputs: &mut [Sequence<C::Output>],
                      states: &mut [C::State],
                      tapes: &mut [Tape<C::Residual>]| {
            let steps = batch.sequences[first].as_ref().len();
            let fits = blocks && (first..first + states.len()).all(|b| in_block(b, steps));
            let arrays = (
                <&mut [_; BLOCK]>::try_from(&mut *outputs),
                <&mut [_; BLOCK]>::try_from(&mut *states),
                <&mut [_; BLOCK]>::try_from(&mut *tapes),
            );
            match arrays {
                (Ok(outputs), Ok(states), Ok(tapes)) if fits => {
                    let run = (
                        core::array::from_fn(|n| batch.sequences[first + n].as_ref()),
                        core::array::from_fn(|n| constants.get(first + n)),
                        self.direction,
                        self.padding,
                    );
                    let outputs = outputs.each_mut().map(|o| &mut o.0);
                    record_block(cell, run, states, tapes.each_mut(), outputs);
                }
                _ => {
                    let sequences = outputs.iter_mut().zip(states).zip(tapes);
                    for (j, ((outputs, state), tape)) in sequences.enumerate() {
                        each(first + j, outputs, state, tape);
                    }
                }
            }
        };
        #[cfg(feature = "std")]
        {
            use rayon::prelude::*;
            outputs
                .par_chunks_mut(chunk)
                .zip(states.par_chunks_mut(chunk))
                .zip(tapes.par_chunks_mut(chunk))
                .enumerate()
                .for_each(|(k, ((outputs, states), tapes))| {
                    record(k * chunk, outputs, states, tapes)
                });
        }
        #[cfg(not(feature = "std"))]
        {
            let chunks = outputs
                .chunks_mut(chunk)
                .zip(states.chunks_mut(chunk))
                .zip(tapes.chunks_mut(chunk));
            for (k, ((outputs, states), tapes)) in chunks.enumerate() {
                record(k * chunk, outputs, states, tapes);
            }
        }
        Ok(())
    }

    /// The backward of a [`run_batch_taped`](Rnn::run_batch_taped) run: given its `tape`, the
    /// same `batch` and `constants`, the adjoints of every output (`d_outputs[b]`, in the order
    /// of the run's outputs) and of each final state, the gradients of the parameters (summed
    /// over the batch), of each input, initial state and constants.
    ///
    /// A batch that ran on the cell's batched kernel runs the fused backward on the whole
    /// batch, within 1e-5 of the loop per sequence. On the loop, sequences run in parallel
    /// with the `std` feature: each thread's sequences add into a partial gradient of their
    /// own (contiguous runs of the batch, one per thread of the pool), and the partials are
    /// summed in order; each sequence's backward is [`backward`](Rnn::backward)'s. Either
    /// way the gradients are the same bits from run to run on a given number of threads.
    ///
    /// An error, and nothing computed, when `batch`, `d_outputs` or `d_final_states` does not
    /// have one entry per taped sequence, or a sequence's inputs or output adjoints one per
    /// taped step.
    pub fn backward_batch<'c, Q, X, D>(
        &self,
        tape: &BatchTape<C::Residual>,
        batch: &Batch<'_, Q, C::State>,
        d_outputs: &[D],
        d_final_states: &[C::State],
        constants: impl BatchConstantsOf<'c, C::Constants>,
    ) -> Result<BatchGradients<C>, BackwardError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<C::Input> + Sync,
        D: AsRef<[C::Output]> + Sync,
        C::Constants: 'c,
    {
        let mut gradients = BatchGradients::new(self.cell());
        let adjoints = (d_outputs, d_final_states);
        self.backward_batch_into(tape, batch, adjoints, constants, &mut gradients)?;
        Ok(gradients)
    }

    /// [`backward_batch`](Rnn::backward_batch) into `gradients` (see [`BatchGradients::new`]),
    /// reusing its buffers: once they have held as large a batch, a call on the batched
    /// kernel allocates nothing. `adjoints` are the outputs' and the final states'. On an
    /// error, `gradients` is left as it was.
    pub fn backward_batch_into<'c, Q, X, D>(
        &self,
        tape: &BatchTape<C::Residual>,
        batch: &Batch<'_, Q, C::State>,
        (d_outputs, d_final_states): (&[D], &[C::State]),
        constants: impl BatchConstantsOf<'c, C::Constants>,
        gradients: &mut BatchGradients<C>,
    ) -> Result<(), BackwardError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<C::Input> + Sync,
        D: AsRef<[C::Output]> + Sync,
        C::Constants: 'c,
    {
        let constants = constants.into();
        let sequences = tape.len();
        SequenceError::check_batch("sequences", sequences, batch.len())?;
        SequenceError::check_batch("output adjoints", sequences, d_outputs.len())?;
        SequenceError::check_batch("final-state adjoints", sequences, d_final_states.len())?;
        constants.check(sequences)?;
        for (b, (inputs, d)) in batch.sequences.iter().zip(d_outputs).enumerate() {
            let steps = tape.steps(b);
            let check = |what, found| {
                ShapeError::check_steps(what, steps, found).map_err(BackwardError::from)
            };
            check("inputs", inputs.as_ref().len())?;
            check("output adjoints", d.as_ref().len())?;
        }

        let cell = self.cell();
        #[cfg(feature = "std")]
        if let Some(kept) = tape.kernel_record() {
            let config = (self.direction, self.padding);
            let adjoints = (d_outputs, d_final_states);
            return lowered::backward(cell, kept, config, adjoints, gradients);
        }
        let tapes = &tape.tapes;
        let BatchGradients {
            parameters,
            inputs,
            initial_states,
            constants: d_constants,
            input_adjoints,
            scratch,
        } = gradients;
        let input_adjoints = *input_adjoints;
        set_to_zero(parameters);
        scratch.spare.resize(inputs, sequences, Vec::new);
        for (d, t) in inputs.iter_mut().zip(tapes) {
            d.clear();
            if input_adjoints {
                d.resize(t.len(), C::Input::zeros());
            }
        }
        initial_states.clear();
        initial_states.extend_from_slice(d_final_states);
        d_constants.clear();
        d_constants.resize(sequences, C::Constants::zeros());
        // One partial gradient per thread, over contiguous runs of sequences.
        let per_partial = sequences.div_ceil(threads().clamp(1, sequences.max(1)));
        let parts = sequences.div_ceil(per_partial.max(1));
        let partials = &mut scratch.partials;
        partials.truncate(parts);
        for partial in partials.iter_mut() {
            set_to_zero(partial);
        }
        while partials.len() < parts {
            partials.push(zeros_like(cell));
        }
        let each = |k: usize, partial: &mut C, (inputs, states, ks): Adjointed<'_, C>| {
            let first = k * per_partial;
            // The partial's large kernels add their steps' outer products in blocks of steps.
            defer_products(partial, true);
            for (j, ((d_inputs, d_state), d_constants)) in inputs
                .iter_mut()
                .zip(states.iter_mut())
                .zip(ks.iter_mut())
                .enumerate()
            {
                let b = first + j;
                // A reset returned sequence `b` to its initial state: its adjoint is that
                // state's too.
                let d_reset = replay(
                    cell,
                    &tapes[b],
                    batch.sequences[b].as_ref(),
                    d_outputs[b].as_ref(),
                    constants.get(b),
                    Adjoints {
                        state: d_state,
                        constants: d_constants,
                        parameters: partial,
                        inputs: input_adjoints.then_some(&mut d_inputs[..]),
                    },
                );
                if let Some(d_reset) = d_reset {
                    d_state.zip_apply(&d_reset, &Add);
                }
            }
            defer_products(partial, false);
        };
        let per = per_partial.max(1);
        #[cfg(feature = "std")]
        {
            use rayon::prelude::*;
            partials
                .par_iter_mut()
                .zip(inputs.par_chunks_mut(per))
                .zip(initial_states.par_chunks_mut(per))
                .zip(d_constants.par_chunks_mut(per))
                .enumerate()
                .for_each(|(k, (((partial, i), s), c))| each(k, partial, (i, s, c)));
        }
        #[cfg(not(feature = "std"))]
        for (k, (((partial, i), s), c)) in partials
            .iter_mut()
            .zip(inputs.chunks_mut(per))
            .zip(initial_states.chunks_mut(per))
            .zip(d_constants.chunks_mut(per))
            .enumerate()
        {
            each(k, partial, (i, s, c));
        }
        // The reduction, partial by partial in batch order: its bits do not depend on which
        // thread finished first.
        for partial in partials.iter() {
            add_parameters(parameters, partial, &mut scratch.sum);
        }
        Ok(())
    }
}

/// The sequences a cell with a block step steps in lockstep: enough for a weight too large
/// for the caches to be read once for many samples, few enough for the block's values to
/// stay on a thread's stack.
const BLOCK: usize = 8;

/// A run of sequences' adjoints: their inputs', initial states' and constants'.
type Adjointed<'a, C> = (
    &'a mut [Vec<<C as Cell>::Input>],
    &'a mut [<C as Cell>::State],
    &'a mut [<C as Cell>::Constants],
);

/// The number of threads sequences are spread over (one without `std`).
fn threads() -> usize {
    #[cfg(feature = "std")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "std"))]
    {
        1
    }
}
