//! Masks, go_backwards and Bidirectional against Keras 3 (TensorFlow backend), with the
//! built-in LSTM: `tests/fixtures/keras/keras_{lstm_mask_*,lstm_go_backwards_mask,
//! bidirectional_*}.json` (written by `tools/fixtures_keras.py`), and seed 002's masked rows.

mod common;

use common::{flat, max_abs_diff, Fixture};
use rnn::cells::{GruCell, LstmCell, LstmState};
use rnn::ops::Activation;
use rnn::prelude::*;
use rnn::{Ave, Bidirectional, Both, Concat, Mask, Merge, Mul, Padding, Sum};

const TOLERANCE: f64 = 1e-5;

fn lstm(fx: &Fixture, prefix: &str) -> LstmCell<5, 4> {
    let w = |n: &str| fx.weight(&format!("{prefix}{n}"));
    LstmCell::from_keras(&w("kernel"), &w("recurrent_kernel"), Some(&w("bias"))).unwrap()
}

fn inputs(fx: &Fixture, b: usize) -> Vec<SVector<f32, 5>> {
    (0..fx.inputs.shape[1])
        .map(|t| SVector::from_iterator(fx.inputs.step(b, t).iter().map(|&x| x as f32)))
        .collect()
}

fn mask(fx: &Fixture, b: usize) -> Vec<bool> {
    fx.mask
        .as_ref()
        .expect("fixture has a mask")
        .row(b)
        .iter()
        .map(|&m| m != 0.0)
        .collect()
}

fn padding(fx: &Fixture) -> Padding {
    if fx.extra["zero_output_for_mask"].as_bool().unwrap() {
        Padding::Zero
    } else {
        Padding::CarryLastOutput
    }
}

fn check(name: &str, err: f64) {
    println!("{name:<32} max abs err {err:.2e}");
    assert!(
        err <= TOLERANCE,
        "{name}: max abs error {err:e} > {TOLERANCE:e}"
    );
}

/// A masked (and maybe go_backwards) LSTM layer over the fixture's batch, as one `run_batch`.
fn masked_lstm(file: &str) {
    let fx = Fixture::load(&format!("keras/{file}.json"));
    let cell = lstm(&fx, "");
    let batch = fx.inputs.shape[0];
    let go_backwards = fx.extra["go_backwards"].as_bool().unwrap();
    let rnn = Rnn::new(&cell)
        .padding(padding(&fx))
        .go_backwards(go_backwards);
    let sequences: Vec<_> = (0..batch).map(|b| inputs(&fx, b)).collect();
    let masks: Vec<Vec<bool>> = (0..batch).map(|b| mask(&fx, b)).collect();
    let masks: Vec<Mask> = masks.iter().map(Mask::from).collect();
    let initial: Vec<LstmState<4>> = (0..batch).map(|b| fx.initial_state_of(b)).collect();
    let run = rnn
        .run_batch(
            &rnn::Batch::new(&sequences)
                .masks(&masks)
                .initial_states(&initial),
            &(),
        )
        .unwrap();
    let outputs = fx.outputs.as_ref().unwrap();
    let mut worst = max_abs_diff(&run.outputs.to_flat_f32(), &outputs.data);
    for b in 0..batch {
        worst = worst.max(max_abs_diff(&flat(&run.states[b]), &fx.final_state_of(b)));
    }
    check(file, worst);
}

#[test]
fn lstm_mask_with_holes_carries_the_last_output() {
    masked_lstm("keras_lstm_mask_holes");
}

#[test]
fn lstm_mask_with_zero_output_for_mask() {
    masked_lstm("keras_lstm_mask_zero_output");
}

#[test]
fn lstm_go_backwards_with_a_mask() {
    masked_lstm("keras_lstm_go_backwards_mask");
}

/// Keras's Bidirectional(LSTM(4)): initial states `[h_f, c_f, h_b, c_b]`, final states likewise.
fn bidirectional<M>(file: &str, merge: M)
where
    M: Merge<SVector<f32, 4>, SVector<f32, 4>>,
    M::Output: Nested,
{
    let fx = Fixture::load(&format!("keras/{file}.json"));
    let bi = Bidirectional::new(lstm(&fx, "forward/"), lstm(&fx, "backward/"))
        .merge_mode(merge)
        .padding(padding(&fx));
    let states = fx.initial_state.as_ref().unwrap();
    let state = |i: usize, b: usize| -> SVector<f32, 4> {
        SVector::from_iterator(states[i].row(b).iter().map(|&x| x as f32))
    };
    let outputs = fx.outputs.as_ref().unwrap();
    let mut worst = 0.0f64;
    for b in 0..fx.inputs.shape[0] {
        let initial = Both::new(
            LstmState {
                h: state(0, b),
                c: state(1, b),
            },
            LstmState {
                h: state(2, b),
                c: state(3, b),
            },
        );
        let run = bi
            .run_masked_from(&inputs(&fx, b), &mask(&fx, b), initial, &())
            .unwrap();
        for (t, y) in run.outputs.iter().enumerate() {
            worst = worst.max(max_abs_diff(&flat(y), outputs.step(b, t)));
        }
        let finals = &fx.final_state;
        let expected: Vec<f64> = finals
            .iter()
            .flat_map(|s| s.row(b).iter().copied())
            .collect();
        let mut ours = flat(&run.state.forward);
        ours.extend(flat(&run.state.backward));
        worst = worst.max(max_abs_diff(&ours, &expected));
    }
    check(file, worst);
}

#[test]
fn bidirectional_concat() {
    bidirectional("keras_bidirectional_concat", Concat);
}

#[test]
fn bidirectional_sum() {
    bidirectional("keras_bidirectional_sum", Sum);
}

#[test]
fn bidirectional_mul() {
    bidirectional("keras_bidirectional_mul", Mul);
}

#[test]
fn bidirectional_ave() {
    bidirectional("keras_bidirectional_ave", Ave);
}

/// Seed 002's masked rows with the built-in GRU: Keras's mask (carry) and dynamic_rnn's
/// lengths (zero), against the fixture Keras wrote.
#[test]
fn seed_002_keras_mask_and_dynamic_rnn_lengths() {
    let fx = Fixture::load("keras/seed002.json");
    let cell = GruCell::<2, 1>::from_keras(&[1.0; 6], &[0.0; 3], Some(&[1.0; 3]))
        .unwrap()
        .with_activation(Activation::Linear)
        .with_recurrent_activation(Activation::Linear);
    let embedding =
        rnn::cells::Embedding::<3, 2>::from_f32_slice(&fx.extra_tensor("embedding").f32()).unwrap();
    let masking = rnn::Masking::new(0.37);
    let tokens = fx.extra_tensor("tokens");
    let lengths: Vec<usize> = serde_json::from_value(fx.extra["lengths"].clone()).unwrap();
    let keras_mask = fx.extra_tensor("outputs_keras_mask");
    let zero_masked = fx.extra_tensor("outputs_zero_masked");
    for (b, &length) in lengths.iter().enumerate() {
        let tokens: Vec<usize> = tokens.row(b).iter().map(|&t| t as usize).collect();
        let xs = embedding.forward(&tokens).unwrap();
        let carried = Rnn::new(&cell)
            .run_masked(&xs, &masking.compute_mask(&xs), &())
            .unwrap();
        let zeroed = Rnn::new(&cell)
            .padding(Padding::Zero)
            .run_masked(&masking.apply(&xs), Mask::Length(length), &())
            .unwrap();
        check(
            "seed002 Keras mask",
            max_abs_diff(&carried.outputs.to_flat_f32(), keras_mask.row(b)),
        );
        check(
            "seed002 dynamic_rnn",
            max_abs_diff(&zeroed.outputs.to_flat_f32(), zero_masked.row(b)),
        );
    }
}
