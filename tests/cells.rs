//! Built-in cells: configuration, initialisation and shapes (numbers against Keras and
//! PyTorch are in the parity tests).

use rnn::cells::{Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn::ops::Activation;
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

/// A NaN input gives a NaN output through every activation and every path to it, as in Keras
/// and PyTorch (`max(NaN, 0)` is 0 in IEEE's `maxNum`, which would hide it).
#[test]
fn every_activation_keeps_a_nan() {
    const ALL: [Activation; 6] = [
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::HardSigmoid,
        Activation::Relu,
        Activation::Linear,
        Activation::Softmax,
    ];
    fn arrays<T: rnn::Real, const N: usize>(a: Activation) {
        let nan = nalgebra::convert::<f64, T>(f64::NAN);
        let is_nan = |x: T| x != x;
        let mut v = SVector::<T, N>::repeat(nalgebra::convert(0.5));
        v[N / 2] = nan;
        a.apply(&mut v);
        assert!(is_nan(v[N / 2]), "{a:?}, {N} values: {v:?}");
        let mut xs = vec![T::one(); N + 3];
        xs[N] = nan;
        a.apply_slice(&mut xs);
        assert!(is_nan(xs[N]), "{a:?}, a slice of {}", N + 3);
    }
    for a in ALL {
        assert!(
            a.scalar(f32::NAN).is_nan() && a.scalar(f64::NAN).is_nan(),
            "{a:?}"
        );
        arrays::<f32, 1>(a);
        arrays::<f32, 17>(a);
        arrays::<f64, 8>(a);
        arrays::<f64, 33>(a);
    }
    let relu = |x: f32| {
        let dense = Dense::<1, 2>::from_keras(&[1.0, -1.0], Some(&[0.0; 2]))
            .unwrap()
            .with_activation(Activation::Relu);
        dense.forward(&SVector::from([x]))
    };
    assert!(relu(f32::NAN).iter().all(|y| y.is_nan()));
    assert_eq!(relu(2.0), SVector::from([2.0, 0.0]));

    let cell = SimpleRnnCell::<1, 3>::pytorch_init(1).with_activation(Activation::Relu);
    let xs = [1.0, f32::NAN, 1.0].map(|x| SVector::from([x]));
    let run = Rnn::new(&cell).run(&xs, &());
    assert!(run.outputs[1].iter().chain(&run.state).all(|y| y.is_nan()));
    for batch in [1, 5] {
        let inputs: Vec<f32> = (0..batch).flat_map(|_| [1.0, f32::NAN, 1.0]).collect();
        let fused = rnn::fused::SimpleRnn::new(&cell)
            .forward(&inputs, batch, None)
            .unwrap();
        assert!(fused.h.iter().all(|y| y.is_nan()), "fused, batch {batch}");
    }
}

/// `uniform(limit)` draws from `[-|limit|, |limit|]`; a limit that is not a number gives what
/// Keras's `minval + (maxval - minval) · u` gives, NaN weights, never a panic.
#[test]
fn a_uniform_initializer_takes_any_limit() {
    use rnn::init::{rng, Initializer};
    let fill = |limit: f64| {
        let mut out = [0f32; 64];
        Initializer::uniform(limit)
            .fill(&mut rng(1), &[8, 8], &mut out)
            .unwrap();
        out
    };
    for limit in [0.05, -0.05] {
        let w = fill(limit);
        assert!(w.iter().all(|w| w.abs() <= 0.05), "{limit}: {w:?}");
        assert!(w.iter().any(|w| *w > 0.01) && w.iter().any(|w| *w < -0.01));
    }
    assert_eq!(fill(0.0), [0.0; 64]);
    for limit in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(fill(limit).iter().all(|w| w.is_nan()), "{limit}");
    }
}

/// A gate index past the kernel's gates is a caller's bug, like a slice index past the end:
/// the panic names the gate and how many there are.
#[test]
#[should_panic(expected = "gate 4 of a kernel with 4 gates")]
fn a_gate_past_the_kernel_panics_with_both_numbers() {
    let kernel = rnn::weights::Kernel::<f32, 2, 4, 3>::zeros();
    let mut out = SVector::zeros();
    kernel.accumulate_gate(4, &SVector::from([1.0, 2.0]), &mut out);
}

#[test]
fn an_initializer_refuses_a_buffer_of_another_size() {
    let mut out = [7f32; 11];
    let err = rnn::init::Initializer::GlorotUniform
        .fill(&mut rnn::init::rng(0), &[3, 4], &mut out)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "initialised tensor: expected 12 scalars, found 11"
    );
    assert_eq!(out, [7.0; 11], "left as it was");
    // A shape whose size overflows is an error too, not a wrapped product.
    let err = rnn::init::Initializer::Zeros
        .fill(&mut rnn::init::rng(0), &[1 << 40, 1 << 40], &mut out)
        .unwrap_err();
    assert_eq!(err.expected, usize::MAX);
}
