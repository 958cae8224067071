//! Keras's initialisers: each distribution against Keras's own draws, orthogonality, the fan
//! conventions of a layer's kernels, per-field and per-layer choice, and seeds.
//!
//! The fixture (`tools/fixtures_init.py`) holds, for each initialiser and shape, the moments
//! of one tensor Keras drew. Ours is another independent sample of the same distribution, so
//! the two moments differ by sampling noise only, bounded here from the sample size `n` and
//! Keras's sample standard deviation `s`, at six standard errors (a false alarm once in 10⁸
//! checks; all draws are seeded, so a pass is reproducible):
//!
//! - mean: the difference of two sample means has standard error `s·√(2/n)`;
//! - std: one sample standard deviation has standard error `s·√((κ − 1)/(4n))`, `κ` the
//!   kurtosis, at most 3 here (uniform 1.8, truncated normal 2.4, normal 3), so the
//!   difference's is at most `s/√n`;
//! - min and max of a uniform of width `w`: `P(max < high − δw) = (1 − δ)ⁿ ≤ e^(−δn)`, so both
//!   lie within `20w/n` of the bound but once in e²⁰; of a normal truncated at ±2σ, whose
//!   density there is `0.0566/σ`, within `353σ/n`; of a normal (and of an orthogonal
//!   matrix's entries, nearly normal), the extremes move with a Gumbel spread of standard
//!   deviation `σ·(π/√6)/√(2 ln n)`, six times that for the difference of two;
//! - constants and `identity` are exact.

use std::collections::HashMap;
use std::path::PathBuf;

use rnn::cells::{Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn::init::{
    rng, DenseInitializers, Distribution, FanMode, Fans, Initializer, RecurrentInitializers,
};
use rnn::parameters::{Parameters, Scheme};
use rnn::prelude::*;
use rnn::weights::Kernel;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
    layers: Vec<Layer>,
    biases: Vec<Bias>,
}

/// A layer kind's bias drawn by Keras with a fan-based initialiser, over several layers: the
/// moments of each part (`[from, to)` of the flattened bias).
#[derive(Deserialize)]
struct Bias {
    layer: String,
    bias_initializer: String,
    units: usize,
    layers: usize,
    shape: Vec<usize>,
    parts: HashMap<String, Part>,
}

#[derive(Deserialize)]
struct Part {
    from: usize,
    to: usize,
    #[serde(flatten)]
    moments: Moments,
}

#[derive(Clone, Copy, Debug, Deserialize)]
struct Moments {
    n: usize,
    mean: f64,
    std: f64,
    min: f64,
    max: f64,
}

#[derive(Deserialize)]
struct Case {
    initializer: String,
    config: HashMap<String, Value>,
    shape: Vec<usize>,
    #[serde(flatten)]
    moments: Moments,
    orthogonality: Option<f64>,
}

#[derive(Deserialize)]
struct Layer {
    inputs: usize,
    units: usize,
    kernel_initializer: String,
    recurrent_initializer: KerasConfig,
    kernel: Shaped,
    recurrent_kernel: Shaped,
}

#[derive(Deserialize)]
struct KerasConfig {
    class_name: String,
    config: HashMap<String, Value>,
}

#[derive(Deserialize)]
struct Shaped {
    shape: Vec<usize>,
    #[serde(flatten)]
    moments: Moments,
}

fn fixture() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/init/keras_initializers.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Keras's class name and config as ours: the name through `from_keras_name` (Keras's
/// defaults), then each argument the config gives.
fn initializer(name: &str, config: &HashMap<String, Value>) -> Initializer {
    let arg = |key: &str, default: f64| config.get(key).and_then(Value::as_f64).unwrap_or(default);
    let text = |key: &str| config.get(key).and_then(Value::as_str);
    match Initializer::from_keras_name(name).unwrap() {
        Initializer::Constant(c) => Initializer::Constant(arg("value", c)),
        Initializer::RandomUniform { minval, maxval } => Initializer::RandomUniform {
            minval: arg("minval", minval),
            maxval: arg("maxval", maxval),
        },
        Initializer::RandomNormal { mean, stddev } => Initializer::RandomNormal {
            mean: arg("mean", mean),
            stddev: arg("stddev", stddev),
        },
        Initializer::TruncatedNormal { mean, stddev } => Initializer::TruncatedNormal {
            mean: arg("mean", mean),
            stddev: arg("stddev", stddev),
        },
        Initializer::VarianceScaling {
            scale,
            mode,
            distribution,
        } => Initializer::VarianceScaling {
            scale: arg("scale", scale),
            mode: match text("mode") {
                Some("fan_in") => FanMode::FanIn,
                Some("fan_out") => FanMode::FanOut,
                Some("fan_avg") => FanMode::FanAvg,
                _ => mode,
            },
            distribution: match text("distribution") {
                Some("uniform") => Distribution::Uniform,
                Some("truncated_normal") => Distribution::TruncatedNormal,
                Some("untruncated_normal") => Distribution::UntruncatedNormal,
                _ => distribution,
            },
        },
        Initializer::Orthogonal { gain } => Initializer::Orthogonal {
            gain: arg("gain", gain),
        },
        Initializer::Identity { gain } => Initializer::Identity {
            gain: arg("gain", gain),
        },
        other => other,
    }
}

/// The shape of an initialiser's extremes, which sets how far apart two samples' may be.
enum Extremes {
    Exact,
    /// At the bounds of a uniform.
    Uniform,
    /// At ±2σ of a truncated normal.
    Truncated,
    /// Unbounded: a normal's, or an orthogonal matrix's entries.
    Unbounded,
}

fn extremes(init: Initializer) -> Extremes {
    match init {
        Initializer::Zeros
        | Initializer::Ones
        | Initializer::Constant(_)
        | Initializer::Identity { .. } => Extremes::Exact,
        Initializer::RandomUniform { .. }
        | Initializer::GlorotUniform
        | Initializer::HeUniform
        | Initializer::LecunUniform
        | Initializer::VarianceScaling {
            distribution: Distribution::Uniform,
            ..
        } => Extremes::Uniform,
        Initializer::TruncatedNormal { .. }
        | Initializer::GlorotNormal
        | Initializer::HeNormal
        | Initializer::LecunNormal
        | Initializer::VarianceScaling {
            distribution: Distribution::TruncatedNormal,
            ..
        } => Extremes::Truncated,
        Initializer::RandomNormal { .. }
        | Initializer::VarianceScaling {
            distribution: Distribution::UntruncatedNormal,
            ..
        }
        | Initializer::Orthogonal { .. } => Extremes::Unbounded,
    }
}

fn moments(values: &[f32]) -> Moments {
    let n = values.len();
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    let (min, max) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| {
        (lo.min(f64::from(v)), hi.max(f64::from(v)))
    });
    Moments {
        n,
        mean,
        std: var.sqrt(),
        min,
        max,
    }
}

/// Ours against Keras's, within the tolerances of the module's doc.
fn assert_same_distribution(what: &str, kind: Extremes, ours: Moments, keras: Moments) {
    assert_eq!(ours.n, keras.n, "{what}: sample sizes");
    let (n, s) = (keras.n as f64, keras.std);
    let close = |name: &str, a: f64, b: f64, tolerance: f64| {
        assert!(
            (a - b).abs() <= tolerance,
            "{what}: {name} {a} (ours) vs {b} (Keras), more than {tolerance:e} apart"
        );
    };
    if let Extremes::Exact = kind {
        for (name, a, b) in [
            ("mean", ours.mean, keras.mean),
            ("std", ours.std, keras.std),
            ("min", ours.min, keras.min),
            ("max", ours.max, keras.max),
        ] {
            close(name, a, b, 1e-9);
        }
        return;
    }
    close("mean", ours.mean, keras.mean, 6.0 * s * (2.0 / n).sqrt());
    close("std", ours.std, keras.std, 6.0 * s / n.sqrt());
    let extreme_tolerance = match kind {
        Extremes::Uniform => 2.0 * 20.0 * (keras.max - keras.min) / n,
        // σ before truncation: the values' std is 0.88σ.
        Extremes::Truncated => 2.0 * 353.0 * (s / 0.879_625_661) / n,
        Extremes::Unbounded => {
            let gumbel = s * (std::f64::consts::PI / 6f64.sqrt()) / (2.0 * n.ln()).sqrt();
            6.0 * 2f64.sqrt() * gumbel
        }
        Extremes::Exact => unreachable!(),
    };
    close("min", ours.min, keras.min, extreme_tolerance);
    close("max", ours.max, keras.max, extreme_tolerance);
}

fn draw(init: Initializer, seed: u64, shape: &[usize]) -> Vec<f32> {
    let mut values = vec![0f32; shape.iter().product()];
    init.fill(&mut rng(seed), shape, &mut values).unwrap();
    values
}

/// The largest entry of |W·Wᵀ − gain²·I| (wide) or |Wᵀ·W − gain²·I| (tall), in f64.
fn orthogonality(values: &[f32], [rows, cols]: [usize; 2], gain: f64) -> f64 {
    let at = |i: usize, j: usize| f64::from(values[i * cols + j]);
    let wide = rows <= cols;
    let (k, inner) = if wide { (rows, cols) } else { (cols, rows) };
    let mut worst = 0f64;
    for a in 0..k {
        for b in 0..k {
            let dot: f64 = (0..inner)
                .map(|m| {
                    if wide {
                        at(a, m) * at(b, m)
                    } else {
                        at(m, a) * at(m, b)
                    }
                })
                .sum();
            let expected = if a == b { gain * gain } else { 0.0 };
            worst = worst.max((dot - expected).abs());
        }
    }
    worst
}

#[test]
fn each_initializer_draws_kerass_distribution() {
    let fixture = fixture();
    for (i, case) in fixture.cases.iter().enumerate() {
        let init = initializer(&case.initializer, &case.config);
        let what = format!("{} {:?} {:?}", case.initializer, case.config, case.shape);
        let values = draw(init, 100 + i as u64, &case.shape);
        assert_same_distribution(&what, extremes(init), moments(&values), case.moments);
        println!("{what:<80} ok");
    }
}

/// Orthonormal rows (wide), columns (tall) or both (square), times the gain, as Keras's are.
#[test]
fn orthogonal_is_orthonormal_times_its_gain() {
    let fixture = fixture();
    let mut checked = 0;
    for case in fixture.cases.iter().filter(|c| c.orthogonality.is_some()) {
        let Initializer::Orthogonal { gain } = initializer(&case.initializer, &case.config) else {
            panic!("{}", case.initializer)
        };
        let [rows, cols] = case.shape[..] else {
            panic!("{:?}", case.shape)
        };
        let values = draw(Initializer::Orthogonal { gain }, 3, &case.shape);
        // f32 entries: Keras's own residual is of the same order.
        let tolerance = 2e-5 * gain.max(1.0).powi(2);
        let ours = orthogonality(&values, [rows, cols], gain);
        let keras = case.orthogonality.unwrap();
        println!("orthogonal gain {gain} [{rows}, {cols}]: ours {ours:.1e}, Keras {keras:.1e}");
        assert!(ours <= tolerance && keras <= tolerance, "{ours} {keras}");
        checked += 1;
    }
    assert_eq!(checked, 5, "square, wide and tall, with gains");
    // In f64, to rounding.
    let mut w = vec![0f64; 24 * 8];
    Initializer::Orthogonal { gain: 3.0 }
        .fill(&mut rng(1), &[24, 8], &mut w)
        .unwrap();
    let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
    assert!(orthogonality(&w32, [24, 8], 3.0) < 1e-5);
}

/// Keras's fans: an `[in, out]` kernel has `fan_in = in`, `fan_out = out`, and an LSTM's
/// recurrent kernel `[H, 4H]` has `fan_out = 4H`. The fixture's LSTM layers were built by
/// Keras with fan-based initialisers; ours, with the same, match their moments, extremes
/// included (a uniform's are its limit, which the fans set).
#[test]
fn a_layers_kernels_have_kerass_fans() {
    assert_eq!(
        Fans::of(&[48, 256]),
        Fans {
            fan_in: 48,
            fan_out: 256
        }
    );
    assert_eq!(
        Fans::of(&[64, 256]),
        Fans {
            fan_in: 64,
            fan_out: 256
        }
    );
    let fixture = fixture();
    for (i, layer) in fixture.layers.iter().enumerate() {
        assert_eq!((layer.inputs, layer.units), (48, 64));
        let kernel = initializer(&layer.kernel_initializer, &HashMap::new());
        let recurrent = initializer(
            &layer.recurrent_initializer.class_name,
            &layer.recurrent_initializer.config,
        );
        let lstm = LstmCell::<48, 64>::keras_init_with(
            i as u64,
            RecurrentInitializers {
                kernel_initializer: kernel,
                recurrent_initializer: recurrent,
                ..RecurrentInitializers::default()
            },
        );
        let mut shapes = Vec::new();
        lstm.for_each_parameter(|_, t| shapes.push(t.shape().dims().to_vec()));
        assert_eq!(
            shapes[..2],
            [
                layer.kernel.shape.clone(),
                layer.recurrent_kernel.shape.clone()
            ]
        );
        for (what, ours, keras, init) in [
            ("kernel", lstm.kernel.as_slice(), &layer.kernel, kernel),
            (
                "recurrent kernel",
                lstm.recurrent_kernel.as_slice(),
                &layer.recurrent_kernel,
                recurrent,
            ),
        ] {
            let what = format!("LSTM {what} {:?}", layer.kernel_initializer);
            assert_same_distribution(&what, extremes(init), moments(ours), keras.moments);
        }
    }
}

/// The flattened bias of `cell`, in Keras's layout, and its shape.
fn keras_bias<P: Parameters>(cell: &P) -> (Vec<f32>, Vec<usize>) {
    let mut found = (Vec::new(), Vec::new());
    cell.for_each_parameter(|path, tensor| {
        if path.matches("bias") {
            found.0 = vec![0.0; tensor.len()];
            tensor.copy_to_f32(&mut found.0).unwrap();
            found.1 = tensor.shape().dims().to_vec();
        }
    });
    found
}

/// The bias of one layer of the fixture's kind, units and initialiser, drawn from `seed`.
fn bias_of(kind: &str, init: Initializer, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let initializers = RecurrentInitializers {
        bias_initializer: init,
        ..RecurrentInitializers::default()
    };
    match kind {
        "LSTM" => keras_bias(&LstmCell::<3, 64>::keras_init_with(seed, initializers)),
        "GRU" => keras_bias(&GruCell::<3, 64>::keras_init_with(seed, initializers)),
        "GRU reset_before" => {
            let mut gru = GruCell::<3, 64> {
                reset_after: false,
                recurrent_bias: None,
                ..GruCell::zeros()
            };
            gru.initialize_overriding(Scheme::Keras, seed, &[("bias", init)])
                .unwrap();
            keras_bias(&gru)
        }
        "SimpleRNN" => keras_bias(&SimpleRnnCell::<3, 64>::keras_init_with(seed, initializers)),
        other => panic!("no layer {other}"),
    }
}

/// Keras draws a recurrent layer's bias over the bias's own shape, and an LSTM's with
/// `unit_forget_bias` in parts: `concat([init([H]), ones([H]), init([2H])])`, each part with
/// its own fans (a he_uniform input-gate part reaches `√(6/H)`, the cell-and-output part
/// `√(6/2H)`, where one draw over `[4H]` would reach `√(6/4H)`). Ours, over as many layers as
/// the fixture, match each part's moments, extremes included; a GRU's `[2, 3H]` bias has
/// `fan_in = 2`, as in Keras.
#[test]
fn a_layers_bias_is_drawn_in_kerass_parts_with_their_fans() {
    let fixture = fixture();
    assert_eq!(
        fixture.biases.len(),
        8,
        "four layer kinds, two initialisers"
    );
    for case in &fixture.biases {
        assert_eq!(case.units, 64);
        let init = initializer(&case.bias_initializer, &HashMap::new());
        let mut parts: HashMap<&str, Vec<f32>> = HashMap::new();
        for k in 0..case.layers {
            let (bias, shape) = bias_of(&case.layer, init, 500 + k as u64);
            assert_eq!(shape, case.shape, "{}: the bias's Keras shape", case.layer);
            for (name, part) in &case.parts {
                parts
                    .entry(name)
                    .or_default()
                    .extend_from_slice(&bias[part.from..part.to]);
            }
        }
        for (name, part) in &case.parts {
            let what = format!("{} bias {name} {}", case.layer, case.bias_initializer);
            let kind = match name.as_str() {
                "forget" => Extremes::Exact, // ones
                _ => extremes(init),
            };
            assert_same_distribution(&what, kind, moments(&parts[name.as_str()]), part.moments);
            println!("{what:<50} ok");
        }
    }
}

/// A custom cell's fields, each with its own initialiser.
#[derive(Parameters)]
struct Custom {
    #[parameters(init = Initializer::Orthogonal { gain: 2.0 })]
    recurrent: Kernel<f64, 16, 4, 16>,
    /// `W · x` from 32 inputs to 8 outputs: `[in, out] = [32, 8]`, `fan_in = 32`.
    #[parameters(init = Initializer::HeUniform)]
    w: SMatrix<f64, 8, 32>,
    #[parameters(init = Initializer::Constant(0.25))]
    b: SVector<f64, 8>,
    #[parameters(init = Initializer::Identity { gain: 1.5 })]
    square: SMatrix<f64, 4, 4>,
    u: SMatrix<f64, 8, 32>,
}

fn custom() -> Custom {
    Custom {
        recurrent: Kernel::zeros(),
        w: SMatrix::zeros(),
        b: SVector::zeros(),
        square: SMatrix::zeros(),
        u: SMatrix::zeros(),
    }
}

#[test]
fn a_custom_cells_fields_take_any_initializer() {
    let mut cell = custom();
    cell.initialize(Scheme::Keras, 9);
    // orthogonal, gain 2, over [16, 64]: rows of norm 2, orthogonal.
    let r = cell.recurrent.as_slice();
    let r32: Vec<f32> = r.iter().map(|&v| v as f32).collect();
    assert!(orthogonality(&r32, [16, 64], 2.0) < 1e-4);
    // he_uniform with fan_in 32: limit √(6/32) = 0.433, and the draws reach near it.
    let limit = (6.0f64 / 32.0).sqrt();
    assert!(cell.w.iter().all(|w| w.abs() < limit));
    assert!(cell.w.iter().any(|w| w.abs() > 0.9 * limit));
    assert_eq!(cell.b, SVector::<f64, 8>::repeat(0.25));
    assert_eq!(cell.square, SMatrix::<f64, 4, 4>::identity() * 1.5);
    // No declaration: a matrix defaults to glorot_uniform, fans 32 and 8.
    let glorot = (6.0f64 / 40.0).sqrt();
    assert!(
        cell.u.iter().all(|w| w.abs() < glorot) && cell.u.iter().any(|w| w.abs() > 0.9 * glorot)
    );
}

/// The same seed gives the same bits, for every initialiser; another seed, or another field
/// drawing with the same initialiser, other values.
#[test]
fn seeds_reproduce_bits_and_fields_differ() {
    let fixture = fixture();
    for case in &fixture.cases {
        let init = initializer(&case.initializer, &case.config);
        let bits = |seed| -> Vec<u32> {
            draw(init, seed, &[32, 48])
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        assert_eq!(bits(5), bits(5), "{init:?}");
        if !matches!(extremes(init), Extremes::Exact) {
            assert_ne!(bits(5), bits(6), "{init:?}");
        }
    }
    // A whole model, twice from one seed: the same bits; the two matrices with the same
    // initialiser hold different values.
    let (mut a, mut b) = (custom(), custom());
    a.initialize(Scheme::Keras, 21);
    b.initialize(Scheme::Keras, 21);
    let bits = |c: &Custom| -> Vec<u64> {
        let mut out = Vec::new();
        c.for_each_parameter(|_, t| {
            out.extend(t.to_f32_vec().iter().map(|v| u64::from(v.to_bits())))
        });
        out
    };
    assert_eq!(bits(&a), bits(&b));
    b.initialize(Scheme::Keras, 22);
    assert_ne!(bits(&a), bits(&b));
    a.w = SMatrix::zeros();
    a.initialize_overriding(Scheme::Keras, 21, &[("u", Initializer::HeUniform)])
        .unwrap();
    assert_ne!(a.w, a.u, "two fields, one initialiser: different draws");
}

/// Keras's `kernel_initializer` / `recurrent_initializer` / `bias_initializer` on each
/// built-in: the defaults are `keras_init`'s bits, and each argument reaches its tensor.
#[test]
fn built_ins_take_kerass_initializer_arguments() {
    assert_eq!(
        LstmCell::<5, 4>::keras_init_with(3, RecurrentInitializers::default()),
        LstmCell::<5, 4>::keras_init(3)
    );
    assert_eq!(
        GruCell::<5, 4>::keras_init_with(3, RecurrentInitializers::default()),
        GruCell::<5, 4>::keras_init(3)
    );
    assert_eq!(
        SimpleRnnCell::<5, 4>::keras_init_with(3, RecurrentInitializers::default()),
        SimpleRnnCell::<5, 4>::keras_init(3)
    );
    assert_eq!(
        Dense::<5, 4>::keras_init_with(3, DenseInitializers::default()),
        Dense::<5, 4>::keras_init(3)
    );
    let ones = RecurrentInitializers {
        kernel_initializer: Initializer::Constant(0.5),
        recurrent_initializer: Initializer::Identity { gain: 1.0 },
        bias_initializer: Initializer::Constant(0.25),
        unit_forget_bias: true,
    };
    let lstm = LstmCell::<5, 4>::keras_init_with(1, ones);
    assert!(lstm.kernel.as_slice().iter().all(|&w| w == 0.5));
    assert_eq!(lstm.recurrent_kernel.rows()[3][0][3], 1.0);
    assert_eq!(lstm.recurrent_kernel.rows()[3][1][3], 0.0, "eye(H, 4H)");
    let bias = lstm.bias.unwrap();
    assert_eq!(
        (bias[0][0], bias[1][0], bias[3][3]),
        (0.25, 1.0, 0.25),
        "unit_forget_bias"
    );
    let lstm = LstmCell::<5, 4>::keras_init_with(
        1,
        RecurrentInitializers {
            unit_forget_bias: false,
            ..ones
        },
    );
    assert_eq!(lstm.bias.unwrap()[1][0], 0.25);
    let gru = GruCell::<5, 4>::keras_init_with(1, ones);
    assert!(
        gru.recurrent_bias
            .unwrap()
            .iter()
            .all(|b| b == &SVector::<f32, 4>::repeat(0.25)),
        "both rows"
    );
    let rnn = SimpleRnnCell::<5, 4>::keras_init_with(1, ones);
    assert_eq!(rnn.bias.unwrap(), SVector::<f32, 4>::repeat(0.25));
    let dense = Dense::<5, 4>::keras_init_with(
        1,
        DenseInitializers {
            kernel_initializer: Initializer::Zeros,
            bias_initializer: Initializer::Ones,
        },
    );
    assert_eq!(
        (dense.kernel.as_slice()[7], dense.bias.unwrap()[2]),
        (0.0, 1.0)
    );
}

/// Keras's names, class names and aliases; anything else an error that lists them.
#[test]
fn initializers_by_keras_name() {
    for (name, expected) in [
        ("glorot_uniform", Initializer::GlorotUniform),
        ("GlorotNormal", Initializer::GlorotNormal),
        ("he_uniform", Initializer::HeUniform),
        ("lecun_normal", Initializer::LecunNormal),
        (
            "uniform",
            Initializer::RandomUniform {
                minval: -0.05,
                maxval: 0.05,
            },
        ),
        (
            "normal",
            Initializer::RandomNormal {
                mean: 0.0,
                stddev: 0.05,
            },
        ),
        (
            "truncated_normal",
            Initializer::TruncatedNormal {
                mean: 0.0,
                stddev: 0.05,
            },
        ),
        ("one", Initializer::Ones),
        ("zeros", Initializer::Zeros),
        ("identity", Initializer::Identity { gain: 1.0 }),
    ] {
        assert_eq!(Initializer::from_keras_name(name), Ok(expected), "{name}");
    }
    let err = Initializer::from_keras_name("xavier").unwrap_err();
    assert_eq!(err.found, "xavier");
    assert!(
        err.to_string().contains("glorot_uniform, glorot_normal"),
        "{err}"
    );
}
