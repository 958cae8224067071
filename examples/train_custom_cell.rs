//! Trains a custom cell, written with `#[cell]` and its backward generated, on the UCI
//! Japanese Vowels speakers, beside the built-in LSTM with the same recipe: a minimal gated
//! unit `MGU(64) → BatchNormalization → Dense(9, softmax)`, then `LSTM(64)` in its place
//! (Adam, 3e-3 decayed to 0 by a cosine, 40 epochs of 32, as
//! `examples/train_japanese_vowels.rs`). Prints each model's held-out accuracy.
//!
//! ```text
//! cargo run --release --example train_custom_cell [-- --seed N]
//! ```

#[allow(dead_code)]
#[path = "common/japanese_vowels.rs"]
mod japanese_vowels;

use japanese_vowels::{load_standardized, Utterance, CLASSES, FEATURES};
use rnn::cells::{BatchNormalization, Dense, LstmCell};
use rnn::ops::{self, Activation};
use rnn::prelude::*;
use rnn::train::loss::SparseCategoricalCrossentropy;
use rnn::train::optim::{Adam, Optimizer};
use rnn::train::schedule::CosineDecay;
use rnn::train::{Fit, Layer, Model};

const UNITS: usize = 64;

/// A minimal gated unit: `f = σ(W_f [h; x])`, `h' = (1 − f) h + f tanh(W_h [f h; x])`.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Mgu {
    forget: Dense<{ UNITS + FEATURES }, UNITS>,
    candidate: Dense<{ UNITS + FEATURES }, UNITS>,
}

#[cell]
impl Mgu {
    fn step(
        &self,
        #[input] x: &SVector<f32, FEATURES>,
        #[state] h: &mut SVector<f32, UNITS>,
    ) -> SVector<f32, UNITS> {
        let hx: SVector<f32, { UNITS + FEATURES }> = ops::concat(h, x);
        let f = ops::sigmoid(&self.forget.forward(&hx));
        let fhx: SVector<f32, { UNITS + FEATURES }> = ops::concat(&f.component_mul(h), x);
        let candidate = ops::tanh(&self.candidate.forward(&fhx));
        *h = (SVector::repeat(1.0) - f).component_mul(h) + f.component_mul(&candidate);
        *h
    }
}

type Data = (Vec<Vec<SVector<f32, FEATURES>>>, Vec<usize>);

fn split(utterances: &[Utterance]) -> Data {
    utterances
        .iter()
        .map(|(frames, speaker)| (frames.iter().map(|f| SVector::from(*f)).collect(), *speaker))
        .unzip()
}

/// Trains `recurrent → BatchNormalization → Dense(softmax)` and returns its held-out accuracy.
fn train<R>(
    recurrent: R,
    seed: u64,
    train: &Data,
    test: &Data,
) -> Result<f64, Box<dyn std::error::Error>>
where
    R: Layer<Input = Vec<SVector<f32, FEATURES>>, Output = SVector<f32, UNITS>>,
{
    let layers = (
        recurrent,
        BatchNormalization::<UNITS>::identity(),
        Dense::<UNITS, CLASSES>::keras_init(seed + 1).with_activation(Activation::Softmax),
    );
    let (epochs, batch_size) = (40, 32);
    let steps = (epochs * train.0.len().div_ceil(batch_size)) as u64;
    let optimizer = Optimizer::new(Adam::keras(), CosineDecay::new(3e-3, steps)?);
    let mut model = Model::new(layers, SparseCategoricalCrossentropy::default(), optimizer);
    let fit = Fit {
        epochs,
        batch_size,
        shuffle: Some(seed),
        ..Fit::default()
    };
    model.fit(&train.0, &train.1, &fit)?;
    let held_out = model.evaluate(&test.0, &test.1)?;
    Ok(held_out.accuracy.unwrap_or(0.0))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let seed = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1);
    let (train_set, test_set) = load_standardized()?;
    let (train_set, test_set) = (split(&train_set), split(&test_set));
    let mgu = Mgu {
        forget: Dense::keras_init(seed),
        candidate: Dense::keras_init(seed + 2),
    };
    let custom = train(Rnn::new(mgu), seed, &train_set, &test_set)?;
    let lstm = Rnn::new(LstmCell::<FEATURES, UNITS>::keras_init(seed));
    let built_in = train(lstm, seed, &train_set, &test_set)?;
    let n = test_set.0.len() as f64;
    println!(
        "test accuracy, custom MGU (generated backward): {:.0}/{n} = {:.2}%",
        custom * n,
        100.0 * custom
    );
    println!(
        "test accuracy, built-in LSTM:                   {:.0}/{n} = {:.2}%",
        built_in * n,
        100.0 * built_in
    );
    Ok(())
}
