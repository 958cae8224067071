//! Trains a speaker classifier on the UCI Japanese Vowels set here, from scratch: utterances of
//! 7 to 29 frames of 12 cepstrum coefficients, 9 speakers. Each utterance is its own length (a
//! ragged batch: no padding, so no mask), standardised with the training frames' statistics;
//! `LSTM(64) → BatchNormalization → Dense(9, softmax)` with the recipe of
//! `tools/train_japanese_vowels.py` (Adam, 3e-3 decayed to 0 by a cosine, 40 epochs of 32).
//!
//! ```text
//! cargo run --release --example train_japanese_vowels [-- --seed N]
//! ```

#[allow(dead_code)]
#[path = "common/japanese_vowels.rs"]
mod japanese_vowels;

use japanese_vowels::{load_standardized, Utterance, CLASSES, FEATURES};
use rnn::cells::{BatchNormalization, Dense, LstmCell};
use rnn::ops::Activation;
use rnn::prelude::*;
use rnn::train::loss::SparseCategoricalCrossentropy;
use rnn::train::optim::{Adam, Optimizer};
use rnn::train::schedule::CosineDecay;
use rnn::train::{Fit, Model};

/// An utterance as the LSTM reads it, and its speaker.
fn split(utterances: &[Utterance]) -> (Vec<Vec<SVector<f32, FEATURES>>>, Vec<usize>) {
    utterances
        .iter()
        .map(|(frames, speaker)| (frames.iter().map(|f| SVector::from(*f)).collect(), *speaker))
        .unzip()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let seed = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1);
    let (train, test) = load_standardized()?;
    let ((x, y), (test_x, test_y)) = (split(&train), split(&test));

    let layers = (
        Rnn::new(LstmCell::<FEATURES, 64>::keras_init(seed)),
        BatchNormalization::<64>::identity(),
        Dense::<64, CLASSES>::keras_init(seed + 1).with_activation(Activation::Softmax),
    );
    let (epochs, batch_size) = (40, 32);
    let steps = (epochs * x.len().div_ceil(batch_size)) as u64;
    let optimizer = Optimizer::new(Adam::keras(), CosineDecay::new(3e-3, steps)?);
    let mut model = Model::new(layers, SparseCategoricalCrossentropy::default(), optimizer);
    let fit = Fit {
        epochs,
        batch_size,
        shuffle: Some(seed),
        ..Fit::default()
    };
    model.fit(&x, &y, &fit)?;

    let held_out = model.evaluate(&test_x, &test_y)?;
    let accuracy = held_out.accuracy.unwrap_or(0.0);
    println!(
        "test accuracy: {:.0}/{} = {:.2}% (loss {:.4})",
        accuracy * test_x.len() as f64,
        test_x.len(),
        100.0 * accuracy,
        held_out.loss
    );
    Ok(())
}
