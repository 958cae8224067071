//! The backward `#[cell]` generates for the example's custom decoder (a GRU re-projected from
//! `[h; z_enc]` at each step, a second dense output), in `f32`, against PyTorch's
//! `torch.autograd` (float64 on the same float32 weights): every weight, input, the initial
//! state and the constant `z_enc`. PyTorch's weight gradients are in its own layout; the
//! expected gradient cell is built from them by the same `from_pytorch` the weights go
//! through, which is linear. Fixture: `tools/fixtures_adjoint_torch.py`.

#[path = "../examples/common/custom_cell.rs"]
mod custom_cell;
mod gradcheck;

use std::collections::HashMap;

use custom_cell::{CustomMultiTimeStepGruCell, ARBITRARY, FEATURES, HIDDEN, LATENT};
use gradcheck::parameters;
use rnn::cells::{Dense, GruCell};
use rnn::nalgebra::SVector;
use rnn::train::Tape;
use rnn::{Mask, Rnn};

/// The largest absolute difference allowed from PyTorch's gradients.
const TOLERANCE: f64 = 1e-5;

#[derive(serde::Deserialize)]
struct Tensor {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Tensor {
    fn f32(&self) -> Vec<f32> {
        self.data.iter().map(|&v| v as f32).collect()
    }
}

#[derive(serde::Deserialize)]
struct Fixture {
    weights: HashMap<String, Tensor>,
    inputs: Tensor,
    initial_state: Tensor,
    z_enc: Tensor,
    loss_weights: HashMap<String, Tensor>,
    gradients: HashMap<String, Tensor>,
}

/// The decoder from PyTorch's tensors (weights, or gradients: `from_pytorch` is linear).
fn decoder(t: &HashMap<String, Tensor>) -> CustomMultiTimeStepGruCell {
    let w = |name: &str| t[name].f32();
    CustomMultiTimeStepGruCell {
        gru: GruCell::from_pytorch(
            &w("gru/weight_ih"),
            &w("gru/weight_hh"),
            Some(&w("gru/bias_ih")),
            Some(&w("gru/bias_hh")),
        )
        .unwrap(),
        dense_proj: Dense::from_pytorch(&w("dense_proj/weight"), Some(&w("dense_proj/bias")))
            .unwrap(),
        other_output: Dense::from_pytorch(&w("other_output/weight"), Some(&w("other_output/bias")))
            .unwrap(),
    }
}

fn max_abs_diff(ours: &[f64], expected: &[f64]) -> f64 {
    assert_eq!(ours.len(), expected.len());
    ours.iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

#[test]
fn decoder_gradients_match_torch_autograd() {
    let text = std::fs::read_to_string("tests/fixtures/adjoint/torch_decoder.json").unwrap();
    let fx: Fixture = serde_json::from_str(&text).unwrap();
    let rnn = Rnn::new(decoder(&fx.weights));
    let steps = fx.inputs.shape[0];
    let xs: Vec<SVector<f32, FEATURES>> = fx
        .inputs
        .f32()
        .chunks(FEATURES)
        .map(SVector::from_column_slice)
        .collect();
    let h0 = SVector::<f32, HIDDEN>::from_column_slice(&fx.initial_state.f32());
    let z_enc = SVector::<f32, LATENT>::from_column_slice(&fx.z_enc.f32());
    let w_h = fx.loss_weights["h"].f32();
    let w_o = fx.loss_weights["other"].f32();
    let d_outputs: Vec<(SVector<f32, HIDDEN>, SVector<f32, ARBITRARY>)> = (0..steps)
        .map(|t| {
            (
                SVector::from_column_slice(&w_h[t * HIDDEN..(t + 1) * HIDDEN]),
                SVector::from_column_slice(&w_o[t * ARBITRARY..(t + 1) * ARBITRARY]),
            )
        })
        .collect();
    let w_s = SVector::<f32, HIDDEN>::from_column_slice(&fx.loss_weights["final_state"].f32());

    let mut tape = Tape::new();
    rnn.run_taped(&xs, Mask::All, h0, &z_enc, &mut tape)
        .unwrap();
    let grads = rnn.backward(&tape, &xs, &d_outputs, w_s, &z_enc).unwrap();

    let expected = decoder(&fx.gradients);
    let worst = [
        max_abs_diff(&parameters(&grads.parameters), &parameters(&expected)),
        max_abs_diff(
            &grads
                .inputs
                .iter()
                .flat_map(|x| x.iter().map(|&v| f64::from(v)))
                .collect::<Vec<_>>(),
            &fx.gradients["inputs"].data,
        ),
        max_abs_diff(
            &grads
                .initial_state
                .iter()
                .map(|&v| f64::from(v))
                .collect::<Vec<_>>(),
            &fx.gradients["initial_state"].data,
        ),
        max_abs_diff(
            &grads
                .constants
                .iter()
                .map(|&v| f64::from(v))
                .collect::<Vec<_>>(),
            &fx.gradients["z_enc"].data,
        ),
    ];
    println!("worst |ours - torch| (parameters, inputs, initial state, z_enc): {worst:?}");
    for (what, diff) in ["parameters", "inputs", "initial state", "z_enc"]
        .iter()
        .zip(worst)
    {
        assert!(diff < TOLERANCE, "{what}: {diff:e} from PyTorch's gradient");
    }
}
