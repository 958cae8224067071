//! `#[derive(Parameters)]` and the `Parameters` trait: counts, paths, shapes, values,
//! attributes, seeded initialisation and the summary table.

use rnn::cells::{Dense, GruCell, LstmCell, SimpleRnnCell, Stacked};
use rnn::init::Initializer;
use rnn::ops::Activation;
use rnn::parameters::{Fill, Init, Parameters, Scheme};
use rnn::prelude::*;
use rnn::weights::{Kernel, Weights};

fn paths<P: Parameters>(p: &P) -> Vec<String> {
    let mut out = Vec::new();
    p.for_each_parameter(|path, t| out.push(format!("{path} {}", t.shape())));
    out
}

fn values<P: Parameters>(p: &P) -> Vec<f32> {
    let mut out = Vec::new();
    p.for_each_parameter(|_, t| out.extend(t.to_f32_vec()));
    out
}

#[test]
fn built_in_cells_count_as_keras_does() {
    // Keras: LSTM(4) on 5 inputs has 4·(5·4 + 4·4 + 4) = 160 parameters; GRU (reset_after)
    // 3·(5·4 + 4·4 + 2·4) = 132; SimpleRNN 5·4 + 4·4 + 4 = 40; Dense(3) on 4: 15.
    assert_eq!(LstmCell::<5, 4>::zeros().count_params(), 160);
    assert_eq!(GruCell::<5, 4>::zeros().count_params(), 132);
    assert_eq!(SimpleRnnCell::<5, 4>::zeros().count_params(), 40);
    assert_eq!(Dense::<4, 3>::zeros().count_params(), 15);
    // use_bias=False drops the bias; reset_after=False has one bias row.
    assert_eq!(
        LstmCell::<5, 4>::zeros()
            .with_use_bias(false)
            .count_params(),
        144
    );
    let gru_v1 = GruCell::<5, 4>::from_keras(&[0.0; 60], &[0.0; 48], Some(&[0.0; 12])).unwrap();
    assert_eq!(gru_v1.count_params(), 120);
    assert_eq!(paths(&gru_v1)[2], "bias [12]");
}

#[test]
fn paths_and_shapes_follow_keras_names() {
    assert_eq!(
        paths(&LstmCell::<5, 4>::zeros()),
        ["kernel [5, 16]", "recurrent_kernel [4, 16]", "bias [16]"]
    );
    assert_eq!(
        paths(&GruCell::<5, 4>::zeros()),
        ["kernel [5, 12]", "recurrent_kernel [4, 12]", "bias [2, 12]"]
    );
    assert_eq!(
        paths(&Dense::<4, 3, f64>::zeros()),
        ["kernel [4, 3]", "bias [3]"]
    );
    // A stack names its layers 0, 1, ...
    let stack = Stacked((LstmCell::<5, 4>::zeros(), GruCell::<4, 3>::zeros()));
    assert_eq!(
        paths(&stack),
        [
            "0/kernel [5, 16]",
            "0/recurrent_kernel [4, 16]",
            "0/bias [16]",
            "1/kernel [4, 9]",
            "1/recurrent_kernel [3, 9]",
            "1/bias [2, 9]",
        ]
    );
}

/// Seed 000's decoder: sub-cells recurse under their field names.
#[derive(Parameters)]
struct Decoder {
    gru: GruCell<12, 10>,
    proj: Dense<18, 10>,
    #[parameters(rename = "extra")]
    other: Dense<12, 15>,
    #[parameters(skip)]
    #[allow(dead_code)]
    name: &'static str,
}

fn decoder() -> Decoder {
    Decoder {
        gru: GruCell::zeros(),
        proj: Dense::zeros(),
        other: Dense::zeros(),
        name: "decoder",
    }
}

#[test]
fn a_model_visits_its_sub_cells_under_their_names() {
    let d = decoder();
    assert_eq!(
        paths(&d),
        [
            "gru/kernel [12, 30]",
            "gru/recurrent_kernel [10, 30]",
            "gru/bias [2, 30]",
            "proj/kernel [18, 10]",
            "proj/bias [10]",
            "extra/kernel [12, 15]",
            "extra/bias [15]",
        ]
    );
    assert_eq!(d.count_params(), 360 + 300 + 60 + 190 + 195);
    let mut found = false;
    d.for_each_parameter(|path, _| found |= path.matches("gru/recurrent_kernel"));
    assert!(found);
}

#[test]
fn values_are_read_and_written_row_major_in_keras_layout() {
    let mut dense =
        Dense::<2, 3>::from_keras(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], Some(&[7.0, 8.0, 9.0])).unwrap();
    assert_eq!(
        values(&dense),
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    );
    dense.for_each_parameter_mut(|path, t, _| {
        if path.matches("kernel") {
            t.copy_from_f32(&[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]).unwrap();
        }
    });
    assert_eq!(dense.kernel.as_slice(), [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
    // A buffer of the wrong length is an error naming both lengths.
    dense.for_each_parameter_mut(|_, t, _| {
        let err = t.copy_from_f32(&[0.0; 2]).unwrap_err();
        assert_eq!(err.found, 2);
    });
    // An nalgebra matrix `W` of `W · x` (3 inputs to 2 outputs) is a kernel `[in, out]`, as
    // Keras lays kernels out: entry `[j, i]` is `W[(i, j)]`.
    #[derive(Parameters)]
    struct M {
        m: SMatrix<f64, 2, 3>,
    }
    let m = M {
        m: SMatrix::<f64, 2, 3>::new(1.0, 2.0, 3.0, 4.0, 5.0, 6.0),
    };
    assert_eq!(paths(&m), ["m [3, 2]"]);
    assert_eq!(values(&m), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
}

#[test]
fn keras_initialisers_have_their_distributions() {
    let mut lstm = LstmCell::<8, 16, f64>::zeros();
    lstm.initialize(Scheme::Keras, 11);
    // glorot_uniform over [8, 64]: limit √(6 / 72).
    let limit = (6.0f64 / 72.0).sqrt();
    assert!(lstm.kernel.as_slice().iter().all(|w| w.abs() <= limit));
    // orthogonal [16, 64]: orthonormal rows.
    let u = lstm.recurrent_kernel.as_slice();
    for a in 0..16 {
        for b in 0..16 {
            let dot: f64 = (0..64).map(|j| u[a * 64 + j] * u[b * 64 + j]).sum();
            assert!((dot - f64::from(u8::from(a == b))).abs() < 1e-10);
        }
    }
    // zeros, forget gate ones.
    let bias = lstm.bias.unwrap();
    assert!(bias[1].iter().all(|&b| b == 1.0));
    assert!(bias[0]
        .iter()
        .chain(&bias[2])
        .chain(&bias[3])
        .all(|&b| b == 0.0));
}

#[test]
fn one_seed_initialises_a_whole_model_reproducibly() {
    let mut a = decoder();
    let mut b = decoder();
    a.initialize(Scheme::Keras, 5);
    b.initialize(Scheme::Keras, 5);
    assert_eq!(values(&a), values(&b));
    b.initialize(Scheme::Keras, 6);
    assert_ne!(values(&a), values(&b));
    // Different sub-cells draw different values from the one stream.
    assert_ne!(
        a.proj.kernel.as_slice()[..10],
        a.other.kernel.as_slice()[..10]
    );
}

/// Attribute coverage: init on a field and inherited, flatten, shape, row_of, tuples.
#[derive(Parameters)]
struct Custom {
    /// The innermost declaration wins: GRU's own inits stay.
    #[parameters(init = Initializer::Constant(3.0))]
    gru: GruCell<2, 2>,
    /// No declaration inside: the field's init applies to its leaves.
    #[parameters(init = Init::same(Initializer::Constant(2.0)))]
    pair: (SVector<f32, 2>, SMatrix<f32, 2, 2>),
    #[parameters(flatten)]
    inner: Inner,
    #[parameters(shape = [2, 3, 2])]
    reshaped: Weights<f32, 6, 2>,
    #[parameters(row_of = "stacked")]
    a: SVector<f32, 3>,
    #[parameters(row_of = "stacked")]
    b: Option<SVector<f32, 3>>,
    #[parameters(init = Init::new(Fill::UnitForgetBias(Initializer::Zeros), Fill::Initializer(Initializer::Zeros)))]
    gates: [SVector<f64, 2>; 4],
    scalar: f32,
}

#[derive(Parameters)]
struct Inner {
    w: Kernel<f32, 1, 2, 1>,
}

fn custom() -> Custom {
    Custom {
        gru: GruCell::zeros(),
        pair: (SVector::zeros(), SMatrix::zeros()),
        inner: Inner { w: Kernel::zeros() },
        reshaped: Weights::from_fn(|r, c| (r * 2 + c) as f32),
        a: SVector::from([1.0, 2.0, 3.0]),
        b: Some(SVector::from([4.0, 5.0, 6.0])),
        gates: [SVector::zeros(); 4],
        scalar: 0.5,
    }
}

#[test]
fn attributes_rename_flatten_reshape_and_join_rows() {
    let mut c = custom();
    assert_eq!(
        paths(&c),
        [
            "gru/kernel [2, 6]",
            "gru/recurrent_kernel [2, 6]",
            "gru/bias [2, 6]",
            "pair/0 [2]",
            "pair/1 [2, 2]",
            "w [1, 2]",
            "reshaped [2, 3, 2]",
            "stacked [2, 3]",
            "gates [8]",
            "scalar []",
        ]
    );
    let mut rows = Vec::new();
    c.for_each_parameter(|path, t| {
        if path.matches("stacked") {
            rows = t.to_f32_vec();
        }
    });
    assert_eq!(rows, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // A missing row leaves the other with its own shape.
    c.b = None;
    assert!(paths(&c).contains(&"stacked [3]".to_string()));
    // Writing through the joined rows reaches both fields.
    c.b = Some(SVector::zeros());
    c.for_each_parameter_mut(|path, t, _| {
        if path.matches("stacked") {
            t.copy_from_f32(&[9.0, 8.0, 7.0, 6.0, 5.0, 4.0]).unwrap();
        }
    });
    assert_eq!((c.a[0], c.b.unwrap()[2]), (9.0, 4.0));
}

#[test]
fn init_declarations_nest_innermost_first() {
    let mut c = custom();
    c.initialize(Scheme::Keras, 1);
    // GRU kept its own: glorot kernel (not 3.0), zero bias.
    assert!(c.gru.kernel.as_slice().iter().all(|&w| w != 3.0));
    assert!(c
        .gru
        .bias
        .unwrap()
        .iter()
        .all(|b| b.iter().all(|&x| x == 0.0)));
    // The tuple's leaves took the field's constant.
    assert!(c.pair.0.iter().chain(c.pair.1.iter()).all(|&x| x == 2.0));
    // unit_forget_bias over 4 blocks of 2; PyTorch side of the pair: zeros.
    assert_eq!(c.gates[1], SVector::from([1.0, 1.0]));
    assert_eq!(c.gates[0], SVector::<f64, 2>::zeros());
    c.initialize(Scheme::PyTorch, 1);
    assert_eq!(c.gates[1], SVector::<f64, 2>::zeros());
    // A scalar leaf defaults to a bias: zeros under Keras.
    c.initialize(Scheme::Keras, 1);
    assert_eq!(c.scalar, 0.0);
}

#[test]
fn summary_is_a_keras_like_table() {
    let stack = Stacked((LstmCell::<5, 4>::zeros(), Dense::<4, 3>::zeros()));
    let table = stack.summary().to_string();
    let expected = "\
____________________________________
Parameter (path)    Shape    Param #
====================================
0/kernel            [5, 16]       80
0/recurrent_kernel  [4, 16]       64
0/bias              [16]          16
1/kernel            [4, 3]        12
1/bias              [3]            3
====================================
Total params: 175 (700.00 B)
____________________________________
";
    assert_eq!(table, expected, "\n{table}");
}

/// One layout in one table: every 2-D weight is `[in, out]`, Keras's kernel layout, whether
/// it is a `Kernel` (stored so) or an nalgebra matrix used as `W · x` (stored `[out, in]`).
#[test]
fn summary_reports_every_matrix_as_in_out() {
    #[derive(Parameters)]
    struct Projections {
        kernel: Weights<f32, 5, 3>,
        matrix: SMatrix<f32, 3, 5>,
        gates: [SMatrix<f32, 3, 5>; 2],
    }
    let p = Projections {
        kernel: Weights::zeros(),
        matrix: SMatrix::zeros(),
        gates: [SMatrix::zeros(); 2],
    };
    let table = p.summary().to_string();
    let expected = "\
____________________________________
Parameter (path)  Shape      Param #
====================================
kernel            [5, 3]          15
matrix            [5, 3]          15
gates             [2, 5, 3]       30
====================================
Total params: 60 (240.00 B)
____________________________________
";
    assert_eq!(table, expected, "\n{table}");
}

#[test]
fn activations_and_flags_are_not_parameters() {
    let lstm = LstmCell::<2, 2>::zeros().with_activation(Activation::Relu);
    assert_eq!(paths(&lstm).len(), 3);
}

#[test]
fn wrappers_report_their_cells_parameters() {
    // Keras's Bidirectional: the forward layer's weights, then the backward one's.
    let bi = rnn::Bidirectional::new(LstmCell::<5, 4>::zeros(), GruCell::<5, 3>::zeros());
    assert_eq!(
        paths(&bi),
        [
            "forward/kernel [5, 16]",
            "forward/recurrent_kernel [4, 16]",
            "forward/bias [16]",
            "backward/kernel [5, 9]",
            "backward/recurrent_kernel [3, 9]",
            "backward/bias [2, 9]",
        ]
    );
    assert_eq!(bi.count_params(), 160 + 90);
    // Rnn(cell) and return_all_states() are the cell's parameters, nothing added.
    let rnn = Rnn::new(LstmCell::<5, 4>::zeros());
    assert_eq!(paths(&rnn), paths(rnn.cell()));
    assert_eq!(rnn.clone().return_all_states().count_params(), 160);
    // Keras's Embedding(10, 3): embeddings [10, 3], "uniform" initialised.
    let mut emb = rnn::cells::Embedding::<10, 3>::zeros();
    assert_eq!(paths(&emb), ["embeddings [10, 3]"]);
    emb.initialize(Scheme::Keras, 2);
    let v = values(&emb);
    assert!(v.iter().all(|x| x.abs() <= 0.05) && v.iter().any(|&x| x != 0.0));
}

#[test]
fn a_tensor_in_place_is_its_values_row_major() {
    use rnn::parameters::{Tensor, Values, ValuesMut};
    /// `Some` only where the view lists the values in `read`'s row-major order.
    fn view_agrees(tensor: &mut dyn Tensor) -> bool {
        let mut read = Vec::new();
        tensor.read(&mut |v| read.push(v));
        let viewed: Option<Vec<f64>> = tensor.values().map(|values| match values {
            Values::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Values::F64(v) => v.to_vec(),
        });
        let writable = match tensor.values_mut() {
            Some(ValuesMut::F32(v)) => Some(v.len()),
            Some(ValuesMut::F64(v)) => Some(v.len()),
            None => None,
        };
        assert_eq!(viewed.as_ref().map(Vec::len), writable);
        match viewed {
            Some(viewed) => {
                assert_eq!(viewed, read);
                true
            }
            None => false,
        }
    }
    let mut counter = 0.0f32;
    let mut next = || {
        counter += 1.0;
        counter
    };
    let mut kernel = Kernel::<f32, 3, 2, 2>::zeros();
    kernel.as_mut_slice().iter_mut().for_each(|v| *v = next());
    assert!(view_agrees(&mut kernel));
    assert!(view_agrees(
        &mut SVector::<f64, 4>::from_fn(|i, _| i as f64)
    ));
    assert!(view_agrees(&mut SMatrix::<f32, 1, 3>::from_fn(
        |_, j| j as f32
    )));
    assert!(view_agrees(&mut 2.5f32));
    // A matrix's column-major storage is its `[in, out]` shape's row-major order.
    assert!(view_agrees(&mut SMatrix::<f32, 2, 3>::from_fn(
        |i, j| (3 * i + j) as f32
    )));
}
