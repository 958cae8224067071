//! Dropout in training against Keras 3: each built-in cell with `dropout` and
//! `recurrent_dropout`, called with `training=True` on a masked batch of 3 sequences of 6
//! steps, Keras handed the masks `rnn` draws. Our masks must be the fixture's keep flags, and
//! our `f32` outputs, final states and gradients (`run_batch_taped`, `backward_batch`) within
//! 1e-5 of `tf.GradientTape`'s (float64 on the same float32 weights). Fixtures:
//! `tools/fixtures_dropout.py`.

mod common;

use std::collections::HashMap;

use common::keras::{flat64 as flat, gru, lstm, max_diff, simple_rnn, values};
use common::{Fixture, Tensor};
use nalgebra::SVector;
use rnn::train::{BatchTape, Differentiable};
use rnn::{nalgebra, Batch, Dropout, Mask, Rnn};

/// The largest absolute difference allowed from Keras.
const TOLERANCE: f64 = 1e-5;

/// The fixture's batch through a dropped `run_batch_taped` and `backward_batch`: the masks
/// checked against the fixture's keep flags, then the largest difference from Keras of the
/// outputs, final states and every gradient, by name.
fn differences<C>(cell: C, fx: &Fixture) -> Vec<(String, f64)>
where
    C: Differentiable<Constants = (), Input = SVector<f32, 5>> + Clone + Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Residual: Send + Sync,
{
    let [batch, steps, _] = fx.inputs.shape[..] else {
        panic!("inputs are [B, T, I]")
    };
    let config = &fx.extra["dropout"];
    let dropout = Dropout {
        rate: config["rate"].as_f64().unwrap(),
        recurrent_rate: config["recurrent_rate"].as_f64().unwrap(),
        seed: config["seed"].as_u64().unwrap(),
    };
    let rnn = Rnn::new(cell).dropout(dropout).unwrap();
    let xs: Vec<Vec<C::Input>> = (0..batch)
        .map(|b| (0..steps).map(|t| values(fx.inputs.step(b, t))).collect())
        .collect();
    let mask = fx.mask.as_ref().expect("a masked batch");
    let valid: Vec<Vec<bool>> = (0..batch)
        .map(|b| mask.row(b).iter().map(|&m| m != 0.0).collect())
        .collect();
    let masks: Vec<Mask<'_>> = valid.iter().map(|v| Mask::Steps(v)).collect();
    let initial: Vec<C::State> = (0..batch).map(|b| fx.initial_state_of(b)).collect();
    let data = Batch::new(&xs).masks(&masks).initial_states(&initial);
    let mut tape = BatchTape::new();
    let run = rnn.run_batch_taped(&data, &(), &mut tape).unwrap();

    // Our masks are the ones Keras was given.
    let keep: HashMap<String, Tensor> =
        serde_json::from_value(fx.extra["dropout_masks"].clone()).unwrap();
    for b in 0..batch {
        let ours = tape.sequence(b).unwrap().dropout_masks().unwrap();
        for (which, units) in [("input", 5), ("recurrent", 4)] {
            let flags = &keep[which];
            for g in 0..flags.shape[0] {
                for j in 0..units {
                    let theirs = flags.data[(g * batch + b) * units + j] != 0.0;
                    let mine = match which {
                        "input" => ours.input_kept(g, j),
                        _ => ours.recurrent_kept(g, j),
                    };
                    assert_eq!(
                        mine, theirs,
                        "{}: {which} mask {g} of {b}, unit {j}",
                        fx.name
                    );
                }
            }
        }
    }

    let outputs: Vec<f64> = run
        .outputs
        .iter()
        .flat_map(|s| s.iter().flat_map(flat))
        .collect();
    let states: Vec<f64> = (0..batch).flat_map(|b| flat(&run.states[b])).collect();
    let keras_states: Vec<f64> = (0..batch).flat_map(|b| fx.final_state_of(b)).collect();
    let mut diffs = vec![
        (
            "outputs".to_string(),
            max_diff(&outputs, &fx.outputs.as_ref().unwrap().data),
        ),
        ("final states".to_string(), max_diff(&states, &keras_states)),
    ];

    let loss_weights = &fx.extra["loss_weights"];
    let w_outputs: Tensor = serde_json::from_value(loss_weights["outputs"].clone()).unwrap();
    let w_states: Vec<Tensor> =
        serde_json::from_value(loss_weights["final_state"].clone()).unwrap();
    let d_outputs: Vec<Vec<C::Output>> = (0..batch)
        .map(|b| (0..steps).map(|t| values(w_outputs.step(b, t))).collect())
        .collect();
    let d_states: Vec<C::State> = (0..batch)
        .map(|b| {
            let flat: Vec<f64> = w_states.iter().flat_map(|w| w.row(b).to_vec()).collect();
            values(&flat)
        })
        .collect();
    let grads = rnn
        .backward_batch(&tape, &data, &d_outputs, &d_states, &())
        .unwrap();

    let keras: HashMap<String, Tensor> =
        serde_json::from_value(fx.extra["gradients"].clone()).unwrap();
    let d_inputs: Vec<f64> = grads
        .inputs
        .iter()
        .flat_map(|s| s.iter().flat_map(flat))
        .collect();
    diffs.push(("inputs".into(), max_diff(&d_inputs, &keras["inputs"].data)));
    // The initial states' adjoints, split into Keras's state tensors (LSTM: h then c).
    for k in 0..w_states.len() {
        let ours: Vec<f64> = grads
            .initial_states
            .iter()
            .flat_map(|s| {
                let s = flat(s);
                let width = s.len() / w_states.len();
                s[k * width..(k + 1) * width].to_vec()
            })
            .collect();
        let name = format!("initial_state/{k}");
        diffs.push((name.clone(), max_diff(&ours, &keras[&name].data)));
    }
    let mut seen = 0;
    grads.parameters.for_each_parameter(|path, tensor| {
        let mut ours = Vec::new();
        tensor.read(&mut |v| ours.push(v));
        let name = path.to_string();
        diffs.push((name.clone(), max_diff(&ours, &keras[&name].data)));
        seen += 1;
    });
    assert_eq!(
        seen,
        keras.len() - 1 - w_states.len(),
        "{}: every weight",
        fx.name
    );
    diffs
}

fn check(fx: &Fixture, diffs: Vec<(String, f64)>) {
    for (what, diff) in diffs {
        println!("{:<28} {what:<18} max abs err {diff:.2e}", fx.name);
        assert!(
            diff <= TOLERANCE,
            "{}: {what}: max abs error {diff:e} > {TOLERANCE:e}",
            fx.name
        );
    }
}

macro_rules! parity {
    ($($test:ident: $file:literal => $build:expr;)*) => {$(
        #[test]
        fn $test() {
            let fx = Fixture::load(concat!("dropout/", $file, ".json"));
            #[allow(clippy::redundant_closure_call)]
            let cell = ($build)(&fx);
            check(&fx, differences(cell, &fx));
        }
    )*};
}

parity! {
    lstm_both_rates: "dropout_lstm" => lstm;
    lstm_inputs_only: "dropout_lstm_inputs_only" => lstm;
    gru_reset_after: "dropout_gru_reset_after" => gru;
    gru_reset_before: "dropout_gru_reset_before" => gru;
    simple_rnn_both_rates: "dropout_simple_rnn" => simple_rnn;
}
