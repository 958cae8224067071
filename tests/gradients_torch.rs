//! The `f32` backward passes against PyTorch's `torch.autograd` (computed in float64 on the
//! same float32 weights): `nn.LSTM`, `nn.GRU` and `nn.RNN` (tanh, relu) over a packed batch of
//! 3 sequences of unsorted lengths (4, 6, 1) from given initial states, the loss a weighted sum
//! of the zero-padded outputs and the final states. The crate runs the batch as one
//! `run_batch_taped` with those lengths and zero padding. PyTorch's gradients are in its own
//! layout (`weight_ih [G·H, I]`, gate order `r z n` for the GRU); the expected gradient cell
//! is built from them by the same `from_pytorch` the weights go through, which is linear (a
//! transposition and a gate reordering). Fixtures: `tools/fixtures_gradients_torch.py`.

mod common;
mod gradcheck;

use std::collections::HashMap;

use common::{Fixture, Tensor};
use gradcheck::{parameter_names, parameters};
use rnn::cells::{GruCell, LstmCell, SimpleRnnCell};
use rnn::ops::Activation;
use rnn::parameters::Parameters;
use rnn::train::{BatchTape, Differentiable};
use rnn::{Batch, Nested, Padding, Rnn};

/// The largest absolute difference allowed from PyTorch's gradients.
const TOLERANCE: f64 = 1e-5;

/// PyTorch's gradients of one fixture, by name (`weight_ih`, ..., `inputs`, `initial_state/k`).
fn torch_gradients(fx: &Fixture) -> HashMap<String, Tensor> {
    serde_json::from_value(fx.extra["gradients"].clone()).unwrap()
}

/// The four PyTorch tensors of a layer, in `f32` (the cell) or `f64` (a gradient).
struct Torch<T> {
    weight_ih: Vec<T>,
    weight_hh: Vec<T>,
    bias_ih: Vec<T>,
    bias_hh: Vec<T>,
}

fn weights(fx: &Fixture) -> Torch<f32> {
    Torch {
        weight_ih: fx.weight("weight_ih"),
        weight_hh: fx.weight("weight_hh"),
        bias_ih: fx.weight("bias_ih"),
        bias_hh: fx.weight("bias_hh"),
    }
}

fn gradients_of(fx: &Fixture) -> Torch<f64> {
    let grads = torch_gradients(fx);
    let take = |name: &str| grads[name].data.clone();
    Torch {
        weight_ih: take("weight_ih"),
        weight_hh: take("weight_hh"),
        bias_ih: take("bias_ih"),
        bias_hh: take("bias_hh"),
    }
}

/// A cell type with PyTorch's import, and the expected parameter gradients made from
/// PyTorch's: one value per way PyTorch's gradients map onto the cell (an LSTM's or RNN's single
/// bias is `bias_ih + bias_hh`, so its gradient is each of theirs: both are checked).
/// (`Send + Sync`: the batch drivers may spread the sequences over threads.)
trait FromTorch:
    Differentiable<
        Constants = (),
        Input: Send + Sync,
        Output: Send + Sync,
        State: Send + Sync,
        Residual: Send + Sync,
    > + Clone
    + Send
    + Sync
{
    type Grad: Parameters;
    fn cell(fx: &Fixture) -> Self;
    fn expected(grads: &Torch<f64>) -> Vec<Self::Grad>;
}

impl FromTorch for LstmCell<5, 4> {
    type Grad = LstmCell<5, 4, f64>;

    fn cell(fx: &Fixture) -> Self {
        let w = weights(fx);
        LstmCell::from_pytorch(
            &w.weight_ih,
            &w.weight_hh,
            Some(&w.bias_ih),
            Some(&w.bias_hh),
        )
        .unwrap()
    }

    fn expected(g: &Torch<f64>) -> Vec<Self::Grad> {
        [(Some(&g.bias_ih[..]), None), (None, Some(&g.bias_hh[..]))]
            .into_iter()
            .map(|(ih, hh)| LstmCell::from_pytorch(&g.weight_ih, &g.weight_hh, ih, hh).unwrap())
            .collect()
    }
}

impl FromTorch for GruCell<5, 4> {
    type Grad = GruCell<5, 4, f64>;

    fn cell(fx: &Fixture) -> Self {
        let w = weights(fx);
        GruCell::from_pytorch(
            &w.weight_ih,
            &w.weight_hh,
            Some(&w.bias_ih),
            Some(&w.bias_hh),
        )
        .unwrap()
    }

    /// The GRU keeps PyTorch's two biases apart (`bias` and `recurrent_bias`).
    fn expected(g: &Torch<f64>) -> Vec<Self::Grad> {
        vec![GruCell::from_pytorch(
            &g.weight_ih,
            &g.weight_hh,
            Some(&g.bias_ih),
            Some(&g.bias_hh),
        )
        .unwrap()]
    }
}

impl FromTorch for SimpleRnnCell<5, 4> {
    type Grad = SimpleRnnCell<5, 4, f64>;

    fn cell(fx: &Fixture) -> Self {
        let w = weights(fx);
        let activation = fx.config_str("activation").unwrap();
        SimpleRnnCell::from_pytorch(
            &w.weight_ih,
            &w.weight_hh,
            Some(&w.bias_ih),
            Some(&w.bias_hh),
        )
        .unwrap()
        .with_activation(
            Activation::from_keras(activation)
                .unwrap_or_else(|| panic!("unknown activation {activation}")),
        )
    }

    fn expected(g: &Torch<f64>) -> Vec<Self::Grad> {
        [(Some(&g.bias_ih[..]), None), (None, Some(&g.bias_hh[..]))]
            .into_iter()
            .map(|(ih, hh)| {
                SimpleRnnCell::from_pytorch(&g.weight_ih, &g.weight_hh, ih, hh).unwrap()
            })
            .collect()
    }
}

fn values<N: Nested>(flat: &[f64]) -> N {
    N::from_f32_slice(&flat.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap()
}

fn flat<N: Nested>(value: &N) -> Vec<f64> {
    common::flat(value).into_iter().map(f64::from).collect()
}

/// The largest absolute difference and where it is.
fn max_diff(names: &[String], ours: &[f64], torch: &[f64]) -> (f64, String) {
    assert_eq!(ours.len(), torch.len(), "compared lengths");
    ours.iter()
        .zip(torch)
        .zip(names)
        .map(|((a, b), name)| ((a - b).abs(), name.clone()))
        .fold((0.0, String::new()), |worst, this| {
            if this.0 > worst.0 {
                this
            } else {
                worst
            }
        })
}

fn indices(what: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{what}[{i}]")).collect()
}

/// Runs the fixture's batch through `run_batch_taped` and `backward_batch`, and checks the
/// outputs, final states and every gradient against PyTorch's.
fn check<C: FromTorch>(file: &str) {
    let fx = Fixture::load(&format!("gradients/{file}.json"));
    let [batch, steps, _] = fx.inputs.shape[..] else {
        panic!("inputs are [B, T, I]")
    };
    let lengths: Vec<usize> = serde_json::from_value(fx.extra["lengths"].clone()).unwrap();
    let loss_weights = &fx.extra["loss_weights"];
    let w_outputs: Tensor = serde_json::from_value(loss_weights["outputs"].clone()).unwrap();
    let w_states: Vec<Tensor> =
        serde_json::from_value(loss_weights["final_state"].clone()).unwrap();
    let torch = torch_gradients(&fx);

    // PyTorch pads a packed sequence's outputs with zeros.
    let rnn = Rnn::new(C::cell(&fx)).padding(Padding::Zero);
    let sequences: Vec<Vec<C::Input>> = (0..batch)
        .map(|b| (0..steps).map(|t| values(fx.inputs.step(b, t))).collect())
        .collect();
    let initial: Vec<C::State> = (0..batch).map(|b| fx.initial_state_of(b)).collect();
    let data = Batch::new(&sequences)
        .lengths(&lengths)
        .initial_states(&initial);
    let mut tape = BatchTape::new();
    let run = rnn.run_batch_taped(&data, &(), &mut tape).unwrap();

    let mut diffs = Vec::new();
    let outputs: Vec<f64> = run
        .outputs
        .to_flat_f32()
        .into_iter()
        .map(f64::from)
        .collect();
    let names = indices("output", outputs.len());
    diffs.push((
        "outputs",
        max_diff(&names, &outputs, &fx.outputs.as_ref().unwrap().data),
    ));
    let finals: Vec<f64> = (0..batch).flat_map(|b| flat(&run.states[b])).collect();
    let expected: Vec<f64> = (0..batch).flat_map(|b| fx.final_state_of(b)).collect();
    let names = indices("final_state", finals.len());
    diffs.push(("final states", max_diff(&names, &finals, &expected)));

    let d_outputs: Vec<Vec<C::Output>> = (0..batch)
        .map(|b| (0..steps).map(|t| values(w_outputs.step(b, t))).collect())
        .collect();
    let d_states: Vec<C::State> = (0..batch)
        .map(|b| {
            values(
                &w_states
                    .iter()
                    .flat_map(|w| w.row(b).to_vec())
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let grads = rnn
        .backward_batch(&tape, &data, &d_outputs, &d_states, &())
        .unwrap();

    let d_inputs: Vec<f64> = grads.inputs.iter().flatten().flat_map(flat).collect();
    let names = indices("inputs", d_inputs.len());
    diffs.push(("inputs", max_diff(&names, &d_inputs, &torch["inputs"].data)));
    // The state's adjoint, split into PyTorch's state tensors (LSTM: h then c).
    for (k, w) in w_states.iter().enumerate() {
        let width = w.shape[1];
        let ours: Vec<f64> = grads
            .initial_states
            .iter()
            .flat_map(|s| flat(s)[k * width..(k + 1) * width].to_vec())
            .collect();
        let name = format!("initial_state/{k}");
        let names = indices(&name, ours.len());
        let diff = max_diff(&names, &ours, &torch[&name].data);
        diffs.push((if k == 0 { "h_0" } else { "c_0" }, diff));
    }
    let ours = parameters(&grads.parameters);
    let names = parameter_names(&grads.parameters);
    for expected in C::expected(&gradients_of(&fx)) {
        diffs.push((
            "parameters",
            max_diff(&names, &ours, &parameters(&expected)),
        ));
    }

    for (what, (diff, at)) in diffs {
        println!("{:<22} {what:<14} max abs err {diff:.2e} at {at}", fx.name);
        assert!(
            diff <= TOLERANCE,
            "{}: {what}: max abs error {diff:e} > {TOLERANCE:e} at {at}",
            fx.name
        );
    }
}

#[test]
fn lstm_matches_torch_autograd() {
    check::<LstmCell<5, 4>>("torch_grad_lstm");
}

#[test]
fn gru_matches_torch_autograd() {
    check::<GruCell<5, 4>>("torch_grad_gru");
}

#[test]
fn simple_rnn_tanh_matches_torch_autograd() {
    check::<SimpleRnnCell<5, 4>>("torch_grad_rnn_tanh");
}

#[test]
fn simple_rnn_relu_matches_torch_autograd() {
    check::<SimpleRnnCell<5, 4>>("torch_grad_rnn_relu");
}
