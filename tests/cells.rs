//! Built-in cells: configuration, initialisation and shapes (numbers against Keras and
//! PyTorch are in the parity tests).

use rnn::cells::{Activation, Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn::prelude::*;

#[test]
fn activations_match_their_keras_definitions() {
    let at = |a: Activation, x: f64| a.scalar(x);
    assert_eq!(at(Activation::HardSigmoid, -3.0), 0.0);
    assert!((at(Activation::HardSigmoid, 1.0) - 4.0 / 6.0).abs() < 1e-15);
    assert_eq!(at(Activation::HardSigmoid, 3.0), 1.0);
    assert_eq!(at(Activation::Relu, -2.0), 0.0);
    assert_eq!(at(Activation::Linear, -2.5), -2.5);
    assert!((at(Activation::Sigmoid, 0.0) - 0.5).abs() < 1e-15);
    assert!((at(Activation::Tanh, 1.0) - 1f64.tanh()).abs() < 1e-15);
    for name in [
        "tanh",
        "sigmoid",
        "hard_sigmoid",
        "relu",
        "linear",
        "softmax",
    ] {
        assert_eq!(Activation::from_keras(name).unwrap().keras_name(), name);
    }
    assert_eq!(Activation::from_keras("swish"), None);
}

#[test]
fn softmax_is_a_distribution_even_for_large_inputs() {
    let dense = Dense::<1, 3>::from_keras(&[1000.0, 1001.0, 1002.0], Some(&[0.0; 3]))
        .unwrap()
        .with_activation(Activation::Softmax);
    let p = dense.forward(&SVector::from([1.0]));
    assert!((p.sum() - 1.0).abs() < 1e-6);
    assert!(p[2] > p[1] && p[1] > p[0]);
}

#[test]
fn keras_init_is_reproducible_and_sets_the_forget_bias() {
    let a = LstmCell::<3, 4>::keras_init(9);
    assert_eq!(a, LstmCell::<3, 4>::keras_init(9));
    assert_ne!(a, LstmCell::<3, 4>::keras_init(10));
    let bias = a.bias.unwrap();
    assert_eq!(bias[1], SVector::<f32, 4>::repeat(1.0), "unit_forget_bias");
    assert_eq!(bias[0], SVector::<f32, 4>::zeros());
    let plain = a.clone().with_unit_forget_bias(false);
    assert_eq!(plain.bias.unwrap()[1], SVector::<f32, 4>::zeros());
    let limit = (6.0f32 / (3.0 + 16.0)).sqrt();
    assert!(a.kernel.as_slice().iter().all(|w| w.abs() <= limit));
}

#[test]
fn pytorch_init_draws_every_parameter_within_one_over_root_h() {
    let cell = GruCell::<5, 16>::pytorch_init(3);
    let bound = 0.25f32;
    let all: Vec<f32> = cell
        .kernel
        .as_slice()
        .iter()
        .chain(cell.recurrent_kernel.as_slice())
        .chain(cell.bias.unwrap().iter().flat_map(|b| b.iter()))
        .chain(cell.recurrent_bias.unwrap().iter().flat_map(|b| b.iter()))
        .copied()
        .collect();
    assert!(all.iter().all(|w| w.abs() <= bound));
    assert!(all.iter().any(|w| w.abs() > bound * 0.9));
    let rnn = SimpleRnnCell::<2, 4>::pytorch_init(3);
    assert!(rnn.bias.is_some());
}

#[test]
fn use_bias_false_drops_the_bias_and_zero_bias_computes_the_same() {
    let cell = LstmCell::<3, 2>::keras_init(1).with_unit_forget_bias(false);
    let without = cell.clone().with_use_bias(false);
    assert!(without.bias.is_none());
    let xs = [SVector::from([0.5, -1.0, 2.0]); 3];
    assert_eq!(
        Rnn::new(&cell).run(xs, &()).state,
        Rnn::new(&without).run(xs, &()).state
    );
    let gru = GruCell::<3, 2>::keras_init(1).with_use_bias(false);
    assert!(gru.bias.is_none() && gru.recurrent_bias.is_none());
}

#[test]
fn cells_report_keras_state_and_output_sizes() {
    assert_eq!(
        LstmCell::<3, 4>::zeros().state_size().to_string(),
        "LstmCellState { h: [4], c: [4] }"
    );
    assert_eq!(LstmCell::<3, 4>::zeros().output_size().to_string(), "[4]");
    assert_eq!(GruCell::<3, 5>::zeros().state_size().to_string(), "[5]");
    assert_eq!(Dense::<3, 5>::zeros().state_size().to_string(), "()");
}

/// Every kernel's first weight sits on a cache line (64 bytes), clones included, so no vector
/// load of a row straddles two lines; the values are untouched by the padding.
#[test]
fn kernels_start_on_a_cache_line() {
    fn check<const IN: usize, const G: usize, const H: usize>() {
        let kernel = rnn::weights::Kernel::<f32, IN, G, H>::from_fn(|j, k| (j * 1000 + k) as f32);
        for k in [kernel.clone(), kernel.clone().clone(), kernel.clone()] {
            assert_eq!(
                k.as_slice().as_ptr() as usize % 64,
                0,
                "IN={IN} G={G} H={H}"
            );
            assert_eq!(k, kernel);
            assert_eq!(k.as_slice().len(), IN * G * H);
            assert_eq!(
                k.rows()[IN - 1][G - 1][H - 1],
                ((IN - 1) * 1000 + G * H - 1) as f32
            );
        }
        let k64 = rnn::weights::Kernel::<f64, IN, G, H>::zeros();
        assert_eq!(k64.as_slice().as_ptr() as usize % 64, 0);
    }
    check::<1, 1, 1>();
    check::<3, 4, 5>();
    check::<32, 4, 32>();
    check::<7, 3, 33>();
}
