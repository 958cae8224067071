//! Training a model of layers: the chained backward against central differences in `f64`, and
//! `fit`'s contract (it learns, it is reproducible from its seed, it refuses bad data, early
//! stopping keeps the best epoch).

use rnn::cells::{BatchNormalization, Dense, GruCell, LstmCell};
use rnn::ops::Activation;
use rnn::prelude::*;
use rnn::train::loss::SparseCategoricalCrossentropy;
use rnn::train::optim::{Adam, Optimizer};
use rnn::train::{zeros_like, Fit, FitError, Layer, Model, Verbosity};

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// Every parameter's gradient of `loss(model) = Σ_b w_b · y_b`, `y` the training forward's
/// outputs on the batch, from the layers' backward, against central differences; the relative
/// error measure of `tests/gradients.rs`. `inference` says whether training computes what
/// inference does (no batch statistics).
fn check_layer_gradients<L, const N: usize>(
    model: &L,
    inputs: &[L::Input],
    inference: bool,
    at: &str,
) where
    L: Layer<Output = SVector<f64, N>>,
{
    let weights: Vec<SVector<f64, N>> = (0..inputs.len())
        .map(|b| SVector::from_column_slice(&values(N, 100 + b as u64)))
        .collect();
    let loss = |m: &L| -> f64 {
        let (mut tape, mut outputs) = (L::Tape::default(), Vec::new());
        m.forward(inputs, &mut tape, &mut outputs);
        outputs.iter().zip(&weights).map(|(y, w)| y.dot(w)).sum()
    };
    let (mut tape, mut outputs) = (L::Tape::default(), Vec::new());
    model.forward(inputs, &mut tape, &mut outputs);
    for (x, y) in inputs.iter().zip(&outputs).filter(|_| inference) {
        assert_eq!(
            *y,
            model.predict(x),
            "{at}: the training forward is inference"
        );
    }
    let mut grads = zeros_like(model);
    model.backward(inputs, &mut tape, &weights, &mut grads, None);
    let mut analytic = Vec::new();
    grads.for_each_parameter(|_, t| t.read(&mut |v| analytic.push(v)));
    assert!(!analytic.is_empty(), "{at}: no parameter");
    let h = 1e-6;
    for (i, &backward) in analytic.iter().enumerate() {
        let nudged = |delta: f64| {
            let mut m = model.clone();
            let mut k = 0;
            m.for_each_parameter_mut(|_, t, _| {
                let mut vals = Vec::new();
                t.read(&mut |v| vals.push(v));
                let mut vals = vals.into_iter();
                t.write(&mut || {
                    let v = vals.next().unwrap();
                    k += 1;
                    if k - 1 == i {
                        v + delta
                    } else {
                        v
                    }
                });
            });
            loss(&m)
        };
        let numeric = (nudged(h) - nudged(-h)) / (2.0 * h);
        let error = (backward - numeric).abs() / backward.abs().max(numeric.abs()).max(1e-2);
        assert!(
            error < 1e-6,
            "{at}: parameter {i}: backward {backward:e}, central difference {numeric:e} (relative error {error:e})"
        );
    }
}

fn sequences<const I: usize>(
    batch: usize,
    steps: impl Fn(usize) -> usize,
) -> Vec<Vec<SVector<f64, I>>> {
    (0..batch)
        .map(|b| {
            let t = steps(b);
            values(t * I, b as u64 + 1)
                .chunks_exact(I)
                .map(SVector::from_column_slice)
                .collect()
        })
        .collect()
}

#[test]
fn a_chain_of_layers_has_the_gradient_of_its_predictions() {
    // Ragged sequences (one empty: its last output is zeros).
    let xs = sequences::<3>(4, |b| [5, 3, 0, 4][b]);
    let lstm_dense = (
        Rnn::new(LstmCell::<3, 4, f64>::keras_init(1)),
        Dense::<4, 3, f64>::keras_init(2).with_activation(Activation::Softmax),
    );
    check_layer_gradients(&lstm_dense, &xs, true, "LSTM → Dense(softmax)");
    let gru_dense_dense = (
        Rnn::new(GruCell::<3, 4, f64>::pytorch_init(3)),
        Dense::<4, 5, f64>::keras_init(4).with_activation(Activation::Tanh),
        Dense::<5, 2, f64>::keras_init(5),
    );
    check_layer_gradients(&gru_dense_dense, &xs, true, "GRU → Dense(tanh) → Dense");
    // The digits model's shape: batch statistics couple the samples.
    let mut bn = BatchNormalization::<4, f64>::identity();
    bn.gamma = SVector::<f64, 4>::from_column_slice(&values(4, 9)).map(|g| 1.0 + g / 2.0);
    bn.beta = SVector::from_column_slice(&values(4, 10));
    let lstm_bn_dense = (
        Rnn::new(LstmCell::<3, 4, f64>::keras_init(6)),
        bn,
        Dense::<4, 3, f64>::keras_init(7).with_activation(Activation::Softmax),
    );
    check_layer_gradients(
        &lstm_bn_dense,
        &xs,
        false,
        "LSTM → BatchNormalization → Dense",
    );
}

/// Sequences of 6 values; the class says whether their sum is positive.
fn sign_task(n: usize, seed: u64) -> (Vec<Vec<SVector<f32, 1>>>, Vec<usize>) {
    let x: Vec<Vec<SVector<f32, 1>>> = (0..n)
        .map(|i| {
            values(6, seed * 1000 + i as u64)
                .into_iter()
                .map(|v| SVector::from([v as f32]))
                .collect()
        })
        .collect();
    let y = x
        .iter()
        .map(|s| usize::from(s.iter().map(|v| v[0]).sum::<f32>() > 0.0))
        .collect();
    (x, y)
}

type SignModel =
    Model<(Rnn<LstmCell<1, 8>>, Dense<8, 2>), SparseCategoricalCrossentropy, Adam, f64>;

fn sign_model() -> SignModel {
    Model::new(
        (
            Rnn::new(LstmCell::<1, 8>::keras_init(1)),
            Dense::<8, 2>::keras_init(2).with_activation(Activation::Softmax),
        ),
        SparseCategoricalCrossentropy::default(),
        Optimizer::new(Adam::keras(), 0.02),
    )
}

fn quiet(epochs: usize) -> Fit {
    Fit {
        epochs,
        batch_size: 16,
        verbosity: Verbosity::Silent,
        ..Fit::default()
    }
}

#[test]
fn fit_learns_a_task_and_is_reproducible_from_its_seed() {
    let (x, y) = sign_task(200, 1);
    let (vx, vy) = sign_task(100, 2);
    let mut model = sign_model();
    let before = model.evaluate(&vx, &vy).unwrap();
    let history = model
        .fit_validated(&x, &y, Some((&vx, &vy)), &quiet(25))
        .unwrap();
    assert_eq!(history.epochs.len(), 25);
    let after = model.evaluate(&vx, &vy).unwrap();
    assert!(
        after.loss < before.loss / 2.0 && after.accuracy.unwrap() > 0.9,
        "before {before:?}, after {after:?}"
    );
    assert_eq!(history.epochs[24].val_loss, Some(after.loss));
    // The same seed, the same bits; another seed, another order.
    let mut again = sign_model();
    assert_eq!(
        again
            .fit_validated(&x, &y, Some((&vx, &vy)), &quiet(25))
            .unwrap(),
        history
    );
    assert_eq!(again.layers.1, model.layers.1);
    let mut other = sign_model();
    let shuffled = Fit {
        shuffle: Some(7),
        ..quiet(25)
    };
    other.fit(&x, &y, &shuffled).unwrap();
    assert_ne!(other.layers.1, model.layers.1);
}

#[test]
fn fit_refuses_bad_data_and_changes_nothing() {
    let (x, y) = sign_task(10, 1);
    let mut model = sign_model();
    let untouched = model.layers.clone();
    assert_eq!(
        model.fit(&x, &y[..9], &quiet(1)),
        Err(FitError::Data {
            what: "targets (one per input)",
            expected: 10,
            found: 9
        })
    );
    let bad_class = vec![2; 10];
    assert!(matches!(
        model.fit(&x, &bad_class, &quiet(1)),
        Err(FitError::Loss(_))
    ));
    let zero = Fit {
        batch_size: 0,
        ..quiet(1)
    };
    assert!(matches!(
        model.fit(&x, &y, &zero),
        Err(FitError::Data { .. })
    ));
    assert_eq!(model.layers.1, untouched.1);
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let (x, y) = sign_task(64, 3);
    let (vx, vy) = sign_task(64, 4);
    let mut model = sign_model();
    // A learning rate far too high: the validation loss soon stops improving.
    model.optimizer = Optimizer::new(Adam::keras(), 0.5);
    let fit = Fit {
        patience: Some(2),
        ..quiet(40)
    };
    let history = model.fit_validated(&x, &y, Some((&vx, &vy)), &fit).unwrap();
    let best = history.best_epoch.expect("a best epoch");
    let losses: Vec<f64> = history.epochs.iter().map(|e| e.val_loss.unwrap()).collect();
    assert!(losses[best] <= losses.iter().cloned().fold(f64::INFINITY, f64::min));
    assert_eq!(
        history.epochs.len(),
        best + 3,
        "stops 2 epochs after the best"
    );
    let kept = model.evaluate(&vx, &vy).unwrap().loss;
    assert!(
        (kept - losses[best]).abs() < 1e-6,
        "{kept} vs {}",
        losses[best]
    );
}

#[test]
fn a_run_resumed_from_a_checkpoint_takes_the_same_steps() {
    let (x, y) = sign_task(48, 5);
    let dir = std::env::temp_dir().join(format!("rnn-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");

    let mut straight = sign_model();
    straight.fit(&x, &y, &quiet(4)).unwrap();

    let mut first = sign_model();
    first.fit(&x, &y, &quiet(2)).unwrap();
    first.save_checkpoint(&path).unwrap();
    let mut resumed = sign_model();
    resumed.load_checkpoint(&path).unwrap();
    assert_eq!(resumed.optimizer.iterations(), first.optimizer.iterations());
    let rest = Fit {
        initial_epoch: 2,
        ..quiet(4)
    };
    resumed.fit(&x, &y, &rest).unwrap();
    assert_eq!(resumed.layers.0.cell(), straight.layers.0.cell());
    assert_eq!(resumed.layers.1, straight.layers.1);

    // `fit` writes the best epoch's; a model of other shapes cannot load it.
    let best = Fit {
        checkpoint: Some(path.clone()),
        ..quiet(2)
    };
    sign_model().fit(&x, &y, &best).unwrap();
    let mut other = Model::new(
        (
            Rnn::new(LstmCell::<1, 4>::keras_init(1)),
            Dense::<4, 2>::keras_init(2),
        ),
        SparseCategoricalCrossentropy::default(),
        Optimizer::new(Adam::keras(), 0.02),
    );
    let before = other.layers.1.clone();
    assert!(matches!(
        other.load_checkpoint(&path),
        Err(FitError::Checkpoint(_))
    ));
    assert_eq!(other.layers.1, before);
    std::fs::remove_dir_all(&dir).unwrap();
}
