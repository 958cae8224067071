//! Keras's `fit`, `evaluate` and `predict`: a [`Model`] (layers, a loss and an optimizer)
//! trained on minibatches, shuffled from a seed, with validation data, a progress line per
//! epoch, early stopping and checkpoints.

use alloc::string::String;
use alloc::vec::Vec;
use std::io::{IsTerminal, Write};

use nalgebra::SVector;

use super::checkpoint::{Checkpoint, Flat, OptimizerState};
use super::differentiable::set_to_zero;
use super::loss::{Loss, LossError, Reduction};
use super::optim::{Optimizer, OptimizerError, Rule};
use super::schedule::Schedule;
use super::{zeros_like, Layer};
use crate::drivers::batch::Spare;
use crate::weight_file::{self, WeightFileError};

/// A model to train: its layers (a [`Layer`], such as a tuple of layers), the loss its
/// outputs are scored with and the optimizer that updates it (Keras's `model.compile`).
///
/// ```
/// use rnn::cells::{Dense, LstmCell};
/// use rnn::ops::Activation;
/// use rnn::train::loss::SparseCategoricalCrossentropy;
/// use rnn::train::optim::{Adam, Optimizer};
/// use rnn::train::{Fit, Model, Verbosity};
/// use rnn::Rnn;
/// use nalgebra::SVector;
///
/// // Is the sum of a sequence positive? An LSTM's last output, classified.
/// let sequence = |i: usize| -> Vec<SVector<f32, 1>> {
///     (0..6).map(|t| SVector::from([((i * 7 + t * 3) % 11) as f32 / 5.0 - 1.0])).collect()
/// };
/// let x: Vec<_> = (0..64).map(sequence).collect();
/// let y: Vec<usize> = x.iter().map(|s| usize::from(s.iter().map(|v| v[0]).sum::<f32>() > 0.0)).collect();
///
/// let layers = (
///     Rnn::new(LstmCell::<1, 8>::keras_init(1)),
///     Dense::<8, 2>::keras_init(2).with_activation(Activation::Softmax),
/// );
/// let mut model = Model::new(layers, SparseCategoricalCrossentropy::default(), Optimizer::new(Adam::keras(), 0.02));
/// let history = model
///     .fit(&x, &y, &Fit { epochs: 30, batch_size: 16, verbosity: Verbosity::Silent, ..Fit::default() })
///     .unwrap();
/// assert!(history.epochs.last().unwrap().loss < history.epochs[0].loss);
/// assert!(model.evaluate(&x, &y).unwrap().accuracy.unwrap() > 0.85);
/// ```
#[derive(Clone, Debug)]
pub struct Model<L, F, R, S> {
    /// The layers, as trained so far.
    pub layers: L,
    /// The loss.
    pub loss: F,
    /// The optimizer, with its state.
    pub optimizer: Optimizer<R, S>,
}

/// How [`Model::fit`] runs (Keras's `fit` arguments).
#[derive(Clone, Debug)]
pub struct Fit {
    /// The epoch to stop before: training runs epochs `initial_epoch .. epochs`.
    pub epochs: usize,
    /// The first epoch (Keras's `initial_epoch`): a run resumed from a checkpoint taken after
    /// epoch `k` passes `k + 1` to shuffle and count as the uninterrupted run would.
    pub initial_epoch: usize,
    /// Samples per optimizer step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// The samples' order is shuffled every epoch from this seed and the epoch's number
    /// (`None`: file order).
    pub shuffle: Option<u64>,
    /// What is printed.
    pub verbosity: Verbosity,
    /// Stop when the validation loss (or, without validation data, the loss) has not improved
    /// for this many epochs, keeping the best epoch's weights (Keras's `EarlyStopping` with
    /// `restore_best_weights=True`).
    pub patience: Option<usize>,
    /// After every epoch that improves the validation loss (or, without validation data, the
    /// loss), the model and its optimizer's state are saved to this weight file (Keras's
    /// `ModelCheckpoint(save_best_only=True)`); [`Model::load_checkpoint`] resumes from it.
    pub checkpoint: Option<std::path::PathBuf>,
}

impl Default for Fit {
    /// One epoch of batches of 32, shuffled from seed 0, a progress line: Keras's defaults.
    fn default() -> Self {
        Fit {
            epochs: 1,
            initial_epoch: 0,
            batch_size: 32,
            shuffle: Some(0),
            verbosity: Verbosity::Progress,
            patience: None,
            checkpoint: None,
        }
    }
}

/// What [`Model::fit`] prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing.
    Silent,
    /// A progress bar updated every batch on a terminal, one line per epoch otherwise.
    Progress,
}

/// The metrics of one epoch: loss and accuracy on the training batches (averaged over them as
/// Keras does), and on the validation data when given.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Epoch {
    /// The mean training loss.
    pub loss: f64,
    /// The training accuracy, for classification targets.
    pub accuracy: Option<f64>,
    /// The validation loss.
    pub val_loss: Option<f64>,
    /// The validation accuracy.
    pub val_accuracy: Option<f64>,
}

/// What [`Model::fit`] returns: every epoch's metrics (Keras's `History`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One entry per epoch run.
    pub epochs: Vec<Epoch>,
    /// The epoch whose weights the model kept, when early stopping restored them.
    pub best_epoch: Option<usize>,
}

/// The loss and accuracy of a model on data ([`Model::evaluate`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// The mean loss.
    pub loss: f64,
    /// The fraction of samples whose largest output is their class, for classification
    /// targets.
    pub accuracy: Option<f64>,
}

/// Why training stopped with an error.
#[derive(Clone, Debug, PartialEq)]
pub enum FitError {
    /// A loss could not be computed (a class out of range, sizes that differ).
    Loss(LossError),
    /// The optimizer refused the gradient, or a checkpoint's state.
    Optimizer(OptimizerError),
    /// A checkpoint could not be written or read.
    Checkpoint(alloc::boxed::Box<WeightFileError>),
    /// The data: as many targets as inputs, at least one sample, a batch size above 0.
    Data {
        /// What was wrong.
        what: &'static str,
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
}

impl core::fmt::Display for FitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FitError::Loss(e) => write!(f, "loss: {e}"),
            FitError::Optimizer(e) => write!(f, "optimizer: {e}"),
            FitError::Checkpoint(e) => write!(f, "checkpoint: {e}"),
            FitError::Data {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected {expected}, found {found}"),
        }
    }
}

impl std::error::Error for FitError {}

impl From<LossError> for FitError {
    fn from(e: LossError) -> Self {
        FitError::Loss(e)
    }
}

impl From<WeightFileError> for FitError {
    fn from(e: WeightFileError) -> Self {
        FitError::Checkpoint(alloc::boxed::Box::new(e))
    }
}

impl From<OptimizerError> for FitError {
    fn from(e: OptimizerError) -> Self {
        FitError::Optimizer(e)
    }
}

/// A target that names a class, for accuracy: a class index, or a one-hot (or probability)
/// vector whose largest entry is the class.
pub trait Class {
    /// The class, if this target names one.
    fn class(&self) -> Option<usize>;
}

impl Class for usize {
    fn class(&self) -> Option<usize> {
        Some(*self)
    }
}

impl<const N: usize> Class for SVector<f32, N> {
    fn class(&self) -> Option<usize> {
        (N > 1).then(|| argmax(self))
    }
}

/// The index of the largest entry (the first of equal ones).
fn argmax<const N: usize>(v: &SVector<f32, N>) -> usize {
    (0..N).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

impl<L, F, R, S, const N: usize> Model<L, F, R, S>
where
    L: Layer<Output = SVector<f32, N>>,
    F: Loss<f32, N>,
    F::Target: Class + Clone,
    R: Rule,
    S: Schedule,
{
    /// The model of `layers`, scored by `loss`, updated by `optimizer`.
    pub fn new(layers: L, loss: F, optimizer: Optimizer<R, S>) -> Self {
        Model {
            layers,
            loss,
            optimizer,
        }
    }

    /// Trains on `x` with targets `y` as `fit` says, and returns every epoch's metrics.
    /// An error, and the model as the last good step left it, when a loss or a step fails.
    pub fn fit(&mut self, x: &[L::Input], y: &[F::Target], fit: &Fit) -> Result<History, FitError> {
        self.fit_validated(x, y, None, fit)
    }

    /// [`fit`](Model::fit), scoring `validation` (inputs, targets) after every epoch.
    #[allow(clippy::type_complexity)]
    pub fn fit_validated(
        &mut self,
        x: &[L::Input],
        y: &[F::Target],
        validation: Option<(&[L::Input], &[F::Target])>,
        fit: &Fit,
    ) -> Result<History, FitError> {
        check_data(x.len(), y.len())?;
        if fit.batch_size == 0 {
            return Err(FitError::Data {
                what: "batch size (at least 1)",
                expected: 1,
                found: 0,
            });
        }
        let mut order: Vec<usize> = Vec::with_capacity(x.len());
        let (mut tape, mut outputs, mut adjoints) = (L::Tape::default(), Vec::new(), Vec::new());
        // A batch's samples, copied into the buffers of the last batch's.
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        let (mut spare_inputs, mut spare_targets) = (Spare::new(), Spare::new());
        // The gradient of a batch, zeroed and refilled for every batch.
        let mut grads = zeros_like(&self.layers);
        let mut history = History::default();
        history
            .epochs
            .reserve(fit.epochs.saturating_sub(fit.initial_epoch));
        // The best monitored value and its epoch, and (for early stopping) its weights.
        let mut best: Option<(f64, usize)> = None;
        let mut best_layers = None;
        let batches = x.len().div_ceil(fit.batch_size);
        let mut progress = Progress::new(fit.verbosity, fit.epochs, batches);
        for epoch in fit.initial_epoch..fit.epochs {
            order.clear();
            order.extend(0..x.len());
            if let Some(seed) = fit.shuffle {
                let epoch_seed = seed ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
                SplitMix(epoch_seed).shuffle(&mut order);
            }
            let (mut loss_sum, mut correct, mut counted) = (0.0, 0usize, 0usize);
            for (b, indices) in order.chunks(fit.batch_size).enumerate() {
                gather((&mut inputs, &mut spare_inputs), x, indices);
                gather((&mut targets, &mut spare_targets), y, indices);
                // Dropout draws from the step's number, as an uninterrupted run would.
                let step = (epoch * batches + b) as u64;
                self.layers.start_step(&mut tape, step);
                self.layers.forward(&inputs, &mut tape, &mut outputs);
                adjoints.clear();
                adjoints.resize(outputs.len(), SVector::zeros());
                let loss = self.loss.batch_into(
                    &targets,
                    &outputs,
                    None,
                    Reduction::SumOverBatchSize,
                    &mut adjoints,
                )?;
                set_to_zero(&mut grads);
                self.layers
                    .backward(&inputs, &mut tape, &adjoints, &mut grads, None);
                self.optimizer.step(&mut self.layers, &grads)?;
                self.layers.update(&tape);
                loss_sum += f64::from(loss);
                for (o, t) in outputs.iter().zip(&targets) {
                    if let Some(class) = t.class() {
                        counted += 1;
                        correct += usize::from(argmax(o) == class);
                    }
                }
                let accuracy = (counted > 0).then(|| correct as f64 / counted as f64);
                progress.batch(epoch, b + 1, loss_sum / (b + 1) as f64, accuracy);
            }
            let mut logs = Epoch {
                loss: loss_sum / batches as f64,
                accuracy: (counted > 0).then(|| correct as f64 / counted as f64),
                ..Epoch::default()
            };
            if let Some((vx, vy)) = validation {
                let m = self.evaluate(vx, vy)?;
                logs.val_loss = Some(m.loss);
                logs.val_accuracy = m.accuracy;
            }
            progress.epoch(epoch, &logs);
            history.epochs.push(logs);
            let monitored = logs.val_loss.unwrap_or(logs.loss);
            if best.as_ref().is_none_or(|(value, _)| monitored < *value) {
                best = Some((monitored, epoch));
                if fit.patience.is_some() {
                    best_layers = Some(self.layers.clone());
                }
                if let Some(path) = &fit.checkpoint {
                    self.save_checkpoint(path)?;
                }
            }
            let stalled = best.as_ref().map_or(0, |(_, at)| epoch - at);
            if fit.patience.is_some_and(|patience| stalled >= patience) {
                break;
            }
        }
        if let (Some((_, at)), Some(layers)) = (best, best_layers) {
            self.layers = layers;
            history.best_epoch = Some(at);
        }
        Ok(history)
    }

    /// Saves the model and its optimizer's state (steps taken, the rule's buffers) to the
    /// weight file at `path`: the model's parameters under `model/…`, the state under
    /// `optimizer/…`.
    pub fn save_checkpoint(&mut self, path: &std::path::Path) -> Result<(), FitError> {
        let mut state = OptimizerState {
            iterations: Flat(alloc::vec![self.optimizer.iterations() as f64]),
            state: Flat(self.optimizer.state_buffer().to_vec()),
        };
        let checkpoint = Checkpoint {
            model: &mut self.layers,
            optimizer: &mut state,
        };
        weight_file::save_file(&checkpoint, path)?;
        Ok(())
    }

    /// Resumes from a checkpoint [`save_checkpoint`](Model::save_checkpoint) or `fit` wrote:
    /// the model's parameters and the optimizer's state, so that the steps that follow are
    /// those the run would have taken. An error, and nothing changed, when the file does not
    /// hold this model's shapes.
    pub fn load_checkpoint(&mut self, path: &std::path::Path) -> Result<(), FitError> {
        let slots = self.optimizer.rule().slots().len();
        let mut layers = self.layers.clone();
        let mut state = OptimizerState {
            iterations: Flat(alloc::vec![0.0]),
            state: Flat(alloc::vec![0.0; layers.count_params().saturating_mul(slots)]),
        };
        let mut checkpoint = Checkpoint {
            model: &mut layers,
            optimizer: &mut state,
        };
        weight_file::load_file(&mut checkpoint, path)?;
        let iterations = state.iterations.0[0] as u64;
        self.optimizer
            .load_state(&layers, iterations, &state.state.0)?;
        self.layers = layers;
        Ok(())
    }

    /// The mean loss and the accuracy of the model on `x` with targets `y` (inference mode).
    pub fn evaluate(&self, x: &[L::Input], y: &[F::Target]) -> Result<Metrics, FitError> {
        check_data(x.len(), y.len())?;
        let predictions = self.predict(x);
        let mut adjoints = alloc::vec![SVector::zeros(); x.len()];
        let loss = self.loss.batch_into(
            y,
            &predictions,
            None,
            Reduction::SumOverBatchSize,
            &mut adjoints,
        )?;
        let (mut correct, mut counted) = (0usize, 0usize);
        for (p, t) in predictions.iter().zip(y) {
            if let Some(class) = t.class() {
                counted += 1;
                correct += usize::from(argmax(p) == class);
            }
        }
        Ok(Metrics {
            loss: f64::from(loss),
            accuracy: (counted > 0).then(|| correct as f64 / counted as f64),
        })
    }

    /// The model's output for each input (inference mode), over the cores.
    pub fn predict(&self, x: &[L::Input]) -> Vec<SVector<f32, N>> {
        use rayon::prelude::*;
        let layers = &self.layers;
        x.par_iter().map(|input| layers.predict(input)).collect()
    }
}

/// `Ok` when there are as many targets as inputs, and some.
fn check_data(inputs: usize, targets: usize) -> Result<(), FitError> {
    if inputs != targets {
        return Err(FitError::Data {
            what: "targets (one per input)",
            expected: inputs,
            found: targets,
        });
    }
    if inputs == 0 {
        return Err(FitError::Data {
            what: "samples (at least one)",
            expected: 1,
            found: 0,
        });
    }
    Ok(())
}

/// The samples of a batch, as the layers take them (a copy: a batch is a few dozen samples).
/// A larger batch's samples set aside in `spare` are reused before any is allocated.
fn gather<T: Clone>(
    (batch, spare): (&mut Vec<T>, &mut Spare<T>),
    samples: &[T],
    indices: &[usize],
) {
    if let Some(&first) = indices.first() {
        spare.resize(batch, indices.len(), || samples[first].clone());
    } else {
        batch.clear();
    }
    for (slot, &i) in batch.iter_mut().zip(indices) {
        slot.clone_from(&samples[i]);
    }
}

/// SplitMix64: the shuffles' random numbers, the same on every platform.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates.
    fn shuffle(&mut self, order: &mut [usize]) {
        for i in (1..order.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
    }
}

/// The progress display: a bar redrawn every batch on a terminal, a line per epoch otherwise.
struct Progress {
    verbosity: Verbosity,
    terminal: bool,
    epochs: usize,
    batches: usize,
    started: std::time::Instant,
}

impl Progress {
    fn new(verbosity: Verbosity, epochs: usize, batches: usize) -> Self {
        Progress {
            verbosity,
            terminal: std::io::stdout().is_terminal(),
            epochs,
            batches,
            started: std::time::Instant::now(),
        }
    }

    fn batch(&mut self, epoch: usize, done: usize, loss: f64, accuracy: Option<f64>) {
        if self.verbosity == Verbosity::Silent || !self.terminal {
            return;
        }
        if done == 1 {
            self.started = std::time::Instant::now();
        }
        const WIDTH: usize = 30;
        let filled = done * WIDTH / self.batches.max(1);
        let bar: String = (0..WIDTH)
            .map(|i| match i.cmp(&filled) {
                core::cmp::Ordering::Less => '=',
                core::cmp::Ordering::Equal => '>',
                core::cmp::Ordering::Greater => ' ',
            })
            .collect();
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "\rEpoch {}/{} [{bar}] {done}/{} - loss: {loss:.4}{}",
            epoch + 1,
            self.epochs,
            self.batches,
            accuracy.map_or(String::new(), |a| alloc::format!(" - accuracy: {a:.4}")),
        );
        let _ = out.flush();
    }

    fn epoch(&mut self, epoch: usize, logs: &Epoch) {
        if self.verbosity == Verbosity::Silent {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let mut line = alloc::format!(
            "Epoch {}/{} - {elapsed:.1}s - loss: {:.4}",
            epoch + 1,
            self.epochs,
            logs.loss
        );
        let metrics = [
            ("accuracy", logs.accuracy),
            ("val_loss", logs.val_loss),
            ("val_accuracy", logs.val_accuracy),
        ];
        for (name, value) in metrics {
            if let Some(v) = value {
                line.push_str(&alloc::format!(" - {name}: {v:.4}"));
            }
        }
        let mut out = std::io::stdout().lock();
        let _ = if self.terminal {
            writeln!(out, "\r{line:<100}")
        } else {
            writeln!(out, "{line}")
        };
        self.started = std::time::Instant::now();
    }
}
