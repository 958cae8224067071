//! The `f32` backward passes against Keras 3's `tf.GradientTape` (computed in float64 on the
//! same float32 weights): a batch of 3 masked sequences of 6 steps (left padding, holes,
//! trailing padding) from given initial states, the loss a weighted sum of every output and the
//! final states. Fixtures: `tools/fixtures_gradients.py`.

mod common;

use std::collections::HashMap;

use common::keras::{flat64 as flat, gru, lstm, max_diff, simple_rnn, values};
use common::{Fixture, Tensor};
use rnn::train::{Differentiable, Tape};
use rnn::{Direction, Mask, Padding, Rnn};

/// The largest absolute difference allowed from Keras's gradients.
const TOLERANCE: f64 = 1e-5;

/// Runs the fixture's batch through `run_taped` and `backward`, sums the parameter gradients
/// over the batch, and returns the largest difference from Keras's gradients, by name.
fn gradients<C: Differentiable<Constants = ()> + Clone>(
    cell: C,
    fx: &Fixture,
) -> Vec<(String, f64)> {
    let [batch, steps, _] = fx.inputs.shape[..] else {
        panic!("inputs are [B, T, I]")
    };
    let mask = fx.mask.as_ref().expect("a masked batch");
    let loss_weights = &fx.extra["loss_weights"];
    let w_outputs: Tensor = serde_json::from_value(loss_weights["outputs"].clone()).unwrap();
    let w_states: Vec<Tensor> =
        serde_json::from_value(loss_weights["final_state"].clone()).unwrap();
    let keras: HashMap<String, Tensor> =
        serde_json::from_value(fx.extra["gradients"].clone()).unwrap();
    let direction = if fx.extra["go_backwards"].as_bool().unwrap() {
        Direction::GoBackwards
    } else {
        Direction::Forward
    };
    let padding = if fx.extra["zero_output_for_mask"].as_bool().unwrap() {
        Padding::Zero
    } else {
        Padding::CarryLastOutput
    };
    let rnn = Rnn::new(cell).direction(direction).padding(padding);

    let mut parameters: HashMap<String, Vec<f64>> = HashMap::new();
    let (mut d_inputs, mut d_states) = (Vec::new(), vec![Vec::new(); w_states.len()]);
    let mut tape = Tape::new();
    for b in 0..batch {
        let xs: Vec<C::Input> = (0..steps).map(|t| values(fx.inputs.step(b, t))).collect();
        let valid: Vec<bool> = mask.row(b).iter().map(|&m| m != 0.0).collect();
        let initial: C::State = fx.initial_state_of(b);
        let run = rnn
            .run_taped(&xs, Mask::Steps(&valid), initial, &(), &mut tape)
            .unwrap();
        let outputs: Vec<f64> = run.outputs.iter().flat_map(flat).collect();
        let expected = &fx.outputs.as_ref().unwrap().row(b);
        assert!(
            max_diff(&outputs, expected) < TOLERANCE,
            "{}: outputs",
            fx.name
        );

        let d_outputs: Vec<C::Output> = (0..steps).map(|t| values(w_outputs.step(b, t))).collect();
        let d_state: Vec<f64> = w_states.iter().flat_map(|w| w.row(b).to_vec()).collect();
        let grads = rnn
            .backward(&tape, &xs, &d_outputs, values(&d_state), &())
            .unwrap();
        grads.parameters.for_each_parameter(|path, tensor| {
            let sum = parameters
                .entry(path.to_string())
                .or_insert_with(|| vec![0.0; tensor.len()]);
            let mut sum = sum.iter_mut();
            tensor.read(&mut |v| *sum.next().unwrap() += v);
        });
        d_inputs.extend(grads.inputs.iter().flat_map(flat));
        // The state's adjoint, split into Keras's state tensors (LSTM: h then c).
        let d_initial = flat(&grads.initial_state);
        for (k, chunk) in d_initial
            .chunks(d_initial.len() / w_states.len())
            .enumerate()
        {
            d_states[k].extend_from_slice(chunk);
        }
    }

    let mut diffs = vec![(
        "inputs".to_string(),
        max_diff(&d_inputs, &keras["inputs"].data),
    )];
    for (k, ours) in d_states.iter().enumerate() {
        let name = format!("initial_state/{k}");
        diffs.push((name.clone(), max_diff(ours, &keras[&name].data)));
    }
    let mut names: Vec<_> = parameters.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names.len(),
        keras.len() - 1 - d_states.len(),
        "{}: every weight",
        fx.name
    );
    for name in names {
        diffs.push((
            name.clone(),
            max_diff(&parameters[&name], &keras[&name].data),
        ));
    }
    diffs
}

fn check(fx: &Fixture, diffs: Vec<(String, f64)>) {
    for (what, diff) in diffs {
        println!("{:<28} {what:<18} max abs err {diff:.2e}", fx.name);
        assert!(
            diff <= TOLERANCE,
            "{}: gradient of {what}: max abs error {diff:e} > {TOLERANCE:e}",
            fx.name
        );
    }
}

macro_rules! parity {
    ($($test:ident: $file:literal => $build:expr;)*) => {$(
        #[test]
        fn $test() {
            let fx = Fixture::load(concat!("gradients/", $file, ".json"));
            #[allow(clippy::redundant_closure_call)]
            let cell = ($build)(&fx);
            check(&fx, gradients(cell, &fx));
        }
    )*};
}

parity! {
    lstm_masked: "grad_lstm" => lstm;
    lstm_zero_output: "grad_lstm_zero_output" => lstm;
    lstm_go_backwards: "grad_lstm_go_backwards" => lstm;
    gru_reset_after: "grad_gru_reset_after" => gru;
    gru_reset_before: "grad_gru_reset_before" => gru;
    gru_hard_sigmoid: "grad_gru_hard_sigmoid" => gru;
    simple_rnn_tanh: "grad_simple_rnn" => simple_rnn;
    simple_rnn_relu: "grad_simple_rnn_relu" => simple_rnn;
}
