//! `TimeDistributed`: Keras's `TimeDistributed(Dense)` over an LSTM's sequence output (outputs
//! within 1e-5, and `tf.GradientTape`'s gradients), central differences through the wrapper,
//! and the other layers it applies (`BatchNormalization` at inference, a function).
//! Fixture: `tools/fixtures_time_distributed.py`.

mod common;
mod gradcheck;

use std::collections::HashMap;

use common::{Fixture, Tensor};
use gradcheck::{check_batch_gradients, check_sequence_gradients, dot, Rng};
use rnn::cells::{BatchNormalization, Dense, LstmCell, Stacked};
use rnn::nalgebra::SVector;
use rnn::ops::Activation;
use rnn::parameters::Parameters;
use rnn::train::{BatchTape, Tape};
use rnn::{Batch, Mask, Nested, Rnn, TimeDistributed};

const FIXTURE: &str = "keras/keras_time_distributed_dense.json";

/// Keras's `Sequential([LSTM(4, return_sequences=True), TimeDistributed(Dense(3, "tanh"))])`.
type Model<T> = Rnn<Stacked<(LstmCell<5, 4, T>, TimeDistributed<Dense<4, 3, T>>)>>;

fn model<T: rnn::Real>(fx: &Fixture) -> Model<T> {
    let weight = |name: &str| -> Vec<T> {
        fx.weights[name]
            .data
            .iter()
            .map(|&v| rnn::nalgebra::convert(v))
            .collect()
    };
    let lstm = LstmCell::from_keras(
        &weight("lstm/kernel"),
        &weight("lstm/recurrent_kernel"),
        Some(&weight("lstm/bias")),
    )
    .unwrap();
    let dense = Dense::from_keras(&weight("dense/kernel"), Some(&weight("dense/bias")))
        .unwrap()
        .with_activation(Activation::Tanh);
    Rnn::new(Stacked((lstm, TimeDistributed(dense))))
}

fn sequences<X: Nested>(t: &Tensor) -> Vec<Vec<X>> {
    let [batch, steps, _] = t.shape[..] else {
        panic!("[B, T, F]")
    };
    (0..batch)
        .map(|b| {
            (0..steps)
                .map(|s| {
                    let step: Vec<f32> = t.step(b, s).iter().map(|&v| v as f32).collect();
                    X::from_f32_slice(&step).unwrap()
                })
                .collect()
        })
        .collect()
}

#[test]
fn time_distributed_dense_over_an_lstm_matches_keras() {
    let fx = Fixture::load(FIXTURE);
    let model: Model<f32> = model(&fx);
    let xs: Vec<Vec<SVector<f32, 5>>> = sequences(&fx.inputs);
    let expected = fx.outputs.as_ref().unwrap();

    // The batch (on the loop: a stack is not a built-in layer) and each sequence alone.
    let run = model.run_batch(&Batch::new(&xs), &((), ())).unwrap();
    let diff = common::max_abs_diff(&run.outputs.to_flat_f32(), &expected.data);
    println!("TimeDistributed(Dense) over LSTM, batch: max abs err {diff:.2e}");
    assert!(diff <= 1e-5, "outputs: max abs error {diff:e}");

    // The two layers one after the other: the LSTM's sequence, then the dense at each step.
    let (lstm, dense) = &model.cell().0;
    for (b, x) in xs.iter().enumerate() {
        let hs = Rnn::new(lstm.clone()).run(x, &()).outputs;
        let ys = dense.apply(&hs, &());
        assert_eq!(
            ys, run.outputs[b],
            "the stack is the layers in turn, bit for bit"
        );
    }
}

#[test]
fn time_distributed_dense_gradients_match_keras() {
    let fx = Fixture::load(FIXTURE);
    let model: Model<f64> = model(&fx);
    let xs: Vec<Vec<SVector<f64, 5>>> = sequences(&fx.inputs);
    let w_outputs: Tensor =
        serde_json::from_value(fx.extra["loss_weights"]["outputs"].clone()).unwrap();
    let keras: HashMap<String, Tensor> =
        serde_json::from_value(fx.extra["gradients"].clone()).unwrap();
    // The loss weights are f64 values: read as they are, not through f32.
    let d_outputs: Vec<Vec<SVector<f64, 3>>> = (0..xs.len())
        .map(|b| {
            (0..xs[b].len())
                .map(|t| SVector::from_column_slice(w_outputs.step(b, t)))
                .collect()
        })
        .collect();

    let batch = Batch::new(&xs);
    let mut tape = BatchTape::new();
    let run = model.run_batch_taped(&batch, &((), ()), &mut tape).unwrap();
    let outputs: Vec<f64> = (run.outputs.iter())
        .flat_map(|sequence| sequence.iter())
        .flat_map(|y| y.iter().copied())
        .collect();
    let expected = &fx.outputs.as_ref().unwrap().data;
    let diff = outputs
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        diff <= 1e-5,
        "the taped forward's outputs: max abs error {diff:e}"
    );
    let zeros = vec![Nested::zeros(); xs.len()];
    let grads = model
        .backward_batch(&tape, &batch, &d_outputs, &zeros, &((), ()))
        .unwrap();

    let mut ours: HashMap<String, Vec<f64>> = HashMap::new();
    grads.parameters.for_each_parameter(|path, tensor| {
        let mut values = Vec::new();
        tensor.read(&mut |v| values.push(v));
        ours.insert(path.to_string(), values);
    });
    let inputs: Vec<f64> = grads
        .inputs
        .concat()
        .iter()
        .flat_map(|x| x.iter().copied())
        .collect();
    ours.insert("inputs".into(), inputs);
    let mut names: Vec<&String> = ours.keys().collect();
    names.sort();
    // A stack's paths are its layers' indices: `0/kernel` is the LSTM's, `1/bias` the dense's.
    let keras_name =
        |ours: &str| -> String { ours.replacen("0/", "lstm/", 1).replacen("1/", "dense/", 1) };
    assert_eq!(
        ours.len(),
        keras.len(),
        "every weight, and the inputs: {names:?}"
    );
    for name in names {
        let expected = &keras[&keras_name(name)].data;
        let diff = ours[name]
            .iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!("gradient of {name:<24} max abs err {diff:.2e}");
        assert_eq!(ours[name].len(), expected.len(), "{name}");
        assert!(diff <= 1e-9, "gradient of {name}: max abs error {diff:e}");
    }
}

/// A weighted sum of every output.
fn weigh<Y: Nested>(w: &[Y], outputs: &[Y]) -> f64 {
    outputs.iter().zip(w).map(|(y, w)| dot(y, w)).sum()
}

#[test]
fn gradients_through_time_distributed_match_central_differences() {
    let case = "time distributed dense, alone";
    let mut rng = Rng::new(case);
    let dense = Dense::<3, 2, f64>::zeros().with_activation(Activation::Tanh);
    let rnn = rng.parameters(Rnn::new(TimeDistributed(dense)), 0.8);
    let xs: Vec<SVector<f64, 3>> = rng.values(5);
    let w: Vec<SVector<f64, 2>> = rng.values(5);
    let mut tape = Tape::new();
    rnn.run_taped(&xs, Mask::All, (), &(), &mut tape).unwrap();
    let grads = rnn.backward(&tape, &xs, &w, (), &()).unwrap();
    check_sequence_gradients(case, (&rnn, &xs, &()), &grads, |rnn, xs, _| {
        weigh(&w, &rnn.run(xs, &()).outputs)
    });

    let case = "time distributed dense after an lstm, a masked batch";
    let mut rng = Rng::new(case);
    let stack = Stacked((
        LstmCell::<3, 4, f64>::zeros(),
        TimeDistributed(Dense::<4, 2, f64>::zeros().with_activation(Activation::Tanh)),
    ));
    let rnn = rng.parameters(Rnn::new(stack), 0.7);
    let xs: Vec<Vec<SVector<f64, 3>>> = [5, 3].iter().map(|&t| rng.values(t)).collect();
    let s0: Vec<_> = (0..2).map(|_| (rng.value(), ())).collect();
    let w: Vec<Vec<SVector<f64, 2>>> = xs.iter().map(|x| rng.values(x.len())).collect();
    let masks = [
        Mask::Steps(&[true, false, true, true, false]),
        Mask::Length(2),
    ];
    let loss = |rnn: &Rnn<_>, xs: &[Vec<_>], s0: &[_]| {
        let batch = Batch::new(xs).masks(&masks).initial_states(s0);
        let run = rnn.run_batch(&batch, &((), ())).unwrap();
        (0..xs.len()).map(|b| weigh(&w[b], &run.outputs[b])).sum()
    };
    let batch = Batch::new(&xs).masks(&masks).initial_states(&s0);
    let mut tape = BatchTape::new();
    rnn.run_batch_taped(&batch, &((), ()), &mut tape).unwrap();
    let zeros = vec![Nested::zeros(); 2];
    let grads = rnn
        .backward_batch(&tape, &batch, &w, &zeros, &((), ()))
        .unwrap();
    check_batch_gradients(case, (&rnn, &xs, &s0), &grads, loss);
}

#[test]
fn time_distributed_applies_batch_normalization_and_functions_at_each_step() {
    let mut bn = BatchNormalization::<2>::identity();
    bn.moving_mean = SVector::from([1.0, -1.0]);
    bn.moving_variance = SVector::from([4.0, 0.25]);
    bn.gamma = SVector::from([2.0, 1.0]);
    bn.beta = SVector::from([0.5, 0.0]);
    bn.epsilon = 0.0;
    let xs = [[3.0, 0.0], [1.0, -1.5]].map(SVector::<f32, 2>::from);
    // (x − mean) / √var · γ + β, by hand.
    let ys = TimeDistributed(bn.clone()).apply(xs, &());
    assert_eq!(ys.to_vec(), [[2.5, 2.0], [0.5, -1.0]].map(SVector::from));
    let run = Rnn::new(TimeDistributed(bn))
        .run_masked(&xs, Mask::Length(1), &())
        .unwrap();
    assert_eq!(
        run.outputs[1], ys[0],
        "a masked step carries the last output"
    );

    let norm = TimeDistributed::from_fn(|x: &SVector<f32, 2>| SVector::from([x.norm()]));
    let ys = norm.apply([SVector::from([3.0, 4.0]), SVector::from([0.0, 1.0])], &());
    assert_eq!(ys.to_vec(), [SVector::from([5.0]), SVector::from([1.0])]);
}
