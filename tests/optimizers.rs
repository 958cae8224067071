//! Optimizers, clipping and schedules against Keras 3 and PyTorch (fixtures written by
//! `tools/fixtures_optim.py`): five steps from the same weights and gradients, the weights
//! after each; the schedules' rates at chosen steps; the libraries' default hyperparameters.
//! Then what no fixture shows: checkpoints resume bit for bit, steps after the first do not
//! allocate, mismatched models are typed errors.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell as StdCell;
use std::collections::BTreeSet;

use rnn::parameters::Parameters;
use rnn::prelude::*;
use rnn::train::clip::Clip;
use rnn::train::optim::{Adam, AdamW, Convention, Optimizer, OptimizerError, RmsProp, Rule, Sgd};
use rnn::train::schedule::{
    CosineDecay, ExponentialDecay, PiecewiseConstant, Schedule, ScheduleError,
};
use rnn::{ShapeError, ShapeErrorKind};
use serde::Deserialize;

/// Counts the allocations of the current thread (tests run on threads of their own).
struct Counting;

thread_local! {
    static ALLOCATIONS: StdCell<usize> = const { StdCell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// allocator contract holds exactly as it does for `System`. The thread-local counter is a
// const-initialised `Cell<usize>`: touching it never allocates, so there is no reentrancy.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (via `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(|n| n.get());
    f();
    ALLOCATIONS.with(|n| n.get()) - before
}

/// The fixtures' three tensors: `[3, 4]`, `[4]`, `[2, 2, 3]` (an nalgebra matrix reports
/// itself `[in, out]`, the transpose of its `R × C`).
#[derive(Parameters, Clone, Debug, PartialEq)]
struct Model {
    kernel: SMatrix<f32, 4, 3>,
    bias: SVector<f32, 4>,
    blocks: [SMatrix<f32, 3, 2>; 2],
}

#[derive(Deserialize)]
struct Tensor {
    shape: Vec<usize>,
    data: Vec<f64>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
    shape: Vec<usize>,
}

#[derive(Deserialize)]
struct Fixture {
    tensors: Vec<Named>,
    initial: Vec<Tensor>,
    grads: Vec<Vec<Tensor>>,
    defaults: std::collections::HashMap<String, std::collections::HashMap<String, f64>>,
    cases: std::collections::HashMap<String, Vec<Vec<Tensor>>>,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/optim/optimizers.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn model_from(tensors: &[Tensor]) -> Model {
    let mut model = Model {
        kernel: SMatrix::zeros(),
        bias: SVector::zeros(),
        blocks: [SMatrix::zeros(); 2],
    };
    let mut i = 0;
    model.for_each_parameter_mut(|path, tensor, _| {
        let t = &tensors[i];
        assert_eq!(tensor.shape().dims(), &t.shape[..], "{path}");
        let values: Vec<f32> = t.data.iter().map(|&x| x as f32).collect();
        tensor.copy_from_f32(&values).unwrap();
        i += 1;
    });
    assert_eq!(i, tensors.len());
    model
}

fn flat(model: &Model) -> Vec<f32> {
    let mut out = Vec::new();
    model.for_each_parameter(|_, tensor| out.extend(tensor.to_f32_vec()));
    out
}

/// The largest `|ours − theirs| / max(1, |theirs|)` over every value.
fn max_error(ours: &[f32], theirs: &[f64]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    ours.iter()
        .zip(theirs)
        .map(|(&a, &b)| (f64::from(a) - b).abs() / b.abs().max(1.0))
        .fold(0.0, f64::max)
}

/// Runs `optimizer` over the fixture's five steps: the largest error against `case` after
/// each.
fn errors<R: Rule, S: Schedule>(
    fx: &Fixture,
    case: &str,
    mut optimizer: Optimizer<R, S>,
) -> Vec<f64> {
    let trace = &fx.cases[case];
    let mut model = model_from(&fx.initial);
    let mut errors = Vec::new();
    for (grads, expected) in fx.grads.iter().zip(trace) {
        optimizer.step(&mut model, &model_from(grads)).unwrap();
        let expected: Vec<f64> = expected.iter().flat_map(|t| t.data.clone()).collect();
        errors.push(max_error(&flat(&model), &expected));
    }
    assert_eq!(optimizer.iterations(), trace.len() as u64);
    errors
}

/// [`errors`], each below the tolerance: the largest.
fn run<R: Rule, S: Schedule>(fx: &Fixture, case: &str, optimizer: Optimizer<R, S>) -> f64 {
    let errors = errors(fx, case, optimizer);
    for (step, &error) in errors.iter().enumerate() {
        assert!(error < TOLERANCE, "{case}, step {step}: error {error:e}");
    }
    errors.into_iter().fold(0.0, f64::max)
}

/// f32 weights of magnitude about 1 after five steps computed in a different order.
const TOLERANCE: f64 = 1e-6;

/// A fixture case run by one of our optimizers: the largest error.
type Case = Box<dyn Fn(&Fixture) -> f64>;

fn cases() -> Vec<(&'static str, Case)> {
    let sgd = |rule: Sgd, clip: Clip| move || Optimizer::new(rule, 0.1).with_clip(clip);
    vec![
        (
            "sgd_momentum_keras",
            Box::new(move |fx| run(fx, "sgd_momentum_keras", sgd(Sgd::keras(0.9), Clip::NONE)())),
        ),
        (
            "sgd_nesterov_keras",
            Box::new(move |fx| {
                run(
                    fx,
                    "sgd_nesterov_keras",
                    sgd(Sgd::keras(0.9).nesterov(), Clip::NONE)(),
                )
            }),
        ),
        (
            "sgd_momentum_keras_exponential_decay",
            Box::new(|fx| {
                let schedule = ExponentialDecay::new(0.1, 2, 0.5).unwrap();
                run(
                    fx,
                    "sgd_momentum_keras_exponential_decay",
                    Optimizer::new(Sgd::keras(0.9), schedule),
                )
            }),
        ),
        (
            "sgd_momentum_torch",
            Box::new(move |fx| run(fx, "sgd_momentum_torch", sgd(Sgd::torch(0.9), Clip::NONE)())),
        ),
        (
            "sgd_nesterov_torch",
            Box::new(move |fx| {
                run(
                    fx,
                    "sgd_nesterov_torch",
                    sgd(Sgd::torch(0.9).nesterov(), Clip::NONE)(),
                )
            }),
        ),
        (
            "adam_keras",
            Box::new(|fx| run(fx, "adam_keras", Optimizer::new(Adam::keras(), 0.01))),
        ),
        (
            "adam_torch",
            Box::new(|fx| run(fx, "adam_torch", Optimizer::new(Adam::torch(), 0.01))),
        ),
        (
            "adamw_keras",
            Box::new(|fx| {
                run(
                    fx,
                    "adamw_keras",
                    Optimizer::new(AdamW::keras().weight_decay(0.1), 0.01),
                )
            }),
        ),
        (
            "adamw_torch",
            Box::new(|fx| {
                run(
                    fx,
                    "adamw_torch",
                    Optimizer::new(AdamW::torch().weight_decay(0.1), 0.01),
                )
            }),
        ),
        (
            "rmsprop_keras",
            Box::new(|fx| run(fx, "rmsprop_keras", Optimizer::new(RmsProp::keras(), 0.01))),
        ),
        (
            "rmsprop_torch",
            Box::new(|fx| run(fx, "rmsprop_torch", Optimizer::new(RmsProp::torch(), 0.01))),
        ),
        (
            "clipnorm_keras",
            Box::new(move |fx| {
                run(
                    fx,
                    "clipnorm_keras",
                    sgd(Sgd::keras(0.9), Clip::norm(1.0).unwrap())(),
                )
            }),
        ),
        (
            "clipvalue_keras",
            Box::new(move |fx| {
                run(
                    fx,
                    "clipvalue_keras",
                    sgd(Sgd::keras(0.9), Clip::value(0.5).unwrap())(),
                )
            }),
        ),
        (
            "global_clipnorm_keras",
            Box::new(move |fx| {
                run(
                    fx,
                    "global_clipnorm_keras",
                    sgd(Sgd::keras(0.9), Clip::global_norm(2.0).unwrap())(),
                )
            }),
        ),
        (
            "global_clipnorm_torch",
            Box::new(move |fx| {
                run(
                    fx,
                    "global_clipnorm_torch",
                    sgd(Sgd::torch(0.9), Clip::global_norm_torch(2.0).unwrap())(),
                )
            }),
        ),
    ]
}

#[test]
fn every_fixture_case_matches_keras_or_pytorch() {
    let fx = fixture();
    let names: Vec<_> = fx
        .tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone()))
        .collect();
    let mut ours = Vec::new();
    model_from(&fx.initial).for_each_parameter(|path, tensor| {
        ours.push((path.to_string(), tensor.shape().dims().to_vec()))
    });
    assert_eq!(ours, names);

    let cases = cases();
    let tested: BTreeSet<&str> = cases.iter().map(|(name, _)| *name).collect();
    let recorded: BTreeSet<&str> = fx.cases.keys().map(String::as_str).collect();
    assert_eq!(tested, recorded, "every recorded case is tested");
    for (name, case) in &cases {
        let worst = case(&fx);
        println!("{name}: largest error {worst:.1e}");
    }
}

/// The fixtures tell the conventions apart: each library's case fails with the other's rule.
#[test]
fn the_conventions_differ_where_the_fixtures_show_it() {
    fn mismatch<R: Rule, S: Schedule>(case: &str, optimizer: Optimizer<R, S>) -> bool {
        let worst = errors(&fixture(), case, optimizer)
            .into_iter()
            .fold(0.0, f64::max);
        worst > 1e-3
    }
    let fx = fixture();
    assert!(mismatch("adam_keras", Optimizer::new(Adam::torch(), 0.01)));
    assert!(mismatch("adam_torch", Optimizer::new(Adam::keras(), 0.01)));
    assert!(mismatch(
        "rmsprop_keras",
        Optimizer::new(
            RmsProp {
                convention: Convention::Torch,
                ..RmsProp::keras()
            },
            0.01
        )
    ));
    // Under a decaying rate, PyTorch's momentum is not Keras's.
    let decay = ExponentialDecay::new(0.1, 2, 0.5).unwrap();
    assert!(mismatch(
        "sgd_momentum_keras_exponential_decay",
        Optimizer::new(Sgd::torch(0.9), decay)
    ));
    // PyTorch's global norm adds 1e-6 to the norm; the difference is below the tolerance
    // here, so the Keras fixture also passes with it (and only the scale's formula differs).
    run(
        &fx,
        "global_clipnorm_keras",
        Optimizer::new(Sgd::keras(0.9), 0.1).with_clip(Clip::global_norm_torch(2.0).unwrap()),
    );
}

#[test]
fn defaults_are_the_libraries_own() {
    let fx = fixture();
    let d = |case: &str, key: &str| fx.defaults[case][key];
    for (case, adam) in [("adam_keras", Adam::keras()), ("adam_torch", Adam::torch())] {
        assert_eq!(
            (adam.beta_1, adam.beta_2, adam.epsilon),
            (d(case, "beta_1"), d(case, "beta_2"), d(case, "epsilon")),
            "{case}"
        );
    }
    for (case, adamw) in [
        ("adamw_keras", AdamW::keras()),
        ("adamw_torch", AdamW::torch()),
    ] {
        let a = adamw.adam;
        assert_eq!(
            (a.beta_1, a.beta_2, a.epsilon, adamw.weight_decay),
            (
                d(case, "beta_1"),
                d(case, "beta_2"),
                d(case, "epsilon"),
                d(case, "weight_decay")
            ),
            "{case}"
        );
    }
    for (case, rms) in [
        ("rmsprop_keras", RmsProp::keras()),
        ("rmsprop_torch", RmsProp::torch()),
    ] {
        assert_eq!(
            (rms.rho, rms.epsilon),
            (d(case, "rho"), d(case, "epsilon")),
            "{case}"
        );
    }
}

#[derive(Deserialize)]
struct ScheduleCase {
    config: serde_json::Value,
    steps: Vec<u64>,
    values: Vec<f64>,
}

#[test]
fn schedules_match_keras() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/optim/schedules.json"
    );
    let cases: std::collections::BTreeMap<String, ScheduleCase> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut seen = 0;
    for (name, case) in &cases {
        let c = &case.config;
        let f = |key: &str| c[key].as_f64().unwrap();
        let u = |key: &str| c[key].as_u64().unwrap();
        let schedule: Box<dyn Schedule> = match name.as_str() {
            "exponential" => Box::new(
                ExponentialDecay::new(f("initial"), u("decay_steps"), f("decay_rate")).unwrap(),
            ),
            "exponential_staircase" => Box::new(
                ExponentialDecay::new(f("initial"), u("decay_steps"), f("decay_rate"))
                    .unwrap()
                    .staircase(),
            ),
            "piecewise" => Box::new(
                PiecewiseConstant::new(
                    c["boundaries"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| b.as_u64().unwrap())
                        .collect(),
                    c["values"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap())
                        .collect(),
                )
                .unwrap(),
            ),
            "cosine" => Box::new(
                CosineDecay::new(f("initial"), u("decay_steps"))
                    .unwrap()
                    .alpha(f("alpha")),
            ),
            "cosine_warmup" => Box::new(
                CosineDecay::new(f("initial"), u("decay_steps"))
                    .unwrap()
                    .alpha(f("alpha"))
                    .warmup(f("warmup_target"), u("warmup_steps")),
            ),
            other => panic!("untested schedule {other}"),
        };
        for (&step, &keras) in case.steps.iter().zip(&case.values) {
            let ours = schedule.learning_rate(step);
            // Keras computes in f32.
            assert!(
                (ours - keras).abs() <= 1e-6 * keras.abs().max(1e-3),
                "{name} at {step}: {ours} vs {keras}"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 5);
}

#[test]
fn schedules_reject_what_keras_cannot_compute() {
    assert_eq!(
        ExponentialDecay::new(0.1, 0, 0.5).unwrap_err(),
        ScheduleError::ZeroDecaySteps
    );
    assert_eq!(
        CosineDecay::new(0.1, 0).unwrap_err(),
        ScheduleError::ZeroDecaySteps
    );
    assert_eq!(
        PiecewiseConstant::new(vec![5, 10], vec![1.0, 2.0]).unwrap_err(),
        ScheduleError::Values {
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        PiecewiseConstant::new(vec![5, 5], vec![1.0, 2.0, 3.0]).unwrap_err(),
        ScheduleError::Unordered { index: 1 }
    );
    assert_eq!(
        ScheduleError::Values {
            expected: 3,
            found: 2
        }
        .to_string(),
        "piecewise schedule values: expected 3 (one more than the boundaries), found 2"
    );
}

/// Two steps, a checkpoint, three more on a fresh optimizer: the same bits as five steps.
#[test]
fn a_checkpoint_resumes_the_same_steps() {
    fn check<R: Rule + Clone>(rule: R) {
        let fx = fixture();
        let grads: Vec<Model> = fx.grads.iter().map(|g| model_from(g)).collect();
        let schedule = CosineDecay::new(0.05, 4).unwrap();
        let mut straight = model_from(&fx.initial);
        let mut optimizer = Optimizer::new(rule.clone(), schedule);
        for g in &grads {
            optimizer.step(&mut straight, g).unwrap();
        }

        let mut resumed = model_from(&fx.initial);
        let mut first = Optimizer::new(rule.clone(), schedule);
        for g in &grads[..2] {
            first.step(&mut resumed, g).unwrap();
        }
        let (iterations, state) = (first.iterations(), first.state_buffer().to_vec());
        assert_eq!(state.len(), rule.slots().len() * 28);
        let mut second = Optimizer::new(rule, schedule);
        second.load_state(&resumed, iterations, &state).unwrap();
        for g in &grads[2..] {
            second.step(&mut resumed, g).unwrap();
        }
        assert_eq!(resumed, straight);
        assert_eq!(second.state_buffer(), optimizer.state_buffer());
    }
    check(Adam::keras());
    check(AdamW::torch());
    // PyTorch's momentum starts from the first gradient: the count must resume too.
    check(Sgd::torch(0.9).nesterov());
    check(RmsProp::keras());
}

#[test]
fn steps_after_the_first_do_not_allocate() {
    let fx = fixture();
    let grads = model_from(&fx.grads[0]);
    let mut model = model_from(&fx.initial);
    let mut optimizer = Optimizer::new(
        AdamW::keras(),
        CosineDecay::new(0.01, 10).unwrap().warmup(0.1, 2),
    )
    .with_clip(Clip::global_norm(1.0).unwrap());
    assert!(allocations_in(|| optimizer.step(&mut model, &grads).unwrap()) > 0);
    let later = allocations_in(|| {
        for _ in 0..4 {
            optimizer.step(&mut model, &grads).unwrap();
        }
    });
    assert_eq!(later, 0);
}

#[derive(Parameters, Clone, Debug, PartialEq)]
struct Embedding {
    table: Vec<SVector<f32, 2>>,
}

#[test]
fn mismatched_models_and_states_are_typed_errors() {
    let mut model = Embedding {
        table: vec![SVector::from([1.0, 2.0]); 3],
    };
    let mut optimizer = Optimizer::new(Adam::keras(), 0.1);
    let same = model.clone();
    optimizer.step(&mut model, &same).unwrap();
    let before = model.clone();

    // A gradient with another row count.
    let short = Embedding {
        table: vec![SVector::zeros(); 2],
    };
    let err = optimizer.step(&mut model, &short).unwrap_err();
    assert_eq!(
        err,
        OptimizerError::Shape(ShapeError {
            what: "gradient tensors",
            expected: 6,
            found: 4,
            kind: ShapeErrorKind::Scalars,
        })
    );
    assert_eq!(
        err.to_string(),
        "gradient tensors: expected 6 scalars, found 4"
    );
    // A model that grew since the first step.
    let mut grown = Embedding {
        table: vec![SVector::zeros(); 4],
    };
    let grads = grown.clone();
    let err = optimizer.step(&mut grown, &grads).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gradient tensors: expected 6 scalars, found 8"
    );
    assert_eq!(
        (model, optimizer.iterations()),
        (before, 1),
        "nothing changed"
    );

    // An f64 model under an f32 optimizer.
    #[derive(Parameters)]
    struct Wide {
        w: SVector<f64, 2>,
    }
    let mut wide = Wide {
        w: SVector::zeros(),
    };
    let err = Optimizer::new(Sgd::plain(), 0.1)
        .step(
            &mut wide,
            &Wide {
                w: SVector::zeros(),
            },
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "parameter dtype: expected F32, found F64");
    // It trains under an f64 one.
    Optimizer::new_f64(Sgd::plain(), 0.5)
        .step(
            &mut wide,
            &Wide {
                w: SVector::from([1.0, -2.0]),
            },
        )
        .unwrap();
    assert_eq!(wide.w, SVector::from([-0.5, 1.0]));

    // A state of the wrong size.
    let model = Embedding {
        table: vec![SVector::zeros(); 3],
    };
    let err = Optimizer::new(Adam::keras(), 0.1)
        .load_state(&model, 2, &[0.0; 6])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "optimizer state: expected 12 scalars, found 6"
    );
}

#[test]
fn clipping_thresholds_must_be_positive_and_finite() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = Clip::norm(bad).unwrap_err();
        assert!(err.found.to_bits() == bad.to_bits());
        assert!(
            Clip::value(bad).is_err()
                && Clip::global_norm(bad).is_err()
                && Clip::global_norm_torch(bad).is_err()
        );
    }
    assert_eq!(
        Clip::norm(-1.0).unwrap_err().to_string(),
        "clipping threshold: expected a positive finite number, found -1"
    );
}

/// Keras's global scale `c · min(1/‖G‖, 1/c)` and PyTorch's `min(c / (‖G‖ + 1e-6), 1)`, on
/// an exact 3-4-12 triangle (‖G‖ = 13), in f64.
#[test]
fn global_norms_scale_as_each_library_does() {
    let ends = [2, 3];
    let mut keras = [3.0f64, 4.0, 12.0];
    Clip::global_norm(6.5).unwrap().apply(&mut keras, &ends);
    assert_eq!(keras, [1.5, 2.0, 6.0]);
    let mut torch = [3.0f64, 4.0, 12.0];
    Clip::global_norm_torch(6.5)
        .unwrap()
        .apply(&mut torch, &ends);
    let scale = 6.5 / (13.0 + 1e-6);
    assert_eq!(torch, [3.0 * scale, 4.0 * scale, 12.0 * scale]);
    // Under the threshold, neither changes anything.
    let mut small = [3.0f64, 4.0, 12.0];
    Clip::global_norm(13.5).unwrap().apply(&mut small, &ends);
    Clip::global_norm_torch(13.5)
        .unwrap()
        .apply(&mut small, &ends);
    assert_eq!(small, [3.0, 4.0, 12.0]);
    // A non-finite norm poisons every value, as Keras's `scale + (norm − norm)` does.
    let mut inf = [f64::INFINITY, 1.0, 1.0];
    Clip::global_norm(1.0).unwrap().apply(&mut inf, &ends);
    assert!(inf.iter().all(|v| v.is_nan()));
}
