//! The end-to-end task: handwritten digit classification with the Keras RNN guide's model
//! (`LSTM(64) → BatchNormalization → Dense(10, softmax)`), each 8×8 image read as 8 timesteps
//! of 8 pixels. Keras trains it (`tools/train_digits.py`); this program loads the weights,
//! classifies the 360 held-out images and prints the accuracy and the latency per sequence.
//!
//! ```text
//! cargo run --release --example digits
//! ```

#[path = "common/digits_model.rs"]
mod digits_model;

use std::time::Instant;

use digits_model::{argmax, read_digits, root, DigitsModel, TEST_ROWS};
use rnn::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = DigitsModel::load(&root().join("tests/fixtures/digits/model.safetensors"))?;
    println!("{}", model.summary());
    let digits = read_digits(&root().join("data/digits/digits.csv"))?;
    let test = &digits[TEST_ROWS];

    let correct = test
        .iter()
        .filter(|(label, image)| argmax(&model.probabilities(image)) == *label)
        .count();
    println!(
        "held-out accuracy: {correct}/{} = {:.2}%",
        test.len(),
        100.0 * correct as f64 / test.len() as f64
    );

    // Latency of one sequence (8 steps), one core: the median over repeated passes.
    let mut per_sequence = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        for (_, image) in test {
            std::hint::black_box(model.probabilities(std::hint::black_box(image)));
        }
        per_sequence.push(start.elapsed().as_secs_f64() / test.len() as f64);
    }
    per_sequence.sort_by(f64::total_cmp);
    println!(
        "latency: {:.2} µs per sequence (median of 20 passes over the test set)",
        per_sequence[per_sequence.len() / 2] * 1e6
    );
    Ok(())
}
