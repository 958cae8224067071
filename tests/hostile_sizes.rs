//! Hostile sizes through the runtime APIs: a batch whose size times the features wraps
//! `usize`, batches no memory can hold, lengths past the sequence, masks and per-sequence
//! arguments of the wrong count. Each is a typed error naming what was expected and found,
//! never a panic, an abort or a write out of bounds; the buffers of an `_into` call are left
//! as they were. Every case runs on one thread and on rayon's default pool.

use rnn::cells::{GruCell, LstmCell, SimpleRnnCell};
use rnn::fused;
use rnn::prelude::*;
use rnn::{BatchMasks, BatchRun, Batched, ShapeError, ShapeErrorKind};

/// `(1 << 63) + 1`: times 2 (the features of the layers below) it wraps to 2, so a buffer
/// of 4 values once looked like 2 timesteps of a batch of that size.
const WRAPS: usize = (1 << 63) + 1;

/// Runs `f` on a pool of one thread, then on rayon's default pool (one chunk of the batch per
/// core).
fn on_one_thread_and_the_default_pool(f: impl Fn() + Send + Sync) {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(&f);
    f();
}

/// Asserts `err` is an overflow of `what` with these factors, and that its message names
/// both factors and the scalars found.
fn assert_overflow(err: &ShapeError, what: &str, factors: [usize; 2], found: usize) {
    assert_eq!(err.what, what, "{err}");
    assert_eq!(err.kind, ShapeErrorKind::Overflow { factors }, "{err}");
    assert_eq!((err.expected, err.found), (usize::MAX, found), "{err}");
    let message = err.to_string();
    let names = format!("{what}: expected {} × {} scalars", factors[0], factors[1]);
    assert!(message.starts_with(&names), "{message}");
    assert!(message.ends_with(&format!("found {found}")), "{message}");
}

/// Asserts `err` is an allocation failure of `what`, `expected` scalars, and that its message
/// names both counts.
fn assert_allocation(err: &ShapeError, what: &str, expected: usize, found: usize) {
    assert_eq!(
        (err.what, err.kind, err.expected, err.found),
        (what, ShapeErrorKind::Allocation, expected, found),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{what}: expected {expected} scalars")),
        "{message}"
    );
    assert!(message.ends_with(&format!("found {found}")), "{message}");
}

const INPUTS: &str = "inputs [B, T, I] (a whole number of timesteps)";
const STATES: &str = "states [B, H]";

/// The three layers of two inputs and `H` units (the GRU in both variants), and the three of
/// one input and one unit.
struct Layers<const H: usize> {
    lstm: LstmCell<2, H>,
    grus: [GruCell<2, H>; 2],
    srnn: SimpleRnnCell<2, H>,
    lstm_one: LstmCell<1, 1>,
    gru_one: GruCell<1, 1>,
    srnn_one: SimpleRnnCell<1, 1>,
}

impl<const H: usize> Layers<H> {
    fn new() -> Self {
        let mut before = GruCell::keras_init(3);
        before.reset_after = false;
        before.recurrent_bias = None;
        Layers {
            lstm: LstmCell::pytorch_init(1),
            grus: [GruCell::pytorch_init(2), before],
            srnn: SimpleRnnCell::pytorch_init(4),
            lstm_one: LstmCell::pytorch_init(5),
            gru_one: GruCell::pytorch_init(6),
            srnn_one: SimpleRnnCell::pytorch_init(7),
        }
    }

    /// Every layer of `I = 2` on `(inputs, batch, h0)`, `forward` and `forward_into`
    /// buffers that held a good call first: returns each error, after checking the buffers
    /// kept their values.
    fn errors(&self, inputs: &[f32], batch: usize, h0: Option<&[f32]>) -> Vec<ShapeError> {
        let good = [0.25f32; 2 * 5 * 2];
        let mut errors = Vec::new();
        let lstm = fused::Lstm::new(&self.lstm);
        let c0 = h0.map(|h| vec![0.5; h.len()]);
        let initial = h0.zip(c0.as_deref());
        let mut run = lstm.forward(&good, 2, None).unwrap();
        let before = run.clone();
        errors.push(
            lstm.forward_into(inputs, batch, initial, &mut run)
                .unwrap_err(),
        );
        assert_eq!(run, before, "LSTM: the buffers changed");
        assert_eq!(lstm.forward(inputs, batch, initial), Err(errors[0].clone()));
        for cell in &self.grus {
            let gru = fused::Gru::new(cell);
            let mut run = gru.forward(&good, 2, None).unwrap();
            let before = run.clone();
            let err = gru.forward_into(inputs, batch, h0, &mut run).unwrap_err();
            assert_eq!(run, before, "GRU: the buffers changed");
            assert_eq!(gru.forward(inputs, batch, h0), Err(err.clone()));
            errors.push(err);
        }
        let srnn = fused::SimpleRnn::new(&self.srnn);
        let mut run = srnn.forward(&good, 2, None).unwrap();
        let before = run.clone();
        let err = srnn.forward_into(inputs, batch, h0, &mut run).unwrap_err();
        assert_eq!(run, before, "SimpleRNN: the buffers changed");
        assert_eq!(srnn.forward(inputs, batch, h0), Err(err.clone()));
        errors.push(err);
        errors
    }

    /// The layers of `I = H = 1` on an empty input of `batch` samples (zero timesteps), into
    /// buffers that held a good call first: returns each error, after checking the buffers
    /// kept their values.
    fn empty_errors(&self, batch: usize) -> Vec<ShapeError> {
        let good = [0.25f32; 2 * 3];
        let lstm = fused::Lstm::new(&self.lstm_one);
        let mut run = lstm.forward(&good, 2, None).unwrap();
        let before = run.clone();
        let mut errors = vec![lstm.forward_into(&[], batch, None, &mut run).unwrap_err()];
        assert_eq!(run, before, "LSTM: the buffers changed");
        let gru = fused::Gru::new(&self.gru_one);
        let srnn = fused::SimpleRnn::new(&self.srnn_one);
        let mut run = gru.forward(&good, 2, None).unwrap();
        let before = run.clone();
        errors.push(gru.forward_into(&[], batch, None, &mut run).unwrap_err());
        assert_eq!(run, before, "GRU: the buffers changed");
        errors.push(srnn.forward_into(&[], batch, None, &mut run).unwrap_err());
        assert_eq!(run, before, "SimpleRNN: the buffers changed");
        errors
    }
}

#[test]
fn a_batch_whose_timestep_wraps_usize_is_an_overflow_error() {
    // With `H = 2` every size of the batch wrapped to a few values: 2 timesteps of 4 inputs,
    // outputs and states, which the GEMM of `WRAPS` rows wrote far past.
    check_wrapping_batches(&Layers::<2>::new());
    check_wrapping_batches(&Layers::<3>::new());
}

fn check_wrapping_batches<const H: usize>(layers: &Layers<H>) {
    on_one_thread_and_the_default_pool(|| {
        // `WRAPS × 2` wraps to 2: 4 values looked like 2 whole timesteps; so does 2 × (a
        // batch of 2^63), which wraps to 0.
        for (batch, len) in [(WRAPS, 4), (WRAPS, 6), (1 << 63, 4), (usize::MAX, 4)] {
            for err in layers.errors(&vec![0.5; len], batch, None) {
                assert_overflow(&err, INPUTS, [batch, 2], len);
            }
        }
        // With initial states whose length is the wrapped `B × H` (`WRAPS × H` wraps to `H`).
        for err in layers.errors(&[0.5; 4], WRAPS, Some(&[0.0; H])) {
            assert_overflow(&err, INPUTS, [WRAPS, 2], 4);
        }
        // No inputs at all: the batch's timestep is still an overflow.
        for err in layers.errors(&[], usize::MAX, None) {
            assert_overflow(&err, INPUTS, [usize::MAX, 2], 0);
        }
    });
}

#[test]
fn states_no_usize_counts_are_an_overflow_error() {
    let layers = Layers::<3>::new();
    on_one_thread_and_the_default_pool(|| {
        // `I = 2`: a batch of `usize::MAX / 2` has whole timesteps (`usize::MAX − 1` values),
        // and zero of them in an empty buffer; its `[B, 3]` states do not fit in a usize.
        let batch = usize::MAX / 2;
        for err in layers.errors(&[], batch, None) {
            assert_overflow(&err, STATES, [batch, 3], 0);
        }
        for err in layers.errors(&[], batch, Some(&[0.0; 6])) {
            assert_overflow(&err, STATES, [batch, 3], 6);
        }
    });
}

#[test]
fn states_no_memory_holds_are_an_allocation_error() {
    let layers = Layers::<3>::new();
    on_one_thread_and_the_default_pool(|| {
        // `usize::MAX` values of `[B, 1]` state: more than `isize::MAX` bytes (the capacity
        // overflow of `Vec`); a quarter of that in values is still more bytes than
        // `isize::MAX`; a sixteenth is a request no allocator grants (2^62 bytes). The states
        // held a good call's 2 values.
        for batch in [usize::MAX, usize::MAX / 4, usize::MAX / 16] {
            for err in layers.empty_errors(batch) {
                assert_allocation(&err, STATES, batch, 2);
            }
        }
    });
}

#[test]
fn inputs_that_are_not_whole_timesteps_of_a_large_batch_name_the_next_whole_number() {
    let layers = Layers::<3>::new();
    on_one_thread_and_the_default_pool(|| {
        for (batch, len, expected) in [(1 << 40, 5, 1 << 41), (3, 7, 12), (3, 13, 18)] {
            for err in layers.errors(&vec![0.5; len], batch, None) {
                let want = ShapeError {
                    what: INPUTS,
                    expected,
                    found: len,
                    kind: ShapeErrorKind::Scalars,
                };
                assert_eq!(err, want);
                assert_eq!(
                    err.to_string(),
                    format!("{INPUTS}: expected {expected} scalars, found {len}")
                );
            }
        }
        // Initial states of the wrong length, for a large batch.
        for err in layers.errors(&[], 1 << 40, Some(&[0.0; 6])) {
            assert_eq!(err.kind, ShapeErrorKind::Scalars);
            assert_eq!((err.expected, err.found), (3 << 40, 6));
            assert!(err.what.starts_with("initial "), "{err}");
        }
    });
}

#[test]
fn a_long_sequence_runs() {
    // `T` comes from the buffer's length alone: 20,000 steps of one sample (sample by sample
    // on CPUs with AVX2) and of 4 (the GEMMs).
    let cell = SimpleRnnCell::<1, 1>::pytorch_init(8);
    let srnn = fused::SimpleRnn::new(&cell);
    on_one_thread_and_the_default_pool(|| {
        for batch in [1, 4] {
            let inputs: Vec<f32> = (0..batch * 20_000).map(|i| (i as f32).sin()).collect();
            let run = srnn.forward(&inputs, batch, None).unwrap();
            assert_eq!((run.outputs.len(), run.h.len()), (batch * 20_000, batch));
            assert!(run.outputs.iter().all(|y| y.is_finite()));
        }
    });
}

// ---- the batch drivers -------------------------------------------------------------------

fn sequences(lengths: &[usize]) -> Vec<Vec<SVector<f32, 2>>> {
    lengths
        .iter()
        .map(|&n| {
            (0..n)
                .map(|t| SVector::from([(t as f32).sin(), (t as f32).cos()]))
                .collect()
        })
        .collect()
}

/// `run_batch` and `run_batch_into` (into buffers of a good run, left as they were) give
/// `expected`, with either padding policy and in every direction.
fn assert_batch_error(
    batch: &Batch<'_, Vec<SVector<f32, 2>>, SVector<f32, 3>>,
    expected: SequenceError,
) {
    let cell = GruCell::<2, 3>::pytorch_init(9);
    for padding in [Padding::CarryLastOutput, Padding::Zero] {
        for direction in [
            Direction::Forward,
            Direction::GoBackwards,
            Direction::Reversed,
        ] {
            let rnn = Rnn::new(&cell).padding(padding).direction(direction);
            assert_eq!(rnn.run_batch(batch, &()), Err(expected.clone()));
            let good = sequences(&[3, 1]);
            let mut out = rnn.run_batch(&Batch::new(&good), &()).unwrap();
            let before = out.clone();
            assert_eq!(
                rnn.run_batch_into(batch, &(), &mut out),
                Err(expected.clone())
            );
            assert_eq!(out, before);
        }
    }
}

#[test]
fn lengths_past_the_sequence_are_typed_errors() {
    let seqs = sequences(&[3, 0, 5]);
    on_one_thread_and_the_default_pool(|| {
        for (b, huge) in [(0, usize::MAX), (1, 1), (2, 6), (0, WRAPS)] {
            let mut lengths = [3, 0, 5];
            lengths[b] = huge;
            let err = SequenceError::LengthAboveSteps {
                sequence: b,
                steps: seqs[b].len(),
                found: huge,
            };
            assert_eq!(
                err.to_string(),
                format!(
                    "sequence {b}: length {huge} is above the sequence's {} timesteps",
                    seqs[b].len()
                )
            );
            assert_batch_error(&Batch::new(&seqs).lengths(&lengths), err);
        }
    });
}

#[test]
fn masks_and_per_sequence_arguments_of_the_wrong_size_are_typed_errors() {
    let seqs = sequences(&[3, 0, 5]);
    let long = [true; 6];
    let short = [true; 2];
    on_one_thread_and_the_default_pool(|| {
        for (b, mask, found) in [(0, &short[..], 2), (1, &long[..1], 1), (2, &long[..], 6)] {
            let mut masks = [Mask::All, Mask::All, Mask::All];
            masks[b] = Mask::Steps(mask);
            let err = SequenceError::MaskLength {
                sequence: b,
                expected: seqs[b].len(),
                found,
            };
            assert_eq!(
                err.to_string(),
                format!(
                    "sequence {b}: the mask has {found} steps, expected {} (one per timestep)",
                    seqs[b].len()
                )
            );
            assert_batch_error(&Batch::new(&seqs).masks(&masks), err);
        }
        // A length inside a list of masks is checked like the lengths.
        let masks = [Mask::All, Mask::Length(usize::MAX), Mask::All];
        let err = SequenceError::LengthAboveSteps {
            sequence: 1,
            steps: 0,
            found: usize::MAX,
        };
        assert_batch_error(&Batch::new(&seqs).masks(&masks), err);
        let count = |what, found| SequenceError::BatchSize {
            what,
            expected: 3,
            found,
        };
        for lengths in [&[1, 0][..], &[1, 0, 1, 1]] {
            let err = count("lengths", lengths.len());
            assert_batch_error(&Batch::new(&seqs).lengths(lengths), err);
        }
        let masks = [Mask::All; 4];
        assert_batch_error(&Batch::new(&seqs).masks(&masks), count("masks", 4));
        let states = [SVector::zeros(); 2];
        let err = count("initial states", 2);
        assert_eq!(
            err.to_string(),
            "batch: 2 initial states given, expected 3 (one per sequence)"
        );
        assert_batch_error(&Batch::new(&seqs).initial_states(&states), err);
        // Per-sequence constants of the wrong count.
        let rnn = Rnn::new(GruCell::<2, 3>::pytorch_init(9));
        let constants = [(); 4];
        assert_eq!(
            rnn.run_batch(&Batch::new(&seqs), &constants),
            Err(count("constants", 4))
        );
    });
}

#[test]
fn a_stateful_batch_refuses_a_bad_chunk_and_keeps_its_states() {
    let cell = GruCell::<2, 3>::pytorch_init(10);
    on_one_thread_and_the_default_pool(|| {
        let mut streams = Rnn::new(&cell).stateful_batch(vec![(); 2]);
        let mut out = Batched::default();
        streams
            .feed_into(&sequences(&[4, 2]), BatchMasks::All, &mut out)
            .unwrap();
        let (states, outputs) = (streams.states().cloned().collect::<Vec<_>>(), out.clone());
        let seqs = sequences(&[3, 3]);
        let bad = [
            (
                BatchMasks::Lengths(&[usize::MAX, 0]),
                SequenceError::LengthAboveSteps {
                    sequence: 0,
                    steps: 3,
                    found: usize::MAX,
                },
            ),
            (
                BatchMasks::Each(&[Mask::All, Mask::Steps(&[true; 4])]),
                SequenceError::MaskLength {
                    sequence: 1,
                    expected: 3,
                    found: 4,
                },
            ),
            (
                BatchMasks::Lengths(&[1]),
                SequenceError::BatchSize {
                    what: "lengths",
                    expected: 2,
                    found: 1,
                },
            ),
        ];
        for (masks, err) in bad {
            assert_eq!(streams.feed_into(&seqs, masks, &mut out), Err(err));
            assert_eq!(streams.states().cloned().collect::<Vec<_>>(), states);
            assert_eq!(out, outputs);
        }
        let three = sequences(&[1, 1, 1]);
        assert_eq!(
            streams.feed_into(&three, BatchMasks::All, &mut out),
            Err(SequenceError::BatchSize {
                what: "sequences",
                expected: 2,
                found: 3
            })
        );
        assert_eq!(out, outputs);
    });
}

#[test]
fn an_empty_batch_is_empty() {
    // The smallest sizes are sizes too: no sequence, no timestep.
    let layers = Layers::<3>::new();
    on_one_thread_and_the_default_pool(|| {
        let run = fused::Lstm::new(&layers.lstm)
            .forward(&[], 0, None)
            .unwrap();
        assert_eq!(run, fused::LstmOutput::default());
        let run = fused::Gru::new(&layers.grus[1])
            .forward(&[], 5, None)
            .unwrap();
        assert_eq!((run.outputs.len(), run.h), (0, vec![0.0; 15]));
        let rnn = Rnn::new(&layers.grus[0]);
        let none: [Vec<SVector<f32, 2>>; 0] = [];
        let run = rnn.run_batch(&Batch::new(&none), &()).unwrap();
        assert_eq!(run, BatchRun::default());
    });
}
