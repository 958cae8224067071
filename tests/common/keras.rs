//! The built-in cells as a Keras fixture describes them (weights, activations, GRU variant),
//! and the comparisons the Keras parity and gradient tests make.

use rnn::cells::{GruCell, LstmCell, SimpleRnnCell};
use rnn::ops::Activation;
use rnn::Nested;

use super::Fixture;

/// The activation the fixture's config names under `key` (Keras's `linear` when absent).
pub fn activation(fx: &Fixture, key: &str) -> Activation {
    let name = fx.config_str(key).unwrap_or("linear");
    Activation::from_keras(name).unwrap_or_else(|| panic!("unknown activation {name}"))
}

/// The fixture's LSTM.
pub fn lstm(fx: &Fixture) -> LstmCell<5, 4> {
    lstm_at(fx, "")
}

/// The fixture's LSTM whose weights are named `{prefix}kernel` and so on (a layer of a stack).
pub fn lstm_at(fx: &Fixture, prefix: &str) -> LstmCell<5, 4> {
    let w = |n: &str| fx.weight(&format!("{prefix}{n}"));
    LstmCell::from_keras(
        &w("kernel"),
        &w("recurrent_kernel"),
        fx.maybe_weight(&format!("{prefix}bias")).as_deref(),
    )
    .unwrap()
    .with_activation(activation(fx, "activation"))
    .with_recurrent_activation(activation(fx, "recurrent_activation"))
}

/// The fixture's GRU. The variant is read from the bias's shape, and checked against the
/// fixture's `reset_after`; a GRU without bias takes the flag.
pub fn gru(fx: &Fixture) -> GruCell<5, 4> {
    let (kernel, recurrent_kernel) = (fx.weight("kernel"), fx.weight("recurrent_kernel"));
    let reset_after = fx.config_bool("reset_after");
    let cell = match fx.maybe_weight("bias") {
        Some(bias) => GruCell::from_keras(&kernel, &recurrent_kernel, Some(&bias)).unwrap(),
        None => GruCell::from_keras_with_reset_after(&kernel, &recurrent_kernel, None, reset_after)
            .unwrap(),
    };
    assert_eq!(cell.reset_after, reset_after, "the variant Keras used");
    cell.with_activation(activation(fx, "activation"))
        .with_recurrent_activation(activation(fx, "recurrent_activation"))
}

/// The fixture's SimpleRNN.
pub fn simple_rnn(fx: &Fixture) -> SimpleRnnCell<5, 4> {
    SimpleRnnCell::from_keras(
        &fx.weight("kernel"),
        &fx.weight("recurrent_kernel"),
        fx.maybe_weight("bias").as_deref(),
    )
    .unwrap()
    .with_activation(activation(fx, "activation"))
}

/// A nested value from a fixture's flat `f64` values, rounded to `f32`.
pub fn values<N: Nested>(flat: &[f64]) -> N {
    N::from_f32_slice(&flat.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap()
}

/// A nested value's leaves in order, widened to `f64` to compare with a fixture.
pub fn flat64<N: Nested>(value: &N) -> Vec<f64> {
    super::flat(value).into_iter().map(f64::from).collect()
}

/// The largest absolute difference between two equally long lists.
pub fn max_diff(ours: &[f64], keras: &[f64]) -> f64 {
    assert_eq!(ours.len(), keras.len(), "compared lengths");
    ours.iter()
        .zip(keras)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}
