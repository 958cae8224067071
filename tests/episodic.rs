//! The layer of samples holding several episodes ([`Episodic`] on [`Episodes`]):
//!
//! - its outputs are the last episode's run alone, bit for bit, and its gradients the last
//!   episode's (the earlier ones reach nothing);
//! - its gradients (parameters and inputs, through a chain with a `Dense`) against central
//!   differences in `f64`;
//! - `fit` learns a task whose answer is in the last episode; `evaluate` and `predict` read
//!   the same samples;
//! - flags of the wrong length are an error naming both lengths.

mod gradcheck;

use gradcheck::{flat_all, indices, parameter_names, parameters, set_parameters, Check, Rng};
use rnn::cells::{Dense, LstmCell};
use rnn::nalgebra::SVector;
use rnn::ops::Activation;
use rnn::train::loss::SparseCategoricalCrossentropy;
use rnn::train::optim::{Adam, Optimizer};
use rnn::train::{zeros_like, Episodes, Episodic, Fit, Layer, Model, Tape, Verbosity};
use rnn::{Cell, Mask, Rnn, SequenceError};

type X = SVector<f64, 2>;
type Lstm = Rnn<LstmCell<2, 3, f64>>;

/// Samples of episodes of the given lengths, drawn from `rng`.
fn samples(rng: &mut Rng, lengths: &[&[usize]]) -> Vec<Episodes<X>> {
    lengths
        .iter()
        .map(|episodes| Episodes::concat(episodes.iter().map(|&t| rng.values::<X>(t))))
        .collect()
}

/// Ragged samples: one episode, several, an empty episode between two, a reset at the last
/// step, and no step at all.
const LENGTHS: [&[usize]; 5] = [&[4], &[2, 3, 1], &[3, 0, 2], &[3, 1], &[]];

#[test]
fn the_layer_is_the_last_episode_run_alone() {
    let mut rng = Rng::new("episodic pieces");
    let rnn: Lstm = rng.parameters(Rnn::new(LstmCell::zeros()), 0.7);
    let layer = Episodic::new(rnn.clone());
    assert_eq!(
        parameter_names(&layer),
        parameter_names(&rnn),
        "the cell's paths"
    );
    let xs = samples(&mut rng, &LENGTHS);
    let (mut tape, mut outputs) = (Default::default(), Vec::new());
    layer.forward(&xs, &mut tape, &mut outputs);
    let d_outputs: Vec<SVector<f64, 3>> = rng.values(xs.len());
    let mut grads = zeros_like(&layer);
    let mut d_inputs = Vec::new();
    layer.backward(&xs, &mut tape, &d_outputs, &mut grads, Some(&mut d_inputs));

    let s0 = rnn.cell().initial_state(&());
    let mut expected = vec![0.0; parameters(&rnn).len()];
    let mut one = Tape::new();
    for (b, sample) in xs.iter().enumerate() {
        // The last episode: from the last flagged step (all of a sample with no step).
        let start = sample.resets().iter().rposition(|&r| r).unwrap_or(0);
        let last = &sample.steps()[start..];
        let alone = rnn.run(last, &());
        let y = alone.outputs.last().copied().unwrap_or_else(SVector::zeros);
        assert_eq!(outputs[b], y, "sample {b}: the last episode's last output");
        assert_eq!(layer.predict(sample), y, "sample {b}: predict");

        let mut d = vec![SVector::zeros(); last.len()];
        if let Some(d_last) = d.last_mut() {
            *d_last = d_outputs[b];
        }
        rnn.run_taped(last, Mask::All, s0.clone(), &(), &mut one)
            .unwrap();
        let g = rnn.backward(&one, last, &d, s0.clone(), &()).unwrap();
        for (sum, g) in expected.iter_mut().zip(parameters(&g.parameters)) {
            *sum += g;
        }
        // The earlier episodes reach nothing; the adjoints keep the sample's flags.
        assert_eq!(d_inputs[b].resets(), sample.resets());
        let (before, after) = d_inputs[b].steps().split_at(start);
        assert!(before.iter().all(|d| *d == X::zeros()), "sample {b}");
        assert_eq!(after, g.inputs, "sample {b}: the last episode's adjoints");
    }
    for (i, (found, expected)) in parameters(&grads).iter().zip(&expected).enumerate() {
        assert!(
            (found - expected).abs() <= 1e-12 * (1.0 + expected.abs()),
            "parameter {i}: {found:e}, the last episodes' sum {expected:e}"
        );
    }
}

#[test]
fn episodic_gradients_match_central_differences() {
    let case = "episodic LSTM → Dense(softmax)";
    let mut rng = Rng::new(case);
    let model = (
        Episodic::new(rng.parameters(Rnn::new(LstmCell::<2, 3, f64>::zeros()), 0.7)),
        rng.parameters(Dense::<3, 2, f64>::zeros(), 0.7)
            .with_activation(Activation::Softmax),
    );
    let xs = samples(&mut rng, &LENGTHS);
    let w: Vec<SVector<f64, 2>> = rng.values(xs.len());
    let loss = |model: &(Episodic<LstmCell<2, 3, f64>>, Dense<3, 2, f64>), xs: &[Episodes<X>]| {
        let (mut tape, mut outputs) = (Default::default(), Vec::new());
        model.forward(xs, &mut tape, &mut outputs);
        outputs.iter().zip(&w).map(|(y, w)| y.dot(w)).sum::<f64>()
    };
    let (mut tape, mut outputs) = (Default::default(), Vec::new());
    model.forward(&xs, &mut tape, &mut outputs);
    let mut grads = zeros_like(&model);
    let mut d_inputs = Vec::new();
    model.backward(&xs, &mut tape, &w, &mut grads, Some(&mut d_inputs));

    let mut check = Check::new(case);
    check.against(
        "parameters",
        &parameter_names(&model),
        &parameters(&model),
        &parameters(&grads),
        |v| {
            let mut m = model.clone();
            set_parameters(&mut m, v);
            loss(&m, &xs)
        },
    );
    let steps: Vec<Vec<X>> = xs.iter().map(|s| s.steps().to_vec()).collect();
    let d_steps: Vec<X> = d_inputs.iter().flat_map(|d| d.steps().to_vec()).collect();
    let point = flat_all(&steps.concat());
    check.against(
        "inputs",
        &indices("x", point.len()),
        &point,
        &flat_all(&d_steps),
        |v| {
            let mut at = 0;
            let nudged: Vec<Episodes<X>> = xs
                .iter()
                .map(|s| {
                    let n = s.steps().len();
                    let steps = gradcheck::unflat_all(&v[at * 2..(at + n) * 2]);
                    at += n;
                    Episodes::new(steps, s.resets().to_vec()).unwrap()
                })
                .collect();
            loss(&model, &nudged)
        },
    );
    check.report();
}

/// The class of a sample is the sign of its last episode's sum; its first episode is a
/// louder distraction of random length.
fn last_episode_task(n: usize, seed: &str) -> (Vec<Episodes<SVector<f32, 1>>>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let noise: Vec<SVector<f32, 1>> = (0..2 + i % 3)
            .map(|_| SVector::from([3.0 * rng.next() as f32]))
            .collect();
        let last: Vec<SVector<f32, 1>> =
            (0..5).map(|_| SVector::from([rng.next() as f32])).collect();
        y.push(usize::from(last.iter().map(|v| v[0]).sum::<f32>() > 0.0));
        x.push(Episodes::concat([noise, last]));
    }
    (x, y)
}

#[test]
fn fit_learns_from_the_last_episode() {
    let (x, y) = last_episode_task(200, "episodes train");
    let (vx, vy) = last_episode_task(100, "episodes validate");
    let mut model = Model::new(
        (
            Episodic::new(Rnn::new(LstmCell::<1, 8>::keras_init(1))),
            Dense::<8, 2>::keras_init(2).with_activation(Activation::Softmax),
        ),
        SparseCategoricalCrossentropy::default(),
        Optimizer::new(Adam::keras(), 0.02),
    );
    let fit = Fit {
        epochs: 25,
        batch_size: 16,
        verbosity: Verbosity::Silent,
        ..Fit::default()
    };
    let before = model.evaluate(&vx, &vy).unwrap();
    model.fit(&x, &y, &fit).unwrap();
    let after = model.evaluate(&vx, &vy).unwrap();
    assert!(
        after.loss < before.loss / 2.0 && after.accuracy.unwrap() > 0.9,
        "before {before:?}, after {after:?}"
    );
    let predicted = model.predict(&vx);
    assert_eq!(predicted.len(), vx.len());
    assert_eq!(predicted[0], model.layers.predict(&vx[0]));
}

#[test]
fn flags_of_the_wrong_length_are_an_error() {
    assert_eq!(
        Episodes::new(vec![X::zeros(); 3], vec![false; 4]),
        Err(SequenceError::ResetsLength {
            sequence: 0,
            expected: 3,
            found: 4,
        })
    );
    assert!(Episodes::<X>::new(vec![], vec![])
        .unwrap()
        .steps()
        .is_empty());
}

/// Samples of one episode each carry no flag, so the layer runs them as `Rnn`'s layer runs
/// plain sequences (on a built-in cell's batched kernel where it has one): the same bits.
#[test]
fn samples_of_one_episode_run_as_plain_sequences() {
    type Y = SVector<f32, 8>;
    let mut rng = Rng::new("one episode");
    let rnn = Rnn::new(LstmCell::<8, 16>::keras_init(3));
    let sequences: Vec<Vec<Y>> = (0..8)
        .map(|_| {
            let xs: Vec<SVector<f64, 8>> = rng.values(10);
            xs.iter().map(|x| x.cast::<f32>()).collect()
        })
        .collect();
    let samples: Vec<Episodes<Y>> = sequences
        .iter()
        .map(|xs| Episodes::concat([xs.clone()]))
        .collect();
    assert!(samples.iter().all(|s| !s.resets().contains(&true)));

    let (mut tape, mut plain) = (Default::default(), Vec::new());
    rnn.forward(&sequences, &mut tape, &mut plain);
    let (mut tape, mut episodic) = (Default::default(), Vec::new());
    Episodic::new(rnn.clone()).forward(&samples, &mut tape, &mut episodic);
    assert_eq!(episodic, plain);
}
