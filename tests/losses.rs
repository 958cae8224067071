//! Losses against Keras 3 (fixtures written by `tools/fixtures_optim.py` with
//! `tf.GradientTape`): values and the gradients of the reduced loss with respect to the
//! predictions, over samples, over every step with masks, over the last valid step, with
//! sample weights and each reduction. Then the adjoints against central differences in f64,
//! and the typed errors.

use rnn::prelude::*;
use rnn::train::loss::{
    BinaryCrossentropy, CategoricalCrossentropy, Loss, LossError, MeanSquaredError, Reduction,
    SparseCategoricalCrossentropy,
};
use rnn::ShapeError;
use serde::Deserialize;

const N: usize = 3;

#[derive(Deserialize)]
struct Tensor {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Tensor {
    /// Row `i` of width `width`.
    fn row(&self, i: usize, width: usize) -> &[f64] {
        &self.data[i * width..(i + 1) * width]
    }
}

#[derive(Deserialize)]
struct Case {
    loss: String,
    from_logits: bool,
    reduction: String,
    over: String,
    y_true: Tensor,
    y_pred: Tensor,
    sample_weight: Option<Tensor>,
    mask: Option<Tensor>,
    lengths: Option<Vec<usize>>,
    value: f64,
    grad: Tensor,
}

fn cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/optim/losses.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn vector(values: &[f64]) -> SVector<f32, N> {
    SVector::from_iterator(values.iter().map(|&x| x as f32))
}

/// f32 values of magnitude about 1 (logs, softmaxes), summed in another order than
/// TensorFlow's.
const TOLERANCE: f64 = 1e-6;

fn error(ours: f32, theirs: f64) -> f64 {
    (f64::from(ours) - theirs).abs() / theirs.abs().max(1.0)
}

/// Checks `case` with `loss`, reading a target from a row of `y_true` of `width` values;
/// returns the largest error.
fn check<L: Loss<f32, N>>(
    loss: &L,
    case: &Case,
    width: usize,
    target: impl Fn(&[f64]) -> L::Target,
) -> f64 {
    let reduction = match case.reduction.as_str() {
        "sum_over_batch_size" => Reduction::SumOverBatchSize,
        "sum" => Reduction::Sum,
        "mean_with_sample_weight" => Reduction::MeanWithSampleWeight,
        other => panic!("reduction {other}"),
    };
    let weights: Option<Vec<f32>> = case
        .sample_weight
        .as_ref()
        .map(|w| w.data.iter().map(|&x| x as f32).collect());
    let batch = case.y_pred.shape[0];
    let (value, adjoints): (f32, Vec<SVector<f32, N>>) = match case.over.as_str() {
        "samples" => {
            let targets: Vec<_> = (0..batch)
                .map(|b| target(case.y_true.row(b, width)))
                .collect();
            let predictions: Vec<_> = (0..batch).map(|b| vector(case.y_pred.row(b, N))).collect();
            let out = loss
                .batch(&targets, &predictions, weights.as_deref(), reduction)
                .unwrap();
            (out.value, out.adjoints)
        }
        over => {
            let steps = case.y_pred.shape[1];
            let predictions: Vec<Vec<_>> = (0..batch)
                .map(|b| {
                    (0..steps)
                        .map(|t| vector(case.y_pred.row(b * steps + t, N)))
                        .collect()
                })
                .collect();
            let out = if over == "steps" {
                let targets: Vec<Vec<_>> = (0..batch)
                    .map(|b| {
                        (0..steps)
                            .map(|t| target(case.y_true.row(b * steps + t, width)))
                            .collect()
                    })
                    .collect();
                let masks: Option<Vec<Vec<bool>>> = case.mask.as_ref().map(|m| {
                    (0..batch)
                        .map(|b| m.row(b, steps).iter().map(|&x| x != 0.0).collect())
                        .collect()
                });
                loss.steps(
                    &targets,
                    &predictions,
                    masks.as_deref(),
                    weights.as_deref(),
                    reduction,
                )
            } else {
                let targets: Vec<_> = (0..batch)
                    .map(|b| target(case.y_true.row(b, width)))
                    .collect();
                loss.last_step(
                    &targets,
                    &predictions,
                    case.lengths.as_deref(),
                    weights.as_deref(),
                    reduction,
                )
            }
            .unwrap();
            (out.value, out.adjoints.into_iter().flatten().collect())
        }
    };
    let name = format!(
        "{} logits={} {} over {} weights={} mask={}",
        case.loss,
        case.from_logits,
        case.reduction,
        case.over,
        case.sample_weight.is_some(),
        case.mask.is_some()
    );
    let mut worst = error(value, case.value);
    assert!(worst < TOLERANCE, "{name}: value {value} vs {}", case.value);
    let ours: Vec<f32> = adjoints.iter().flat_map(|a| a.iter().copied()).collect();
    assert_eq!(ours.len(), case.grad.data.len(), "{name}");
    for (i, (&a, &b)) in ours.iter().zip(&case.grad.data).enumerate() {
        let e = error(a, b);
        assert!(e < TOLERANCE, "{name}: adjoint {i}: {a} vs {b}");
        worst = worst.max(e);
    }
    worst
}

#[test]
fn losses_and_their_adjoints_match_keras() {
    let cases = cases();
    let mut counted = std::collections::BTreeMap::<String, (usize, f64)>::new();
    for case in &cases {
        let from_logits = case.from_logits;
        let vector_target = |row: &[f64]| vector(row);
        let worst = match case.loss.as_str() {
            "mse" => check(&MeanSquaredError, case, N, vector_target),
            "categorical_crossentropy" => check(
                &CategoricalCrossentropy { from_logits },
                case,
                N,
                vector_target,
            ),
            "binary_crossentropy" => {
                check(&BinaryCrossentropy { from_logits }, case, N, vector_target)
            }
            "sparse_categorical_crossentropy" => check(
                &SparseCategoricalCrossentropy { from_logits },
                case,
                1,
                |row| row[0] as usize,
            ),
            other => panic!("untested loss {other}"),
        };
        let entry = counted
            .entry(format!("{} logits={}", case.loss, from_logits))
            .or_default();
        *entry = (entry.0 + 1, entry.1.max(worst));
    }
    for (name, (n, worst)) in &counted {
        println!("{name}: {n} cases, largest error {worst:.1e}");
    }
    // 7 losses × (6 over samples + 12 over steps + 1 over the last step).
    assert_eq!(cases.len(), 7 * 19);
    assert_eq!(counted.len(), 7);
}

/// The loss as a function of every prediction, in f64, for central differences.
fn central_differences<L: Loss<f64, N>>(
    loss: &L,
    targets: &[Vec<L::Target>],
    predictions: &[Vec<SVector<f64, N>>],
    masks: &[Vec<bool>],
    weights: &[f64],
    reduction: Reduction,
) {
    let value = |p: &[Vec<SVector<f64, N>>]| {
        loss.steps(targets, p, Some(masks), Some(weights), reduction)
            .unwrap()
            .value
    };
    let adjoints = loss
        .steps(targets, predictions, Some(masks), Some(weights), reduction)
        .unwrap()
        .adjoints;
    let h = 1e-6;
    for b in 0..predictions.len() {
        for t in 0..predictions[b].len() {
            for i in 0..N {
                let mut plus = predictions.to_vec();
                plus[b][t][i] += h;
                let mut minus = predictions.to_vec();
                minus[b][t][i] -= h;
                let numeric = (value(&plus) - value(&minus)) / (2.0 * h);
                let analytic = adjoints[b][t][i];
                let scale = numeric.abs().max(analytic.abs());
                let ok = if scale > 1e-4 {
                    (numeric - analytic).abs() / scale < 1e-6
                } else {
                    (numeric - analytic).abs() < 1e-10
                };
                assert!(
                    ok,
                    "[{b}][{t}][{i}]: numeric {numeric}, analytic {analytic}"
                );
            }
        }
    }
}

/// Deterministic inputs well inside the clipping bounds: values in (0.1, 0.9).
fn inputs(logits: bool) -> Vec<Vec<SVector<f64, N>>> {
    let mut k = 0.0f64;
    let lengths = [3usize, 1, 4];
    lengths
        .iter()
        .map(|&len| {
            (0..len)
                .map(|_| {
                    SVector::from_fn(|_, _| {
                        k += 1.0;
                        let u = 0.5 + 0.4 * (k * 1.7).sin();
                        if logits {
                            (u - 0.5) * 6.0
                        } else {
                            u
                        }
                    })
                })
                .collect()
        })
        .collect()
}

#[test]
fn adjoints_match_central_differences_in_f64() {
    let masks = vec![
        vec![true, false, true],
        vec![true],
        vec![true, true, false, true],
    ];
    let weights = [0.5, 2.0, 1.5];
    let soft = |seq: &Vec<SVector<f64, N>>| -> Vec<SVector<f64, N>> {
        seq.iter()
            .map(|v| v.map(|x| x * x) / v.map(|x| x * x).sum())
            .collect()
    };
    let classes =
        |seq: &Vec<SVector<f64, N>>| -> Vec<usize> { (0..seq.len()).map(|t| t % N).collect() };
    for reduction in [
        Reduction::SumOverBatchSize,
        Reduction::Sum,
        Reduction::MeanWithSampleWeight,
    ] {
        for from_logits in [true, false] {
            let predictions = inputs(from_logits);
            let distributions: Vec<Vec<_>> = predictions
                .iter()
                .map(|s| soft(&s.iter().map(|v| v.map(|x| x + 1.3)).collect()))
                .collect();
            let labels: Vec<Vec<_>> = predictions.iter().map(classes).collect();
            // Binary targets: the same values in (0, 1), each an independent probability.
            let bits = &distributions;
            let m = &masks;
            central_differences(
                &CategoricalCrossentropy { from_logits },
                &distributions,
                &predictions,
                m,
                &weights,
                reduction,
            );
            central_differences(
                &SparseCategoricalCrossentropy { from_logits },
                &labels,
                &predictions,
                m,
                &weights,
                reduction,
            );
            central_differences(
                &BinaryCrossentropy { from_logits },
                bits,
                &predictions,
                m,
                &weights,
                reduction,
            );
        }
        let predictions = inputs(true);
        let targets: Vec<Vec<_>> = inputs(false);
        central_differences(
            &MeanSquaredError,
            &targets,
            &predictions,
            &masks,
            &weights,
            reduction,
        );
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let loss = SparseCategoricalCrossentropy { from_logits: true };
    let p = [SVector::<f32, N>::zeros(); 2];
    assert_eq!(
        loss.batch(&[0, 3], &p, None, Reduction::Sum).unwrap_err(),
        LossError::Class {
            classes: 3,
            found: 3
        }
    );
    assert_eq!(
        LossError::Class {
            classes: 3,
            found: 3
        }
        .to_string(),
        "class index: expected below 3, found 3"
    );
    let err = loss.batch(&[0], &p, None, Reduction::Sum).unwrap_err();
    assert_eq!(
        err,
        LossError::Shape(ShapeError::check_len("targets", 2, 1).unwrap_err())
    );
    let err = loss
        .batch(&[0, 1], &p, Some(&[1.0]), Reduction::Sum)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sample weights: expected 2 scalars, found 1"
    );

    let sequences = [
        vec![SVector::<f32, N>::zeros(); 3],
        vec![SVector::zeros(); 2],
    ];
    let targets = [vec![0usize, 1, 2], vec![0, 1]];
    let err = loss
        .steps(
            &targets,
            &sequences,
            Some(&[vec![true; 3], vec![true; 3]]),
            None,
            Reduction::Sum,
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "mask steps: expected 2 steps, found 3");
    let err = loss
        .last_step(&[0, 1], &sequences, Some(&[3, 0]), None, Reduction::Sum)
        .unwrap_err();
    assert_eq!(err, LossError::Empty { sequence: 1 });
    let err = loss
        .last_step(&[0, 1], &sequences, Some(&[3, 3]), None, Reduction::Sum)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sequence length: expected 2 steps, found 3"
    );
}

/// Every step masked: Keras's `divide_no_nan` gives 0 and no gradient, not NaN.
#[test]
fn a_batch_with_no_valid_step_has_zero_loss() {
    let loss = MeanSquaredError;
    let sequences = [vec![SVector::<f32, N>::from([1.0, 2.0, 3.0]); 2]];
    let targets = [vec![SVector::<f32, N>::zeros(); 2]];
    for reduction in [Reduction::SumOverBatchSize, Reduction::MeanWithSampleWeight] {
        let out = loss
            .steps(
                &targets,
                &sequences,
                Some(&[vec![false; 2]]),
                None,
                reduction,
            )
            .unwrap();
        assert_eq!(out.value, 0.0);
        assert!(out.adjoints[0]
            .iter()
            .all(|a| *a == SVector::<f32, N>::zeros()));
    }
}
