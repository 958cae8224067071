//! The configurations of issue 6's table, shared by the criterion benches and
//! `examples/perf_table.rs` (included from both with `#[path]`), so both time the same code.
//!
//! | name | cell | batch | I | H | T | path |
//! |---|---|---|---|---|---|---|
//! | lstm-b1-h{8,16,32,64,128} | LSTM | 1 | =H | H | 32 | `#[cell]`: `Rnn::run` |
//! | gru-b1-h32 | GRU (reset_after) | 1 | 32 | 32 | 32 | `#[cell]`: `Rnn::run` |
//! | lstm-b64-h128 | LSTM | 64 | 128 | 128 | 50 | `fused::Lstm` |
//! | lstm-b64-h256 | LSTM | 64 | 256 | 256 | 100 | `fused::Lstm` |
//! | seed-custom | seed 000's cell | 64 | 12 | 10 | 100 | `Rnn::run_batch` (one sequence per task, over cores) |
//! | seed-nested | seed 001's NestedCell | 64 | 32 / 64×32 | 10 / 20×30 | 50 | `block_unroll` over blocks of 16 sequences sharing each weight read, over cores |
#![allow(dead_code)]

use std::hint::black_box;

use rayon::prelude::*;
use rnn::cells::{Dense, GruCell, LstmCell};
use rnn::fused;
use rnn::kernels;
use rnn::prelude::*;
use rnn::weights::Weights;

/// One configuration, ready to run: `run()` computes one forward of the whole batch.
pub struct Workload {
    pub name: &'static str,
    pub batch: usize,
    pub steps: usize,
    /// Matrix-product FLOPs per sample-step (2 per multiply-add), as `tools/peers.py` counts.
    pub flops_per_step: f64,
    pub run: Box<dyn FnMut()>,
}

pub const NAMES: [&str; 10] = [
    "lstm-b1-h8",
    "lstm-b1-h16",
    "lstm-b1-h32",
    "lstm-b1-h64",
    "lstm-b1-h128",
    "gru-b1-h32",
    "lstm-b64-h128",
    "lstm-b64-h256",
    "seed-custom",
    "seed-nested",
];

pub fn build(name: &str) -> Option<Workload> {
    Some(match name {
        "lstm-b1-h8" => lstm_b1::<8>("lstm-b1-h8"),
        "lstm-b1-h16" => lstm_b1::<16>("lstm-b1-h16"),
        "lstm-b1-h32" => lstm_b1::<32>("lstm-b1-h32"),
        "lstm-b1-h64" => lstm_b1::<64>("lstm-b1-h64"),
        "lstm-b1-h128" => lstm_b1::<128>("lstm-b1-h128"),
        "gru-b1-h32" => gru_b1("gru-b1-h32"),
        "lstm-b64-h128" => lstm_fused::<128>("lstm-b64-h128", 64, 50),
        "lstm-b64-h256" => lstm_fused::<256>("lstm-b64-h256", 64, 100),
        "seed-custom" => seed_custom("seed-custom"),
        "seed-nested" => seed_nested("seed-nested", true),
        "seed-nested-per-sample" => seed_nested("seed-nested-per-sample", false),
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

fn gru_b1(name: &'static str) -> Workload {
    let rnn = Rnn::new(GruCell::<32, 32>::keras_init(1));
    let xs = sequence::<32>(32, 2);
    Workload {
        name,
        batch: 1,
        steps: 32,
        flops_per_step: (6 * 32 * 64) as f64,
        run: Box::new(move || {
            black_box(rnn.run(black_box(&xs), &()));
        }),
    }
}

fn lstm_fused<const H: usize>(name: &'static str, batch: usize, steps: usize) -> Workload {
    let cell = LstmCell::<H, H>::keras_init(1);
    let xs = values(batch * steps * H, 3);
    Workload {
        name,
        batch,
        steps,
        flops_per_step: (8 * H * (H + H)) as f64,
        run: Box::new(move || {
            black_box(fused::Lstm::new(&cell).forward(black_box(&xs), batch, None)).ok();
        }),
    }
}

// ---- seed 000 ---------------------------------------------------------------------------

pub const FEATURES: usize = 12;
pub const LATENT: usize = 8;
pub const HIDDEN: usize = 10;
pub const ARBITRARY: usize = 15;

/// Seed 000's cell, as in `examples/seed_custom_cell.rs`.
pub struct CustomMultiTimeStepGruCell {
    pub gru: GruCell<FEATURES, HIDDEN>,
    pub dense_proj: Dense<{ HIDDEN + LATENT }, HIDDEN>,
    pub other_output: Dense<FEATURES, ARBITRARY>,
}

#[cell]
impl CustomMultiTimeStepGruCell {
    fn step(
        &self,
        #[input] x: &SVector<f32, FEATURES>,
        #[state] h: &mut SVector<f32, HIDDEN>,
        #[constant] z_enc: &SVector<f32, LATENT>,
    ) -> (SVector<f32, HIDDEN>, SVector<f32, ARBITRARY>) {
        let combined: SVector<f32, { HIDDEN + LATENT }> =
            SVector::from_iterator(h.iter().chain(z_enc.iter()).copied());
        let mut special_state = self.dense_proj.forward(&combined);
        let output = self.gru.step(x, &mut special_state, &());
        *h = special_state;
        (output, self.other_output.forward(x))
    }
}

pub fn seed_custom_cell() -> CustomMultiTimeStepGruCell {
    CustomMultiTimeStepGruCell {
        gru: GruCell::keras_init(1),
        dense_proj: Dense::keras_init(2),
        other_output: Dense::keras_init(3),
    }
}

fn seed_custom(name: &'static str) -> Workload {
    let (batch, steps) = (64, 100);
    let rnn = Rnn::new(seed_custom_cell());
    let xs: Vec<Vec<SVector<f32, FEATURES>>> =
        (0..batch).map(|b| sequence(steps, 10 + b as u64)).collect();
    let z: Vec<SVector<f32, LATENT>> = (0..batch).map(|b| sequence(1, 500 + b as u64)[0]).collect();
    let (h, i, z_, a) = (HIDDEN, FEATURES, LATENT, ARBITRARY);
    Workload {
        name,
        batch,
        steps,
        flops_per_step: (2 * (h + z_) * h + 6 * h * (i + h) + 2 * i * a) as f64,
        run: Box::new(move || {
            // The library's batch driver: one sequence per task, over the cores; one z_enc
            // constant per sequence.
            let batch = rnn::Batch::new(black_box(&xs));
            black_box(rnn.run_batch(&batch, &z[..])).ok();
        }),
    }
}

// ---- seed 001 ---------------------------------------------------------------------------

pub const I1: usize = 32;
pub const U1: usize = 10;

/// Seed 001's nested input: `feature1 [32]`, `feature2 [64, 32]`.
#[derive(Clone, Debug, PartialEq, Nested)]
pub struct NestedInput {
    pub feature1: SVector<f32, I1>,
    pub feature2: SMatrix<f32, 64, 32>,
}

/// Seed 001's `NestedCell`: `o1 = x1 · kernel_1`, `o23 = einsum("ij,ijkl->kl", x2, kernel_2_3)`,
/// states `s1 += o1`, `s2 += o23`, outputs `(o1, o23)`.
///
/// `kernel_2_3 [64, 32, 20, 30]` is stored as the `[2048, 600]` matrix of the einsum, with its
/// rows in `x2`'s storage order and its columns in `s2`'s, so the product reads both as they
/// lie in memory (nalgebra matrices are column-major).
pub struct NestedCell {
    pub kernel_1: Weights<f32, I1, U1>,
    pub kernel_2_3: Weights<f32, 2048, 600>,
}

#[cell]
impl NestedCell {
    fn step(
        &self,
        #[input] x: &NestedInput,
        #[state] s1: &mut SVector<f32, U1>,
        #[state] s2: &mut SMatrix<f32, 20, 30>,
    ) -> (SVector<f32, U1>, SMatrix<f32, 20, 30>) {
        let [o1] = self.kernel_1.apply(&x.feature1);
        let mut o23 = [SVector::<f32, 600>::zeros()];
        let x2: &[f32; 2048] = x.feature2.as_slice().try_into().expect("64 × 32");
        kernels::accumulate_rows(self.kernel_2_3.rows(), x2, &mut o23);
        let o23 = SMatrix::<f32, 20, 30>::from_column_slice(o23[0].as_slice());
        *s1 += o1;
        *s2 += o23;
        (o1, o23)
    }

    /// The same step for a block of `N` samples, each weight of `kernel_2_3` read once for
    /// the whole block (bit-identical to `N` steps).
    #[inline(always)]
    fn step_block<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        states: &mut [Self::State; N],
        _: [&(); N],
    ) -> [Self::Output; N] {
        let x2: [&[f32; 2048]; N] =
            inputs.map(|x| x.feature2.as_slice().try_into().expect("64 × 32"));
        let mut o23 = [[SVector::<f32, 600>::zeros()]; N];
        kernels::accumulate_rows_block(self.kernel_2_3.rows(), x2, &mut o23);
        core::array::from_fn(|n| {
            let [o1] = self.kernel_1.apply(&inputs[n].feature1);
            let o23 = SMatrix::<f32, 20, 30>::from_column_slice(o23[n][0].as_slice());
            states[n].s1 += o1;
            states[n].s2 += o23;
            (o1, o23)
        })
    }
}

pub fn nested_cell() -> NestedCell {
    let k1 = values(I1 * U1, 21);
    let k23 = values(2048 * 600, 22);
    NestedCell {
        kernel_1: Weights::from_fn(|r, c| k1[r * U1 + c] * 0.05),
        kernel_2_3: Weights::from_fn(|r, c| k23[r * 600 + c] * 0.05),
    }
}

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
    let cell = nested_cell();
    let xs: Vec<Vec<NestedInput>> = (0..batch)
        .map(|b| nested_inputs(steps, 100 + b as u64))
        .collect();
    Workload {
        name,
        batch,
        steps,
        flops_per_step: (2 * (32 * 10 + 64 * 32 * 20 * 30)) as f64,
        run: Box::new(move || {
            if blocked {
                // Blocks of sequences over the cores; each block shares its weight reads.
                xs.par_chunks(BLOCK).for_each(|block| {
                    let inputs: [&[NestedInput]; BLOCK] = core::array::from_fn(|n| &block[n][..]);
                    let states = core::array::from_fn(|_| Nested::zeros());
                    black_box(rnn::block_unroll(&cell, inputs, states, [&(); BLOCK])).ok();
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
