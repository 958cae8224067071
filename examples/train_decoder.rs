//! Trains the custom decoder cell of `examples/common/custom_cell.rs` (a GRU re-projected
//! from `[h; z_enc]` at each step) with an encoder that produces its constant `z_enc`, on a
//! copy task: the encoder (a built-in GRU, then a dense layer) reads five numbers, and the
//! decoder, fed only the step's index, must say them back in order, one per step, in the first
//! unit of its output. The numbers reach the decoder only through `z_enc`, so the task is
//! learnt only if `z_enc`'s gradient (from the decoder's generated backward) trains the
//! encoder. Prints the loss every 500 updates and the held-out mean squared error against
//! predicting zero. With `--freeze-encoder` the encoder and projection get no updates (the
//! control: the decoder alone cannot know the numbers).
//!
//! ```text
//! cargo run --release --example train_decoder [-- --freeze-encoder]
//! ```

#[path = "common/custom_cell.rs"]
mod custom_cell;

use custom_cell::{CustomMultiTimeStepGruCell, ARBITRARY, FEATURES, HIDDEN, LATENT};
use rnn::cells::{Dense, GruCell};
use rnn::ops::Activation;
use rnn::prelude::*;
use rnn::train::optim::{Adam, Optimizer};
use rnn::train::{zeros_like, Differentiable, Tape};

/// Numbers to remember.
const LENGTH: usize = 5;
const ENCODER: usize = 16;

/// The encoder, its projection to `z_enc`, and the decoder: one value to optimise.
#[derive(Clone, Parameters)]
struct Seq2Seq {
    encoder: GruCell<FEATURES, ENCODER>,
    to_z: Dense<ENCODER, LATENT>,
    decoder: CustomMultiTimeStepGruCell,
}

/// A small deterministic generator (xorshift), uniform in `[-1, 1)`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// The encoder's inputs (number `t` in feature 0, a start marker in feature 1), the decoder's
/// inputs (step `t`'s one-hot index) and the targets.
type Example = (
    Vec<SVector<f32, FEATURES>>,
    Vec<SVector<f32, FEATURES>>,
    [f32; LENGTH],
);

fn example(rng: &mut Rng) -> Example {
    let numbers: [f32; LENGTH] = std::array::from_fn(|_| rng.next());
    let encoder_in = numbers
        .iter()
        .enumerate()
        .map(|(t, &u)| {
            SVector::from_fn(|i, _| match i {
                0 => u,
                1 => f32::from(u8::from(t == 0)),
                _ => 0.0,
            })
        })
        .collect();
    let decoder_in = (0..LENGTH)
        .map(|t| SVector::from_fn(|i, _| f32::from(u8::from(i == t))))
        .collect();
    (encoder_in, decoder_in, numbers)
}

/// One example's loss (`Σ_t (h_t[0] − u_t)² / LENGTH`) and, with `grads`, its gradient.
fn loss(model: &Seq2Seq, (enc_in, dec_in, numbers): &Example, grads: Option<&mut Seq2Seq>) -> f32 {
    let encoder = Rnn::new(model.encoder.clone());
    let decoder = Rnn::new(model.decoder.clone());
    let mut enc_tape = Tape::new();
    let encoded = encoder
        .run_taped(enc_in, Mask::All, SVector::zeros(), &(), &mut enc_tape)
        .expect("a sequence");
    let (z_enc, z_residual) = model.to_z.step_forward(&encoded.state, &mut (), &());
    let mut dec_tape = Tape::new();
    let run = decoder
        .run_taped(dec_in, Mask::All, SVector::zeros(), &z_enc, &mut dec_tape)
        .expect("a sequence");
    let mut value = 0.0;
    let mut d_outputs = Vec::new();
    for ((h, _), &u) in run.outputs.iter().zip(numbers) {
        let error = h[0] - u;
        value += error * error / LENGTH as f32;
        let mut dh = SVector::<f32, HIDDEN>::zeros();
        dh[0] = 2.0 * error / LENGTH as f32;
        d_outputs.push((dh, SVector::<f32, ARBITRARY>::zeros()));
    }
    if let Some(grads) = grads {
        let dec = decoder
            .backward(&dec_tape, dec_in, &d_outputs, SVector::zeros(), &z_enc)
            .expect("the tape's length");
        // `z_enc`'s gradient trains the projection and, through it, the encoder.
        grads.to_z = zeros_like(&model.to_z);
        let d_encoded = model.to_z.step_backward(
            &encoded.state,
            &z_residual,
            &dec.constants,
            &mut (),
            &(),
            &mut (),
            &mut grads.to_z,
        );
        let enc = encoder
            .backward(
                &enc_tape,
                enc_in,
                &vec![SVector::zeros(); LENGTH],
                d_encoded,
                &(),
            )
            .expect("the tape's length");
        grads.encoder = enc.parameters;
        grads.decoder = dec.parameters;
    }
    value
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let freeze = std::env::args().any(|a| a == "--freeze-encoder");
    let mut model = Seq2Seq {
        encoder: GruCell::keras_init(11),
        to_z: Dense::keras_init(12).with_activation(Activation::Tanh),
        decoder: CustomMultiTimeStepGruCell::keras_init(),
    };
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let held_out: Vec<Example> = (0..200).map(|_| example(&mut rng)).collect();
    let mse = |model: &Seq2Seq| {
        held_out.iter().map(|e| loss(model, e, None)).sum::<f32>() / held_out.len() as f32
    };
    let baseline = held_out
        .iter()
        .map(|(_, _, u)| u.iter().map(|u| u * u).sum::<f32>() / LENGTH as f32)
        .sum::<f32>()
        / held_out.len() as f32;
    println!(
        "held-out MSE before training: {:.4} (predicting zero: {baseline:.4})",
        mse(&model)
    );
    let mut optimizer = Optimizer::new(Adam::keras(), 3e-3);
    let mut grads = model.clone();
    let mut running = 0.0;
    for update in 1..=6000 {
        let e = example(&mut rng);
        running += loss(&model, &e, Some(&mut grads));
        if freeze {
            grads.encoder = zeros_like(&model.encoder);
            grads.to_z = zeros_like(&model.to_z);
        }
        optimizer.step(&mut model, &grads)?;
        if update % 500 == 0 {
            println!("update {update:>5}: training loss {:.4}", running / 500.0);
            running = 0.0;
        }
    }
    println!(
        "held-out MSE after training:  {:.4} (predicting zero: {baseline:.4})",
        mse(&model)
    );
    Ok(())
}
