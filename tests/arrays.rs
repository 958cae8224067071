//! Keras's array layout at the boundary: `[B, T, F]` arrays with masks or lengths in, outputs
//! `[B, T, ·]` and `[B, ·]` and Keras's state lists out, for a stacked LSTM→GRU and a
//! Bidirectional against Keras 3 (`tests/fixtures/boundary/`, by `tools/fixtures_boundary.py`),
//! as flat slices and as `ndarray` arrays; exact vectors on the canonical cell; every error;
//! a stateful stream fed array chunks equals one run over the whole arrays, bit for bit.

mod common;

use common::{max_abs_diff, Fixture};
use rnn::arrays::{ArrayBatch, ArrayError, FlatArray};
use rnn::cells::{GruCell, LstmCell, Stacked};
use rnn::ndarray::{Array2, Array3, Axis};
use rnn::prelude::*;
use rnn::{Batch, BatchMasks, Bidirectional, NoMerge, Padding, SequenceError};

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

// ------------------------------------------------------------------------ streams of arrays

/// `[B, T, F]` columns `from..to` of the row-major `x` of `shape`: a chunk of every sequence.
fn columns(x: &[f32], [b, t, f]: [usize; 3], from: usize, to: usize) -> Vec<f32> {
    (0..b)
        .flat_map(|b| x[(b * t + from) * f..(b * t + to) * f].to_vec())
        .collect()
}

/// Chunks of 2, 0, 1 and 3 steps (a mask with holes across them) fed to a stack's streams:
/// the outputs laid end to end and the final states are one run's over the whole arrays.
#[test]
fn a_stream_of_array_chunks_is_one_run_over_the_whole_arrays() {
    let stack = Rnn::new(Stacked((
        LstmCell::<3, 4>::keras_init(3),
        GruCell::<4, 2>::keras_init(4),
    )))
    .batched_kernel(false);
    let shape = [3, 6, 3];
    let x: Vec<f32> = (0..3 * 6 * 3).map(|i| (i as f32 * 0.61).cos()).collect();
    let mask: Vec<bool> = (0..3 * 6).map(|i| i % 4 != 2 && i != 11).collect();
    let whole = stack
        .run_arrays(&ArrayBatch::new(&x, shape).mask(&mask), &((), ()))
        .unwrap();

    let mut streams = stack.stateful_batch(vec![((), ()); 3]);
    let mut outputs = vec![Vec::new(); 3];
    for (from, to) in [(0, 2), (2, 2), (2, 3), (3, 6)] {
        let chunk = columns(&x, shape, from, to);
        let flags: Vec<bool> = (0..3)
            .flat_map(|b| mask[b * 6 + from..b * 6 + to].to_vec())
            .collect();
        let run = streams
            .feed_arrays(&ArrayBatch::new(&chunk, [3, to - from, 3]).mask(&flags))
            .unwrap();
        assert_eq!(run.outputs().shape(), [3, to - from, 2]);
        for (b, out) in outputs.iter_mut().enumerate() {
            out.extend_from_slice(&run.outputs().data()[b * (to - from) * 2..][..(to - from) * 2]);
        }
        if to == 6 {
            assert_eq!(
                run.states(),
                whole.states(),
                "[h0, c0, h1] after the last chunk"
            );
            assert_eq!(run.last_outputs(), whole.last_outputs());
        }
    }
    assert_eq!(outputs.concat(), whole.outputs().data());
}

/// A chunk's initial states replace the streams' (Keras 3's `initial_state` on a stateful
/// layer); `reset` still returns to the streams' own initial states.
#[test]
fn a_stream_chunk_starts_from_the_states_it_is_given() {
    let lstm = Rnn::new(LstmCell::<2, 3>::keras_init(7)).batched_kernel(false);
    let x: Vec<f32> = (0..2 * 5 * 2).map(|i| (i as f32 * 0.37).sin()).collect();
    let encoded = lstm
        .run_arrays(&ArrayBatch::new(&x, [2, 5, 2]), &())
        .unwrap();
    let chunk = ArrayBatch::new(&x[..8], [2, 2, 2])
        .lengths(&[2, 1])
        .initial_states(encoded.states());
    let expected = lstm.run_arrays(&chunk, &()).unwrap();
    // Streams whose states are not the encoder's.
    let mut streams = lstm.clone().stateful_batch(vec![(); 2]);
    streams
        .feed_arrays(&ArrayBatch::new(&x[8..], [2, 3, 2]))
        .unwrap();
    assert_eq!(streams.feed_arrays(&chunk).unwrap(), expected);
    streams.reset();
    let fresh = lstm
        .run_arrays(&ArrayBatch::new(&x[..8], [2, 2, 2]), &())
        .unwrap();
    assert_eq!(
        streams
            .feed_arrays(&ArrayBatch::new(&x[..8], [2, 2, 2]))
            .unwrap(),
        fresh
    );
}

#[test]
fn stream_errors_name_the_shapes_and_change_no_state() {
    let rnn = Rnn::new(LstmCell::<2, 3>::keras_init(1));
    let mut streams = rnn.stateful_batch(vec![(); 2]);
    let x: Vec<f32> = (0..12).map(|i| i as f32 / 12.0).collect();
    streams
        .feed_arrays(&ArrayBatch::new(&x, [2, 3, 2]))
        .unwrap();
    let before: Vec<_> = streams.states().cloned().collect();
    let h = FlatArray::new(vec![2, 3], vec![0.5; 6]).unwrap();
    let one_state = [h.clone()];
    let two_states = [h.clone(), h];
    let cases: [(ArrayBatch<'_>, ArrayError); 6] = [
        (
            ArrayBatch::new(&x, [3, 2, 2]),
            ArrayError::Shape {
                what: "inputs",
                expected: vec![2, 2, 2],
                found: vec![3, 2, 2],
            },
        ),
        (
            ArrayBatch::new(&x, [2, 2, 3]),
            ArrayError::Shape {
                what: "inputs",
                expected: vec![2, 2, 2],
                found: vec![2, 2, 3],
            },
        ),
        (
            ArrayBatch::new(&x, [2, 2, 2]),
            ArrayError::Values {
                what: "inputs",
                shape: vec![2, 2, 2],
                found: 12,
            },
        ),
        (
            ArrayBatch::new(&x, [2, 3, 2]).mask(&[true; 5]),
            ArrayError::Values {
                what: "mask",
                shape: vec![2, 3],
                found: 5,
            },
        ),
        (
            // A length past the chunk, with states that fit: neither is applied.
            ArrayBatch::new(&x, [2, 3, 2])
                .lengths(&[3, 4])
                .initial_states(&two_states),
            ArrayError::Sequence(SequenceError::LengthAboveSteps {
                sequence: 1,
                steps: 3,
                found: 4,
            }),
        ),
        (
            ArrayBatch::new(&x, [2, 3, 2]).initial_states(&one_state),
            ArrayError::Shape {
                what: "initial states (list length)",
                expected: vec![2],
                found: vec![1],
            },
        ),
    ];
    for (chunk, expected) in cases {
        assert_eq!(streams.feed_arrays(&chunk).unwrap_err(), expected);
        assert_eq!(streams.states().cloned().collect::<Vec<_>>(), before);
    }
}

// ------------------------------------------------------------------------------- resets

/// `[B, T]` flags for a `[3, 6, ·]` batch: two episodes, a reset at step 0 and at the last
/// step, none.
const RESETS: [bool; 18] = [
    false, false, true, false, false, false, //
    true, false, false, false, true, true, //
    false, false, false, false, false, false,
];

/// The rows of `RESETS`, as `Batch::resets` takes them.
fn reset_rows() -> Vec<Vec<bool>> {
    RESETS.chunks(6).map(<[bool]>::to_vec).collect()
}

/// Resets given as a `[B, T]` array, flat or `ndarray`, run as `Batch::resets` runs the
/// same flags: the same outputs and final states, for one layer, a Bidirectional and a
/// stream's chunk.
#[test]
fn array_resets_equal_batch_resets() {
    let lstm = Rnn::new(LstmCell::<3, 4>::keras_init(5));
    let shape = [3, 6, 3];
    let x: Vec<f32> = (0..3 * 6 * 3).map(|i| (i as f32 * 0.43).sin()).collect();
    let mask: Vec<bool> = (0..3 * 6).map(|i| i % 5 != 3).collect();
    let sequences: Vec<Vec<SVector<f32, 3>>> = x
        .chunks(18)
        .map(|s| s.chunks(3).map(SVector::from_column_slice).collect())
        .collect();
    let masks: Vec<Mask<'_>> = mask.chunks(6).map(Mask::Steps).collect();
    let rows = reset_rows();
    let batch = Batch::new(&sequences).masks(&masks).resets(&rows);

    let arrays = ArrayBatch::new(&x, shape).mask(&mask).resets(&RESETS);
    let run = lstm.run_arrays(&arrays, &()).unwrap();
    let expected = lstm.run_batch(&batch, &()).unwrap();
    assert_eq!(run.outputs().data(), expected.outputs.to_flat_f32());
    let h: Vec<f32> = expected
        .states
        .iter()
        .flat_map(|s| s.h.iter().copied())
        .collect();
    assert_eq!(run.states()[0].data(), h);
    let without = lstm
        .run_arrays(&ArrayBatch::new(&x, shape).mask(&mask), &())
        .unwrap();
    assert_ne!(run.outputs(), without.outputs(), "the flags reset");

    let x3 = Array3::from_shape_vec((3, 6, 3), x.clone()).unwrap();
    let r2 = Array2::from_shape_vec((3, 6), RESETS.to_vec()).unwrap();
    let m2 = Array2::from_shape_vec((3, 6), mask.clone()).unwrap();
    let nd = ArrayBatch::from_ndarray(x3.view())
        .mask_ndarray(m2.view())
        .resets_ndarray(r2.view());
    assert_eq!(lstm.run_arrays(&nd, &()).unwrap(), run, "ndarray");

    let bi = Bidirectional::new(
        LstmCell::<3, 4>::keras_init(6),
        GruCell::<3, 4>::keras_init(7),
    );
    let run = bi.run_arrays(&arrays, &()).unwrap();
    let batch = Batch::new(&sequences).masks(&masks).resets(&rows);
    let expected = bi.run_batch(&batch, &()).unwrap();
    assert_eq!(
        run.outputs().data(),
        expected.outputs.to_flat_f32(),
        "bidirectional"
    );

    // A stream's chunk: the flags reset each stream to its initial state.
    let mut streams = lstm.clone().stateful_batch(vec![(); 3]);
    let mut expected_streams = lstm.stateful_batch(vec![(); 3]);
    streams.feed_arrays(&ArrayBatch::new(&x, shape)).unwrap();
    expected_streams.feed(&sequences, BatchMasks::All).unwrap();
    let run = streams.feed_arrays(&arrays).unwrap();
    let expected = expected_streams
        .feed_with_resets(&sequences, BatchMasks::Each(&masks), &rows)
        .unwrap();
    assert_eq!(run.outputs().data(), expected.to_flat_f32(), "stream");
    assert_eq!(
        streams.states().collect::<Vec<_>>(),
        expected_streams.states().collect::<Vec<_>>()
    );
}

/// Reset flags that are not `[B, T]`: a typed error naming the expected and found shapes (or
/// the values a flat slice should hold), and no stream's state changed.
#[test]
fn array_resets_of_the_wrong_shape_are_errors() {
    let lstm = Rnn::new(LstmCell::<2, 3>::keras_init(1));
    let x = [0.25f32; 12]; // [2, 3, 2]
    let run = |batch: ArrayBatch<'_>| lstm.run_arrays(&batch, &()).unwrap_err();
    assert_eq!(
        run(ArrayBatch::new(&x, [2, 3, 2]).resets(&[false; 5])),
        ArrayError::Values {
            what: "resets",
            shape: vec![2, 3],
            found: 5
        }
    );
    let r = Array2::from_elem((3, 2), false);
    let err = run(ArrayBatch::new(&x, [2, 3, 2]).resets_ndarray(r.view()));
    assert_eq!(
        err,
        ArrayError::Shape {
            what: "resets",
            expected: vec![2, 3],
            found: vec![3, 2]
        }
    );
    assert_eq!(
        err.to_string(),
        "resets: expected shape [2, 3], found [3, 2]"
    );

    let mut streams = lstm.clone().stateful_batch(vec![(); 2]);
    streams
        .feed_arrays(&ArrayBatch::new(&x, [2, 3, 2]))
        .unwrap();
    let before: Vec<_> = streams.states().cloned().collect();
    let chunk = ArrayBatch::new(&x, [2, 3, 2]).resets(&[true; 7]);
    assert!(streams.feed_arrays(&chunk).is_err());
    assert_eq!(streams.states().cloned().collect::<Vec<_>>(), before);
}
