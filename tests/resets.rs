//! Per-step resets (Haiku's `hk.ResetCore`) in every driver that takes them:
//!
//! - Haiku's definition, `state = where(reset, initial_state, state)` then the step, on a
//!   SimpleRNN whose numbers are written out by hand;
//! - a property over random reset patterns, masks, padding policies and ragged batches: a run
//!   with resets equals the pieces between its resets, each run from the initial state, bit
//!   for bit in the batch, sequence and stateful drivers (one stream and a batch of streams,
//!   fed in two chunks), and its gradients equal the sum of
//!   the pieces' gradients;
//! - the static unroll with resets against the dynamic loop with resets, in every direction,
//!   with and without dropout: outputs, state and gradients bit for bit;
//! - central differences through resets (a sequence, a batch, a stateful chunk);
//! - the errors, which leave everything as it was.

mod gradcheck;

use gradcheck::{
    check_batch_gradients, check_sequence_gradients, dot, flat, flat_all, indices, parameters,
    Check, Rng,
};
use proptest::prelude::*;
use rnn::cells::{LstmCell, LstmState, SimpleRnnCell};
use rnn::nalgebra::SVector;
use rnn::ops::Activation;
use rnn::train::{BatchTape, Tape, UnrolledTape};
use rnn::{
    Batch, BatchMasks, Cell, Direction, Dropout, Mask, Nested, Padding, Resets, Rnn, SequenceError,
};

type X = SVector<f64, 2>;
type Y = SVector<f64, 3>;
type S = LstmState<3, f64>;
type Lstm = Rnn<LstmCell<2, 3, f64>>;

// ------------------------------------------------------------------------- Haiku's definition

/// `h' = x + h / 2`: a SimpleRNN of one unit, kernel 1, recurrent kernel 0.5, no bias, linear.
fn halving() -> Rnn<SimpleRnnCell<1, 1, f64>> {
    let cell = SimpleRnnCell::from_keras_arrays(&[[1.0]], &[[0.5]], None)
        .with_activation(Activation::Linear);
    Rnn::new(cell)
}

/// Haiku's `ResetCore.__call__` over time, literally: at each step, `where(should_reset,
/// initial_state, state)`, then the core's step.
fn haiku_reset_core(
    rnn: &Rnn<SimpleRnnCell<1, 1, f64>>,
    xs: &[f64],
    should_reset: &[bool],
    initial: f64,
) -> Vec<f64> {
    let mut state = SVector::from([initial]);
    let mut outputs = Vec::new();
    for (x, &reset) in xs.iter().zip(should_reset) {
        state = if reset {
            SVector::from([initial])
        } else {
            state
        };
        outputs.push(rnn.cell().step(&SVector::from([*x]), &mut state, &())[0]);
    }
    outputs
}

#[test]
fn resets_follow_haiku_reset_core_on_a_hand_computed_vector() {
    let rnn = halving();
    let xs = [vec![2.0, 4.0, 8.0, 6.0], vec![1.0, 1.0, 1.0, 1.0]];
    let resets = vec![
        vec![false, false, true, false],
        vec![true, false, true, true],
    ];
    let initial = [10.0, 0.0];
    // By hand, h' = x + h/2:
    // sequence 0 from 10: 2 + 5 = 7, 4 + 3.5 = 7.5, reset to 10: 8 + 5 = 13, 6 + 6.5 = 12.5;
    // sequence 1 from 0: reset to 0: 1, 1 + 0.5 = 1.5, reset: 1, reset: 1.
    let by_hand = [[7.0, 7.5, 13.0, 12.5], [1.0, 1.5, 1.0, 1.0]];
    for b in 0..2 {
        assert_eq!(
            haiku_reset_core(&rnn, &xs[b], &resets[b], initial[b]),
            by_hand[b]
        );
    }

    let sequences: Vec<Vec<SVector<f64, 1>>> = xs
        .iter()
        .map(|xs| xs.iter().map(|&x| SVector::from([x])).collect())
        .collect();
    let states = initial.map(|s| SVector::from([s]));
    let batch = Batch::new(&sequences)
        .resets(&resets)
        .initial_states(&states);
    let run = rnn.run_batch(&batch, &()).unwrap();
    let flat: Vec<f32> = by_hand.concat().iter().map(|&y| y as f32).collect();
    assert_eq!(run.outputs.to_flat_f32(), flat);
    assert_eq!(
        run.states.iter().map(|s| s[0]).collect::<Vec<_>>(),
        [12.5, 1.0]
    );
    for b in 0..2 {
        let one = rnn
            .run_with_resets(&sequences[b], Mask::All, &resets[b], states[b], &())
            .unwrap();
        let ys: Vec<f64> = one.outputs.iter().map(|y| y[0]).collect();
        assert_eq!(ys, by_hand[b]);

        // A stream resets to its own initial state, in any chunk.
        let mut stream = rnn.clone().stateful(()).with_initial_state(states[b]);
        let mut ys = stream
            .feed_with_resets(&sequences[b][..2], Mask::All, &resets[b][..2])
            .unwrap()
            .to_vec();
        ys.extend(
            stream
                .feed_with_resets(&sequences[b][2..], Mask::All, &resets[b][2..])
                .unwrap()
                .iter(),
        );
        assert_eq!(ys.iter().map(|y| y[0]).collect::<Vec<_>>(), by_hand[b]);
        assert_eq!(stream.state(), &run.states[b]);
    }
}

#[test]
fn a_masked_reset_step_outputs_zeros_and_keeps_the_initial_state() {
    let rnn = halving();
    let xs = [2.0, 4.0, 8.0, 6.0].map(|x| SVector::from([x]));
    let ys = |padding| {
        let run = rnn
            .clone()
            .padding(padding)
            .run_with_resets(
                &xs,
                &[true, true, false, true],
                &[false, false, true, false],
                SVector::from([10.0]),
                &(),
            )
            .unwrap();
        assert_eq!(
            run.state[0],
            6.0 + 5.0,
            "from the initial state, reset at step 2"
        );
        run.outputs.iter().map(|y| y[0]).collect::<Vec<_>>()
    };
    // The carried output is forgotten at the reset: the masked step outputs zeros.
    assert_eq!(ys(Padding::CarryLastOutput), [7.0, 7.5, 0.0, 11.0]);
    assert_eq!(ys(Padding::Zero), [7.0, 7.5, 0.0, 11.0]);
}

#[test]
fn resets_that_do_not_fit_are_errors_and_change_nothing() {
    let rnn = halving();
    let xs = [SVector::from([1.0]); 3];
    let s0 = SVector::from([0.0]);
    let err = rnn
        .run_with_resets(&xs, Mask::All, &[false, true], s0, &())
        .unwrap_err();
    assert_eq!(
        err,
        SequenceError::ResetsLength {
            sequence: 0,
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "sequence 0: 2 reset flags given, expected 3 (one per timestep)"
    );

    let sequences = vec![xs.to_vec(), xs[..1].to_vec()];
    let short = vec![vec![false; 3], vec![false; 2]];
    let err = rnn
        .run_batch(&Batch::new(&sequences).resets(&short), &())
        .unwrap_err();
    assert_eq!(
        err,
        SequenceError::ResetsLength {
            sequence: 1,
            expected: 1,
            found: 2
        }
    );
    let one = vec![vec![false; 3]];
    let err = rnn
        .run_batch(&Batch::new(&sequences).resets(&one), &())
        .unwrap_err();
    assert_eq!(
        err,
        SequenceError::BatchSize {
            what: "resets",
            expected: 2,
            found: 1
        }
    );

    let mut stream = rnn.clone().stateful(());
    stream.feed([SVector::from([4.0])]);
    let before = *stream.state();
    assert!(stream
        .feed_with_resets(&xs, Mask::All, Resets::Steps(&[true]))
        .is_err());
    assert_eq!(stream.state(), &before);
    let mut tape = Tape::new();
    assert!(stream
        .feed_taped_with_resets(&xs, Mask::All, &[true; 4], &mut tape)
        .is_err());
    assert_eq!(stream.state(), &before);
}

/// The batched kernels do not reset: a batch of a built-in cell with resets runs the loop,
/// in inference and in training, and gives the loop's bits.
#[test]
fn a_batch_with_resets_runs_the_loop_not_the_batched_kernel() {
    let rnn = Rnn::new(LstmCell::<2, 3>::keras_init(4));
    let xs = vec![vec![SVector::<f32, 2>::from([0.5, -1.0]); 4]; 3];
    let resets = vec![vec![false, false, true, false]; 3];
    let unflagged = vec![vec![false; 4]; 3];
    assert!(rnn.runs_on_batched_kernel(&Batch::new(&xs).resets(&unflagged)));
    let batch = Batch::new(&xs).resets(&resets);
    assert!(!rnn.runs_on_batched_kernel(&batch));
    let run = rnn.run_batch(&batch, &()).unwrap();
    let one = rnn
        .run_with_resets(&xs[0], Mask::All, &resets[0], Nested::zeros(), &())
        .unwrap();
    assert_eq!(run.outputs[0], one.outputs);
    let mut tape = BatchTape::new();
    assert_eq!(rnn.run_batch_taped(&batch, &(), &mut tape).unwrap(), run);
    assert_eq!(tape.sequence(0).map(Tape::resets), Some(1));
}

// ------------------------------------------------------------------------------ the property

/// One sequence of a case: its inputs, mask (as per-step flags, and as given), resets and
/// initial state.
struct Sequence {
    xs: Vec<X>,
    valid: Vec<bool>,
    length: Option<usize>,
    resets: Vec<bool>,
    initial: S,
}

impl Sequence {
    fn mask(&self) -> Mask<'_> {
        match self.length {
            Some(n) => Mask::Length(n),
            None => Mask::Steps(&self.valid),
        }
    }

    /// Where the pieces between resets start and end: `[0, r₁, r₂, …, T]`, without repeats
    /// (`[0, 0]` for no step).
    fn bounds(&self) -> Vec<usize> {
        let mut bounds = vec![0];
        bounds.extend((1..self.xs.len()).filter(|&t| self.resets[t]));
        bounds.push(self.xs.len());
        bounds.dedup();
        if bounds.len() == 1 {
            bounds.push(0); // no step: one empty piece, whose final state is the initial one
        }
        bounds
    }
}

fn draw(rng: &mut Rng, batch: usize, steps: usize) -> Vec<Sequence> {
    let mut coin = |p: f64| rng.next() < 2.0 * p - 1.0;
    let shapes: Vec<(usize, u8)> = (0..batch)
        .map(|_| {
            let t = (0..steps).filter(|_| coin(0.8)).count();
            let kind = u8::from(coin(0.5)) + u8::from(coin(0.5));
            (t, kind)
        })
        .collect();
    shapes
        .into_iter()
        .map(|(t, kind)| {
            let resets: Vec<bool> = (0..t).map(|_| rng.next() < -0.4).collect();
            let (valid, length) = match kind {
                0 => (vec![true; t], None),
                1 => {
                    let n = (0..t).filter(|_| rng.next() < 0.5).count();
                    ((0..t).map(|s| s < n).collect(), Some(n))
                }
                _ => ((0..t).map(|_| rng.next() < 0.4).collect(), None),
            };
            Sequence {
                xs: rng.values(t),
                valid,
                length,
                resets,
                initial: rng.value(),
            }
        })
        .collect()
}

/// The bits of every scalar, to compare `-0.0` and `0.0` apart.
fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

fn assert_close(what: &str, found: &[f64], expected: &[f64]) {
    assert_eq!(found.len(), expected.len(), "{what}: sizes");
    for (i, (a, b)) in found.iter().zip(expected).enumerate() {
        assert!(
            (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
            "{what}[{i}]: {a:e}, pieces {b:e}"
        );
    }
}

/// Forward and backward of every sequence of `sequences` with resets, against its pieces.
fn check_pieces(rnn: &Lstm, sequences: &[Sequence], rng: &mut Rng) {
    let xs: Vec<Vec<X>> = sequences.iter().map(|s| s.xs.clone()).collect();
    let masks: Vec<Mask<'_>> = sequences.iter().map(Sequence::mask).collect();
    let resets: Vec<Vec<bool>> = sequences.iter().map(|s| s.resets.clone()).collect();
    let initial: Vec<S> = sequences.iter().map(|s| s.initial.clone()).collect();
    let batch = Batch::new(&xs)
        .batch_masks(BatchMasks::Each(&masks))
        .resets(&resets)
        .initial_states(&initial);
    let run = rnn.run_batch(&batch, &()).unwrap();
    let mut tape = BatchTape::new();
    let taped = rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    assert_eq!(taped, run, "the taped batch computes the batch's bits");

    let d_outputs: Vec<Vec<Y>> = xs.iter().map(|x| rng.values(x.len())).collect();
    let d_states: Vec<S> = rng.values(xs.len());
    let grads = rnn
        .backward_batch(&tape, &batch, &d_outputs, &d_states, &())
        .unwrap();

    let mut d_parameters = vec![0.0; parameters(rnn).len()];
    for (b, sequence) in sequences.iter().enumerate() {
        // The pieces, each from the initial state, as if each were a sequence of its own.
        let (mut outputs, mut state) = (Vec::new(), sequence.initial.clone());
        let (mut d_inputs, mut d_initial) = (Vec::new(), vec![0.0; 6]);
        let bounds = sequence.bounds();
        let mut piece_tape = Tape::new();
        for (k, piece) in bounds.windows(2).enumerate() {
            let (from, to) = (piece[0], piece[1]);
            let (xs, mask) = (&sequence.xs[from..to], &sequence.valid[from..to]);
            let start = sequence.initial.clone();
            let one = rnn.run_masked_from(xs, mask, start.clone(), &()).unwrap();
            outputs.extend(one.outputs.iter().copied());
            state = one.state;
            // Only the last piece's final state is the sequence's; the others are reset.
            let d_final = if k + 2 == bounds.len() {
                d_states[b].clone()
            } else {
                S::zeros()
            };
            rnn.run_taped(xs, mask, start, &(), &mut piece_tape)
                .unwrap();
            let g = rnn
                .backward(&piece_tape, xs, &d_outputs[b][from..to], d_final, &())
                .unwrap();
            for (sum, g) in d_parameters.iter_mut().zip(parameters(&g.parameters)) {
                *sum += g;
            }
            d_inputs.extend(g.inputs);
            for (sum, g) in d_initial.iter_mut().zip(flat(&g.initial_state)) {
                *sum += g;
            }
        }

        assert_eq!(bits(&flat_all(&run.outputs[b])), bits(&flat_all(&outputs)));
        assert_eq!(bits(&flat(&run.states[b])), bits(&flat(&state)));
        let one = rnn
            .run_with_resets(
                &sequence.xs,
                sequence.mask(),
                &sequence.resets,
                sequence.initial.clone(),
                &(),
            )
            .unwrap();
        assert_eq!(bits(&flat_all(&one.outputs)), bits(&flat_all(&outputs)));
        assert_eq!(bits(&flat(&one.state)), bits(&flat(&state)));

        // A stream in two chunks, from the sequence's initial state.
        let cut = sequence.xs.len() / 2;
        let mut stream = rnn
            .clone()
            .stateful(())
            .with_initial_state(sequence.initial.clone());
        let mut streamed = Vec::new();
        for (from, to) in [(0, cut), (cut, sequence.xs.len())] {
            let ys = stream
                .feed_with_resets(
                    &sequence.xs[from..to],
                    &sequence.valid[from..to],
                    &sequence.resets[from..to],
                )
                .unwrap();
            streamed.extend(ys.iter().copied());
        }
        assert_eq!(bits(&flat_all(&streamed)), bits(&flat_all(&outputs)));
        assert_eq!(bits(&flat(stream.state())), bits(&flat(&state)));

        let what = format!("sequence {b}");
        assert_close(
            &format!("{what} inputs' adjoints"),
            &flat_all(&grads.inputs[b]),
            &flat_all(&d_inputs),
        );
        assert_close(
            &format!("{what} initial state's adjoint"),
            &flat(&grads.initial_states[b]),
            &d_initial,
        );
    }
    assert_close(
        "parameters' gradients",
        &parameters(&grads.parameters),
        &d_parameters,
    );

    // A batch of streams in two chunks (each sequence cut in half), from the initial states.
    let mut streams = rnn
        .clone()
        .stateful_batch(vec![(); xs.len()])
        .with_initial_states(initial)
        .unwrap();
    let mut streamed: Vec<Vec<Y>> = vec![Vec::new(); xs.len()];
    for half in [0, 1] {
        let part = |s: &Sequence| match half {
            0 => 0..s.xs.len() / 2,
            _ => s.xs.len() / 2..s.xs.len(),
        };
        let chunk: Vec<Vec<X>> = sequences.iter().map(|s| s.xs[part(s)].to_vec()).collect();
        let masks: Vec<Mask<'_>> = (sequences.iter())
            .map(|s| Mask::Steps(&s.valid[part(s)]))
            .collect();
        let resets: Vec<Vec<bool>> = (sequences.iter())
            .map(|s| s.resets[part(s)].to_vec())
            .collect();
        let ys = streams
            .feed_with_resets(&chunk, BatchMasks::Each(&masks), &resets)
            .unwrap();
        for (b, ys) in ys.iter().enumerate() {
            streamed[b].extend(ys.iter().copied());
        }
    }
    for (b, state) in streams.states().enumerate() {
        assert_eq!(
            bits(&flat_all(&streamed[b])),
            bits(&flat_all(&run.outputs[b]))
        );
        assert_eq!(bits(&flat(state)), bits(&flat(&run.states[b])));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Resets at random steps of a ragged batch with random masks: the run equals its pieces.
    #[test]
    fn a_run_with_resets_equals_the_pieces_between_them(
        batch in 0..=6usize,
        steps in 0..=12usize,
        carry in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(&format!("resets {seed}"));
        let padding = if carry { Padding::CarryLastOutput } else { Padding::Zero };
        let rnn = rng.parameters(Rnn::new(LstmCell::<2, 3, f64>::zeros()), 0.7).padding(padding);
        let sequences = draw(&mut rng, batch, steps);
        check_pieces(&rnn, &sequences, &mut rng);
    }
}

// ------------------------------------------------------------- the static unroll's resets

/// `T` steps with resets drawn from `rng`, static against dynamic: the forward's outputs and
/// state, and the backward's gradients, bit for bit.
fn check_static_against_dynamic<const T: usize>(rnn: &Lstm, rng: &mut Rng) {
    let xs: [X; T] = core::array::from_fn(|_| rng.value());
    let resets: [bool; T] = core::array::from_fn(|_| rng.next() < -0.4);
    let s0: S = rng.value();
    let case = format!("T = {T}, resets {resets:?}");

    let fixed = rnn.unroll_with_resets(&xs, &resets, s0.clone(), &());
    let run = rnn
        .run_with_resets(&xs, Mask::All, &resets, s0.clone(), &())
        .unwrap();
    assert_eq!(
        bits(&flat_all(&fixed.outputs)),
        bits(&flat_all(&run.outputs)),
        "{case}: outputs"
    );
    assert_eq!(bits(&flat(&fixed.state)), bits(&flat(&run.state)), "{case}");

    let mut tape = UnrolledTape::new();
    let taped = rnn.unroll_taped_with_resets(&xs, &resets, s0.clone(), &(), &mut tape);
    let mut dynamic = Tape::new();
    let run = rnn
        .run_taped_with_resets(&xs, Mask::All, &resets, s0.clone(), &(), &mut dynamic)
        .unwrap();
    assert_eq!(
        bits(&flat_all(&taped.outputs)),
        bits(&flat_all(&run.outputs)),
        "{case}: taped outputs"
    );
    assert_eq!(bits(&flat(&taped.state)), bits(&flat(&run.state)), "{case}");

    let d_outputs: [Y; T] = core::array::from_fn(|_| rng.value());
    let d_state: S = rng.value();
    let grads = rnn
        .backward_unrolled(&tape, &xs, &d_outputs, d_state.clone(), &())
        .unwrap();
    let expected = rnn
        .backward(&dynamic, &xs, &d_outputs, d_state, &())
        .unwrap();
    let pairs = [
        (
            "parameters",
            parameters(&grads.parameters),
            parameters(&expected.parameters),
        ),
        (
            "inputs",
            flat_all(&grads.inputs),
            flat_all(&expected.inputs),
        ),
        (
            "initial state",
            flat(&grads.initial_state),
            flat(&expected.initial_state),
        ),
        (
            "reset state",
            flat(&grads.reset_state),
            flat(&expected.reset_state),
        ),
    ];
    for (what, found, expected) in pairs {
        assert_eq!(bits(&found), bits(&expected), "{case}: {what}' gradients");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random resets in the static unroll of a few lengths, in every direction, with and
    /// without dropout: the dynamic loop's bits.
    #[test]
    fn the_static_unroll_with_resets_is_the_dynamic_loop_with_resets(
        direction in prop_oneof![
            Just(Direction::Forward),
            Just(Direction::GoBackwards),
            Just(Direction::Reversed),
        ],
        dropout in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(&format!("static resets {seed}"));
        let mut rnn = rng.parameters(Rnn::new(LstmCell::<2, 3, f64>::zeros()), 0.7)
            .direction(direction);
        if dropout {
            let rates = Dropout { rate: 0.25, recurrent_rate: 0.5, seed };
            rnn = rnn.dropout(rates).unwrap();
        }
        check_static_against_dynamic::<0>(&rnn, &mut rng);
        check_static_against_dynamic::<1>(&rnn, &mut rng);
        check_static_against_dynamic::<7>(&rnn, &mut rng);
        check_static_against_dynamic::<12>(&rnn, &mut rng);
    }
}

// ---------------------------------------------------------------------- central differences

/// A weighted sum of the outputs and the final state: every adjoint is non-trivial.
fn weigh(w: &(Vec<Y>, S), outputs: &[Y], state: &S) -> f64 {
    outputs
        .iter()
        .zip(&w.0)
        .map(|(y, w)| dot(y, w))
        .sum::<f64>()
        + dot(state, &w.1)
}

const MASK: [bool; 7] = [true, true, false, true, true, true, false];
const RESETS: [bool; 7] = [false, true, true, false, false, true, false];

#[test]
fn gradients_through_resets_match_central_differences() {
    let configurations = [
        (Padding::CarryLastOutput, Direction::Forward),
        (Padding::Zero, Direction::Forward),
        (Padding::CarryLastOutput, Direction::GoBackwards),
        (Padding::Zero, Direction::Reversed),
    ];
    for (padding, direction) in configurations {
        let case = format!("resets, lstm, a masked reset step, {padding:?}, {direction:?}");
        let mut rng = Rng::new(&case);
        let rnn = rng
            .parameters(Rnn::new(LstmCell::<2, 3, f64>::zeros()), 0.7)
            .padding(padding)
            .direction(direction);
        let xs: Vec<X> = rng.values(MASK.len());
        let s0: S = rng.value();
        let w: (Vec<Y>, S) = (rng.values(MASK.len()), rng.value());
        let mut tape = Tape::new();
        rnn.run_taped_with_resets(&xs, &MASK, &RESETS, s0.clone(), &(), &mut tape)
            .unwrap();
        assert_eq!(tape.resets(), 3);
        let grads = rnn.backward(&tape, &xs, &w.0, w.1.clone(), &()).unwrap();
        check_sequence_gradients(&case, (&rnn, &xs, &s0), &grads, |rnn, xs, s0| {
            let run = rnn
                .run_with_resets(xs, &MASK, &RESETS, s0.clone(), &())
                .unwrap();
            weigh(&w, &run.outputs, &run.state)
        });
    }
}

#[test]
fn batch_gradients_through_resets_match_central_differences() {
    let case = "resets, lstm, a ragged batch";
    let mut rng = Rng::new(case);
    let rnn: Lstm = rng.parameters(Rnn::new(LstmCell::zeros()), 0.7);
    let xs: Vec<Vec<X>> = [7, 4, 3].iter().map(|&t| rng.values(t)).collect();
    let masks = [Mask::Steps(&MASK), Mask::Length(3), Mask::All];
    let resets = vec![
        RESETS.to_vec(),
        vec![true, false, false, true],
        vec![false; 3],
    ];
    let s0: Vec<S> = rng.values(3);
    let w: Vec<(Vec<Y>, S)> = xs
        .iter()
        .map(|x| (rng.values(x.len()), rng.value()))
        .collect();
    let loss = |rnn: &Lstm, xs: &[Vec<X>], s0: &[S]| {
        let batch = Batch::new(xs)
            .masks(&masks)
            .resets(&resets)
            .initial_states(s0);
        let run = rnn.run_batch(&batch, &()).unwrap();
        (0..xs.len())
            .map(|b| weigh(&w[b], &run.outputs[b], &run.states[b]))
            .sum()
    };
    let batch = Batch::new(&xs)
        .masks(&masks)
        .resets(&resets)
        .initial_states(&s0);
    let mut tape = BatchTape::new();
    rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    let d_outputs: Vec<Vec<Y>> = w.iter().map(|w| w.0.clone()).collect();
    let d_states: Vec<S> = w.iter().map(|w| w.1.clone()).collect();
    let grads = rnn
        .backward_batch(&tape, &batch, &d_outputs, &d_states, &())
        .unwrap();
    check_batch_gradients(case, (&rnn, &xs, &s0), &grads, loss);
}

/// A stream's resets return to the stream's initial state, not to the chunk's start: the
/// two adjoints come apart.
#[test]
fn a_stateful_chunk_with_resets_matches_central_differences() {
    let case = "resets, lstm, a stateful chunk";
    let mut rng = Rng::new(case);
    let rnn: Lstm = rng.parameters(Rnn::new(LstmCell::zeros()), 0.7);
    let (first, second): (Vec<X>, Vec<X>) = (rng.values(3), rng.values(MASK.len()));
    let stream_initial: S = rng.value();
    let w: (Vec<Y>, S) = (rng.values(MASK.len()), rng.value());

    let mut stream = rnn
        .clone()
        .stateful(())
        .with_initial_state(stream_initial.clone());
    stream.feed(&first);
    let carried = stream.state().clone();
    let mut tape = Tape::new();
    stream
        .feed_taped_with_resets(&second, &MASK, &RESETS, &mut tape)
        .unwrap();
    let grads = stream
        .backward_chunk(&tape, &second, &w.0, w.1.clone())
        .unwrap();

    // The chunk as a function of the state it starts from and of the stream's initial state.
    let chunk = |start: &S, reset_to: &S| {
        let mut stream = rnn
            .clone()
            .stateful(())
            .with_initial_state(reset_to.clone());
        stream.set_state(start.clone());
        let ys = stream.feed_with_resets(&second, &MASK, &RESETS).unwrap();
        weigh(&w, &ys, stream.state())
    };
    let mut check = Check::new(case);
    check.against(
        "chunk's start",
        &indices("s", 6),
        &flat(&carried),
        &flat(&grads.initial_state),
        |v| chunk(&gradcheck::unflat(v), &stream_initial),
    );
    check.against(
        "stream's initial state",
        &indices("s0", 6),
        &flat(&stream_initial),
        &flat(&grads.reset_state),
        |v| chunk(&carried, &gradcheck::unflat(v)),
    );
    check.report();
}
