//! The Keras RNN guide's classifier (`LSTM(64) → BatchNormalization → Dense(10, softmax)`) on 8×8 digit
//! images read row by row: 8 timesteps of 8 features. Shared by `examples/digits.rs` and
//! `tests/digits.rs`.

use std::path::{Path, PathBuf};

use rnn::cells::{BatchNormalization, Dense, LstmCell};
use rnn::ops::Activation;
use rnn::prelude::*;

/// The model; its parameter paths (`lstm/kernel`, `batch_normalization/gamma`, `dense/bias`,
/// ...) are the names `tools/train_digits.py` writes.
#[derive(Clone, Debug, Parameters)]
pub struct DigitsModel {
    pub lstm: LstmCell<8, 64>,
    pub batch_normalization: BatchNormalization<64>,
    pub dense: Dense<64, 10>,
}

/// One image: 8 rows of 8 pixels, scaled to `[0, 1]` as in training (`/ 16`).
pub type Image = [SVector<f32, 8>; 8];

impl DigitsModel {
    /// Loads the weights Keras trained (`tests/fixtures/digits/model.safetensors`).
    pub fn load(path: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        let mut model = DigitsModel {
            lstm: LstmCell::zeros(),
            batch_normalization: BatchNormalization::identity(),
            dense: Dense::zeros().with_activation(Activation::Softmax),
        };
        rnn::weight_file::load_file(&mut model, path)?;
        Ok(model)
    }

    /// Class probabilities of one image: the LSTM's last output, normalised, classified.
    /// A static unroll over the 8 rows: no heap allocation.
    pub fn probabilities(&self, image: &Image) -> SVector<f32, 10> {
        let run = Rnn::new(&self.lstm).unroll(image, &());
        let last = run.outputs[7];
        self.dense.forward(&self.batch_normalization.forward(&last))
    }
}

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads `data/digits/digits.csv`: `(label, image)` per row, in file order.
pub fn read_digits(path: &Path) -> Result<Vec<(usize, Image)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .skip(1)
        .enumerate()
        .map(|(row, line)| {
            let values: Vec<f32> = line
                .split(',')
                .map(|v| {
                    v.trim()
                        .parse::<f32>()
                        .map_err(|e| format!("row {}: {e}", row + 1))
                })
                .collect::<Result<_, _>>()?;
            if values.len() != 65 {
                return Err(format!(
                    "row {}: expected 65 values (label and 64 pixels), found {}",
                    row + 1,
                    values.len()
                ));
            }
            let image =
                std::array::from_fn(|r| SVector::from_fn(|c, _| values[1 + r * 8 + c] / 16.0));
            Ok((values[0] as usize, image))
        })
        .collect()
}

/// The held-out rows: the last 360 of the file (see `data/digits/LICENSE.md`).
pub const TEST_ROWS: std::ops::Range<usize> = 1437..1797;

/// The index of the largest probability.
pub fn argmax(p: &SVector<f32, 10>) -> usize {
    p.iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > p[best] { i } else { best })
}
