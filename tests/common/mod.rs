//! Fixture reading shared by the parity tests. Fixtures are JSON written by `tools/` scripts
//! from Keras and PyTorch and committed: tests never need Python.
#![allow(dead_code)]

pub mod keras;

use std::collections::HashMap;
use std::path::PathBuf;

use rnn::{Cell, Nested};
use serde::Deserialize;

/// A tensor as the tools write it: a shape and its values, row-major.
#[derive(Deserialize, Debug, Clone)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Tensor {
    pub fn f32(&self) -> Vec<f32> {
        self.data.iter().map(|&x| x as f32).collect()
    }

    /// Row `i` of the first axis, flattened.
    pub fn row(&self, i: usize) -> &[f64] {
        let width: usize = self.shape[1..].iter().product();
        &self.data[i * width..(i + 1) * width]
    }

    /// `[b, t, :]` of a `[B, T, F]` tensor.
    pub fn step(&self, b: usize, t: usize) -> &[f64] {
        let f = self.shape[2];
        let start = (b * self.shape[1] + t) * f;
        &self.data[start..start + f]
    }
}

#[derive(Deserialize, Debug)]
pub struct Fixture {
    pub name: String,
    pub cell: String,
    #[serde(default)]
    pub config: HashMap<String, serde_json::Value>,
    pub weights: HashMap<String, Tensor>,
    pub inputs: Tensor,
    pub mask: Option<Tensor>,
    pub initial_state: Option<Vec<Tensor>>,
    pub outputs: Option<Tensor>,
    #[serde(default)]
    pub final_state: Vec<Tensor>,
    #[serde(flatten)]
    pub extra: HashMap<String, serde_json::Value>,
}

impl Fixture {
    pub fn load(path: &str) -> Fixture {
        let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path);
        let text =
            std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    }

    pub fn weight(&self, name: &str) -> Vec<f32> {
        self.weights
            .get(name)
            .unwrap_or_else(|| panic!("{}: no weight {name}", self.name))
            .f32()
    }

    pub fn config_str(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(|v| v.as_str())
    }

    pub fn config_bool(&self, key: &str) -> bool {
        self.config
            .get(key)
            .and_then(|v| v.as_bool())
            .unwrap_or_else(|| panic!("{}: config {key}", self.name))
    }

    pub fn maybe_weight(&self, name: &str) -> Option<Vec<f32>> {
        self.weights.get(name).map(Tensor::f32)
    }

    pub fn extra_tensor(&self, key: &str) -> Tensor {
        serde_json::from_value(self.extra[key].clone()).unwrap()
    }

    /// The initial state of sequence `b`: row `b` of each state tensor, concatenated in the
    /// framework's order (Keras: LSTM h then c; a stack layer by layer).
    pub fn initial_state_of<S: Nested>(&self, b: usize) -> S {
        match &self.initial_state {
            None => S::zeros(),
            Some(states) => {
                let flat: Vec<f32> = states
                    .iter()
                    .flat_map(|s| s.row(b).iter().map(|&x| x as f32))
                    .collect();
                S::from_f32_slice(&flat).expect("initial state size")
            }
        }
    }

    /// The expected final state of sequence `b`, flattened like [`Fixture::initial_state_of`].
    pub fn final_state_of(&self, b: usize) -> Vec<f64> {
        self.final_state
            .iter()
            .flat_map(|s| s.row(b).iter().copied())
            .collect()
    }
}

/// The largest absolute difference between `ours` (flattened) and `expected`.
pub fn max_abs_diff(ours: &[f32], expected: &[f64]) -> f64 {
    assert_eq!(ours.len(), expected.len(), "compared lengths");
    ours.iter()
        .zip(expected)
        .map(|(&a, &b)| (a as f64 - b).abs())
        .fold(0.0, f64::max)
}

pub fn flat<N: Nested>(value: &N) -> Vec<f32> {
    let mut out = vec![0.0; N::SIZE];
    value.to_f32_slice(&mut out).unwrap();
    out
}

/// Runs `cell` over every sequence of the fixture (from its initial states) and returns the
/// largest difference from the fixture's outputs and final states.
pub fn run_fixture<C: Cell>(cell: &C, fx: &Fixture) -> f64 {
    let [batch, steps, _] = fx.inputs.shape[..] else {
        panic!("inputs are [B, T, I]")
    };
    let outputs = fx.outputs.as_ref().expect("fixture has outputs");
    let rnn = rnn::Rnn::new(cell);
    let mut worst = 0.0f64;
    for b in 0..batch {
        let xs: Vec<C::Input> = (0..steps)
            .map(|t| {
                C::Input::from_f32_slice(
                    &fx.inputs
                        .step(b, t)
                        .iter()
                        .map(|&x| x as f32)
                        .collect::<Vec<_>>(),
                )
                .unwrap()
            })
            .collect();
        let run = rnn.run_from(&xs, fx.initial_state_of(b), &C::Constants::zeros());
        for (t, y) in run.outputs.iter().enumerate() {
            worst = worst.max(max_abs_diff(&flat(y), outputs.step(b, t)));
        }
        if !fx.final_state.is_empty() {
            worst = worst.max(max_abs_diff(&flat(&run.state), &fx.final_state_of(b)));
        }
    }
    worst
}
