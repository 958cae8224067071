//! The operations for cell writers compute what the built-in cells compute.

use rnn::cells::LstmCell;
use rnn::ops;
use rnn::ops::Activation;
use rnn::prelude::*;

fn values<const N: usize>(seed: usize) -> SVector<f32, N> {
    SVector::from_fn(|i, _| ((i * 37 + seed * 11) % 23) as f32 / 4.0 - 2.8)
}

#[test]
fn each_activation_function_is_its_activation() {
    let x = values::<19>(1);
    type Function = fn(&SVector<f32, 19>) -> SVector<f32, 19>;
    let cases: [(Function, Activation); 5] = [
        (ops::sigmoid, Activation::Sigmoid),
        (ops::tanh, Activation::Tanh),
        (ops::relu, Activation::Relu),
        (ops::hard_sigmoid, Activation::HardSigmoid),
        (ops::softmax, Activation::Softmax),
    ];
    for (f, a) in cases {
        let mut expected = x;
        a.apply(&mut expected);
        assert_eq!(f(&x), expected, "{a:?}");
    }
    let e = ops::exp(&x);
    for (e, x) in e.iter().zip(&x) {
        assert!((e - x.exp()).abs() <= 1e-6 * x.exp(), "exp({x})");
    }
}

#[test]
fn concat_and_split_are_inverse() {
    let (a, b) = (values::<3>(2), values::<5>(3));
    let ab: SVector<f32, 8> = ops::concat(&a, &b);
    assert_eq!(ab.as_slice()[..3], *a.as_slice());
    assert_eq!(ab.as_slice()[3..], *b.as_slice());
    assert_eq!(ops::split(&ab), (a, b));
}

/// An LSTM written with the operations, as a user writes one, against the built-in cell.
#[test]
fn an_lstm_written_with_the_operations_is_the_built_in_one() {
    let cell = LstmCell::<6, 5>::pytorch_init(4);
    let step = |x: &SVector<f32, 6>, h: &mut SVector<f32, 5>, c: &mut SVector<f32, 5>| {
        let [zi, zf, zg, zo] = cell.kernel.apply(x);
        let [ri, rf, rg, ro] = cell.recurrent_kernel.apply(h);
        let b = cell.bias.expect("a bias");
        let i = ops::sigmoid(&(b[0] + zi + ri));
        let f = ops::sigmoid(&(b[1] + zf + rf));
        let g = ops::tanh(&(b[2] + zg + rg));
        let o = ops::sigmoid(&(b[3] + zo + ro));
        *c = f.component_mul(c) + i.component_mul(&g);
        *h = o.component_mul(&ops::tanh(c));
        *h
    };
    let (mut h, mut c) = (SVector::zeros(), SVector::zeros());
    let mut state = cell.initial_state(&());
    for t in 0..6 {
        let x = values::<6>(t);
        let ours = step(&x, &mut h, &mut c);
        let built_in = cell.step(&x, &mut state, &());
        assert!((ours - built_in).amax() < 1e-6, "step {t}");
    }
}
