//! The configurations of the performance table, shared by the criterion benches and
//! `examples/perf_table.rs` (included from both with `#[path]`), so both time the same code.
//!
//! | name | cell | batch | I | H | T | path |
//! |---|---|---|---|---|---|---|
//! | lstm-b1-h{8,16,32,64,128} | LSTM | 1 | =H | H | 32 | `#[cell]`: `Rnn::run` |
//! | lstm-fused-b1-h{8,16,32,64,128} | LSTM | 1 | =H | H | 32 | `fused::Lstm::forward_into` (sample by sample below batch 4; the layer built once, the previous call's buffers refilled) |
//! | gru-b1-h32 | GRU (reset_after) | 1 | 32 | 32 | 32 | `#[cell]`: `Rnn::run` |
//! | gru-fused-b1-h32 | GRU (reset_after) | 1 | 32 | 32 | 32 | `fused::Gru::forward_into` (as the fused LSTM rows) |
//! | lstm-b64-h128 | LSTM | 64 | 128 | 128 | 50 | `fused::Lstm::forward_into` (as above) |
//! | lstm-b64-h256 | LSTM | 64 | 256 | 256 | 100 | `fused::Lstm::forward_into` (as above) |
//! | train-lstm-b1-h32, -b32-h64, -b64-h128 | LSTM | 1, 32, 64 | =H | 32, 64, 128 | 32, 32, 50 | one training step through `train::Layer` (forward, backward, Adam): the last output against zeros, mean squared error |
//! | train-gru-b32-h64 | GRU | 32 | 64 | 64 | 32 | as the LSTM training rows |
//! | train-digits-b32 | LSTM(64) → BatchNormalization → Dense(10, softmax) | 32 | 8 | 64 | 8 | one training step of the digits model, sparse categorical cross-entropy |
//! | lstm-rnn-b64-h{128,256} | LSTM | 64 | =H | H | 50, 100 | `Rnn::run_batch_into` on the built-in cell (lowered to the batched kernel; the previous call's buffers refilled) |
//! | seed-custom | the custom decoder cell | 64 | 12 | 10 | 100 | `Rnn::run_batch_into` (one sequence per task, over cores; the outputs go into the previous call's buffers, as in a serving loop; `seed-custom-run-batch` allocates them anew with `Rnn::run_batch`) |
//! | seed-nested | the guide's NestedCell | 64 | 32 / 64×32 | 10 / 20×30 | 50 | `block_unroll_into` over blocks of 16 sequences sharing each weight read, over cores, refilling the previous call's output buffers |
//! | train-seed-custom-b64 | the custom decoder cell | 64 | 12 | 10 | 100 | one training step of its generated backward (`run_batch_taped_into`, `backward_batch_into`, Adam): every output of both kinds against zeros, mean squared error |
//! | train-seed-nested-b64 | the guide's NestedCell | 64 | 32 / 64×32 | 10 / 20×30 | 50 | as `train-seed-custom-b64`, the final states against zeros |
#![allow(dead_code)]

use std::hint::black_box;

use rayon::prelude::*;
use rnn::cells::{GruCell, LstmCell};
use rnn::fused;
use rnn::prelude::*;

/// One configuration, ready to run: `run()` computes one forward of the whole batch.
pub struct Workload {
    pub name: &'static str,
    pub batch: usize,
    pub steps: usize,
    /// Matrix-product FLOPs per sample-step (2 per multiply-add), as `tools/peers.py` counts.
    pub flops_per_step: f64,
    pub run: Box<dyn FnMut()>,
}

pub const NAMES: [&str; 25] = [
    "lstm-b1-h8",
    "lstm-b1-h16",
    "lstm-b1-h32",
    "lstm-b1-h64",
    "lstm-b1-h128",
    "lstm-fused-b1-h8",
    "lstm-fused-b1-h16",
    "lstm-fused-b1-h32",
    "lstm-fused-b1-h64",
    "lstm-fused-b1-h128",
    "gru-b1-h32",
    "gru-fused-b1-h32",
    "lstm-b64-h128",
    "lstm-b64-h256",
    "lstm-rnn-b64-h128",
    "lstm-rnn-b64-h256",
    "seed-custom",
    "seed-nested",
    "train-lstm-b1-h32",
    "train-lstm-b32-h64",
    "train-lstm-b64-h128",
    "train-gru-b32-h64",
    "train-digits-b32",
    "train-seed-custom-b64",
    "train-seed-nested-b64",
];

pub fn build(name: &str) -> Option<Workload> {
    Some(match name {
        "lstm-b1-h8" => lstm_b1::<8>("lstm-b1-h8"),
        "lstm-b1-h16" => lstm_b1::<16>("lstm-b1-h16"),
        "lstm-b1-h32" => lstm_b1::<32>("lstm-b1-h32"),
        "lstm-b1-h64" => lstm_b1::<64>("lstm-b1-h64"),
        "lstm-b1-h128" => lstm_b1::<128>("lstm-b1-h128"),
        "lstm-fused-b1-h8" => lstm_fused::<8>("lstm-fused-b1-h8", 1, 32),
        "lstm-fused-b1-h16" => lstm_fused::<16>("lstm-fused-b1-h16", 1, 32),
        "lstm-fused-b1-h32" => lstm_fused::<32>("lstm-fused-b1-h32", 1, 32),
        "lstm-fused-b1-h64" => lstm_fused::<64>("lstm-fused-b1-h64", 1, 32),
        "lstm-fused-b1-h128" => lstm_fused::<128>("lstm-fused-b1-h128", 1, 32),
        "gru-b1-h32" => gru_b1("gru-b1-h32"),
        "gru-fused-b1-h32" => gru_fused_b1("gru-fused-b1-h32"),
        "lstm-b64-h128" => lstm_fused::<128>("lstm-b64-h128", 64, 50),
        "lstm-b64-h256" => lstm_fused::<256>("lstm-b64-h256", 64, 100),
        "lstm-rnn-b64-h128" => lstm_rnn_batch::<128>("lstm-rnn-b64-h128", 64, 50),
        "lstm-rnn-b64-h256" => lstm_rnn_batch::<256>("lstm-rnn-b64-h256", 64, 100),
        "seed-custom" => seed_custom("seed-custom", true),
        "seed-custom-run-batch" => seed_custom("seed-custom-run-batch", false),
        "seed-nested" => seed_nested("seed-nested", true),
        "seed-nested-per-sample" => seed_nested("seed-nested-per-sample", false),
        "train-lstm-b1-h32" => {
            train_rnn::<_, 32, 32>("train-lstm-b1-h32", LstmCell::keras_init(1), 1, 32)
        }
        "train-lstm-b32-h64" => {
            train_rnn::<_, 64, 64>("train-lstm-b32-h64", LstmCell::keras_init(1), 32, 32)
        }
        "train-lstm-b64-h128" => {
            train_rnn::<_, 128, 128>("train-lstm-b64-h128", LstmCell::keras_init(1), 64, 50)
        }
        "train-gru-b32-h64" => {
            train_rnn::<_, 64, 64>("train-gru-b32-h64", GruCell::keras_init(1), 32, 32)
        }
        "train-digits-b32" => train_digits("train-digits-b32"),
        "train-seed-custom-b64" => train_seed_custom("train-seed-custom-b64"),
        "train-seed-nested-b64" => train_seed_nested("train-seed-nested-b64"),
        _ => return None,
    })
}

/// Deterministic inputs in [-1, 1).
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

pub fn sequence<const N: usize>(t: usize, seed: u64) -> Vec<SVector<f32, N>> {
    values(t * N, seed)
        .chunks_exact(N)
        .map(SVector::from_column_slice)
        .collect()
}

fn lstm_b1<const H: usize>(name: &'static str) -> Workload {
    let rnn = Rnn::new(LstmCell::<H, H>::keras_init(1));
    let xs = sequence::<H>(32, 2);
    Workload {
        name,
        batch: 1,
        steps: 32,
        flops_per_step: (8 * H * (H + H)) as f64,
        run: Box::new(move || {
            black_box(rnn.run(black_box(&xs), &()));
        }),
    }
}

/// A GRU at batch 1, I = H = 32, over 32 steps, run by `run`.
fn gru_b1_workload(name: &'static str, run: Box<dyn FnMut()>) -> Workload {
    Workload {
        name,
        batch: 1,
        steps: 32,
        flops_per_step: (6 * 32 * 64) as f64,
        run,
    }
}

fn gru_b1(name: &'static str) -> Workload {
    let rnn = Rnn::new(GruCell::<32, 32>::keras_init(1));
    let xs = sequence::<32>(32, 2);
    gru_b1_workload(
        name,
        Box::new(move || {
            black_box(rnn.run(black_box(&xs), &()));
        }),
    )
}

/// `gru-b1-h32` through [`fused::Gru::forward_into`], built once (see [`lstm_fused`]).
fn gru_fused_b1(name: &'static str) -> Workload {
    let cell: &'static GruCell<32, 32> = Box::leak(Box::new(GruCell::keras_init(1)));
    let gru = fused::Gru::new(cell);
    let xs = values(32 * 32, 2);
    let mut out = fused::Output::default();
    gru_b1_workload(
        name,
        Box::new(move || {
            gru.forward_into(black_box(&xs), 1, None, &mut out)
                .expect("the inputs are [B, T, I]");
            black_box(&out);
        }),
    )
}

/// The layer is built once and each call refills the previous call's buffers
/// ([`fused::Lstm::forward_into`], no allocation per call), as a serving loop runs it; the
/// first call packs the weights for the GEMMs, as PyTorch's `nn.LSTM` keeps its weights flat.
fn lstm_fused<const H: usize>(name: &'static str, batch: usize, steps: usize) -> Workload {
    // Leaked so that the layer, which borrows the cell, can live in the `'static` closure.
    let cell: &'static LstmCell<H, H> = Box::leak(Box::new(LstmCell::keras_init(1)));
    let lstm = fused::Lstm::new(cell);
    let xs = values(batch * steps * H, 3);
    let mut out = fused::LstmOutput::default();
    Workload {
        name,
        batch,
        steps,
        flops_per_step: (8 * H * (H + H)) as f64,
        run: Box::new(move || {
            lstm.forward_into(black_box(&xs), batch, None, &mut out)
                .expect("the inputs are [B, T, I]");
            black_box(&out);
        }),
    }
}

/// The built-in cell through [`Rnn::run_batch_into`], as a user runs a batch: the `Rnn`
/// lowers it onto the batched kernel (packing the weights on every call, into buffers the
/// previous call left), and each call refills the previous call's outputs.
fn lstm_rnn_batch<const H: usize>(name: &'static str, batch: usize, steps: usize) -> Workload {
    let rnn = Rnn::new(LstmCell::<H, H>::keras_init(1));
    let xs: Vec<Vec<SVector<f32, H>>> = values(batch * steps * H, 3)
        .chunks_exact(steps * H)
        .map(|x| x.chunks_exact(H).map(SVector::from_column_slice).collect())
        .collect();
    let mut out = rnn::BatchRun::default();
    Workload {
        name,
        batch,
        steps,
        flops_per_step: (8 * H * (H + H)) as f64,
        run: Box::new(move || {
            rnn.run_batch_into(&rnn::Batch::new(black_box(&xs)), &(), &mut out)
                .expect("one mask per sequence");
            black_box(&out);
        }),
    }
}

// ---- training ------------------------------------------------------------------------------

/// What a training step writes into, kept from step to step: the tape, the outputs, their
/// adjoints and the gradient value.
type StepBuffers<'a, L, const N: usize> = (
    &'a mut <L as rnn::train::Layer>::Tape,
    &'a mut Vec<SVector<f32, N>>,
    &'a mut Vec<SVector<f32, N>>,
    &'a mut L,
);

/// One training step of `layers` on `batch` (forward, the loss's adjoints, backward, an Adam
/// step), as `Model::fit` runs each batch (but for the gradient value, see below).
fn train_step<L, F, const N: usize>(
    layers: &mut L,
    (inputs, targets): (&[L::Input], &[F::Target]),
    loss: &F,
    optimizer: &mut rnn::train::optim::Optimizer<rnn::train::optim::Adam>,
    (tape, outputs, adjoints, grads): StepBuffers<'_, L, N>,
) where
    L: rnn::train::Layer<Output = SVector<f32, N>>,
    F: rnn::train::loss::Loss<f32, N>,
{
    use rnn::train::loss::Reduction;
    layers.forward(inputs, tape, outputs);
    adjoints.clear();
    adjoints.resize(outputs.len(), SVector::zeros());
    loss.batch_into(
        targets,
        outputs,
        None,
        Reduction::SumOverBatchSize,
        adjoints,
    )
    .expect("one target per output");
    // The gradient value zeroed in place, as `fit` does.
    rnn::train::set_to_zero(grads);
    layers.backward(inputs, tape, adjoints, grads, None);
    optimizer
        .step(layers, grads)
        .expect("a gradient of the model's shape");
    layers.update(tape);
}

/// Training an `Rnn` of `cell` (its last output against zeros, mean squared error) on `batch`
/// sequences of `steps`: PyTorch's `nn.LSTM`/`nn.GRU` forward, `loss.backward()` and
/// `Adam.step()` on the same shapes.
fn train_rnn<C, const I: usize, const H: usize>(
    name: &'static str,
    cell: C,
    batch: usize,
    steps: usize,
) -> Workload
where
    C: rnn::train::Differentiable<
            Input = SVector<f32, I>,
            Output = SVector<f32, H>,
            Constants = (),
        > + Clone
        + Send
        + Sync
        + 'static,
    C::State: Send + Sync,
    C::Residual: Send + Sync,
{
    use rnn::train::loss::MeanSquaredError;
    use rnn::train::optim::{Adam, Optimizer};
    let mut layers = Rnn::new(cell);
    let x: Vec<Vec<SVector<f32, I>>> = (0..batch).map(|b| sequence(steps, 20 + b as u64)).collect();
    let y = vec![SVector::<f32, H>::zeros(); batch];
    let mut optimizer = Optimizer::new(Adam::keras(), 1e-3);
    let (mut tape, mut outputs, mut adjoints) = (Default::default(), Vec::new(), Vec::new());
    let mut grads = rnn::train::zeros_like(&layers);
    let gates = if name.contains("gru") { 3 } else { 4 };
    Workload {
        name,
        batch,
        steps,
        // Forward, then the backward's two products per forward product.
        flops_per_step: (3 * 2 * gates * H * (I + H)) as f64,
        run: Box::new(move || {
            train_step(
                &mut layers,
                (&x, &y),
                &MeanSquaredError,
                &mut optimizer,
                (&mut tape, &mut outputs, &mut adjoints, &mut grads),
            );
        }),
    }
}

/// The digits model (`LSTM(64) → BatchNormalization → Dense(10, softmax)`) trained on a batch
/// of 32 images of 8 rows.
fn train_digits(name: &'static str) -> Workload {
    use rnn::cells::{BatchNormalization, Dense};
    use rnn::ops::Activation;
    use rnn::train::loss::SparseCategoricalCrossentropy;
    use rnn::train::optim::{Adam, Optimizer};
    let (batch, steps) = (32, 8);
    let mut layers = (
        Rnn::new(LstmCell::<8, 64>::keras_init(1)),
        BatchNormalization::<64>::identity(),
        Dense::<64, 10>::keras_init(2).with_activation(Activation::Softmax),
    );
    let x: Vec<Vec<SVector<f32, 8>>> = (0..batch).map(|b| sequence(steps, 40 + b as u64)).collect();
    let y: Vec<usize> = (0..batch).map(|b| b % 10).collect();
    let loss = SparseCategoricalCrossentropy::default();
    let mut optimizer = Optimizer::new(Adam::keras(), 1e-3);
    let (mut tape, mut outputs, mut adjoints) = (Default::default(), Vec::new(), Vec::new());
    let mut grads = rnn::train::zeros_like(&layers);
    Workload {
        name,
        batch,
        steps,
        flops_per_step: (3 * 2 * 4 * 64 * (8 + 64)) as f64,
        run: Box::new(move || {
            train_step(
                &mut layers,
                (&x, &y),
                &loss,
                &mut optimizer,
                (&mut tape, &mut outputs, &mut adjoints, &mut grads),
            );
        }),
    }
}

// ---- the custom decoder ---------------------------------------------------------------------------

/// The custom decoder cell, the one `examples/seed_custom_cell.rs` runs.
#[path = "../../examples/common/custom_cell.rs"]
mod custom_cell;

pub use custom_cell::{CustomMultiTimeStepGruCell, ARBITRARY, FEATURES, HIDDEN, LATENT};

/// `reuse`: [`Rnn::run_batch_into`] into the previous call's buffers, as a serving loop runs
/// (no allocation per call); else [`Rnn::run_batch`], which allocates every sequence's
/// outputs anew (and glibc returns that memory to the kernel in between: page faults).
fn seed_custom(name: &'static str, reuse: bool) -> Workload {
    let (batch, steps) = (64, 100);
    let rnn = Rnn::new(CustomMultiTimeStepGruCell::keras_init());
    let xs: Vec<Vec<SVector<f32, FEATURES>>> =
        (0..batch).map(|b| sequence(steps, 10 + b as u64)).collect();
    let z: Vec<SVector<f32, LATENT>> = (0..batch).map(|b| sequence(1, 500 + b as u64)[0]).collect();
    let (h, i, z_, a) = (HIDDEN, FEATURES, LATENT, ARBITRARY);
    let mut out = rnn::BatchRun::default();
    Workload {
        name,
        batch,
        steps,
        flops_per_step: (2 * (h + z_) * h + 6 * h * (i + h) + 2 * i * a) as f64,
        run: Box::new(move || {
            // The library's batch driver: one sequence per task, over the cores; one z_enc
            // constant per sequence.
            let batch = rnn::Batch::new(black_box(&xs));
            if reuse {
                rnn.run_batch_into(&batch, &z[..], &mut out).ok();
                black_box(&out);
            } else {
                black_box(rnn.run_batch(&batch, &z[..])).ok();
            }
        }),
    }
}

// ---- the nested cell -----------------------------------------------------------------------------

/// The guide's `NestedCell`, the one `examples/seed_nested_cell.rs` runs (with its block step).
#[path = "../../examples/common/nested_cell.rs"]
mod nested_cell;

pub use nested_cell::{NestedCell, NestedInput};

pub fn nested_inputs(steps: usize, seed: u64) -> Vec<NestedInput> {
    let v = values(steps * (32 + 2048), seed);
    v.chunks_exact(32 + 2048)
        .map(|c| NestedInput {
            feature1: SVector::from_column_slice(&c[..32]),
            feature2: SMatrix::from_column_slice(&c[32..]),
        })
        .collect()
}

/// Block size of the blocked NestedCell driver.
pub const BLOCK: usize = 16;

fn seed_nested(name: &'static str, blocked: bool) -> Workload {
    let (batch, steps) = (64, 50);
    let cell = NestedCell::new(1);
    let xs: Vec<Vec<NestedInput>> = (0..batch)
        .map(|b| nested_inputs(steps, 100 + b as u64))
        .collect();
    let mut outputs: Vec<[rnn::Sequence<_>; BLOCK]> = (0..batch / BLOCK)
        .map(|_| core::array::from_fn(|_| rnn::Sequence(Vec::new())))
        .collect();
    Workload {
        name,
        batch,
        steps,
        flops_per_step: (2 * (32 * 10 + 64 * 32 * 20 * 30)) as f64,
        run: Box::new(move || {
            if blocked {
                // Blocks of sequences over the cores; each block shares its weight reads and
                // refills its output buffers from the previous call, as a serving loop would.
                xs.par_chunks(BLOCK)
                    .zip(outputs.par_iter_mut())
                    .for_each(|(block, outputs)| {
                        let inputs: [&[NestedInput]; BLOCK] =
                            core::array::from_fn(|n| &block[n][..]);
                        let mut states = core::array::from_fn(|_| Nested::zeros());
                        rnn::block_unroll_into(&cell, inputs, &mut states, [&(); BLOCK], outputs)
                            .ok();
                        black_box((&states, &*outputs));
                    });
            } else {
                let rnn = Rnn::new(&cell);
                xs.par_iter().for_each(|xs| {
                    black_box(rnn.run(black_box(xs), &()));
                });
            }
        }),
    }
}

// ---- training the seed cells ------------------------------------------------------------------

/// One training step of a custom cell on a batch through the batch API its generated backward
/// plugs into: the taped forward, the loss's adjoints (`adjoints` fills them from the run),
/// the backward, and an Adam step on the cell. The tape, run and gradients are kept from step
/// to step, as a training loop keeps them.
struct CellTraining<C: rnn::train::Differentiable> {
    /// `None` only while the optimizer updates the cell.
    rnn: Option<Rnn<C>>,
    optimizer: rnn::train::optim::Optimizer<rnn::train::optim::Adam>,
    tape: rnn::train::BatchTape<C::Residual>,
    run: rnn::BatchRun<C::Output, C::State>,
    d_outputs: Vec<Vec<C::Output>>,
    d_states: Vec<C::State>,
    grads: rnn::train::BatchGradients<C>,
}

impl<C> CellTraining<C>
where
    C: rnn::train::Differentiable + Clone + Send + Sync,
    C::Input: Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Constants: Send + Sync,
    C::Residual: Send + Sync,
{
    fn new(cell: C) -> Self {
        use rnn::train::optim::{Adam, Optimizer};
        CellTraining {
            // The batch is data, as the peers' inputs, which require no gradient.
            grads: rnn::train::BatchGradients::new(&cell).without_input_adjoints(),
            rnn: Some(Rnn::new(cell)),
            optimizer: Optimizer::new(Adam::keras(), 1e-3),
            tape: Default::default(),
            run: Default::default(),
            d_outputs: Vec::new(),
            d_states: Vec::new(),
        }
    }

    /// `adjoints(run, d_outputs, d_states)` writes the loss's adjoints, shaped like the run.
    fn step(
        &mut self,
        xs: &[Vec<C::Input>],
        constants: &[C::Constants],
        adjoints: impl Fn(&rnn::BatchRun<C::Output, C::State>, &mut [Vec<C::Output>], &mut [C::State]),
    ) {
        let rnn = self.rnn.as_ref().expect("the cell is back after each step");
        let batch = rnn::Batch::new(xs);
        rnn.run_batch_taped_into(&batch, constants, &mut self.tape, &mut self.run)
            .expect("one constant per sequence");
        self.d_outputs.resize_with(xs.len(), Vec::new);
        for (d, x) in self.d_outputs.iter_mut().zip(xs) {
            d.resize(x.len(), rnn::Nested::zeros());
        }
        self.d_states.resize(xs.len(), rnn::Nested::zeros());
        adjoints(&self.run, &mut self.d_outputs, &mut self.d_states);
        rnn.backward_batch_into(
            &self.tape,
            &batch,
            (&self.d_outputs[..], &self.d_states[..]),
            constants,
            &mut self.grads,
        )
        .expect("the taped batch");
        let mut cell = self.rnn.take().expect("taken above").into_cell();
        self.optimizer
            .step(&mut cell, &self.grads.parameters)
            .expect("a gradient of the cell's shape");
        self.rnn = Some(Rnn::new(cell));
    }
}

/// The custom decoder trained at batch 64 over 100 steps, each sequence with its own `z_enc`:
/// the loss is the mean squared error of every output (both kinds) against zeros, as PyTorch's
/// `(outputs**2).mean() + (others**2).mean()`.
fn train_seed_custom(name: &'static str) -> Workload {
    let (batch, steps) = (64, 100);
    let xs: Vec<Vec<SVector<f32, FEATURES>>> =
        (0..batch).map(|b| sequence(steps, 10 + b as u64)).collect();
    let z: Vec<SVector<f32, LATENT>> = (0..batch).map(|b| sequence(1, 500 + b as u64)[0]).collect();
    let mut training = CellTraining::new(CustomMultiTimeStepGruCell::keras_init());
    let (h, i, z_, a) = (HIDDEN, FEATURES, LATENT, ARBITRARY);
    let (scale_h, scale_a) = (
        2.0 / (batch * steps * h) as f32,
        2.0 / (batch * steps * a) as f32,
    );
    Workload {
        name,
        batch,
        steps,
        // Forward, then the backward's two products per forward product.
        flops_per_step: (3 * (2 * (h + z_) * h + 6 * h * (i + h) + 2 * i * a)) as f64,
        run: Box::new(move || {
            training.step(&xs, &z, |run, d_outputs, _| {
                for (d, ys) in d_outputs.iter_mut().zip(run.outputs.iter()) {
                    for ((dh, da), (y, extra)) in d.iter_mut().zip(ys.iter()) {
                        *dh = y * scale_h;
                        *da = extra * scale_a;
                    }
                }
            });
        }),
    }
}

/// The guide's NestedCell trained at batch 64 over 50 steps: the loss is the mean squared
/// error of the final states against zeros, so that every step's product reaches it, as
/// PyTorch's `(s1**2).mean() + (s2**2).mean()`.
fn train_seed_nested(name: &'static str) -> Workload {
    let (batch, steps) = (64, 50);
    let xs: Vec<Vec<NestedInput>> = (0..batch)
        .map(|b| nested_inputs(steps, 100 + b as u64))
        .collect();
    let mut training = CellTraining::new(NestedCell::new(1));
    let constants = vec![(); batch];
    let (scale_1, scale_2) = (2.0 / (batch * 10) as f32, 2.0 / (batch * 600) as f32);
    Workload {
        name,
        batch,
        steps,
        flops_per_step: (3 * 2 * (32 * 10 + 64 * 32 * 20 * 30)) as f64,
        run: Box::new(move || {
            training.step(&xs, &constants, |run, _, d_states| {
                for (d, s) in d_states.iter_mut().zip(&run.states) {
                    d.state1 = s.state1 * scale_1;
                    d.state2 = s.state2 * scale_2;
                }
            });
        }),
    }
}
