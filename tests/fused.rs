//! The fused batched layers compute what `Rnn::new(cell)` computes on each sequence (within
//! 1e-5: the GEMMs sum in another order), for every batch size and length, from given or zero
//! initial states; bad buffer sizes are typed errors.

#[path = "common/isa.rs"]
mod isa;

use rnn::cells::{GruCell, LstmCell, LstmState, SimpleRnnCell};
use rnn::fused;
use rnn::ops::Activation;
use rnn::prelude::*;
use rnn::{ShapeError, ShapeErrorKind};

const TOLERANCE: f32 = 1e-5;

/// Deterministic values in [-1.5, 1.5).
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let v = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed.wrapping_mul(97));
            (v >> 8) as f32 / (1u32 << 24) as f32 * 3.0 - 1.5
        })
        .collect()
}

fn sequence<const I: usize>(inputs: &[f32], b: usize, t_len: usize) -> Vec<SVector<f32, I>> {
    (0..t_len)
        .map(|t| SVector::from_column_slice(&inputs[(b * t_len + t) * I..][..I]))
        .collect()
}

fn assert_close(what: &str, fused: &[f32], reference: &[f32]) {
    assert_eq!(fused.len(), reference.len(), "{what}: length");
    let worst = fused
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= TOLERANCE, "{what}: max abs error {worst:e}");
}

// Odd batches split into chunks (one per core) whose rows split again into the GEMM's
// blocks of 6, 5, ... rows; T = 0 and 1 have no previous outputs to read. Batches below 4 run
// sample by sample in every layer, on CPUs with AVX2 and FMA (each input projection in blocks
// of 4 steps, then the rest one by one: T = 9 and 7).
const SHAPES: [(usize, usize); 9] = [
    (1, 1),
    (1, 9),
    (2, 7),
    (3, 0),
    (3, 1),
    (5, 4),
    (13, 6),
    (32, 3),
    (33, 2),
];

fn check_lstm<const I: usize, const H: usize>(cell: &LstmCell<I, H>) {
    let rnn = Rnn::new(cell);
    for (batch, t_len) in SHAPES {
        let inputs = values(batch * t_len * I, (batch * 31 + t_len) as u32);
        let h0 = values(batch * H, 7);
        let c0 = values(batch * H, 8);
        let run = fused::Lstm::new(cell)
            .forward(&inputs, batch, Some((&h0, &c0)))
            .unwrap();
        let zero = fused::Lstm::new(cell)
            .forward(&inputs, batch, None)
            .unwrap();
        let (mut outputs, mut h, mut c, mut zero_h) = (vec![], vec![], vec![], vec![]);
        for b in 0..batch {
            let xs = sequence::<I>(&inputs, b, t_len);
            let start = LstmState {
                h: SVector::from_column_slice(&h0[b * H..][..H]),
                c: SVector::from_column_slice(&c0[b * H..][..H]),
            };
            let reference = rnn.run_from(&xs, start, &());
            outputs.extend(reference.outputs.iter().flat_map(|y| y.iter().copied()));
            h.extend(reference.state.h.iter().copied());
            c.extend(reference.state.c.iter().copied());
            zero_h.extend(rnn.run(&xs, &()).state.h.iter().copied());
        }
        let at = format!("lstm I={I} H={H} B={batch} T={t_len}");
        assert_close(&format!("{at} outputs"), &run.outputs, &outputs);
        assert_close(&format!("{at} h"), &run.h, &h);
        assert_close(&format!("{at} c"), &run.c, &c);
        assert_close(&format!("{at} h from zeros"), &zero.h, &zero_h);
    }
}

/// A one-state layer (GRU, SimpleRNN) against its cell run per sequence; `forward` runs the
/// fused layer on `(inputs, batch, h0)`.
fn check_one_state<C, const I: usize, const H: usize>(
    cell: &C,
    label: &str,
    seed: usize,
    forward: impl Fn(&[f32], usize, &[f32]) -> fused::Output,
) where
    C: Cell<Input = SVector<f32, I>, State = SVector<f32, H>, Output = SVector<f32, H>>,
    C: Cell<Constants = ()>,
{
    let rnn = Rnn::new(cell);
    for (batch, t_len) in SHAPES {
        let inputs = values(batch * t_len * I, (batch * seed + t_len) as u32);
        let h0 = values(batch * H, 5);
        let run = forward(&inputs, batch, &h0);
        let (mut outputs, mut h) = (vec![], vec![]);
        for b in 0..batch {
            let xs = sequence::<I>(&inputs, b, t_len);
            let start = SVector::from_column_slice(&h0[b * H..][..H]);
            let reference = rnn.run_from(&xs, start, &());
            outputs.extend(reference.outputs.iter().flat_map(|y| y.iter().copied()));
            h.extend(reference.state.iter().copied());
        }
        let at = format!("{label} I={I} H={H} B={batch} T={t_len}");
        assert_close(&format!("{at} outputs"), &run.outputs, &outputs);
        assert_close(&format!("{at} h"), &run.h, &h);
    }
}

fn check_gru<const I: usize, const H: usize>(cell: &GruCell<I, H>) {
    let label = format!("gru reset_after={}", cell.reset_after);
    check_one_state(cell, &label, 17, |x, batch, h0| {
        fused::Gru::new(cell).forward(x, batch, Some(h0)).unwrap()
    });
}

fn check_simple_rnn<const I: usize, const H: usize>(cell: &SimpleRnnCell<I, H>) {
    check_one_state(cell, "simple_rnn", 13, |x, batch, h0| {
        fused::SimpleRnn::new(cell)
            .forward(x, batch, Some(h0))
            .unwrap()
    });
}

#[test]
fn lstm_equals_the_cell_run_per_sequence() {
    check_lstm(&LstmCell::<5, 7>::pytorch_init(1));
    check_lstm(&LstmCell::<16, 32>::keras_init(2));
    // 8 units at a time and a tail of 3.
    check_lstm(&LstmCell::<20, 35>::pytorch_init(11));
    // Gate widths 4H from 64 to 127 (the cells' product lost columns there once).
    check_lstm(&LstmCell::<9, 19>::keras_init(12));
    check_lstm(&LstmCell::<4, 16>::keras_init(13));
    check_lstm(
        &LstmCell::<3, 4>::pytorch_init(3).with_recurrent_activation(Activation::HardSigmoid),
    );
    let mut no_bias = LstmCell::<6, 5>::pytorch_init(4);
    no_bias.bias = None;
    check_lstm(&no_bias);
}

#[test]
fn gru_equals_the_cell_run_per_sequence_in_both_variants() {
    let after = GruCell::<5, 7>::pytorch_init(5);
    assert!(after.reset_after);
    check_gru(&after);
    let mut before = GruCell::<5, 7>::pytorch_init(6);
    before.reset_after = false;
    before.recurrent_bias = None;
    check_gru(&before);
    check_gru(&GruCell::<12, 10>::keras_init(7));
    check_gru(&GruCell::<5, 32>::keras_init(14)); // 3H = 96
    let mut wide_before = GruCell::<6, 16>::keras_init(12);
    wide_before.reset_after = false;
    wide_before.recurrent_bias = None;
    check_gru(&wide_before);
    // Other activations take the general epilogue, in both variants.
    check_gru(
        &GruCell::<5, 9>::pytorch_init(14).with_recurrent_activation(Activation::HardSigmoid),
    );
    let mut relu_before = GruCell::<5, 9>::keras_init(15).with_activation(Activation::Relu);
    relu_before.reset_after = false;
    relu_before.recurrent_bias = None;
    check_gru(&relu_before);
    let mut bare = GruCell::<4, 9>::pytorch_init(8);
    (bare.bias, bare.recurrent_bias) = (None, None);
    check_gru(&bare);
}

#[test]
fn simple_rnn_equals_the_cell_run_per_sequence() {
    check_simple_rnn(&SimpleRnnCell::<5, 7>::pytorch_init(9));
    check_simple_rnn(&SimpleRnnCell::<9, 24>::pytorch_init(13));
    check_simple_rnn(&SimpleRnnCell::<6, 100>::pytorch_init(15));
    check_simple_rnn(&SimpleRnnCell::<8, 33>::pytorch_init(10).with_activation(Activation::Relu));
}

#[test]
fn bad_buffer_sizes_are_typed_errors() {
    let cell = LstmCell::<3, 2>::zeros();
    let lstm = fused::Lstm::new(&cell);
    assert_eq!(
        lstm.forward(&[0.0; 7], 2, None),
        Err(ShapeError {
            what: "inputs [B, T, I] (a whole number of timesteps)",
            expected: 12,
            found: 7,
            kind: ShapeErrorKind::Scalars,
        })
    );
    assert_eq!(
        lstm.forward(&[0.0; 12], 2, Some((&[0.0; 4], &[0.0; 3]))),
        Err(ShapeError {
            what: "initial c [B, H]",
            expected: 4,
            found: 3,
            kind: ShapeErrorKind::Scalars,
        })
    );
    assert!(
        lstm.forward(&[0.0; 3], 0, None).is_err(),
        "batch 0 with data"
    );
    let empty = lstm.forward(&[], 0, None).unwrap();
    assert!(empty.outputs.is_empty() && empty.h.is_empty());
    let gru = GruCell::<3, 2>::zeros();
    assert!(fused::Gru::new(&gru)
        .forward(&[0.0; 6], 1, Some(&[0.0]))
        .is_err());
    let srnn = SimpleRnnCell::<3, 2>::zeros();
    assert!(fused::SimpleRnn::new(&srnn)
        .forward(&[0.0; 5], 1, None)
        .is_err());
}

/// Calls of every kind, in an order that grows and shrinks the buffers: GEMM batches split
/// over the cores, batches run by sample, `T = 0`.
const REUSE: [(usize, usize); 6] = [(9, 7), (1, 9), (3, 0), (5, 4), (2, 12), (9, 7)];

/// Every field of `run` filled with NaN: what a call reads of a kept buffer's old values
/// shows in its results.
fn spoil(buffers: &mut [&mut Vec<f32>]) {
    for b in buffers {
        b.fill(f32::NAN);
    }
}

#[test]
fn forward_into_kept_buffers_equals_forward() {
    let lstm_cell = LstmCell::<6, 19>::pytorch_init(21);
    let mut gru_cells = [GruCell::<6, 11>::pytorch_init(22), GruCell::keras_init(23)];
    gru_cells[1].reset_after = false;
    let srnn_cell = SimpleRnnCell::<6, 17>::pytorch_init(24);
    let lstm = fused::Lstm::new(&lstm_cell);
    let grus = gru_cells.each_ref().map(fused::Gru::new);
    let srnn = fused::SimpleRnn::new(&srnn_cell);
    let mut lstm_run = fused::LstmOutput::default();
    let mut gru_runs: [fused::Output; 2] = Default::default();
    let mut srnn_run = fused::Output::default();
    for (batch, t_len) in REUSE {
        let at = format!("B={batch} T={t_len}");
        let x = values(batch * t_len * 6, (batch + 3 * t_len) as u32);
        let (h19, c19, h11) = (
            values(batch * 19, 1),
            values(batch * 19, 2),
            values(batch * 11, 3),
        );
        let fresh = lstm.forward(&x, batch, Some((&h19, &c19))).unwrap();
        let fused::LstmOutput { outputs, h, c, .. } = &mut lstm_run;
        spoil(&mut [outputs, h, c]);
        lstm.forward_into(&x, batch, Some((&h19, &c19)), &mut lstm_run)
            .unwrap();
        assert_eq!(lstm_run, fresh, "LSTM {at}");
        for (gru, run) in grus.iter().zip(&mut gru_runs) {
            let fresh = gru.forward(&x, batch, Some(&h11)).unwrap();
            spoil(&mut [&mut run.outputs, &mut run.h]);
            gru.forward_into(&x, batch, Some(&h11), run).unwrap();
            assert_eq!(*run, fresh, "GRU {at}");
        }
        let fresh = srnn.forward(&x, batch, None).unwrap();
        spoil(&mut [&mut srnn_run.outputs, &mut srnn_run.h]);
        srnn.forward_into(&x, batch, None, &mut srnn_run).unwrap();
        assert_eq!(srnn_run, fresh, "SimpleRNN {at}");
    }
}

#[test]
fn forward_into_leaves_the_buffers_as_they_were_on_an_error() {
    let cell = LstmCell::<3, 2>::pytorch_init(5);
    let lstm = fused::Lstm::new(&cell);
    let mut run = fused::LstmOutput::default();
    lstm.forward_into(&values(4 * 5 * 3, 1), 4, None, &mut run)
        .unwrap();
    let before = run.clone();
    let x = values(2 * 5 * 3, 2);
    let bad_inputs = lstm.forward_into(&x[1..], 2, None, &mut run);
    let bad_h = lstm.forward_into(&x, 2, Some((&[0.0; 3], &[0.0; 4])), &mut run);
    let bad_c = lstm.forward_into(&x, 2, Some((&[0.0; 4], &[0.0; 5])), &mut run);
    assert_eq!(
        bad_c,
        Err(ShapeError {
            what: "initial c [B, H]",
            expected: 4,
            found: 5,
            kind: ShapeErrorKind::Scalars,
        })
    );
    assert!(bad_inputs.is_err() && bad_h.is_err());
    assert_eq!(run, before);

    let gru_cell = GruCell::<3, 2>::pytorch_init(6);
    let gru = fused::Gru::new(&gru_cell);
    let mut run = gru.forward(&x, 2, None).unwrap();
    let before = run.clone();
    assert!(gru.forward_into(&x, 2, Some(&[0.0; 3]), &mut run).is_err());
    assert_eq!(run, before);
}

/// This suite on every instruction set the CPU has (the narrower ones in children, see
/// `common/isa.rs`); `--nocapture` shows which ran.
#[test]
fn every_dispatched_path_runs_this_suite() {
    isa::assert_every_path_ran("every_dispatched_path_runs_this_suite");
}
