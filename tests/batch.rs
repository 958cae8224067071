//! Batches: ragged lengths, per-sequence masks, initial states and constants; identical results
//! on any number of threads; flat `[B, T, features]` buffers; stateful batches; bad input.

use std::sync::atomic::{AtomicUsize, Ordering};

use rnn::prelude::*;
use rnn::{Batch, BatchMasks, Mask, Padding, SequenceError};

/// `h' = tanh(W x + U h + b) * k`, with a per-sequence constant `k`; two outputs.
#[derive(Debug)]
struct Elman {
    w: SMatrix<f32, 4, 3>,
    u: SMatrix<f32, 4, 4>,
    b: SVector<f32, 4>,
}

#[cell(inference)]
impl Elman {
    fn step(
        &self,
        #[input] x: &SVector<f32, 3>,
        #[state] h: &mut SVector<f32, 4>,
        #[constant] k: &f32,
    ) -> (SVector<f32, 4>, f32) {
        *h = (self.w * x + self.u * *h + self.b).map(f32::tanh) * *k;
        (*h, h.sum())
    }
}

fn elman() -> Elman {
    Elman {
        w: SMatrix::from_fn(|r, c| ((r * 3 + c) as f32 * 0.7).sin()),
        u: SMatrix::from_fn(|r, c| ((r * 4 + c) as f32 * 1.3).cos() * 0.4),
        b: SVector::from_fn(|r, _| r as f32 * 0.05),
    }
}

fn sequence(n: usize, seed: usize) -> Vec<SVector<f32, 3>> {
    (0..n)
        .map(|t| SVector::from_fn(|i, _| (((t + seed) * 3 + i) as f32 * 0.37).cos()))
        .collect()
}

fn bits<N: Nested>(value: &N) -> Vec<u32> {
    let mut flat = vec![0.0; N::SIZE];
    value.to_f32_slice(&mut flat).unwrap();
    flat.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn a_batch_equals_each_sequence_run_alone() {
    let cell = elman();
    let sequences = [
        sequence(5, 0),
        sequence(0, 1),
        sequence(3, 2),
        sequence(7, 3),
    ];
    let holes = [false, true, true, false, true, true, false];
    let masks = [
        Mask::Length(4),
        Mask::All,
        Mask::Steps(&[true, false, true]),
        Mask::Steps(&holes),
    ];
    let initial_states = [
        SVector::from([0.1, 0.2, 0.3, 0.4]),
        SVector::from([1.0; 4]),
        SVector::zeros(),
        SVector::from([-0.5; 4]),
    ];
    let constants = [1.0, 2.0, 0.5, -1.0];
    for padding in [Padding::CarryLastOutput, Padding::Zero] {
        let rnn = Rnn::new(&cell).padding(padding);
        let batch = Batch::new(&sequences)
            .masks(&masks)
            .initial_states(&initial_states);
        let run = rnn.run_batch(&batch, &constants).unwrap();
        assert_eq!(run.outputs.len(), 4);
        for b in 0..4 {
            let alone = rnn
                .run_masked_from(&sequences[b], masks[b], initial_states[b], &constants[b])
                .unwrap();
            assert_eq!(run.outputs[b], alone.outputs, "sequence {b}");
            assert_eq!(run.states[b], alone.state, "sequence {b}");
        }
        // The empty sequence keeps its initial state.
        assert_eq!(run.states[1], initial_states[1]);
    }
}

#[test]
fn run_batch_into_reuses_buffers_and_gives_run_batch_bits() {
    let cell = elman();
    let rnn = Rnn::new(&cell).padding(Padding::Zero);
    let mut out = rnn::BatchRun::default();
    // Larger, then smaller, then ragged and masked batches through the same buffers: each
    // result is exactly what a fresh `run_batch` gives, nothing left over from before.
    let shapes: [&[usize]; 3] = [&[9, 9, 9, 9, 9], &[4, 2], &[0, 6, 3]];
    for (round, lengths) in shapes.iter().enumerate() {
        let sequences: Vec<_> = lengths
            .iter()
            .enumerate()
            .map(|(b, &n)| sequence(n, b + 10 * round))
            .collect();
        let valid: Vec<usize> = lengths.iter().map(|&n| n.saturating_sub(1)).collect();
        let constants: Vec<f32> = (0..lengths.len()).map(|b| 1.0 - 0.3 * b as f32).collect();
        let batch = Batch::new(&sequences).lengths(&valid);
        rnn.run_batch_into(&batch, &constants[..], &mut out)
            .unwrap();
        let fresh = rnn.run_batch(&batch, &constants[..]).unwrap();
        assert_eq!(out.outputs.len(), lengths.len(), "round {round}");
        for (a, b) in out.outputs.iter().zip(fresh.outputs.iter()) {
            assert_eq!(a.len(), b.len(), "round {round}");
            let a: Vec<_> = a.iter().map(bits).collect();
            let b: Vec<_> = b.iter().map(bits).collect();
            assert_eq!(a, b, "round {round}");
        }
        assert_eq!(out.states, fresh.states, "round {round}");
    }
    // A bad batch is an error and leaves the last result as it was.
    let before = out.clone();
    let sequences = [sequence(2, 0), sequence(2, 1)];
    let err = rnn
        .run_batch_into(&Batch::new(&sequences), &[1.0f32][..], &mut out)
        .unwrap_err();
    assert_eq!(
        err,
        SequenceError::BatchSize {
            what: "constants",
            expected: 2,
            found: 1
        }
    );
    assert_eq!(out, before);
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let cell = elman();
    let sequences: Vec<_> = (0..64).map(|b| sequence(20 + b % 13, b)).collect();
    let lengths: Vec<usize> = sequences
        .iter()
        .enumerate()
        .map(|(b, s)| s.len() - b % 5)
        .collect();
    let constants: Vec<f32> = (0..64).map(|b| 0.5 + b as f32 * 0.01).collect();
    let rnn = Rnn::new(&cell).go_backwards(true);
    let batch = Batch::new(&sequences).lengths(&lengths);
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| rnn.run_batch(&batch, &constants).unwrap())
    };
    let one = on(1);
    for threads in [2, 4] {
        let many = on(threads);
        for (a, b) in one.outputs.iter().zip(many.outputs.iter()) {
            let a: Vec<_> = a.iter().map(bits).collect();
            let b: Vec<_> = b.iter().map(bits).collect();
            assert_eq!(a, b);
        }
        assert_eq!(
            one.states.iter().map(bits).collect::<Vec<_>>(),
            many.states.iter().map(bits).collect::<Vec<_>>()
        );
    }
}

#[test]
fn outputs_come_per_output_as_b_t_sequences_and_flat_row_major_buffers() {
    #[cell(inference)]
    fn two(#[input] x: &f32, #[state] s: &mut f32) -> (f32, SVector<f32, 2>) {
        *s += x;
        (*s, SVector::from([*x, -*x]))
    }
    let sequences = [vec![1.0, 2.0], vec![3.0]];
    let run = Rnn::new(Two)
        .padding(Padding::Zero)
        .run_batch(&Batch::new(&sequences), &())
        .unwrap();
    assert_eq!(run.states, [3.0, 3.0]);
    let (sums, pairs) = run.outputs.unzip();
    assert_eq!(sums[0].to_vec(), [1.0, 3.0]);
    assert_eq!(sums[1].to_vec(), [3.0]);
    assert_eq!(sums.shape(), [2, 2, 1]);
    assert_eq!(sums.to_flat_f32(), [1.0, 3.0, 3.0, 0.0]);
    assert_eq!(pairs.shape(), [2, 2, 2]);
    assert_eq!(
        pairs.to_flat_f32(),
        [1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 0.0, 0.0]
    );
    assert_eq!(pairs[1][0], SVector::from([3.0, -3.0]));
    // Empty sequences and empty batches flatten to empty buffers.
    let empty: [Vec<f32>; 2] = [vec![], vec![]];
    let run = Rnn::new(Two).run_batch(&Batch::new(&empty), &()).unwrap();
    let (sums, pairs) = run.outputs.unzip();
    assert_eq!((sums.shape(), sums.to_flat_f32()), ([2, 0, 1], vec![]));
    assert_eq!(pairs.shape(), [2, 0, 2]);
    let none: [Vec<f32>; 0] = [];
    let run = Rnn::new(Two).run_batch(&Batch::new(&none), &()).unwrap();
    assert_eq!(run.outputs.shape(), [0, 0, 3]);
    assert!(run.outputs.to_flat_f32().is_empty() && run.states.is_empty());
}

#[test]
fn equal_lengths_shared_constants_on_the_canonical_cell() {
    #[cell]
    fn accumulate(
        #[input] x: &SVector<f32, 1>,
        #[state] s: &mut SVector<f32, 1>,
    ) -> SVector<f32, 1> {
        *s += x;
        *s * 10.0
    }
    let v = |xs: [f32; 4]| xs.map(|x| SVector::from([x]));
    let sequences = [v([1.0, 2.0, 9.0, 9.0]), v([1.0, 1.0, 1.0, 1.0])];
    let rnn = Rnn::new(Accumulate).padding(Padding::Zero);
    let run = rnn
        .run_batch(&Batch::new(&sequences).lengths(&[2, 4]), &())
        .unwrap();
    assert_eq!(
        run.outputs.to_flat_f32(),
        [10.0, 30.0, 0.0, 0.0, 10.0, 20.0, 30.0, 40.0]
    );
    assert_eq!(run.states, [SVector::from([3.0]), SVector::from([4.0])]);
}

/// Counts its calls across threads.
struct Counting {
    calls: AtomicUsize,
}

#[cell(inference)]
impl Counting {
    fn step(&self, #[input] x: &f32, #[state] s: &mut f32) -> f32 {
        self.calls.fetch_add(1, Ordering::Relaxed);
        *s += x;
        *s
    }
}

#[test]
fn bad_batches_are_typed_errors_and_nothing_is_computed() {
    let cell = Counting {
        calls: AtomicUsize::new(0),
    };
    let rnn = Rnn::new(&cell);
    let sequences = [vec![1.0, 2.0], vec![1.0, 2.0, 3.0]];
    let batch = || Batch::new(&sequences);
    let err = |b: Batch<'_, Vec<f32>, f32>, k: &[()]| rnn.run_batch(&b, k).unwrap_err();
    assert_eq!(
        err(batch().lengths(&[1]), &[(), ()]),
        SequenceError::BatchSize {
            what: "lengths",
            expected: 2,
            found: 1
        }
    );
    assert_eq!(
        err(batch().masks(&[Mask::All; 3]), &[(), ()]),
        SequenceError::BatchSize {
            what: "masks",
            expected: 2,
            found: 3
        }
    );
    assert_eq!(
        err(batch().initial_states(&[0.0]), &[(), ()]),
        SequenceError::BatchSize {
            what: "initial states",
            expected: 2,
            found: 1
        }
    );
    assert_eq!(
        err(batch(), &[()]),
        SequenceError::BatchSize {
            what: "constants",
            expected: 2,
            found: 1
        }
    );
    assert_eq!(
        err(batch().lengths(&[2, 4]), &[(), ()]),
        SequenceError::LengthAboveSteps {
            sequence: 1,
            steps: 3,
            found: 4
        }
    );
    let masks = [Mask::All, Mask::Steps(&[true, true])];
    let e = err(batch().masks(&masks), &[(), ()]);
    assert_eq!(
        e,
        SequenceError::MaskLength {
            sequence: 1,
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        e.to_string(),
        "sequence 1: the mask has 2 steps, expected 3 (one per timestep)"
    );
    assert_eq!(
        err(batch().initial_states(&[0.0; 3]), &[(), ()]).to_string(),
        "batch: 3 initial states given, expected 2 (one per sequence)"
    );
    assert_eq!(cell.calls.load(Ordering::Relaxed), 0, "nothing computed");
    // A good batch does compute.
    rnn.run_batch(&batch(), &()).unwrap();
    assert_eq!(cell.calls.load(Ordering::Relaxed), 5);
}

#[test]
fn stateful_batch_chunk_after_chunk_equals_one_run_and_resets() {
    let cell = elman();
    let constants = vec![1.0, -0.5, 2.0];
    let sequences = [sequence(9, 0), sequence(9, 1), sequence(9, 2)];
    let holes: Vec<bool> = (0..9).map(|t| t % 3 != 1).collect();
    let masks = [Mask::Length(6), Mask::Steps(&holes), Mask::All];
    let h0 = vec![
        SVector::from([0.1; 4]),
        SVector::zeros(),
        SVector::from([-0.1; 4]),
    ];
    let rnn = || Rnn::new(&cell);
    let whole = rnn()
        .run_batch(
            &Batch::new(&sequences).masks(&masks).initial_states(&h0),
            &constants,
        )
        .unwrap();
    let mut streams = rnn()
        .stateful_batch(constants.clone())
        .with_initial_states(h0.clone())
        .unwrap();
    let mut outputs: Vec<Vec<_>> = vec![Vec::new(); 3];
    let mut ys = rnn::Batched(Vec::new());
    for (start, end) in [(0, 4), (4, 5), (5, 9)] {
        let chunk: Vec<Vec<SVector<f32, 3>>> =
            sequences.iter().map(|s| s[start..end].to_vec()).collect();
        let hole_chunk = &holes[start..end];
        let chunk_masks = [
            Mask::Length(6usize.saturating_sub(start).min(end - start)),
            Mask::Steps(hole_chunk),
            Mask::All,
        ];
        // Chunks of 4, 1 and 4 steps through the same output buffers (`feed` is
        // `feed_into` a new one): nothing of a longer chunk is left in a shorter one.
        streams
            .feed_into(&chunk, BatchMasks::Each(&chunk_masks), &mut ys)
            .unwrap();
        for (b, y) in ys.iter().enumerate() {
            assert_eq!(y.len(), end - start);
            outputs[b].extend(y.iter().cloned());
        }
    }
    for (b, stream) in outputs.iter().enumerate() {
        assert_eq!(stream[..], whole.outputs[b][..], "stream {b}");
    }
    assert_eq!(streams.states().cloned().collect::<Vec<_>>(), whole.states);
    // Wrong chunk sizes change nothing.
    let before: Vec<_> = streams.states().cloned().collect();
    assert_eq!(
        streams.feed(&sequences[..2], BatchMasks::All).unwrap_err(),
        SequenceError::BatchSize {
            what: "sequences",
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        streams
            .feed(&sequences, BatchMasks::Lengths(&[1, 2, 10]))
            .unwrap_err(),
        SequenceError::LengthAboveSteps {
            sequence: 2,
            steps: 9,
            found: 10
        }
    );
    assert_eq!(streams.states().cloned().collect::<Vec<_>>(), before);
    streams.reset();
    assert_eq!(streams.states().cloned().collect::<Vec<_>>(), h0);
    assert_eq!(
        rnn()
            .stateful_batch(constants)
            .with_initial_states(vec![SVector::zeros()])
            .unwrap_err(),
        SequenceError::BatchSize {
            what: "initial states",
            expected: 3,
            found: 1
        }
    );
}

/// The batched kernel reads only each sequence's valid steps: what an earlier batch left in
/// its buffers (here NaN everywhere) cannot reach a later batch's results.
#[test]
fn a_lowered_batch_reads_nothing_an_earlier_batch_left() {
    use rnn::cells::LstmCell;
    let rnn = Rnn::new(LstmCell::<3, 4>::keras_init(5));
    let nan = vec![vec![SVector::<f32, 3>::repeat(f32::NAN); 6]; 5];
    let mut out = rnn::BatchRun::default();
    rnn.run_batch_into(&Batch::new(&nan), &(), &mut out)
        .unwrap();
    let sequences: Vec<Vec<SVector<f32, 3>>> = (0..5)
        .map(|b| {
            (0..6)
                .map(|t| SVector::repeat((b * 6 + t) as f32 / 30.0))
                .collect()
        })
        .collect();
    let batch = Batch::new(&sequences).lengths(&[6, 2, 0, 4, 1]);
    assert!(rnn.runs_on_batched_kernel(&batch));
    rnn.run_batch_into(&batch, &(), &mut out).unwrap();
    assert_eq!(out, rnn.run_batch(&batch, &()).unwrap());
    assert!(out
        .outputs
        .iter()
        .flatten()
        .all(|y| y.iter().all(|v| v.is_finite())));
}
