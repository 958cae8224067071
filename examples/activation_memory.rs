//! The activation memory of training: the bytes each layer stores per sample-step for its
//! backward, on the loop per sequence (a `Tape` step: the cell's residual and the timestep it
//! read) and on the batched kernel (the kernel's record of the gates, the outputs and the
//! gathered inputs), for `f32` at `I` inputs and `H` units.
//!
//! ```text
//! cargo run --example activation_memory
//! ```
//!
//! The loop's figures are `size_of` of what a step records; the batched kernel's are the
//! widths it records per sample-step. `tests/activation_memory.rs` measures both (the heap a
//! tape holds, per sample-step added) and pins them to these formulas.

use std::mem::size_of;

use rnn::nalgebra::SVector;
use rnn::train::{DenseResidual, GruResidual, LstmResidual};
use rnn::train::{SimpleRnnResidual, Tape};

const I: usize = 8;
const H: usize = 64;
/// A `Dense` layer's units.
const U: usize = 10;
const F32: usize = size_of::<f32>();

fn main() {
    println!("Bytes stored for the backward per sample-step, f32, I = {I}, H = {H}");
    println!("(a Dense with {U} units; a BatchNormalization of {H} features).");
    println!();
    println!("| layer | path | what is stored | bytes | in f32 |");
    println!("|---|---|---|---:|---:|");
    let row = |layer: &str, path: &str, what: &str, bytes: usize| {
        println!(
            "| {layer} | {path} | {what} | {bytes} | {:.1} |",
            bytes as f64 / F32 as f64
        );
    };
    let step = "residual + timestep (padded)";
    row(
        "LSTM",
        "loop per sequence",
        &format!("{step}: h, c before; i f g o, act(c') = 7H"),
        Tape::<LstmResidual<H>>::STEP_BYTES,
    );
    row(
        "LSTM",
        "batched kernel",
        "i f g o, c' = 5H; output H; input I",
        (5 * H + H + I) * F32,
    );
    for variant in ["reset_after", "reset_before"] {
        row(
            &format!("GRU ({variant})"),
            "loop per sequence",
            &format!("{step}: h before; z r h̃, recurrent candidate = 5H"),
            Tape::<GruResidual<H>>::STEP_BYTES,
        );
        row(
            &format!("GRU ({variant})"),
            "batched kernel",
            "z r h̃, recurrent candidate = 4H; output H; input I",
            (4 * H + H + I) * F32,
        );
    }
    row(
        "SimpleRNN",
        "loop per sequence",
        &format!("{step}: h before, output = 2H"),
        Tape::<SimpleRnnResidual<H>>::STEP_BYTES,
    );
    row(
        "SimpleRNN",
        "batched kernel",
        "output H; input I",
        (H + I) * F32,
    );
    row(
        "Dense",
        "per sample",
        "output U",
        size_of::<DenseResidual<U>>(),
    );
    row(
        "BatchNormalization",
        "per sample",
        "normalised value N (and, per batch, 1/σ: N)",
        size_of::<SVector<f32, H>>(),
    );
}
