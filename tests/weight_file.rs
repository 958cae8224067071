//! Weight files: bit-exact round trips by parameter path, PyTorch `state_dict` import
//! against PyTorch's own outputs, and the file written by `safetensors` itself.

mod common;

use common::{flat, max_abs_diff, run_fixture, Fixture};
use rnn::cells::{Dense, GruCell, LstmCell, SimpleRnnCell, Stacked};
use rnn::ops::Activation;
use rnn::parameters::{Parameters, Scheme};
use rnn::prelude::*;
use rnn::weight_file::{self, TorchLayer, WeightFile, WeightFileError};

/// A Bidirectional pair of any cells.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Bidirectional<C> {
    forward: C,
    backward: C,
}

/// A model of several layers of different kinds.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Model {
    encoder: Bidirectional<LstmCell<5, 4>>,
    decoder: Stacked<(GruCell<8, 6>, SimpleRnnCell<6, 3>)>,
    head: Dense<3, 2, f64>,
}

fn model(seed: u64) -> Model {
    let mut m = Model {
        encoder: Bidirectional {
            forward: LstmCell::zeros(),
            backward: LstmCell::zeros(),
        },
        decoder: Stacked((GruCell::zeros(), SimpleRnnCell::zeros())),
        head: Dense::zeros(),
    };
    m.initialize(Scheme::PyTorch, seed);
    m
}

#[test]
fn save_then_load_is_bit_exact_for_cells_stacks_and_pairs() {
    let original = model(3);
    let bytes = weight_file::save(&original).unwrap();
    let mut loaded = model(4);
    assert_ne!(loaded, original);
    weight_file::load(&mut loaded, &bytes).unwrap();
    assert_eq!(loaded, original);
    // Bit for bit, f64 included: saving again gives the same file.
    assert_eq!(weight_file::save(&loaded).unwrap(), bytes);

    let file = WeightFile::parse(&bytes).unwrap();
    let names: Vec<String> = file.tensors().map(|t| t.name().to_string()).collect();
    assert_eq!(
        names,
        [
            "encoder/forward/kernel",
            "encoder/forward/recurrent_kernel",
            "encoder/forward/bias",
            "encoder/backward/kernel",
            "encoder/backward/recurrent_kernel",
            "encoder/backward/bias",
            "decoder/0/kernel",
            "decoder/0/recurrent_kernel",
            "decoder/0/bias",
            "decoder/1/kernel",
            "decoder/1/recurrent_kernel",
            "decoder/1/bias",
            "head/kernel",
            "head/bias",
        ]
    );
    let head = file.get("head/kernel").unwrap();
    assert_eq!(head.dtype(), rnn::parameters::Dtype::F64);
    assert_eq!(head.shape().dims(), [3, 2]);
    assert_eq!(
        head.values().collect::<Vec<_>>(),
        original.head.kernel.as_slice()
    );
}

#[test]
fn special_values_survive_the_round_trip() {
    let mut dense = Dense::<2, 2>::zeros();
    dense.kernel = rnn::weights::Weights::from_fn(|r, c| {
        [f32::MIN_POSITIVE / 8.0, -0.0, f32::MAX, f32::INFINITY][r * 2 + c]
    });
    dense.bias = Some(SVector::from([f32::NAN, f32::EPSILON]));
    let bytes = weight_file::save(&dense).unwrap();
    let mut loaded = Dense::<2, 2>::zeros();
    weight_file::load(&mut loaded, &bytes).unwrap();
    let bits = |d: &Dense<2, 2>| {
        let mut v: Vec<u32> = d.kernel.as_slice().iter().map(|x| x.to_bits()).collect();
        v.extend(d.bias.unwrap().iter().map(|x| x.to_bits()));
        v
    };
    assert_eq!(bits(&loaded), bits(&dense));
}

#[test]
fn files_on_disk_round_trip() {
    let dir = std::env::temp_dir().join(format!("rnn-weight-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let original = model(8);
    weight_file::save_file(&original, &path).unwrap();
    let mut loaded = model(9);
    weight_file::load_file(&mut loaded, &path).unwrap();
    assert_eq!(loaded, original);
    let absent = dir.join("absent.safetensors");
    let err = weight_file::load_file(&mut loaded, &absent).unwrap_err();
    assert_eq!(
        err,
        WeightFileError::Io {
            path: absent,
            operation: "read",
            kind: std::io::ErrorKind::NotFound
        }
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn f32_files_load_into_f64_cells_and_back() {
    let mut lstm = LstmCell::<3, 2>::zeros();
    lstm.initialize(Scheme::Keras, 1);
    let bytes = weight_file::save(&lstm).unwrap();
    let mut wide = LstmCell::<3, 2, f64>::zeros();
    weight_file::load(&mut wide, &bytes).unwrap();
    let mut narrow = LstmCell::<3, 2>::zeros();
    weight_file::load(&mut narrow, &weight_file::save(&wide).unwrap()).unwrap();
    assert_eq!(narrow, lstm);
}

#[test]
fn a_file_for_another_model_is_refused_and_the_cell_left_unchanged() {
    let bytes = weight_file::save(&model(1)).unwrap();
    let mut lstm = LstmCell::<5, 4>::zeros();
    lstm.initialize(Scheme::Keras, 2);
    let before = lstm.clone();
    let err = weight_file::load(&mut lstm, &bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `kernel`: expected shape [5, 16], found no such tensor"
    );
    assert_eq!(lstm, before);

    // A file with one tensor more than the cell has.
    let mut pair = model(1).encoder;
    let bytes = weight_file::save(&Bidirectional {
        forward: pair.forward.clone(),
        backward: pair.backward.clone(),
    })
    .unwrap();
    let mut lone = Bidirectional {
        forward: LstmCell::<5, 4>::zeros().with_use_bias(false),
        backward: LstmCell::<5, 4>::zeros(),
    };
    let err = weight_file::load(&mut lone, &bytes).unwrap_err();
    assert_eq!(
        err,
        WeightFileError::Unexpected {
            tensor: "forward/bias".into()
        }
    );
    // And the right one loads.
    weight_file::load(&mut pair, &bytes).unwrap();
}

// ------------------------------------------------------------------------------ PyTorch

fn steps<const N: usize>(fx: &Fixture, b: usize) -> Vec<SVector<f32, N>> {
    (0..fx.inputs.shape[1])
        .map(|t| SVector::from_iterator(fx.inputs.step(b, t).iter().map(|&x| x as f32)))
        .collect()
}

/// Row `[idx, b, :]` of a `[L·D, B, H]` state tensor.
fn state_row(t: &common::Tensor, idx: usize, b: usize) -> Vec<f64> {
    let (batch, h) = (t.shape[1], t.shape[2]);
    t.data[(idx * batch + b) * h..(idx * batch + b + 1) * h].to_vec()
}

/// One direction of one layer over a whole sequence, PyTorch-style (the reverse direction
/// reads the sequence backwards and its outputs are aligned to the time axis).
fn direction<const I: usize>(
    cell: &LstmCell<I, 4>,
    xs: &[SVector<f32, I>],
    h0: &[f64],
    c0: &[f64],
    reverse: bool,
) -> (Vec<SVector<f32, 4>>, Vec<f32>) {
    let mut state = cell.initial_state(&());
    state.h = SVector::from_iterator(h0.iter().map(|&x| x as f32));
    state.c = SVector::from_iterator(c0.iter().map(|&x| x as f32));
    let rnn = Rnn::new(cell);
    let order: Vec<&SVector<f32, I>> = if reverse {
        xs.iter().rev().collect()
    } else {
        xs.iter().collect()
    };
    let run = rnn.run_from(order, state, &());
    let mut ys = run.outputs.into_vec();
    if reverse {
        ys.reverse();
    }
    (ys, flat(&run.state))
}

#[test]
fn pytorch_two_layer_bidirectional_lstm_imports_and_matches() {
    let fx = Fixture::load("torch/torch_lstm_2layer_bidir.json");
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/torch/torch_lstm_2layer_bidir.safetensors"),
    )
    .unwrap();
    let file = WeightFile::parse(&bytes).unwrap();
    assert_eq!(file.len(), 16);

    let mut l0 = Bidirectional {
        forward: LstmCell::<5, 4>::zeros(),
        backward: LstmCell::<5, 4>::zeros(),
    };
    let mut l1 = Bidirectional {
        forward: LstmCell::<8, 4>::zeros(),
        backward: LstmCell::<8, 4>::zeros(),
    };
    file.import_torch(&mut l0.forward, TorchLayer::new(0))
        .unwrap();
    file.import_torch(&mut l0.backward, TorchLayer::new(0).reverse())
        .unwrap();
    file.import_torch(&mut l1.forward, TorchLayer::new(1))
        .unwrap();
    file.import_torch(&mut l1.backward, TorchLayer::new(1).reverse())
        .unwrap();
    // The import is the cells' own from_pytorch.
    assert_eq!(
        l0.forward,
        LstmCell::from_pytorch(
            &fx.weight("weight_ih_l0"),
            &fx.weight("weight_hh_l0"),
            Some(&fx.weight("bias_ih_l0")),
            Some(&fx.weight("bias_hh_l0")),
        )
        .unwrap()
    );

    let [h0, c0] = [
        &fx.initial_state.as_ref().unwrap()[0],
        &fx.initial_state.as_ref().unwrap()[1],
    ];
    let outputs = fx.outputs.as_ref().unwrap();
    let mut worst = 0.0f64;
    for b in 0..fx.inputs.shape[0] {
        let xs = steps::<5>(&fx, b);
        let (f0, sf0) = direction(
            &l0.forward,
            &xs,
            &state_row(h0, 0, b),
            &state_row(c0, 0, b),
            false,
        );
        let (b0, sb0) = direction(
            &l0.backward,
            &xs,
            &state_row(h0, 1, b),
            &state_row(c0, 1, b),
            true,
        );
        let xs1: Vec<SVector<f32, 8>> = f0
            .iter()
            .zip(&b0)
            .map(|(f, r)| SVector::from_iterator(f.iter().chain(r.iter()).copied()))
            .collect();
        let (f1, sf1) = direction(
            &l1.forward,
            &xs1,
            &state_row(h0, 2, b),
            &state_row(c0, 2, b),
            false,
        );
        let (b1, sb1) = direction(
            &l1.backward,
            &xs1,
            &state_row(h0, 3, b),
            &state_row(c0, 3, b),
            true,
        );
        for t in 0..xs.len() {
            let y: Vec<f32> = f1[t].iter().chain(b1[t].iter()).copied().collect();
            worst = worst.max(max_abs_diff(&y, outputs.step(b, t)));
        }
        for (idx, state) in [sf0, sb0, sf1, sb1].iter().enumerate() {
            let expected: Vec<f64> = fx
                .final_state
                .iter()
                .flat_map(|s| state_row(s, idx, b))
                .collect();
            worst = worst.max(max_abs_diff(state, &expected));
        }
    }
    println!("torch_lstm_2layer_bidir max abs err {worst:.2e}");
    assert!(worst <= 1e-5, "max abs error {worst:e}");

    // The imported pair saves and loads like any other cell.
    let saved = weight_file::save(&l1).unwrap();
    let mut again = Bidirectional {
        forward: LstmCell::<8, 4>::zeros(),
        backward: LstmCell::<8, 4>::zeros(),
    };
    weight_file::load(&mut again, &saved).unwrap();
    assert_eq!(again, l1);
}

/// A safetensors file of F32 tensors, written the plain way (for fixtures given as JSON).
fn safetensors(tensors: &[(&str, &[usize], Vec<f32>)]) -> Vec<u8> {
    let (mut header, mut data) = (String::from("{"), Vec::new());
    for (i, (name, shape, values)) in tensors.iter().enumerate() {
        let sep = if i > 0 { "," } else { "" };
        header += &format!(
            "{sep}\"{name}\":{{\"dtype\":\"F32\",\"shape\":{shape:?},\"data_offsets\":[{},{}]}}",
            data.len(),
            data.len() + 4 * values.len()
        );
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    }
    header.push('}');
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.bytes());
    out.extend(data);
    out
}

fn torch_file(fx: &Fixture, prefix: &str) -> Vec<u8> {
    torch_tensors(
        fx,
        prefix,
        &["weight_ih", "weight_hh", "bias_ih", "bias_hh"],
    )
}

/// A file of the fixture's tensors `names`, each saved as `{prefix}{name}_l0`.
fn torch_tensors(fx: &Fixture, prefix: &str, names: &[&str]) -> Vec<u8> {
    let full: Vec<String> = names.iter().map(|n| format!("{prefix}{n}_l0")).collect();
    let tensors: Vec<(&str, &[usize], Vec<f32>)> = names
        .iter()
        .zip(&full)
        .map(|(n, full)| {
            let t = &fx.weights[*n];
            (full.as_str(), t.shape.as_slice(), t.f32())
        })
        .collect();
    safetensors(&tensors)
}

#[test]
fn pytorch_gru_imports_with_gates_reordered_and_two_bias_rows() {
    let fx = Fixture::load("torch/torch_gru.json");
    let bytes = torch_file(&fx, "rnn.");
    let mut gru = GruCell::<5, 4>::zeros();
    WeightFile::parse(&bytes)
        .unwrap()
        .import_torch(&mut gru, TorchLayer::new(0).with_prefix("rnn."))
        .unwrap();
    let err = run_fixture(&gru, &fx);
    println!("torch_gru via safetensors max abs err {err:.2e}");
    assert!(err <= 1e-5);

    // A reset-before GRU computes something else from PyTorch's weights: refused, naming
    // both variants.
    let mut v1 = GruCell::<5, 4>::from_keras(&[0.0; 60], &[0.0; 48], Some(&[0.0; 12])).unwrap();
    let err = WeightFile::parse(&bytes)
        .unwrap()
        .import_torch(&mut v1, TorchLayer::new(0).with_prefix("rnn."))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GruCell: expected reset_after = true (PyTorch's GRU applies the reset gate after the \
         recurrent product), found reset_after = false"
    );
}

#[test]
fn pytorch_rnn_imports_with_summed_biases() {
    let fx = Fixture::load("torch/torch_rnn_relu.json");
    let bytes = torch_file(&fx, "");
    let mut cell = SimpleRnnCell::<5, 4>::zeros().with_activation(Activation::Relu);
    WeightFile::parse(&bytes)
        .unwrap()
        .import_torch(&mut cell, TorchLayer::new(0))
        .unwrap();
    assert_eq!(cell.activation, Activation::Relu, "configuration kept");
    let err = run_fixture(&cell, &fx);
    assert!(err <= 1e-5, "{err:e}");
}

#[test]
fn pytorch_import_names_what_is_missing_or_mismatched() {
    let fx = Fixture::load("torch/torch_lstm.json");
    let bytes = torch_file(&fx, "");
    let file = WeightFile::parse(&bytes).unwrap();
    // Layer 1 is not in the file.
    let mut lstm = LstmCell::<5, 4>::zeros();
    let err = file
        .import_torch(&mut lstm, TorchLayer::new(1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `weight_ih_l1`: expected shape [16, 5], found no such tensor"
    );
    // A GRU cell for LSTM weights.
    let mut gru = GruCell::<5, 4>::zeros();
    let err = file.import_torch(&mut gru, TorchLayer::new(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `weight_ih_l0`: expected shape [12, 5], found [16, 5]"
    );
    // Wrong input size.
    let mut wide = LstmCell::<6, 4>::zeros();
    let err = file
        .import_torch(&mut wide, TorchLayer::new(0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `weight_ih_l0`: expected shape [16, 6], found [16, 5]"
    );
    // A cell without bias refuses biases it cannot hold.
    let mut no_bias = LstmCell::<5, 4>::zeros().with_use_bias(false);
    let err = file
        .import_torch(&mut no_bias, TorchLayer::new(0))
        .unwrap_err();
    assert!(matches!(err, WeightFileError::Unexpected { .. }), "{err}");
    // And the right cell takes it, as from_pytorch would.
    file.import_torch(&mut lstm, TorchLayer::new(0)).unwrap();
    assert!(run_fixture(&lstm, &fx) <= 1e-5);
}

// -------------------------------------------------------------------------------- Keras

#[test]
fn keras_export_imports_into_a_stack_and_matches_keras() {
    // Keras: Sequential([GRU(6, return_sequences=True), LSTM(4, return_sequences=True),
    // Dense(3)]) on 5 inputs, exported by the snippet of docs/weights.md.
    let fx = Fixture::load("keras/keras_weights_stack.json");
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keras/keras_weights_stack.safetensors"),
    )
    .unwrap();
    let file = WeightFile::parse(&bytes).unwrap();
    let mut stack = Stacked((
        GruCell::<5, 6>::zeros(),
        LstmCell::<6, 4>::zeros(),
        Dense::<4, 3>::zeros(),
    ));
    file.import_keras(&mut stack).unwrap();
    // Keras's GRU bias [2, 18] became the input and recurrent bias rows.
    let keras_bias: Vec<f64> = file
        .get("0002/sequential/gru/gru_cell/bias")
        .unwrap()
        .values()
        .collect();
    assert_eq!(
        f64::from(stack.0 .0.recurrent_bias.unwrap()[0][0]),
        keras_bias[18]
    );

    let outputs = fx.outputs.as_ref().unwrap();
    let rnn = Rnn::new(&stack);
    let mut worst = 0.0f64;
    for b in 0..fx.inputs.shape[0] {
        let run = rnn.run(steps::<5>(&fx, b), &((), (), ()));
        for (t, y) in run.outputs.iter().enumerate() {
            worst = worst.max(max_abs_diff(&flat(y), outputs.step(b, t)));
        }
    }
    println!("keras_weights_stack max abs err {worst:.2e}");
    assert!(worst <= 1e-5, "max abs error {worst:e}");

    // The same file into a model of the wrong sizes: the first mismatch, named both ways.
    let mut wrong = Stacked((
        GruCell::<5, 6>::zeros(),
        LstmCell::<6, 5>::zeros(),
        Dense::<5, 3>::zeros(),
    ));
    let err = file.import_keras(&mut wrong).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `0003/sequential/lstm/lstm_cell/kernel → 1/kernel`: expected shape [6, 20], \
         found [6, 16]"
    );
}

#[test]
fn bidirectional_layers_round_trip() {
    let new = || rnn::Bidirectional::new(LstmCell::<5, 4>::zeros(), GruCell::<5, 3>::zeros());
    let mut bi = new();
    bi.initialize(Scheme::Keras, 12);
    let bytes = weight_file::save(&bi).unwrap();
    let mut loaded = new();
    weight_file::load(&mut loaded, &bytes).unwrap();
    assert_eq!(weight_file::save(&loaded).unwrap(), bytes);
    let names: Vec<String> = WeightFile::parse(&bytes)
        .unwrap()
        .tensors()
        .map(|t| t.name().to_string())
        .collect();
    assert_eq!(names[0], "forward/kernel");
    assert_eq!(names[5], "backward/bias");
}

// ------------------------------ lookups, long names, variants, value ranges, paths

#[test]
fn pytorch_import_takes_prefixes_longer_than_any_inline_name() {
    let fx = Fixture::load("torch/torch_lstm.json");
    let prefix = format!("{}.", "encoder".repeat(28)); // 197 bytes
    let bytes = torch_file(&fx, &prefix);
    let mut lstm = LstmCell::<5, 4>::zeros();
    WeightFile::parse(&bytes)
        .unwrap()
        .import_torch(&mut lstm, TorchLayer::new(0).with_prefix(&prefix))
        .unwrap();
    assert!(run_fixture(&lstm, &fx) <= 1e-5);
}

#[test]
fn save_sees_duplicate_paths_of_any_length() {
    #[derive(Parameters)]
    struct Long {
        #[parameters(
            rename = "a_parameter_whose_path_is_long_because_it_says_everything_about_\
                               where_it_comes_from_and_what_it_does_in_the_model_and_more_still_\
                               and_then_some_more_words_to_be_sure_it_is_well_past_any_limit"
        )]
        w: f32,
    }
    #[derive(Parameters)]
    struct Twice {
        #[parameters(flatten)]
        a: Long,
        #[parameters(flatten)]
        b: Long,
    }
    let twice = Twice {
        a: Long { w: 1.0 },
        b: Long { w: 2.0 },
    };
    let err = weight_file::save(&twice).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("past_any_limit`"), "{msg}");
    assert!(msg.contains("found two"), "{msg}");
}

#[test]
fn pytorch_gru_into_a_reset_before_cell_is_refused() {
    // nn.GRU(bias=False): no bias to tell the variants apart, only the flag.
    let fx = Fixture::load("torch/torch_gru.json");
    let bytes = torch_tensors(&fx, "", &["weight_ih", "weight_hh"]);
    let file = WeightFile::parse(&bytes).unwrap();
    let mut before = GruCell::<5, 4>::zeros().with_use_bias(false);
    before.reset_after = false;
    let err = file
        .import_torch(&mut before, TorchLayer::new(0))
        .unwrap_err();
    assert!(err.to_string().contains("reset_after = false"), "{err}");
    let mut after = GruCell::<5, 4>::zeros().with_use_bias(false);
    file.import_torch(&mut after, TorchLayer::new(0)).unwrap();
}

#[test]
fn a_gru_without_a_recurrent_bias_is_named_as_the_cell() {
    let fx = Fixture::load("torch/torch_gru.json");
    let bytes = torch_file(&fx, "");
    let mut gru = GruCell::<5, 4>::zeros();
    gru.recurrent_bias = None;
    let err = WeightFile::parse(&bytes)
        .unwrap()
        .import_torch(&mut gru, TorchLayer::new(0))
        .unwrap_err();
    // The [12] is the cell's, not the file's: say so.
    assert_eq!(
        err.to_string(),
        "the cell's parameter `bias`: expected shape [2, 12] (PyTorch's input and recurrent \
         biases), found [12]"
    );
}

#[test]
fn f64_values_beyond_f32_are_refused_not_made_infinite() {
    let mut dense = Dense::<1, 2, f64>::zeros().with_use_bias(false);
    dense.kernel = rnn::weights::Weights::from_fn(|_, c| [1.0, 1e300][c]);
    let bytes = weight_file::save(&dense).unwrap();
    let mut narrow = Dense::<1, 2>::zeros().with_use_bias(false);
    let before = narrow.clone();
    let err = weight_file::load(&mut narrow, &bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `kernel`: expected values within ±3.4028235e38 for a F32 parameter, found \
         1e300 at index 1"
    );
    assert_eq!(narrow, before);
    // Infinities and NaN are values like any other: they load as they are.
    dense.kernel = rnn::weights::Weights::from_fn(|_, c| [f64::NEG_INFINITY, f64::NAN][c]);
    weight_file::load(&mut narrow, &weight_file::save(&dense).unwrap()).unwrap();
    assert_eq!(narrow.kernel.as_slice()[0], f32::NEG_INFINITY);
    assert!(narrow.kernel.as_slice()[1].is_nan());
}

#[test]
fn pytorch_biases_whose_sum_is_beyond_f32_are_refused() {
    // Each bias fits an f32; their sum, the cell's one bias, does not.
    let bytes = safetensors(&[
        ("weight_ih_l0", &[1, 1], vec![1.0]),
        ("weight_hh_l0", &[1, 1], vec![1.0]),
        ("bias_ih_l0", &[1], vec![3e38]),
        ("bias_hh_l0", &[1], vec![3e38]),
    ]);
    let mut cell = SimpleRnnCell::<1, 1>::zeros();
    let err = WeightFile::parse(&bytes)
        .unwrap()
        .import_torch(&mut cell, TorchLayer::new(0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `bias_ih_l0 + bias_hh_l0`: expected values within ±3.4028235e38 for a F32 \
         parameter, found 6.0000000109955115e38 at index 0"
    );
    assert_eq!(cell, SimpleRnnCell::<1, 1>::zeros());
    // In an f64 cell it is a value like any other.
    let mut wide = SimpleRnnCell::<1, 1, f64>::zeros();
    WeightFile::parse(&bytes)
        .unwrap()
        .import_torch(&mut wide, TorchLayer::new(0))
        .unwrap();
}

#[test]
fn a_missing_file_is_named() {
    let path = std::env::temp_dir().join(format!("rnn-absent-{}.safetensors", std::process::id()));
    let mut dense = Dense::<1, 1>::zeros();
    let msg = weight_file::load_file(&mut dense, &path)
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    let dir = std::env::temp_dir().join(format!(
        "rnn-absent-dir-{}/x.safetensors",
        std::process::id()
    ));
    let msg = weight_file::save_file(&dense, &dir)
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&dir.display().to_string()), "{msg}");
}
