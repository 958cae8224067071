//! PyTorch-layout import against PyTorch's own `nn.LSTM`, `nn.GRU`, `nn.RNN`: the weights are
//! transposed and (for GRU) gate-reordered on import. Fixtures: `tools/fixtures_torch.py`.

mod common;

use common::{flat, max_abs_diff, run_fixture, Fixture};
use rnn::cells::{GruCell, LstmCell, SimpleRnnCell};
use rnn::ops::Activation;
use rnn::prelude::*;

fn check(name: &str, err: f64) {
    println!("{name:<20} max abs err {err:.2e}");
    assert!(err <= 1e-5, "{name}: max abs error {err:e}");
}

fn lstm(fx: &Fixture) -> LstmCell<5, 4> {
    LstmCell::from_pytorch(
        &fx.weight("weight_ih"),
        &fx.weight("weight_hh"),
        Some(&fx.weight("bias_ih")),
        Some(&fx.weight("bias_hh")),
    )
    .unwrap()
}

fn gru(fx: &Fixture) -> GruCell<5, 4> {
    GruCell::from_pytorch(
        &fx.weight("weight_ih"),
        &fx.weight("weight_hh"),
        Some(&fx.weight("bias_ih")),
        Some(&fx.weight("bias_hh")),
    )
    .unwrap()
}

fn simple_rnn(fx: &Fixture, activation: Activation) -> SimpleRnnCell<5, 4> {
    SimpleRnnCell::from_pytorch(
        &fx.weight("weight_ih"),
        &fx.weight("weight_hh"),
        Some(&fx.weight("bias_ih")),
        Some(&fx.weight("bias_hh")),
    )
    .unwrap()
    .with_activation(activation)
}

#[test]
fn lstm_matches_nn_lstm() {
    let fx = Fixture::load("torch/torch_lstm.json");
    check("torch_lstm", run_fixture(&lstm(&fx), &fx));
}

#[test]
fn gru_matches_nn_gru() {
    let fx = Fixture::load("torch/torch_gru.json");
    check("torch_gru", run_fixture(&gru(&fx), &fx));
}

#[test]
fn simple_rnn_matches_nn_rnn_tanh_and_relu() {
    let fx = Fixture::load("torch/torch_rnn_tanh.json");
    check(
        "torch_rnn_tanh",
        run_fixture(&simple_rnn(&fx, Activation::Tanh), &fx),
    );
    let fx = Fixture::load("torch/torch_rnn_relu.json");
    check(
        "torch_rnn_relu",
        run_fixture(&simple_rnn(&fx, Activation::Relu), &fx),
    );
}

/// A packed sequence's valid prefix runs as a plain sequence of that length: same outputs,
/// and `h_n` is the state after its last valid step.
#[test]
fn gru_on_the_valid_prefix_of_a_packed_sequence() {
    let fx = Fixture::load("torch/torch_gru_packed.json");
    let cell = gru(&fx);
    let lengths: Vec<usize> = serde_json::from_value(fx.extra["lengths"].clone()).unwrap();
    let outputs = fx.outputs.as_ref().unwrap();
    let mut worst = 0.0f64;
    for (b, &len) in lengths.iter().enumerate() {
        let xs: Vec<SVector<f32, 5>> = (0..len)
            .map(|t| SVector::from_iterator(fx.inputs.step(b, t).iter().map(|&x| x as f32)))
            .collect();
        let run = Rnn::new(&cell).run_from(&xs, fx.initial_state_of(b), &());
        for (t, y) in run.outputs.iter().enumerate() {
            worst = worst.max(max_abs_diff(&flat(y), outputs.step(b, t)));
        }
        worst = worst.max(max_abs_diff(&flat(&run.state), &fx.final_state_of(b)));
        // PyTorch pads the rest with zeros.
        assert!((len..6).all(|t| outputs.step(b, t).iter().all(|&v| v == 0.0)));
    }
    check("torch_gru_packed", worst);
}
