//! Built-in cells against Keras 3 (TensorFlow backend): random weights, random inputs, given
//! initial states, a batch of 3 sequences of 6 steps. Fixtures: `tools/fixtures_keras.py`.

mod common;

use common::keras::{activation, gru, lstm_at, simple_rnn};
use common::{max_abs_diff, run_fixture, Fixture};
use rnn::cells::{Dense, GruCell, LstmCell, Stacked};
use rnn::ops::Activation;
use rnn::prelude::*;

const TOLERANCE: f64 = 1e-5;

fn check(name: &str, err: f64) {
    println!("{name:<28} max abs err {err:.2e}");
    assert!(
        err <= TOLERANCE,
        "{name}: max abs error {err:e} > {TOLERANCE:e}"
    );
}

macro_rules! parity {
    ($($test:ident: $file:literal => $build:expr;)*) => {$(
        #[test]
        fn $test() {
            let fx = Fixture::load(concat!("keras/", $file, ".json"));
            #[allow(clippy::redundant_closure_call)]
            let cell = ($build)(&fx);
            check($file, run_fixture(&cell, &fx));
        }
    )*};
}

parity! {
    simple_rnn_tanh: "keras_simple_rnn" => simple_rnn;
    simple_rnn_relu: "keras_simple_rnn_relu" => simple_rnn;
    simple_rnn_without_bias: "keras_simple_rnn_nobias" => simple_rnn;
    gru_reset_after: "keras_gru_reset_after" => gru;
    gru_reset_before: "keras_gru_reset_before" => gru;
    gru_hard_sigmoid: "keras_gru_hard_sigmoid" => gru;
    gru_without_bias: "keras_gru_nobias" => gru;
    lstm_defaults: "keras_lstm" => |fx| lstm_at(fx, "");
    lstm_hard_sigmoid: "keras_lstm_hard_sigmoid" => |fx| lstm_at(fx, "");
    lstm_relu: "keras_lstm_relu" => |fx| lstm_at(fx, "");
    lstm_without_bias: "keras_lstm_nobias" => |fx| lstm_at(fx, "");
    lstm_from_zero_state: "keras_lstm_zero_init" => |fx| lstm_at(fx, "");
}

#[test]
fn stacked_lstm_then_gru() {
    let fx = Fixture::load("keras/keras_stacked.json");
    let lstm = LstmCell::<5, 4>::from_keras(
        &fx.weight("l0/kernel"),
        &fx.weight("l0/recurrent_kernel"),
        Some(&fx.weight("l0/bias")),
    )
    .unwrap();
    let gru = GruCell::<4, 3>::from_keras(
        &fx.weight("l1/kernel"),
        &fx.weight("l1/recurrent_kernel"),
        Some(&fx.weight("l1/bias")),
    )
    .unwrap();
    check("keras_stacked", run_fixture(&Stacked((lstm, gru)), &fx));
}

fn dense_case(file: &str) {
    let fx = Fixture::load(&format!("keras/{file}.json"));
    let outputs = fx.outputs.as_ref().unwrap();
    let width = outputs.shape[1];
    let mut worst = 0.0f64;
    for b in 0..fx.inputs.shape[0] {
        let x = SVector::<f32, 5>::from_iterator(fx.inputs.row(b).iter().map(|&v| v as f32));
        let y: Vec<f32> = if width == 4 {
            let dense =
                Dense::<5, 4>::from_keras(&fx.weight("kernel"), Some(&fx.weight("bias"))).unwrap();
            dense
                .with_activation(activation(&fx, "activation"))
                .forward(&x)
                .iter()
                .copied()
                .collect()
        } else {
            let dense =
                Dense::<5, 3>::from_keras(&fx.weight("kernel"), Some(&fx.weight("bias"))).unwrap();
            dense
                .with_activation(activation(&fx, "activation"))
                .forward(&x)
                .iter()
                .copied()
                .collect()
        };
        worst = worst.max(max_abs_diff(&y, outputs.row(b)));
    }
    check(file, worst);
}

#[test]
fn dense_linear() {
    dense_case("keras_dense_linear");
}

#[test]
fn dense_tanh() {
    dense_case("keras_dense_tanh");
}

#[test]
fn lstm_in_f64() {
    let fx = Fixture::load("keras/keras_lstm_f64.json");
    let w = |n: &str| fx.weights[n].data.clone();
    let cell =
        LstmCell::<5, 4, f64>::from_keras(&w("kernel"), &w("recurrent_kernel"), Some(&w("bias")))
            .unwrap();
    let rnn = Rnn::new(&cell);
    let outputs = fx.outputs.as_ref().unwrap();
    let mut worst = 0.0f64;
    for b in 0..3 {
        let xs: Vec<SVector<f64, 5>> = (0..6)
            .map(|t| SVector::from_column_slice(fx.inputs.step(b, t)))
            .collect();
        let states = fx.initial_state.as_ref().unwrap();
        let h0 = SVector::from_column_slice(states[0].row(b));
        let c0 = SVector::from_column_slice(states[1].row(b));
        let run = rnn.run_from(&xs, rnn::cells::LstmState { h: h0, c: c0 }, &());
        for (t, y) in run.outputs.iter().enumerate() {
            for (a, e) in y.iter().zip(outputs.step(b, t)) {
                worst = worst.max((a - e).abs());
            }
        }
    }
    println!("keras_lstm_f64 max abs err {worst:.2e}");
    assert!(worst <= 1e-12, "f64 LSTM: {worst:e}");
}

#[test]
fn wrong_weight_shapes_are_typed_errors_naming_the_tensor() {
    let err = LstmCell::<5, 4>::from_keras(&[0.0; 80], &[0.0; 60], None).unwrap_err();
    assert_eq!(err.tensor, "recurrent_kernel");
    assert_eq!(
        err.to_string(),
        "weight `recurrent_kernel`: expected shape [4, 16] (64 values), found 60 values"
    );
    let err = GruCell::<5, 4>::from_keras(&[0.0; 60], &[0.0; 47], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "weight `recurrent_kernel`: expected shape [4, 12] (48 values), found 47 values"
    );
    let err =
        GruCell::<5, 4>::from_pytorch(&[0.0; 60], &[0.0; 48], Some(&[0.0; 11]), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "weight `bias_ih`: expected shape [12] (12 values), found 11 values"
    );
}

/// Keras's GRU bias says the variant: `[2, 3H]` is `reset_after = true`, `[3H]` is `false`.
/// A bias of neither shape, or one that contradicts the `reset_after` given, is an error
/// naming both shapes.
#[test]
fn gru_bias_shapes_give_the_variant_or_a_worded_error() {
    use rnn::parameters::Shape;
    use rnn::GruWeightError;
    let (kernel, recurrent) = ([0.5; 60], [0.25; 48]);
    let two_rows: Vec<f32> = (0..24).map(|i| i as f32).collect();
    let gru = GruCell::<5, 4>::from_keras(&kernel, &recurrent, Some(&two_rows)).unwrap();
    assert!(gru.reset_after);
    assert_eq!(
        gru.bias.unwrap()[2][3],
        11.0,
        "row 0: the input bias, gate h"
    );
    assert_eq!(
        gru.recurrent_bias.unwrap()[0][0],
        12.0,
        "row 1: the recurrent bias"
    );
    let gru = GruCell::<5, 4>::from_keras(&kernel, &recurrent, Some(&two_rows[..12])).unwrap();
    assert!(!gru.reset_after);
    assert_eq!((gru.bias.unwrap()[2][3], gru.recurrent_bias), (11.0, None));
    // Without a bias: Keras 3's default, unless the flag says otherwise.
    assert!(
        GruCell::<5, 4>::from_keras(&kernel, &recurrent, None)
            .unwrap()
            .reset_after
    );
    let v1 = GruCell::<5, 4>::from_keras_with_reset_after(&kernel, &recurrent, None, false);
    assert!(!v1.unwrap().reset_after);

    // The bias fits neither variant of the kernels' 12 gate columns (a GRU(5)'s [2, 15]).
    let err = GruCell::<5, 4>::from_keras(&kernel, &recurrent, Some(&[0.0; 30])).unwrap_err();
    assert_eq!(
        err,
        GruWeightError::Bias {
            units: 4,
            found: 30
        }
    );
    assert_eq!(
        err.to_string(),
        "weight `bias`: expected shape [2, 12] (reset_after = true) or [12] (reset_after = \
         false), the 3 gates × 4 units of the kernels; found 30 values"
    );
    // The flag contradicts the bias, either way round.
    let err =
        GruCell::<5, 4>::from_keras_with_reset_after(&kernel, &recurrent, Some(&[0.0; 12]), true)
            .unwrap_err();
    assert_eq!(
        err,
        GruWeightError::ResetAfter {
            reset_after: true,
            units: 4
        }
    );
    assert_eq!(
        err.to_string(),
        "weight `bias`: reset_after = true expects shape [2, 12], found [12], the bias of a GRU \
         with reset_after = false"
    );
    let err =
        GruCell::<5, 4>::from_keras_with_reset_after(&kernel, &recurrent, Some(&two_rows), false)
            .unwrap_err();
    assert_eq!(
        err,
        GruWeightError::ResetAfter {
            reset_after: false,
            units: 4
        }
    );
    assert_eq!(
        err.to_string(),
        "weight `bias`: reset_after = false expects shape [12], found [2, 12], the bias of a GRU \
         with reset_after = true"
    );
    assert_eq!(
        GruWeightError::keras_bias_shape(4, true),
        Shape::new(&[2, 12])
    );
    // A kernel of the wrong size is reported before the bias.
    let err = GruCell::<5, 4>::from_keras(&[0.0; 59], &recurrent, Some(&[0.0; 30])).unwrap_err();
    assert!(
        matches!(&err, GruWeightError::Weight(w) if w.tensor == "kernel"),
        "{err}"
    );
}

#[test]
fn fixed_size_arrays_build_the_same_cell_as_slices() {
    let kernel: [[f32; 16]; 5] =
        std::array::from_fn(|j| std::array::from_fn(|k| (j * 16 + k) as f32 * 0.01));
    let recurrent: [[f32; 16]; 4] =
        std::array::from_fn(|j| std::array::from_fn(|k| (j as f32 - k as f32) * 0.02));
    let bias: [f32; 16] = std::array::from_fn(|k| k as f32 * 0.1);
    let from_arrays = LstmCell::<5, 4>::from_keras_arrays(&kernel, &recurrent, Some(&bias));
    let from_slices =
        LstmCell::<5, 4>::from_keras(kernel.as_flattened(), recurrent.as_flattened(), Some(&bias))
            .unwrap();
    assert_eq!(from_arrays, from_slices);
}

/// Seed 002's unmasked row: GRU(1, activation None, recurrent_activation None, kernel ones,
/// recurrent kernel zeros, bias ones, reset_after False) on the embedded tokens.
#[test]
fn seed_002_unmasked_table() {
    let cell = GruCell::<2, 1>::from_keras(&[1.0; 6], &[0.0; 3], Some(&[1.0; 3]))
        .unwrap()
        .with_activation(Activation::Linear)
        .with_recurrent_activation(Activation::Linear);
    let embed = |token: usize| SVector::from_element([0.37f32, 1.0, 2.0][token]);
    let rows = |tokens: [usize; 5]| -> Vec<f32> {
        let run = Rnn::new(&cell).run(tokens.map(embed), &());
        run.outputs.iter().map(|y| y[0]).collect()
    };
    let printed = [
        (
            [1, 2, 1, 0, 0],
            [-6.0, -50.0, -156.0, -272.7276, -475.83362],
        ),
        (
            [0, 1, 2, 1, 0],
            [-1.2876, -9.862801, -69.314, -213.94202, -373.54672],
        ),
    ];
    let fx = Fixture::load("keras/seed002.json");
    let keras = fx.extra_tensor("outputs_unmasked");
    for (b, (tokens, seed_row)) in printed.into_iter().enumerate() {
        let ours = rows(tokens);
        for (t, (&y, expected)) in ours.iter().zip(seed_row).enumerate() {
            // The seed prints Keras's float32 values to their shortest decimal.
            assert!(
                (y - expected).abs() <= expected.abs() * 1e-6,
                "seed row {b}, step {t}: {y} vs {expected}"
            );
            let k = keras.step(b, t)[0];
            assert!(
                (y as f64 - k).abs() <= k.abs() * 1e-6,
                "fixture row {b}, step {t}: {y} vs {k}"
            );
        }
    }
}
