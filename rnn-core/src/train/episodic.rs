//! Training on samples that hold several episodes back to back: [`Episodes`], a sample's steps
//! with their reset flags, and [`Episodic`], the recurrent layer that reads them (Haiku's
//! `hk.ResetCore` inside a model trained with [`Model::fit`](super::Model::fit)).

use alloc::vec::Vec;

use super::layer::last_output;
use super::{Differentiable, Layer, RnnTape};
use crate::drivers::batch::Batch;
use crate::drivers::rnn::Rnn;
use crate::error::SequenceError;
use crate::{Cell, Mask, Resets};

/// One sample of an [`Episodic`] layer: a sequence of steps and, for each step, whether a new
/// episode begins there (the state returns to the initial state before that step; see
/// [`Resets`]).
///
/// The flags are checked when the sample is made, so a batch of samples always fits, and
/// training and prediction on it cannot fail.
///
/// ```
/// use rnn::train::Episodes;
/// use rnn::SequenceError;
///
/// let sample = Episodes::new(vec![1.0, 2.0, 3.0], vec![false, true, false]).unwrap();
/// assert_eq!(sample.steps(), [1.0, 2.0, 3.0]);
/// // The same sample, from its episodes.
/// let joined = Episodes::concat([vec![1.0], vec![2.0, 3.0]]);
/// assert_eq!(joined.steps(), sample.steps());
/// assert_eq!(joined.resets(), [false, true, false]);
/// assert_eq!(joined, sample);
///
/// let short = Episodes::new(vec![1.0, 2.0], vec![false]);
/// assert_eq!(short, Err(SequenceError::ResetsLength { sequence: 0, expected: 2, found: 1 }));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Episodes<X> {
    steps: Vec<X>,
    resets: Vec<bool>,
}

impl<X> Episodes<X> {
    /// The sample of `steps` with one reset flag per step (`resets[t]`: an episode begins at
    /// step `t`). An error, naming both lengths, when they differ.
    pub fn new(steps: Vec<X>, resets: Vec<bool>) -> Result<Self, SequenceError> {
        Resets::Steps(&resets).check(steps.len())?;
        Ok(Episodes { steps, resets })
    }

    /// The sample of `episodes` back to back, each from the initial state: the first step of
    /// every episode after the first is flagged (the run starts from the initial state, so
    /// a sample of one episode has no flag, and a batch of such samples may run on a built-in
    /// cell's batched kernel). An empty episode adds nothing.
    pub fn concat<E: IntoIterator<Item = X>>(episodes: impl IntoIterator<Item = E>) -> Self {
        let mut sample = Episodes {
            steps: Vec::new(),
            resets: Vec::new(),
        };
        for episode in episodes {
            let start = sample.steps.len();
            sample.steps.extend(episode);
            sample.resets.resize(sample.steps.len(), false);
            if let Some(first) = sample.resets.get_mut(start).filter(|_| start > 0) {
                *first = true;
            }
        }
        sample
    }

    /// The steps, in time order.
    pub fn steps(&self) -> &[X] {
        &self.steps
    }

    /// One flag per step: whether an episode begins there.
    pub fn resets(&self) -> &[bool] {
        &self.resets
    }

    /// The steps and the flags.
    pub fn into_parts(self) -> (Vec<X>, Vec<bool>) {
        (self.steps, self.resets)
    }
}

/// The steps, as a batch reads a sequence.
impl<X> AsRef<[X]> for Episodes<X> {
    fn as_ref(&self) -> &[X] {
        &self.steps
    }
}

/// A recurrent layer whose samples hold several episodes back to back ([`Episodes`]): the
/// layer of [`Rnn`] (each sample's last output, from the cell's initial state), with the
/// state returned to the initial state at every step a sample flags, as
/// [`Rnn::run_with_resets`] and [`Batch::resets`] do. So [`Model::fit`](super::Model::fit),
/// `evaluate` and `predict` train on and score such samples; the gradients stop at each
/// reset, as if the episodes were samples of their own whose outputs only the last one's
/// last step reaches.
///
/// A wrapper rather than another layer of `Rnn`, because a layer has one kind of sample:
/// `Rnn`'s is a plain sequence. Its parameters are the cell's, at the cell's paths, so a
/// checkpoint of one loads into the other. A batch with a reset trains on the loop per
/// sequence (the batched kernel does not reset); one without, as `Rnn`'s layer does. Each
/// forward and backward lists the samples' flags, one small allocation per batch.
///
/// ```
/// use rnn::cells::{Dense, SimpleRnnCell};
/// use rnn::train::{Episodes, Episodic, Layer};
/// use rnn::Rnn;
/// use nalgebra::SVector;
///
/// let rnn = Rnn::new(SimpleRnnCell::<1, 3>::keras_init(1));
/// let model = (Episodic::new(rnn.clone()), Dense::<3, 2>::keras_init(2));
/// let x = |v: f32| SVector::from([v]);
/// // Two episodes; the layer's output is the second one's last.
/// let sample = Episodes::concat([vec![x(1.0), x(2.0)], vec![x(-1.0), x(0.5)]]);
/// let alone = rnn.run(&[x(-1.0), x(0.5)], &());
/// assert_eq!(model.0.predict(&sample), alone.outputs[1]);
///
/// let (mut tape, mut outputs) = (Default::default(), Vec::new());
/// model.forward(std::slice::from_ref(&sample), &mut tape, &mut outputs);
/// assert_eq!(outputs[0], model.predict(&sample));
///
/// // Trained as any layer: `fit`, `evaluate` and `predict` take such samples.
/// use rnn::ops::Activation;
/// use rnn::train::loss::SparseCategoricalCrossentropy;
/// use rnn::train::optim::{Adam, Optimizer};
/// use rnn::train::{Fit, Model, Verbosity};
/// let layers = (model.0, model.1.with_activation(Activation::Softmax));
/// let loss = SparseCategoricalCrossentropy::default();
/// let mut model = Model::new(layers, loss, Optimizer::new(Adam::keras(), 0.05));
/// let (x, y) = (vec![sample; 4], vec![1; 4]);
/// let fit = Fit { epochs: 5, batch_size: 2, verbosity: Verbosity::Silent, ..Fit::default() };
/// let history = model.fit(&x, &y, &fit).unwrap();
/// assert!(history.epochs[4].loss < history.epochs[0].loss);
/// assert_eq!(model.predict(&x).len(), 4);
/// ```
#[derive(Clone, Debug, crate::Parameters)]
#[parameters(crate = crate)]
pub struct Episodic<C> {
    #[parameters(flatten)]
    rnn: Rnn<C>,
}

impl<C: Cell> Episodic<C> {
    /// The layer of `rnn` (its cell, padding and dropout) on samples with resets.
    pub fn new(rnn: Rnn<C>) -> Self {
        Episodic { rnn }
    }

    /// The wrapped `Rnn`.
    pub fn rnn(&self) -> &Rnn<C> {
        &self.rnn
    }

    /// Unwraps the `Rnn`.
    pub fn into_rnn(self) -> Rnn<C> {
        self.rnn
    }
}

/// Each sample's resets, as a batch reads them.
fn resets<X>(samples: &[Episodes<X>]) -> Vec<Resets<'_>> {
    samples.iter().map(|s| Resets::Steps(&s.resets)).collect()
}

/// The layer of [`Rnn`] on [`Episodes`]: each sample's last output, the state reset where the
/// sample says.
impl<C> Layer for Episodic<C>
where
    C: Differentiable + Clone + Send + Sync,
    C::Input: Clone + Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Constants: Default + Send + Sync,
    C::Residual: Send + Sync,
{
    type Input = Episodes<C::Input>;
    type Output = C::Output;
    type Tape = RnnTape<C>;

    fn forward(
        &self,
        inputs: &[Episodes<C::Input>],
        tape: &mut RnnTape<C>,
        outputs: &mut Vec<C::Output>,
    ) {
        let resets = resets(inputs);
        let batch = Batch::new(inputs).resets(&resets[..]);
        self.rnn.forward_last_outputs(&batch, tape, outputs);
    }

    /// The inputs' adjoints, when asked, carry the samples' flags.
    fn backward(
        &self,
        inputs: &[Episodes<C::Input>],
        tape: &mut RnnTape<C>,
        d_outputs: &[C::Output],
        grads: &mut Self,
        d_inputs: Option<&mut Vec<Episodes<C::Input>>>,
    ) {
        let resets = resets(inputs);
        let batch = Batch::new(inputs).resets(&resets[..]);
        let wanted = d_inputs.is_some();
        let g = (self.rnn).backward_last_outputs(&batch, tape, (d_outputs, wanted), &mut grads.rnn);
        if let Some(d) = d_inputs {
            d.clear();
            d.extend(g.inputs.iter().zip(inputs).map(|(steps, sample)| Episodes {
                steps: steps.clone(),
                resets: sample.resets.clone(),
            }));
        }
    }

    fn predict(&self, input: &Episodes<C::Input>) -> C::Output {
        let constants = C::Constants::default();
        let initial = self.rnn.cell().initial_state(&constants);
        let run = self
            .rnn
            .run_with_resets(&input.steps, Mask::All, &input.resets, initial, &constants)
            .expect("the sample's flags were checked when it was made");
        last_output(&run.outputs)
    }

    /// As [`Rnn`]'s layer: the step's batch draws its dropout masks as the `step`-th batch.
    fn start_step(&self, tape: &mut RnnTape<C>, step: u64) {
        self.rnn.start_step(tape, step);
    }
}
