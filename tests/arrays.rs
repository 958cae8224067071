//! Keras's array layout at the boundary: `[B, T, F]` arrays with masks or lengths in, outputs
//! `[B, T, ·]` and `[B, ·]` and Keras's state lists out, for a stacked LSTM→GRU and a
//! Bidirectional against Keras 3 (`tests/fixtures/boundary/`, by `tools/fixtures_boundary.py`),
//! as flat slices and as `ndarray` arrays; exact vectors on the canonical cell; every error.

mod common;

use common::{max_abs_diff, Fixture};
use rnn::arrays::{ArrayBatch, ArrayError, FlatArray};
use rnn::cells::{GruCell, LstmCell, Stacked};
use rnn::ndarray::{Array2, Array3, Axis};
use rnn::prelude::*;
use rnn::{Batch, Bidirectional, NoMerge, Padding, SequenceError};

const TOLERANCE: f64 = 1e-5;

fn check(name: &str, err: f64) {
    println!("{name:<44} max abs err {err:.2e}");
    assert!(
        err <= TOLERANCE,
        "{name}: max abs error {err:e} > {TOLERANCE:e}"
    );
}

fn weight(fx: &Fixture, name: &str) -> Vec<f32> {
    fx.weight(name)
}

fn stack(fx: &Fixture) -> Rnn<Stacked<(LstmCell<5, 4>, GruCell<4, 3>)>> {
    let w = |n: &str| weight(fx, n);
    let lstm = LstmCell::from_keras(
        &w("l0/kernel"),
        &w("l0/recurrent_kernel"),
        Some(&w("l0/bias")),
    );
    let gru = GruCell::from_keras(
        &w("l1/kernel"),
        &w("l1/recurrent_kernel"),
        Some(&w("l1/bias")),
    );
    Rnn::new(Stacked((lstm.unwrap(), gru.unwrap())))
}

/// The fixture's `[B, T]` mask as flags.
fn mask(fx: &Fixture) -> Vec<bool> {
    fx.mask
        .as_ref()
        .unwrap()
        .data
        .iter()
        .map(|&m| m != 0.0)
        .collect()
}

/// Each sequence's output at the last step: with Keras's default padding (the last output
/// carried over masked steps), its last valid output.
fn last_step(outputs: &common::Tensor) -> Vec<f64> {
    let [b, t, f] = outputs.shape[..] else {
        panic!("[B, T, F]")
    };
    (0..b)
        .flat_map(|i| outputs.step(i, t - 1)[..f].to_vec())
        .collect()
}

fn compare_states(states: &[FlatArray], fx: &Fixture) -> f64 {
    assert_eq!(states.len(), fx.final_state.len(), "Keras's state list");
    states
        .iter()
        .zip(&fx.final_state)
        .map(|(ours, keras)| {
            assert_eq!(ours.shape(), &keras.shape[..]);
            max_abs_diff(ours.data(), &keras.data)
        })
        .fold(0.0, f64::max)
}

#[test]
fn stacked_lstm_gru_over_flat_arrays_with_a_mask() {
    let fx = Fixture::load("boundary/boundary_stacked_lstm_gru_masked.json");
    let inputs = fx.inputs.f32();
    let shape: [usize; 3] = fx.inputs.shape[..].try_into().unwrap();
    let mask = mask(&fx);
    let run = stack(&fx)
        .run_arrays(&ArrayBatch::new(&inputs, shape).mask(&mask), &((), ()))
        .unwrap();
    let outputs = fx.outputs.as_ref().unwrap();
    assert_eq!(run.outputs().shape(), &outputs.shape[..]);
    let mut worst = max_abs_diff(run.outputs().data(), &outputs.data);
    worst = worst.max(max_abs_diff(run.last_outputs().data(), &last_step(outputs)));
    worst = worst.max(compare_states(run.states(), &fx));
    check("stacked lstm→gru, flat arrays", worst);
}

#[test]
fn stacked_lstm_gru_over_ndarrays_with_a_mask() {
    let fx = Fixture::load("boundary/boundary_stacked_lstm_gru_masked.json");
    let [b, t, f] = fx.inputs.shape[..] else {
        panic!("[B, T, F]")
    };
    let x = Array3::from_shape_vec((b, t, f), fx.inputs.f32()).unwrap();
    let m = Array2::from_shape_vec((b, t), mask(&fx)).unwrap();
    // A batch-major array read through a time-major view: copied, same numbers.
    let time_major = x
        .view()
        .permuted_axes([1, 0, 2])
        .as_standard_layout()
        .into_owned();
    let view = time_major.view().permuted_axes([1, 0, 2]);
    assert!(view.as_slice().is_none());
    let mut runs = Vec::new();
    for x in [x.view(), view] {
        let batch = ArrayBatch::from_ndarray(x).mask_ndarray(m.view());
        runs.push(
            stack(&fx)
                .run_arrays(&batch, &((), ()))
                .unwrap()
                .into_ndarray(),
        );
    }
    assert_eq!(runs[0], runs[1]);
    let run = &runs[0];
    let outputs = fx.outputs.as_ref().unwrap();
    let mut worst = max_abs_diff(run.outputs.as_slice().unwrap(), &outputs.data);
    let last = run.outputs.index_axis(Axis(1), t - 1).to_owned();
    assert_eq!(run.last_outputs, last);
    for (ours, keras) in run.states.iter().zip(&fx.final_state) {
        assert_eq!(ours.shape(), &keras.shape[..]);
        worst = worst.max(max_abs_diff(ours.as_slice().unwrap(), &keras.data));
    }
    check("stacked lstm→gru, ndarray", worst);
}

#[test]
fn bidirectional_over_arrays_with_lengths() {
    let fx = Fixture::load("boundary/boundary_bidirectional_concat.json");
    let w = |n: &str| weight(&fx, n);
    let forward = LstmCell::<2, 3>::from_keras(
        &w("forward/kernel"),
        &w("forward/recurrent_kernel"),
        Some(&w("forward/bias")),
    );
    let backward = GruCell::<2, 3>::from_keras(
        &w("backward/kernel"),
        &w("backward/recurrent_kernel"),
        Some(&w("backward/bias")),
    );
    let bi = Bidirectional::new(forward.unwrap(), backward.unwrap()).padding(Padding::Zero);
    let lengths: Vec<usize> = serde_json::from_value(fx.extra["lengths"].clone()).unwrap();
    let inputs = fx.inputs.f32();
    let shape: [usize; 3] = fx.inputs.shape[..].try_into().unwrap();
    let run = bi
        .run_arrays(&ArrayBatch::new(&inputs, shape).lengths(&lengths), &())
        .unwrap();
    let mut worst = max_abs_diff(run.outputs().data(), &fx.outputs.as_ref().unwrap().data);
    // Keras's list: [h_f, c_f, h_b].
    worst = worst.max(compare_states(run.states(), &fx));
    // The last output merges the halves' own last steps: for an LSTM and a GRU, their h.
    let h = |s: &FlatArray, b: usize| s.data()[b * 3..b * 3 + 3].to_vec();
    let expected: Vec<f64> = (0..shape[0])
        .flat_map(|b| [h(&run.states()[0], b), h(&run.states()[2], b)].concat())
        .map(f64::from)
        .collect();
    worst = worst.max(max_abs_diff(run.last_outputs().data(), &expected));
    check("bidirectional lstm+gru, arrays with lengths", worst);
}

/// `s' = s + x`, `y = 10 s'`: DESIGN.md's canonical cell.
#[cell]
fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    *s += x;
    *s * 10.0
}

/// Exact vectors: `[1, 2, pad, pad]` and `[3, 4, 5, pad]`, masked.
#[test]
fn last_outputs_are_each_directions_last_valid_step() {
    let x = [1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 5.0, 0.0];
    let mask = [true, true, false, false, true, true, true, false];
    let batch = ArrayBatch::new(&x, [2, 4, 1]).mask(&mask);
    let forward = Rnn::new(Accumulate).run_arrays(&batch, &()).unwrap();
    assert_eq!(
        forward.outputs().data(),
        [10.0, 30.0, 30.0, 30.0, 30.0, 70.0, 120.0, 120.0]
    );
    assert_eq!(forward.last_outputs().data(), [30.0, 120.0]);
    assert_eq!(forward.states()[0].data(), [3.0, 12.0]);
    let backwards = Rnn::new(Accumulate)
        .go_backwards(true)
        .run_arrays(&batch, &())
        .unwrap();
    assert_eq!(
        backwards.outputs().data(),
        [0.0, 0.0, 20.0, 30.0, 0.0, 50.0, 90.0, 120.0]
    );
    assert_eq!(backwards.last_outputs().data(), [30.0, 120.0]);
    let bi = Bidirectional::new(Accumulate, Accumulate).merge_mode(NoMerge);
    let run = bi.run_arrays(&batch, &()).unwrap();
    // Forward's last valid step and backward's first: (30, 30) and (120, 120).
    assert_eq!(run.last_outputs().data(), [30.0, 30.0, 120.0, 120.0]);
    assert_eq!(run.last_outputs().shape(), [2, 2]);
    // [s_f, s_b]
    assert_eq!(run.states().len(), 2);
    assert_eq!(run.states()[1].data(), [3.0, 12.0]);
    // No valid step: zeros.
    let none = Rnn::new(Accumulate)
        .run_arrays(&ArrayBatch::new(&x[..4], [1, 4, 1]).lengths(&[0]), &())
        .unwrap();
    assert_eq!(none.last_outputs().data(), [0.0]);
}

/// An encoder's states, as Keras's list, start a decoder: the run from them is the batch run
/// from the same states.
#[test]
fn states_out_are_initial_states_in() {
    let lstm = Rnn::new(LstmCell::<2, 3>::keras_init(7));
    let x: Vec<f32> = (0..2 * 5 * 2).map(|i| (i as f32 * 0.37).sin()).collect();
    let encoded = lstm
        .run_arrays(&ArrayBatch::new(&x, [2, 5, 2]), &())
        .unwrap();
    let decoded = lstm
        .run_arrays(
            &ArrayBatch::new(&x[..12], [2, 3, 2]).initial_states(encoded.states()),
            &(),
        )
        .unwrap();
    let sequences: Vec<Vec<SVector<f32, 2>>> = (0..2)
        .map(|b| {
            (0..3)
                .map(|t| SVector::from_row_slice(&x[(b * 3 + t) * 2..][..2]))
                .collect()
        })
        .collect();
    let encoded_by_batch: Vec<Vec<SVector<f32, 2>>> = (0..2)
        .map(|b| {
            (0..5)
                .map(|t| SVector::from_row_slice(&x[(b * 5 + t) * 2..][..2]))
                .collect()
        })
        .collect();
    let states = lstm
        .run_batch(&Batch::new(&encoded_by_batch), &())
        .unwrap()
        .states;
    let expected = lstm
        .run_batch(&Batch::new(&sequences).initial_states(&states), &())
        .unwrap();
    assert_eq!(decoded.outputs().data(), expected.outputs.to_flat_f32());
}

#[test]
fn errors_name_the_expected_and_found_shapes() {
    let rnn = Rnn::new(LstmCell::<2, 3>::zeros());
    let x = [0.0f32; 12];
    let run = |batch: ArrayBatch<'_>| rnn.run_arrays(&batch, &()).unwrap_err().to_string();
    assert_eq!(
        run(ArrayBatch::new(&x, [2, 2, 3])),
        "inputs: expected shape [2, 2, 2], found [2, 2, 3]"
    );
    assert_eq!(
        run(ArrayBatch::new(&x, [2, 2, 2])),
        "inputs: a [2, 2, 2] array holds 8 values, found 12"
    );
    assert_eq!(
        run(ArrayBatch::new(&x, [usize::MAX, 3, 2])),
        "inputs: a [18446744073709551615, 3, 2] array holds more values than a usize counts"
    );
    assert_eq!(
        run(ArrayBatch::new(&x, [2, 3, 2]).mask(&[true; 5])),
        "mask: a [2, 3] array holds 6 values, found 5"
    );
    let m = Array2::from_elem((3, 2), true);
    assert_eq!(
        run(ArrayBatch::new(&x, [2, 3, 2]).mask_ndarray(m.view())),
        "mask: expected shape [2, 3], found [3, 2]"
    );
    assert_eq!(
        run(ArrayBatch::new(&x, [2, 3, 2]).lengths(&[3])),
        "lengths: expected shape [2], found [1]"
    );
    let err = rnn
        .run_arrays(&ArrayBatch::new(&x, [2, 3, 2]).lengths(&[3, 4]), &())
        .unwrap_err();
    assert_eq!(
        err,
        ArrayError::Sequence(SequenceError::LengthAboveSteps {
            sequence: 1,
            steps: 3,
            found: 4
        })
    );
    let h = FlatArray::new(vec![2, 3], vec![0.0; 6]).unwrap();
    let states = [h.clone()];
    assert_eq!(
        run(ArrayBatch::new(&x, [2, 3, 2]).initial_states(&states)),
        "initial states (list length): expected shape [2], found [1]"
    );
    let states = [h, FlatArray::new(vec![3, 2], vec![0.0; 6]).unwrap()];
    assert_eq!(
        run(ArrayBatch::new(&x, [2, 3, 2]).initial_states(&states)),
        "initial state: expected shape [2, 3], found [3, 2]"
    );
}
