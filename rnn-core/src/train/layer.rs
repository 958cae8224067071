//! Layers of a model trained on minibatches, and their composition: a tuple of layers is the
//! layer that runs them one after the other (Keras's `Sequential`).

use alloc::vec::Vec;

use nalgebra::SVector;

use super::differentiable::add_parameters;
use super::{BatchGradients, BatchTape, Differentiable};
use crate::cell::Cell;
use crate::cells::{BatchNormalization, Dense};
use crate::drivers::batch::{Batch, BatchRun, Spare};
use crate::drivers::rnn::Rnn;
use crate::nested::Nested;
use crate::parameters::Parameters;
use crate::real::Real;

/// A layer of a model trained on minibatches: a batch of samples in, one output per sample
/// out, with a training forward that keeps what its backward needs.
///
/// The gradient of a layer is a value of the layer's own type (see
/// [`zeros_like`](super::zeros_like)), so a model's gradient walks the same paths as the model.
/// A tuple of layers whose outputs feed the next one's inputs is a layer too: the model.
///
/// ```
/// use rnn::cells::{Dense, LstmCell};
/// use rnn::train::{zeros_like, Layer};
/// use rnn::Rnn;
/// use nalgebra::SVector;
///
/// // An LSTM's last output, classified: Keras's `Sequential([LSTM(4), Dense(2)])`.
/// let model = (Rnn::new(LstmCell::<3, 4>::keras_init(1)), Dense::<4, 2>::keras_init(2));
/// let batch = vec![vec![SVector::from([0.5, -1.0, 0.25]); 5]; 2];
/// let (mut tape, mut outputs) = (Default::default(), Vec::new());
/// model.forward(&batch, &mut tape, &mut outputs);
/// // The batch ran on the LSTM's fused kernel, which sums in another order than one sample's
/// // loop: the same outputs within 1e-5.
/// assert!((outputs[0] - model.predict(&batch[0])).amax() <= 1e-5);
///
/// let mut grads = zeros_like(&model);
/// let d_outputs = vec![SVector::from([1.0, 0.0]); 2];
/// model.backward(&batch, &mut tape, &d_outputs, &mut grads, None);
/// assert!(grads.1.kernel.as_slice().iter().any(|&g| g != 0.0));
/// ```
pub trait Layer: Parameters + Clone + Send + Sync {
    /// One sample's input.
    type Input: Clone + Send + Sync;
    /// One sample's output.
    type Output: Nested + Send + Sync;
    /// What the training forward keeps for the backward; reused from batch to batch.
    type Tape: Default + Send;

    /// The training forward over a batch: `outputs` gets one output per input (it is cleared
    /// first), `tape` what [`backward`](Layer::backward) needs.
    fn forward(
        &self,
        inputs: &[Self::Input],
        tape: &mut Self::Tape,
        outputs: &mut Vec<Self::Output>,
    );

    /// The backward of the last [`forward`](Layer::forward) on `inputs`: adds the gradients
    /// of the parameters, summed over the batch, into `grads`, and, when asked, writes the
    /// inputs' adjoints into `d_inputs` (one per input). The tape keeps the backward's
    /// buffers too, so that a training step like the last allocates nothing.
    fn backward(
        &self,
        inputs: &[Self::Input],
        tape: &mut Self::Tape,
        d_outputs: &[Self::Output],
        grads: &mut Self,
        d_inputs: Option<&mut Vec<Self::Input>>,
    );

    /// One sample at inference (a batch-coupled layer uses what training kept, as Keras's
    /// `training=False`).
    fn predict(&self, input: &Self::Input) -> Self::Output;

    /// Before the forward of the optimizer step numbered `step` (counted from the first
    /// epoch's first batch): sets where what the layer draws at random (its dropout masks)
    /// continues from, so that a run resumed at an epoch draws as the uninterrupted run did.
    /// Nothing by default.
    fn start_step(&self, tape: &mut Self::Tape, step: u64) {
        let _ = (tape, step);
    }

    /// After an optimizer step: updates what training changes besides the gradients' target
    /// (a batch normalisation's moving statistics) from the last forward's `tape`.
    fn update(&mut self, tape: &Self::Tape) {
        let _ = tape;
    }
}

/// What an [`Rnn`] layer keeps from a batch: its [`BatchTape`] (one tape per sequence, or
/// the batched kernel's record), and the buffers of its runs and backward passes.
pub struct RnnTape<C: Differentiable> {
    tapes: BatchTape<C::Residual>,
    run: BatchRun<C::Output, C::State>,
    /// Each sequence's output adjoints: zeros but for the last step's.
    d_sequences: Vec<Vec<C::Output>>,
    spare: Spare<Vec<C::Output>>,
    d_states: Vec<C::State>,
    gradients: Option<BatchGradients<C>>,
    sum: Vec<f64>,
}

impl<C: Differentiable> Default for RnnTape<C> {
    fn default() -> Self {
        RnnTape {
            tapes: BatchTape::new(),
            run: BatchRun::default(),
            d_sequences: Vec::new(),
            spare: Spare::new(),
            d_states: Vec::new(),
            gradients: None,
            sum: Vec::new(),
        }
    }
}

/// A recurrent layer returning each sequence's last output (Keras's `LSTM(H)`, whose
/// `return_sequences` is `False`): a sample is a sequence of any length, each from the cell's
/// initial state; the batch runs over the cores, its gradient summed in a fixed order. A
/// sequence of no step outputs zeros. Its [`dropout`](Rnn::dropout) applies in
/// [`forward`](Layer::forward), each batch drawing new masks, and never in
/// [`predict`](Layer::predict). Samples that hold several episodes, with reset flags, are
/// [`Episodic`](super::Episodic)'s.
impl<C> Layer for Rnn<C>
where
    C: Differentiable + Clone + Send + Sync,
    C::Input: Clone + Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Constants: Default + Send + Sync,
    C::Residual: Send + Sync,
{
    type Input = Vec<C::Input>;
    type Output = C::Output;
    type Tape = RnnTape<C>;

    fn forward(
        &self,
        inputs: &[Vec<C::Input>],
        tape: &mut RnnTape<C>,
        outputs: &mut Vec<C::Output>,
    ) {
        self.forward_last_outputs(&Batch::new(inputs), tape, outputs);
    }

    fn backward(
        &self,
        inputs: &[Vec<C::Input>],
        tape: &mut RnnTape<C>,
        d_outputs: &[C::Output],
        grads: &mut Self,
        d_inputs: Option<&mut Vec<Vec<C::Input>>>,
    ) {
        let adjoints = (d_outputs, d_inputs.is_some());
        let g = self.backward_last_outputs(&Batch::new(inputs), tape, adjoints, grads);
        if let Some(d) = d_inputs {
            d.clone_from(&g.inputs);
        }
    }

    fn predict(&self, input: &Vec<C::Input>) -> C::Output {
        last_output(&self.run(input, &C::Constants::default()).outputs)
    }

    /// The step's batch draws its dropout masks as the `step`-th batch of a fresh tape.
    fn start_step(&self, tape: &mut RnnTape<C>, step: u64) {
        tape.tapes.set_draws(step);
    }
}

/// The layer of each sequence's last output, over a batch of any kind (the samples of
/// [`Rnn`]'s layer, or of [`Episodic`](super::Episodic)'s, with their resets).
impl<C> Rnn<C>
where
    C: Differentiable + Clone + Send + Sync,
    C::Input: Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Constants: Default + Send + Sync,
    C::Residual: Send + Sync,
{
    /// [`Layer::forward`]: runs `batch` from the cell's initial state, keeping each
    /// sequence's last output. The batch's per-sequence arguments must fit it.
    pub(crate) fn forward_last_outputs<Q: AsRef<[C::Input]> + Sync>(
        &self,
        batch: &Batch<'_, Q, C::State>,
        tape: &mut RnnTape<C>,
        outputs: &mut Vec<C::Output>,
    ) {
        let constants = C::Constants::default();
        let RnnTape { tapes, run, .. } = tape;
        self.run_batch_taped_into(batch, &constants, tapes, run)
            .expect("the layer's batch fits: its samples are checked when made");
        outputs.clear();
        outputs.extend(run.outputs.iter().map(last_output));
    }

    /// [`Layer::backward`] of [`forward_last_outputs`](Rnn::forward_last_outputs) on the same
    /// `batch`: adds the parameters' gradients into `grads` and returns the batch's gradients,
    /// with the inputs' adjoints when `input_adjoints` asks for them (a layer on data does
    /// not: its backward then skips them).
    pub(crate) fn backward_last_outputs<'t, Q: AsRef<[C::Input]> + Sync>(
        &self,
        batch: &Batch<'_, Q, C::State>,
        tape: &'t mut RnnTape<C>,
        (d_outputs, input_adjoints): (&[C::Output], bool),
        grads: &mut Self,
    ) -> &'t BatchGradients<C> {
        let constants = C::Constants::default();
        let RnnTape {
            tapes,
            d_sequences,
            spare,
            d_states,
            gradients,
            sum,
            ..
        } = tape;
        // Each sequence's last output is the layer's: its adjoint goes there.
        spare.resize(d_sequences, batch.len(), Vec::new);
        for ((d, xs), dy) in d_sequences.iter_mut().zip(batch.sequences).zip(d_outputs) {
            d.clear();
            d.resize(xs.as_ref().len(), C::Output::zeros());
            if let Some(last) = d.last_mut() {
                *last = dy.clone();
            }
        }
        d_states.clear();
        d_states.resize(batch.len(), C::State::zeros());
        let g = gradients.get_or_insert_with(|| BatchGradients::new(self.cell()));
        g.input_adjoints = input_adjoints;
        self.backward_batch_into(
            tapes,
            batch,
            (&d_sequences[..], &d_states[..]),
            &constants,
            g,
        )
        .expect("the taped batch");
        add_parameters(grads.cell_mut(), &g.parameters, sum);
        g
    }
}

/// A sequence's last output, zeros when it has none.
pub(crate) fn last_output<O: Nested>(outputs: &crate::Sequence<O>) -> O {
    outputs.last().cloned().unwrap_or_else(O::zeros)
}

/// What a [`BatchNormalization`] layer keeps from a batch: the normalised values and the
/// moving statistics the batch moved.
pub struct BatchNormTape<const N: usize, T: Real> {
    residual: super::BatchNormResidual<N, T>,
    moved: Option<(SVector<T, N>, SVector<T, N>)>,
    /// The inputs' adjoints when the caller does not ask for them (the backward computes them
    /// on its way to the parameters' gradients).
    d_inputs: Vec<SVector<T, N>>,
}

impl<const N: usize, T: Real> Default for BatchNormTape<N, T> {
    fn default() -> Self {
        BatchNormTape {
            residual: Default::default(),
            moved: None,
            d_inputs: Vec::new(),
        }
    }
}

/// Keras's `BatchNormalization()` between layers: in training, each batch normalised with
/// its own statistics, which move the moving averages (momentum 0.99) once the step is taken;
/// at inference, the moving averages.
impl<const N: usize, T: Real> Layer for BatchNormalization<N, T> {
    type Input = SVector<T, N>;
    type Output = SVector<T, N>;
    type Tape = BatchNormTape<N, T>;

    fn forward(
        &self,
        inputs: &[SVector<T, N>],
        tape: &mut BatchNormTape<N, T>,
        outputs: &mut Vec<SVector<T, N>>,
    ) {
        let mut moving = self.clone();
        let momentum = nalgebra::convert(Self::KERAS_MOMENTUM);
        moving.forward_training_into(inputs, momentum, &mut tape.residual, outputs);
        tape.moved = Some((moving.moving_mean, moving.moving_variance));
    }

    fn backward(
        &self,
        _: &[SVector<T, N>],
        tape: &mut BatchNormTape<N, T>,
        d_outputs: &[SVector<T, N>],
        grads: &mut Self,
        d_inputs: Option<&mut Vec<SVector<T, N>>>,
    ) {
        let BatchNormTape {
            residual,
            d_inputs: kept,
            ..
        } = tape;
        let d = d_inputs.unwrap_or(kept);
        self.backward_training_into(residual, d_outputs, grads, d)
            .expect("one adjoint per output");
    }

    fn predict(&self, input: &SVector<T, N>) -> SVector<T, N> {
        BatchNormalization::forward(self, input)
    }

    fn update(&mut self, tape: &BatchNormTape<N, T>) {
        if let Some((mean, variance)) = tape.moved {
            self.moving_mean = mean;
            self.moving_variance = variance;
        }
    }
}

/// What a [`Dense`] layer keeps from a batch: each sample's output.
pub struct DenseTape<const U: usize, T: Real> {
    outputs: Vec<super::DenseResidual<U, T>>,
}

impl<const U: usize, T: Real> Default for DenseTape<U, T> {
    fn default() -> Self {
        DenseTape {
            outputs: Vec::new(),
        }
    }
}

/// Keras's `Dense(U)` on each sample.
impl<const I: usize, const U: usize, T: Real> Layer for Dense<I, U, T> {
    type Input = SVector<T, I>;
    type Output = SVector<T, U>;
    type Tape = DenseTape<U, T>;

    fn forward(
        &self,
        inputs: &[Self::Input],
        tape: &mut DenseTape<U, T>,
        outputs: &mut Vec<Self::Output>,
    ) {
        tape.outputs.clear();
        outputs.clear();
        for x in inputs {
            let (y, residual) = self.step_forward(x, &mut (), &());
            outputs.push(y);
            tape.outputs.push(residual);
        }
    }

    fn backward(
        &self,
        inputs: &[Self::Input],
        tape: &mut DenseTape<U, T>,
        d_outputs: &[Self::Output],
        grads: &mut Self,
        mut d_inputs: Option<&mut Vec<Self::Input>>,
    ) {
        if let Some(d) = d_inputs.as_deref_mut() {
            d.clear();
        }
        for ((x, residual), dy) in inputs.iter().zip(&tape.outputs).zip(d_outputs) {
            match d_inputs.as_deref_mut() {
                Some(d) => {
                    d.push(self.step_backward(x, residual, dy, &mut (), &(), &mut (), grads))
                }
                None => {
                    self.step_backward_without_input(x, residual, dy, &mut (), &(), &mut (), grads)
                }
            }
        }
    }

    fn predict(&self, input: &Self::Input) -> Self::Output {
        self.step(input, &mut (), &())
    }
}

/// What a chain of two layers keeps: each one's tape and the values between them.
pub struct ChainTape<A: Layer, B: Layer> {
    tapes: (A::Tape, B::Tape),
    between: Vec<A::Output>,
    /// The adjoints of the values between.
    d_between: Vec<A::Output>,
}

impl<A: Layer, B: Layer> Default for ChainTape<A, B> {
    fn default() -> Self {
        ChainTape {
            tapes: Default::default(),
            between: Vec::new(),
            d_between: Vec::new(),
        }
    }
}

/// `b` after `a`, forward.
fn chain_forward<A, B>(
    (a, b): (&A, &B),
    inputs: &[A::Input],
    tape: &mut ChainTape<A, B>,
    outputs: &mut Vec<B::Output>,
) where
    A: Layer,
    B: Layer<Input = A::Output>,
{
    a.forward(inputs, &mut tape.tapes.0, &mut tape.between);
    b.forward(&tape.between, &mut tape.tapes.1, outputs);
}

/// `b` after `a`, backward: `b`'s, then `a`'s from the adjoints of the values between.
fn chain_backward<A, B>(
    (a, b): (&A, &B),
    inputs: &[A::Input],
    tape: &mut ChainTape<A, B>,
    d_outputs: &[B::Output],
    (grads_a, grads_b): (&mut A, &mut B),
    d_inputs: Option<&mut Vec<A::Input>>,
) where
    A: Layer,
    B: Layer<Input = A::Output>,
{
    let ChainTape {
        tapes: (tape_a, tape_b),
        between,
        d_between,
    } = tape;
    b.backward(between, tape_b, d_outputs, grads_b, Some(d_between));
    a.backward(inputs, tape_a, d_between, grads_a, d_inputs);
}

/// Two layers, the first's outputs the second's inputs.
impl<A, B> Layer for (A, B)
where
    A: Layer,
    B: Layer<Input = A::Output>,
{
    type Input = A::Input;
    type Output = B::Output;
    type Tape = ChainTape<A, B>;

    fn forward(
        &self,
        inputs: &[A::Input],
        tape: &mut ChainTape<A, B>,
        outputs: &mut Vec<B::Output>,
    ) {
        chain_forward((&self.0, &self.1), inputs, tape, outputs);
    }

    fn backward(
        &self,
        inputs: &[A::Input],
        tape: &mut ChainTape<A, B>,
        d_outputs: &[B::Output],
        grads: &mut Self,
        d_inputs: Option<&mut Vec<A::Input>>,
    ) {
        let (ga, gb) = grads;
        chain_backward(
            (&self.0, &self.1),
            inputs,
            tape,
            d_outputs,
            (ga, gb),
            d_inputs,
        );
    }

    fn predict(&self, input: &A::Input) -> B::Output {
        self.1.predict(&self.0.predict(input))
    }

    fn start_step(&self, tape: &mut ChainTape<A, B>, step: u64) {
        self.0.start_step(&mut tape.tapes.0, step);
        self.1.start_step(&mut tape.tapes.1, step);
    }

    fn update(&mut self, tape: &ChainTape<A, B>) {
        self.0.update(&tape.tapes.0);
        self.1.update(&tape.tapes.1);
    }
}

/// Three layers in a row.
impl<A, B, C> Layer for (A, B, C)
where
    A: Layer,
    B: Layer<Input = A::Output>,
    C: Layer<Input = B::Output>,
{
    type Input = A::Input;
    type Output = C::Output;
    type Tape = ChainTape<A, (B, C)>;

    fn forward(&self, inputs: &[A::Input], tape: &mut Self::Tape, outputs: &mut Vec<C::Output>) {
        self.0.forward(inputs, &mut tape.tapes.0, &mut tape.between);
        chain_forward(
            (&self.1, &self.2),
            &tape.between,
            &mut tape.tapes.1,
            outputs,
        );
    }

    fn backward(
        &self,
        inputs: &[A::Input],
        tape: &mut Self::Tape,
        d_outputs: &[C::Output],
        grads: &mut Self,
        d_inputs: Option<&mut Vec<A::Input>>,
    ) {
        let (ga, gb, gc) = grads;
        let ChainTape {
            tapes: (tape_a, tape_bc),
            between,
            d_between,
        } = tape;
        chain_backward(
            (&self.1, &self.2),
            between,
            tape_bc,
            d_outputs,
            (gb, gc),
            Some(d_between),
        );
        self.0.backward(inputs, tape_a, d_between, ga, d_inputs);
    }

    fn predict(&self, input: &A::Input) -> C::Output {
        self.2.predict(&self.1.predict(&self.0.predict(input)))
    }

    fn start_step(&self, tape: &mut Self::Tape, step: u64) {
        self.0.start_step(&mut tape.tapes.0, step);
        self.1.start_step(&mut tape.tapes.1.tapes.0, step);
        self.2.start_step(&mut tape.tapes.1.tapes.1, step);
    }

    fn update(&mut self, tape: &Self::Tape) {
        self.0.update(&tape.tapes.0);
        self.1.update(&tape.tapes.1.tapes.0);
        self.2.update(&tape.tapes.1.tapes.1);
    }
}
