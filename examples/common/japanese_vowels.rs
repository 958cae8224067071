//! The UCI Japanese Vowels data set from `data/japanese_vowels/` (format in its `README.md`):
//! utterances of 7 to 29 frames of 12 LPC cepstrum coefficients, labelled with one of 9
//! speakers. Variable lengths, so it exercises masks and lengths. Dependency-free; shared by
//! the examples and `tests/japanese_vowels.rs`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Coefficients per frame.
pub const FEATURES: usize = 12;
/// Speakers, labelled `0..CLASSES`.
pub const CLASSES: usize = 9;
/// The longest utterance (in `test.csv`; `train.csv`'s longest has 26 frames).
pub const MAX_LEN: usize = 29;

/// One utterance: its frames in time order, and its speaker in `0..CLASSES` (`f64` frames
/// only on the way to [`Standardization`]).
pub type Utterance<T = f32> = (Vec<[T; FEATURES]>, usize);

/// The directory holding `train.csv` and `test.csv`.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/japanese_vowels")
}

/// The 270 training and 370 test utterances, values as in the files.
pub fn load() -> Result<(Vec<Utterance>, Vec<Utterance>), String> {
    let dir = data_dir();
    Ok((
        read_utterances(&dir.join("train.csv"))?,
        read_utterances(&dir.join("test.csv"))?,
    ))
}

/// Training and test utterances standardised with the training set's statistics, exactly as
/// `tools/train_japanese_vowels.py` feeds them to Keras (see [`Standardization`]).
pub fn load_standardized() -> Result<(Vec<Utterance>, Vec<Utterance>), String> {
    let dir = data_dir();
    let train = parse_file::<f64>(&dir.join("train.csv"))?;
    let test = parse_file::<f64>(&dir.join("test.csv"))?;
    let standardization = Standardization::fit(&train);
    Ok((standardization.apply(&train), standardization.apply(&test)))
}

/// Reads one file of the data set: its utterances in file order.
pub fn read_utterances(path: &Path) -> Result<Vec<Utterance>, String> {
    parse_file::<f32>(path)
}

/// Per-feature mean and population standard deviation over every frame of the training set,
/// in `f64`: the preprocessing the Keras reference uses, so that figures compare.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardization {
    pub mean: [f64; FEATURES],
    pub std: [f64; FEATURES],
}

impl Standardization {
    /// The statistics of all frames of `train` (padding is never counted: there is none).
    pub fn fit(train: &[Utterance<f64>]) -> Self {
        let frames = || train.iter().flat_map(|(frames, _)| frames.iter());
        let count = frames().count() as f64;
        let mut mean = [0.0; FEATURES];
        for frame in frames() {
            for (m, x) in mean.iter_mut().zip(frame) {
                *m += x;
            }
        }
        mean.iter_mut().for_each(|m| *m /= count);
        let mut std = [0.0; FEATURES];
        for frame in frames() {
            for ((s, x), m) in std.iter_mut().zip(frame).zip(&mean) {
                *s += (x - m) * (x - m);
            }
        }
        std.iter_mut().for_each(|s| *s = (*s / count).sqrt());
        Standardization { mean, std }
    }

    /// `(x - mean) / std` per feature in `f64`, then rounded to `f32`.
    pub fn apply(&self, utterances: &[Utterance<f64>]) -> Vec<Utterance> {
        utterances
            .iter()
            .map(|(frames, label)| {
                let frames = frames
                    .iter()
                    .map(|x| std::array::from_fn(|k| ((x[k] - self.mean[k]) / self.std[k]) as f32))
                    .collect();
                (frames, *label)
            })
            .collect()
    }
}

/// The raw values as `f64`, for [`Standardization::fit`] and [`Standardization::apply`].
pub fn read_utterances_f64(path: &Path) -> Result<Vec<Utterance<f64>>, String> {
    parse_file::<f64>(path)
}

const HEADER: &str = "utterance,label,step,c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12";

/// Parses `utterance,label,step,c1..c12` lines; errors name the file's line number (the
/// header is line 1) and what was expected and found.
fn parse_file<T: FromStr + Copy + Default>(path: &Path) -> Result<Vec<Utterance<T>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    match lines.next() {
        Some(HEADER) => {}
        found => {
            return Err(format!(
                "line 1: expected the header `{HEADER}`, found `{}`",
                found.unwrap_or("")
            ))
        }
    }
    let mut utterances: Vec<Utterance<T>> = Vec::new();
    for (index, line) in lines.enumerate() {
        let number = index + 2;
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 3 + FEATURES {
            return Err(format!(
                "line {number}: expected {} fields (utterance, label, step, c1..c12), found {}",
                3 + FEATURES,
                fields.len()
            ));
        }
        let index = |i: usize| {
            fields[i]
                .parse::<usize>()
                .map_err(|e| format!("line {number}, field {}: `{}`: {e}", i + 1, fields[i]))
        };
        let (utterance, label, step) = (index(0)?, index(1)?, index(2)?);
        if label >= CLASSES {
            return Err(format!(
                "line {number}: expected a label in 0..{CLASSES}, found {label}"
            ));
        }
        let mut frame = [T::default(); FEATURES];
        for (k, value) in frame.iter_mut().enumerate() {
            let field = fields[3 + k];
            *value = field.parse().map_err(|_| {
                format!("line {number}, field {}: `{field}` is not a number", 4 + k)
            })?;
        }
        if step == 0 {
            if utterance != utterances.len() {
                return Err(format!(
                    "line {number}: expected utterance {} to start, found utterance {utterance}",
                    utterances.len()
                ));
            }
            utterances.push((vec![frame], label));
            continue;
        }
        let current = utterances.len().checked_sub(1);
        match utterances.last_mut() {
            Some((frames, current_label)) if Some(utterance) == current && step == frames.len() => {
                if label != *current_label {
                    return Err(format!(
                        "line {number}: expected label {current_label} for utterance \
                         {utterance}, found {label}"
                    ));
                }
                frames.push(frame);
            }
            last => {
                let expected = last.map_or(0, |(frames, _)| frames.len());
                return Err(format!(
                    "line {number}: expected step {expected} of utterance {}, found step {step} \
                     of utterance {utterance}",
                    current.unwrap_or(0)
                ));
            }
        }
    }
    Ok(utterances)
}
