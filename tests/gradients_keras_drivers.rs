//! The drivers' `f32` backward passes against Keras 3's `tf.GradientTape` (computed in float64
//! on the same float32 weights), over the masked batch of `tests/gradients_keras.rs` (3
//! sequences of 6 steps: left padding, holes, trailing padding) from given initial states, the
//! loss a weighted sum of every output and the final states:
//!
//! - `Bidirectional(LSTM)` in each merge mode (`concat`, `sum`, `mul`, `ave`), whose halves
//!   Keras forces to `zero_output_for_mask`;
//! - `RNN(StackedRNNCells([LSTMCell(4), GRUCell(3)]))`;
//! - truncated backpropagation: a stateful LSTM and GRU over two chunks, the second chunk's
//!   gradient taken from the carried state through `tf.stop_gradient`.
//!
//! Keras's weight gradients are in its own layout; the expected gradient value is built from
//! them by the same `from_keras` the weights go through (a linear map). Fixtures:
//! `tools/fixtures_gradients.py`.

mod common;
mod gradcheck;

use std::collections::HashMap;

use common::{Fixture, Tensor};
use gradcheck::{parameter_names, parameters};
use rnn::cells::{GruCell, LstmCell, Stacked};
use rnn::nalgebra::SVector;
use rnn::parameters::Parameters;
use rnn::train::{BidirectionalTape, Differentiable, MergeAdjoint, Tape};
use rnn::{Ave, Bidirectional, Both, Mask, Mul, Nested, Padding, Rnn, Sum};

/// The largest absolute difference allowed from Keras's gradients.
const TOLERANCE: f64 = 1e-5;

/// What the crate computed over the whole batch, flattened in the fixture's order (sequence
/// by sequence; the states in Keras's order, LSTM h then c, a stack layer by layer).
#[derive(Default)]
struct Ours {
    outputs: Vec<f64>,
    final_states: Vec<f64>,
    d_inputs: Vec<f64>,
    d_initial_states: Vec<f64>,
    /// The parameter gradients, summed over the batch, in `for_each_parameter`'s order.
    d_parameters: Vec<f64>,
    names: Vec<String>,
}

impl Ours {
    /// Adds one sequence's parameter gradients into the batch's sum.
    fn add_parameters<P: Parameters>(&mut self, grads: &P) {
        let values = parameters(grads);
        if self.d_parameters.is_empty() {
            self.d_parameters = vec![0.0; values.len()];
            self.names = parameter_names(grads);
        }
        for (sum, v) in self.d_parameters.iter_mut().zip(values) {
            *sum += v;
        }
    }
}

fn values<N: Nested>(flat: &[f64]) -> N {
    N::from_f32_slice(&flat.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap()
}

fn flat<N: Nested>(value: &N) -> Vec<f64> {
    common::flat(value).into_iter().map(f64::from).collect()
}

fn keras_gradients(fx: &Fixture) -> HashMap<String, Tensor> {
    serde_json::from_value(fx.extra["gradients"].clone()).unwrap()
}

/// The fixture's batch: the inputs of sequence `b`, its step mask, the output and final-state
/// loss weights.
struct Data {
    batch: usize,
    steps: usize,
    mask: Tensor,
    w_outputs: Tensor,
    w_states: Vec<Tensor>,
}

impl Data {
    fn of(fx: &Fixture) -> Data {
        let [batch, steps, _] = fx.inputs.shape[..] else {
            panic!("inputs are [B, T, I]")
        };
        let loss_weights = &fx.extra["loss_weights"];
        Data {
            batch,
            steps,
            mask: fx.mask.clone().expect("a masked batch"),
            w_outputs: serde_json::from_value(loss_weights["outputs"].clone()).unwrap(),
            w_states: serde_json::from_value(loss_weights["final_state"].clone()).unwrap(),
        }
    }

    fn inputs<X: Nested>(&self, inputs: &Tensor, b: usize) -> Vec<X> {
        (0..self.steps).map(|t| values(inputs.step(b, t))).collect()
    }

    fn valid(&self, b: usize) -> Vec<bool> {
        self.mask.row(b).iter().map(|&m| m != 0.0).collect()
    }

    fn d_outputs<Y: Nested>(&self, b: usize) -> Vec<Y> {
        (0..self.steps)
            .map(|t| values(self.w_outputs.step(b, t)))
            .collect()
    }

    /// The final states' loss weights of sequence `b`, tensors `range`, concatenated.
    fn d_state<S: Nested>(&self, b: usize, range: std::ops::Range<usize>) -> S {
        values(
            &self.w_states[range]
                .iter()
                .flat_map(|w| w.row(b).to_vec())
                .collect::<Vec<_>>(),
        )
    }
}

/// The state tensors `range` of sequence `b`, concatenated.
fn state_of<S: Nested>(states: &[Tensor], b: usize, range: std::ops::Range<usize>) -> S {
    values(
        &states[range]
            .iter()
            .flat_map(|s| s.row(b).to_vec())
            .collect::<Vec<_>>(),
    )
}

fn max_diff(what: &str, names: &[String], ours: &[f64], keras: &[f64]) -> (f64, String) {
    assert_eq!(ours.len(), keras.len(), "{what}: compared lengths");
    let mut worst = (0.0, String::new());
    for (i, (a, b)) in ours.iter().zip(keras).enumerate() {
        if (a - b).abs() > worst.0 {
            let at = names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("{what}[{i}]"));
            worst = ((a - b).abs(), at);
        }
    }
    worst
}

/// Every quantity against Keras's: outputs, final states, the inputs', initial states' and
/// parameters' gradients (`expected`: Keras's weight gradients imported into the crate's
/// layout).
fn check(fx: &Fixture, ours: Ours, expected: Vec<f64>) {
    let keras = keras_gradients(fx);
    let batch = fx.inputs.shape[0];
    let n_states = fx.final_state.len();
    let per_sequence = |tensors: &dyn Fn(usize) -> Vec<f64>| -> Vec<f64> {
        (0..batch).flat_map(tensors).collect()
    };
    let final_states = per_sequence(&|b| fx.final_state_of(b));
    let d_initial = per_sequence(&|b| {
        (0..n_states)
            .flat_map(|k| keras[&format!("initial_state/{k}")].row(b).to_vec())
            .collect()
    });
    let diffs = [
        (
            "outputs",
            max_diff(
                "output",
                &[],
                &ours.outputs,
                &fx.outputs.as_ref().unwrap().data,
            ),
        ),
        (
            "final states",
            max_diff("final_state", &[], &ours.final_states, &final_states),
        ),
        (
            "d inputs",
            max_diff("input", &[], &ours.d_inputs, &keras["inputs"].data),
        ),
        (
            "d initial states",
            max_diff("initial_state", &[], &ours.d_initial_states, &d_initial),
        ),
        (
            "d parameters",
            max_diff("parameter", &ours.names, &ours.d_parameters, &expected),
        ),
    ];
    for (what, (diff, at)) in diffs {
        println!("{:<32} {what:<17} max abs err {diff:.2e} at {at}", fx.name);
        assert!(
            diff <= TOLERANCE,
            "{}: {what}: max abs error {diff:e} > {TOLERANCE:e} at {at}",
            fx.name
        );
    }
}

/// A Keras-layout weight (or its gradient) of the fixture, in `f64`.
fn tensor(tensors: &HashMap<String, Tensor>, name: &str) -> Vec<f64> {
    tensors
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .data
        .clone()
}

fn lstm<T: rnn::Real>(t: &HashMap<String, Vec<T>>, prefix: &str) -> LstmCell<5, 4, T> {
    LstmCell::from_keras(
        &t[&format!("{prefix}kernel")],
        &t[&format!("{prefix}recurrent_kernel")],
        Some(&t[&format!("{prefix}bias")]),
    )
    .unwrap()
}

fn gru<T: rnn::Real, const I: usize, const H: usize>(
    t: &HashMap<String, Vec<T>>,
    prefix: &str,
) -> GruCell<I, H, T> {
    GruCell::from_keras(
        &t[&format!("{prefix}kernel")],
        &t[&format!("{prefix}recurrent_kernel")],
        Some(&t[&format!("{prefix}bias")]),
    )
    .unwrap()
}

/// The fixture's weights in `f32` and Keras's weight gradients in `f64`, by name.
fn weights_and_gradients(fx: &Fixture) -> (HashMap<String, Vec<f32>>, HashMap<String, Vec<f64>>) {
    let keras = keras_gradients(fx);
    let weights = fx
        .weights
        .keys()
        .map(|k| (k.clone(), fx.weight(k)))
        .collect();
    let grads = fx
        .weights
        .keys()
        .map(|k| (k.clone(), tensor(&keras, k)))
        .collect();
    (weights, grads)
}

// ---------------------------------------------------------------------------- bidirectional

fn bidirectional<M, Y>(file: &str, merge: M)
where
    M: MergeAdjoint<SVector<f32, 4>, SVector<f32, 4>, Output = Y> + Clone,
    Y: Nested,
{
    let fx = Fixture::load(&format!("gradients/{file}.json"));
    let data = Data::of(&fx);
    let (w, g) = weights_and_gradients(&fx);
    let bi = Bidirectional::new(lstm(&w, "forward/"), lstm(&w, "backward/"))
        .padding(Padding::Zero)
        .merge_mode(merge);
    let initial = fx.initial_state.as_ref().unwrap();
    let k = Both::new(&(), &());
    let mut ours = Ours::default();
    let mut tape = BidirectionalTape::new();
    for b in 0..data.batch {
        let xs: Vec<SVector<f32, 5>> = data.inputs(&fx.inputs, b);
        let valid = data.valid(b);
        let s0 = Both::new(state_of(initial, b, 0..2), state_of(initial, b, 2..4));
        let run = bi
            .run_taped(&xs, Mask::Steps(&valid), s0, k, &mut tape)
            .unwrap();
        ours.outputs.extend(run.outputs.iter().flat_map(flat));
        ours.final_states.extend(flat(&run.state.forward));
        ours.final_states.extend(flat(&run.state.backward));
        let d_state = Both::new(data.d_state(b, 0..2), data.d_state(b, 2..4));
        let grads = bi
            .backward(&tape, &xs, &data.d_outputs::<Y>(b), d_state, k)
            .unwrap();
        ours.d_inputs.extend(grads.inputs.iter().flat_map(flat));
        ours.d_initial_states
            .extend(flat(&grads.initial_state.forward));
        ours.d_initial_states
            .extend(flat(&grads.initial_state.backward));
        ours.add_parameters(&grads.parameters);
    }
    let expected = Bidirectional::new(lstm(&g, "forward/"), lstm(&g, "backward/"));
    check(&fx, ours, parameters(&expected));
}

#[test]
fn bidirectional_lstm_concat() {
    bidirectional("grad_bidirectional_lstm_concat", rnn::Concat);
}

#[test]
fn bidirectional_lstm_sum() {
    bidirectional::<_, SVector<f32, 4>>("grad_bidirectional_lstm_sum", Sum);
}

#[test]
fn bidirectional_lstm_mul() {
    bidirectional::<_, SVector<f32, 4>>("grad_bidirectional_lstm_mul", Mul);
}

#[test]
fn bidirectional_lstm_ave() {
    bidirectional::<_, SVector<f32, 4>>("grad_bidirectional_lstm_ave", Ave);
}

// ------------------------------------------------------------------- stacked and truncated

/// One sequence's run and gradients through `Rnn::run_taped` and `backward` (or a stream's
/// `feed_taped` and `backward_chunk`), added to `ours`.
fn add_sequence<C: Differentiable>(
    ours: &mut Ours,
    outputs: &[C::Output],
    final_state: &C::State,
    grads: &rnn::train::Gradients<C>,
) {
    ours.outputs.extend(outputs.iter().flat_map(flat));
    ours.final_states.extend(flat(final_state));
    ours.d_inputs.extend(grads.inputs.iter().flat_map(flat));
    ours.d_initial_states.extend(flat(&grads.initial_state));
    ours.add_parameters(&grads.parameters);
}

#[test]
fn stacked_lstm_then_gru() {
    let fx = Fixture::load("gradients/grad_stacked_lstm_gru.json");
    let data = Data::of(&fx);
    let (w, g) = weights_and_gradients(&fx);
    let rnn = Rnn::new(Stacked((lstm(&w, "l0/"), gru::<_, 4, 3>(&w, "l1/"))))
        .padding(Padding::CarryLastOutput);
    let mut ours = Ours::default();
    let mut tape = Tape::new();
    for b in 0..data.batch {
        let xs: Vec<SVector<f32, 5>> = data.inputs(&fx.inputs, b);
        let valid = data.valid(b);
        let run = rnn
            .run_taped(
                &xs,
                Mask::Steps(&valid),
                fx.initial_state_of(b),
                &((), ()),
                &mut tape,
            )
            .unwrap();
        let d_state = data.d_state(b, 0..data.w_states.len());
        let grads = rnn
            .backward(&tape, &xs, &data.d_outputs(b), d_state, &((), ()))
            .unwrap();
        add_sequence(&mut ours, &run.outputs, &run.state, &grads);
    }
    let expected = Stacked((lstm(&g, "l0/"), gru::<_, 4, 3>(&g, "l1/")));
    check(&fx, ours, parameters(&expected));
}

/// Two chunks of a stream per sequence: the first (unmasked) from the fixture's first-chunk
/// states must carry Keras's state into the second, whose truncated backward is compared.
fn truncated<C>(file: &str, cell: impl Fn(&HashMap<String, Vec<f32>>) -> C, expected: Vec<f64>)
where
    C: Differentiable<Constants = ()> + Clone,
{
    let fx = Fixture::load(&format!("gradients/{file}.json"));
    let data = Data::of(&fx);
    let first = &fx.extra["first_chunk"];
    let first_inputs: Tensor = serde_json::from_value(first["inputs"].clone()).unwrap();
    let first_states: Vec<Tensor> = serde_json::from_value(first["initial_state"].clone()).unwrap();
    let (w, _) = weights_and_gradients(&fx);
    let rnn = Rnn::new(cell(&w)).padding(Padding::CarryLastOutput);
    let n_states = first_states.len();
    let mut ours = Ours::default();
    let mut tape = Tape::new();
    let mut carried_error = 0.0f64;
    for b in 0..data.batch {
        let mut stream =
            rnn.clone()
                .stateful(())
                .with_initial_state(state_of(&first_states, b, 0..n_states));
        stream
            .feed_taped(
                &data.inputs::<C::Input>(&first_inputs, b),
                Mask::All,
                &mut tape,
            )
            .unwrap();
        // The state Keras carried into the second chunk (the fixture's initial state).
        let carried: Vec<f64> = fx
            .initial_state
            .as_ref()
            .unwrap()
            .iter()
            .flat_map(|s| s.row(b).to_vec())
            .collect();
        for (a, k) in flat(stream.state()).iter().zip(&carried) {
            carried_error = carried_error.max((a - k).abs());
        }

        let xs: Vec<C::Input> = data.inputs(&fx.inputs, b);
        let valid = data.valid(b);
        let outputs = stream
            .feed_taped(&xs, Mask::Steps(&valid), &mut tape)
            .unwrap();
        let d_state = data.d_state(b, 0..n_states);
        let grads = stream
            .backward_chunk(&tape, &xs, &data.d_outputs(b), d_state)
            .unwrap();
        let outputs: Vec<C::Output> = outputs.iter().cloned().collect();
        add_sequence(&mut ours, &outputs, stream.state(), &grads);
    }
    println!("{file:<32} carried state     max abs err {carried_error:.2e}");
    assert!(carried_error <= TOLERANCE, "{file}: carried state");
    check(&fx, ours, expected);
}

#[test]
fn truncated_lstm_over_two_chunks() {
    let fx = Fixture::load("gradients/grad_truncated_lstm.json");
    let (_, g) = weights_and_gradients(&fx);
    truncated(
        "grad_truncated_lstm",
        |w| lstm(w, ""),
        parameters(&lstm(&g, "")),
    );
}

#[test]
fn truncated_gru_over_two_chunks() {
    let fx = Fixture::load("gradients/grad_truncated_gru.json");
    let (_, g) = weights_and_gradients(&fx);
    truncated(
        "grad_truncated_gru",
        |w| gru::<_, 5, 4>(w, ""),
        parameters(&gru::<_, 5, 4>(&g, "")),
    );
}
