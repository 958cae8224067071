//! Trains the digits classifier here, from scratch: `LSTM(64) → BatchNormalization →
//! Dense(10, softmax)` on 8×8 images read as 8 timesteps of 8 pixels, with Keras's
//! initialisation and the recipe of `tools/train_digits.py` (Adam, learning rate 3e-3 decayed
//! to 0 by a cosine, 40 epochs of batches of 32, the training images plus copies shifted by
//! one pixel), then classifies the 360 held-out images.
//!
//! ```text
//! cargo run --release --example train_digits [-- --seed N --epochs N]
//! ```

// The data and the model's shape, shared with the inference demo (which also loads weights).
#[allow(dead_code)]
#[path = "common/digits_model.rs"]
mod digits_model;

use digits_model::{read_digits, root, Image, TEST_ROWS};
use rnn::cells::{BatchNormalization, Dense, LstmCell};
use rnn::ops::Activation;
use rnn::prelude::*;
use rnn::train::loss::SparseCategoricalCrossentropy;
use rnn::train::optim::{Adam, Optimizer};
use rnn::train::schedule::CosineDecay;
use rnn::train::{Fit, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |flag: &str, default: u64| -> u64 {
        let args: Vec<String> = std::env::args().collect();
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(default)
    };
    let (seed, epochs) = (arg("--seed", 1), arg("--epochs", 40) as usize);

    let digits = read_digits(&root().join("data/digits/digits.csv"))?;
    let (train, test) = (&digits[..TEST_ROWS.start], &digits[TEST_ROWS]);
    let (x, y) = with_shifted_copies(train);
    let sequence = |image: &Image| image.to_vec();
    let x: Vec<Vec<SVector<f32, 8>>> = x.iter().map(sequence).collect();

    let layers = (
        Rnn::new(LstmCell::<8, 64>::keras_init(seed)),
        BatchNormalization::<64>::identity(),
        Dense::<64, 10>::keras_init(seed + 1).with_activation(Activation::Softmax),
    );
    let batch_size = 32;
    let steps = (epochs * x.len().div_ceil(batch_size)) as u64;
    let learning_rate = CosineDecay::new(3e-3, steps)?;
    let optimizer = Optimizer::new(Adam::keras(), learning_rate);
    let mut model = Model::new(layers, SparseCategoricalCrossentropy::default(), optimizer);
    let fit = Fit {
        epochs,
        batch_size,
        shuffle: Some(seed),
        ..Fit::default()
    };
    model.fit(&x, &y, &fit)?;

    let test_x: Vec<Vec<SVector<f32, 8>>> = test.iter().map(|(_, image)| sequence(image)).collect();
    let test_y: Vec<usize> = test.iter().map(|(label, _)| *label).collect();
    let held_out = model.evaluate(&test_x, &test_y)?;
    let accuracy = held_out.accuracy.unwrap_or(0.0);
    println!(
        "held-out accuracy: {:.0}/{} = {:.2}% (loss {:.4})",
        accuracy * test.len() as f64,
        test.len(),
        100.0 * accuracy,
        held_out.loss
    );
    Ok(())
}

/// The training images and their labels, then four copies shifted by one pixel (down, up,
/// right, left; the uncovered row or column zeros), as `tools/train_digits.py` augments them.
fn with_shifted_copies(train: &[(usize, Image)]) -> (Vec<Image>, Vec<usize>) {
    let shifts: [(isize, isize); 5] = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)];
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (dr, dc) in shifts {
        for (label, image) in train {
            let shifted: Image = std::array::from_fn(|r| {
                SVector::from_fn(|c, _| {
                    let (sr, sc) = (r as isize - dr, c as isize - dc);
                    if (0..8).contains(&sr) && (0..8).contains(&sc) {
                        image[sr as usize][sc as usize]
                    } else {
                        0.0
                    }
                })
            });
            x.push(shifted);
            y.push(*label);
        }
    }
    (x, y)
}
