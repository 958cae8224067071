//! Sequence semantics: DESIGN.md's table row by row, masks of any pattern, lengths, padding
//! policies, reverse, all states, data-derived masks, seed 002, and bad input.

use std::cell::Cell as Counter;

use proptest::prelude::*;
use rnn::cells::Embedding;
use rnn::cells::GruCell;
use rnn::ops::Activation;
use rnn::prelude::*;
use rnn::{Direction, Mask, Masking, Padding, Run, SequenceError, ShapeError, ShapeErrorKind};

/// `s' = s + x`, `y = 10 s'`: DESIGN.md's canonical cell.
#[cell]
fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    *s += x;
    *s * 10.0
}

fn v1(x: f32) -> SVector<f32, 1> {
    SVector::from([x])
}

fn seq(xs: &[f32]) -> Vec<SVector<f32, 1>> {
    xs.iter().map(|&x| v1(x)).collect()
}

fn ys(run: &Run<SVector<f32, 1>, SVector<f32, 1>>) -> Vec<f32> {
    run.outputs.iter().map(|y| y[0]).collect()
}

/// DESIGN.md's input `[1, 2, pad, pad]`; the pad value is one that would show if it were read.
fn table_input() -> Vec<SVector<f32, 1>> {
    seq(&[1.0, 2.0, 100.0, 100.0])
}

const MASK_1100: [bool; 4] = [true, true, false, false];

/// The canonical cell, counting its calls.
#[derive(Default)]
struct Counting {
    calls: Counter<usize>,
}

#[cell(inference)]
impl Counting {
    fn step(
        &self,
        #[input] x: &SVector<f32, 1>,
        #[state] s: &mut SVector<f32, 1>,
    ) -> SVector<f32, 1> {
        self.calls.set(self.calls.get() + 1);
        *s += x;
        *s * 10.0
    }
}

// ---- DESIGN.md's table ------------------------------------------------------------------

#[test]
fn table_row_1_lengths_2_or_mask_1100_with_zero_padding() {
    let rnn = Rnn::new(Accumulate).padding(Padding::Zero);
    let by_length = rnn
        .run_masked(&table_input(), Mask::Length(2), &())
        .unwrap();
    let by_mask = rnn.run_masked(&table_input(), &MASK_1100, &()).unwrap();
    for run in [by_length, by_mask] {
        assert_eq!(ys(&run), [10.0, 30.0, 0.0, 0.0]);
        assert_eq!(run.state[0], 3.0);
    }
}

#[test]
fn table_row_2_mask_1100_carrying_the_last_output() {
    let rnn = Rnn::new(Accumulate).padding(Padding::CarryLastOutput);
    let run = rnn.run_masked(&table_input(), &MASK_1100, &()).unwrap();
    assert_eq!(ys(&run), [10.0, 30.0, 30.0, 30.0]);
    assert_eq!(run.state[0], 3.0);
    // Keras's default is the carry policy.
    let default = Rnn::new(Accumulate).run_masked(&table_input(), &MASK_1100, &());
    assert_eq!(default.unwrap(), run);
}

#[test]
fn table_row_3_go_backwards_mask_1100_outputs_in_processing_order() {
    for padding in [Padding::CarryLastOutput, Padding::Zero] {
        let rnn = Rnn::new(Accumulate).padding(padding).go_backwards(true);
        let run = rnn.run_masked(&table_input(), &MASK_1100, &()).unwrap();
        assert_eq!(ys(&run), [0.0, 0.0, 20.0, 30.0], "{padding:?}");
        assert_eq!(run.state[0], 3.0);
    }
}

#[test]
fn table_row_4_bidirectional_right_padding_backward_half_time_aligned() {
    for padding in [Padding::CarryLastOutput, Padding::Zero] {
        let bi = rnn::Bidirectional::new(Accumulate, Accumulate)
            .merge_mode(rnn::NoMerge)
            .padding(padding);
        for mask in [Mask::Length(2), Mask::Steps(&MASK_1100)] {
            let run = bi
                .run_masked(&table_input(), mask, rnn::Both::new(&(), &()))
                .unwrap();
            let (_, backward) = run.outputs.unzip();
            let backward: Vec<f32> = backward.iter().map(|y| y[0]).collect();
            assert_eq!(backward, [30.0, 20.0, 0.0, 0.0], "{padding:?} {mask:?}");
            assert_eq!(run.state.backward[0], 3.0);
        }
    }
}

// ---- masks, lengths, padding --------------------------------------------------------------

#[test]
fn carried_output_is_the_previous_output_never_the_state_and_zero_before_any_valid_step() {
    // Left padding and holes: output 10 s' differs from the state s', so carrying the state
    // (keras#11472) would show.
    let xs = seq(&[7.0, 7.0, 1.0, 7.0, 2.0, 7.0]);
    let mask = [false, false, true, false, true, false];
    let run = Rnn::new(Accumulate).run_masked(&xs, &mask, &()).unwrap();
    assert_eq!(ys(&run), [0.0, 0.0, 10.0, 10.0, 30.0, 30.0]);
    assert_eq!(run.state[0], 3.0);
    let zero = Rnn::new(Accumulate).padding(Padding::Zero);
    let run = zero.run_masked(&xs, &mask, &()).unwrap();
    assert_eq!(ys(&run), [0.0, 0.0, 10.0, 0.0, 30.0, 0.0]);
    assert_eq!(run.state[0], 3.0);
}

#[test]
fn masked_steps_never_call_the_cell() {
    let cell = Counting::default();
    let rnn = Rnn::new(&cell);
    let xs = seq(&[1.0, 5.0, 2.0, 5.0, 5.0]);
    let run = rnn
        .run_masked(&xs, &[true, false, true, false, false], &())
        .unwrap();
    assert_eq!(cell.calls.get(), 2);
    assert_eq!(run.state[0], 3.0);
    cell.calls.set(0);
    rnn.run_masked(&xs, Mask::Length(1), &()).unwrap();
    assert_eq!(cell.calls.get(), 1);
    cell.calls.set(0);
    let backwards = Rnn::new(&cell).go_backwards(true);
    let run = backwards.run_masked(&xs, Mask::Length(3), &()).unwrap();
    assert_eq!(cell.calls.get(), 3);
    assert_eq!(run.state[0], 8.0);
}

#[test]
fn zero_valid_steps_return_the_initial_state() {
    let rnn = Rnn::new(Accumulate).padding(Padding::Zero);
    let xs = seq(&[1.0, 2.0, 3.0]);
    for mask in [Mask::Length(0), Mask::Steps(&[false; 3])] {
        for direction in [
            Direction::Forward,
            Direction::GoBackwards,
            Direction::Reversed,
        ] {
            let run = Rnn::new(Accumulate)
                .direction(direction)
                .run_masked_from(&xs, mask, v1(7.0), &())
                .unwrap();
            assert_eq!(run.state[0], 7.0);
            assert_eq!(
                ys(&run),
                [0.0; 3],
                "{direction:?}: zero before any valid step"
            );
        }
    }
    let empty: [SVector<f32, 1>; 0] = [];
    let run = rnn
        .run_masked_from(&empty, Mask::Length(0), v1(7.0), &())
        .unwrap();
    assert!(run.outputs.is_empty());
    assert_eq!(run.state[0], 7.0);
}

#[test]
fn all_valid_masks_equal_the_plain_run_bit_for_bit() {
    let xs = seq(&[0.3, -1.2, 2.5, 0.01]);
    let plain = Rnn::new(Accumulate).run(&xs, &());
    let rnn = Rnn::new(Accumulate);
    assert_eq!(rnn.run_masked(&xs, Mask::All, &()).unwrap(), plain);
    assert_eq!(rnn.run_masked(&xs, Mask::Length(4), &()).unwrap(), plain);
    assert_eq!(rnn.run_masked(&xs, &[true; 4], &()).unwrap(), plain);
}

// ---- reverse ------------------------------------------------------------------------------

#[test]
fn go_backwards_with_lengths_reverses_only_the_valid_prefix() {
    // tf.reverse_sequence: [1, 2, pad, pad] with length 2 reads 2 then 1; padding stays last.
    let zero = Rnn::new(Accumulate)
        .padding(Padding::Zero)
        .go_backwards(true);
    let run = zero
        .run_masked(&table_input(), Mask::Length(2), &())
        .unwrap();
    assert_eq!(ys(&run), [20.0, 30.0, 0.0, 0.0]);
    assert_eq!(run.state[0], 3.0);
    let carry = Rnn::new(Accumulate).go_backwards(true);
    let run = carry
        .run_masked(&table_input(), Mask::Length(2), &())
        .unwrap();
    assert_eq!(ys(&run), [20.0, 30.0, 30.0, 30.0]);
    // The time-aligned reverse puts each output at its input's time.
    let aligned = Rnn::new(Accumulate).direction(Direction::Reversed);
    let run = aligned
        .run_masked(&table_input(), Mask::Length(2), &())
        .unwrap();
    assert_eq!(ys(&run), [30.0, 20.0, 0.0, 0.0]);
}

#[test]
fn unmasked_reverse_reads_last_to_first_in_every_driver() {
    let xs = seq(&[1.0, 2.0, 3.0]);
    let go_backwards = Rnn::new(Accumulate).go_backwards(true);
    assert_eq!(ys(&go_backwards.run(&xs, &())), [30.0, 50.0, 60.0]);
    let fixed = go_backwards.unroll(&[v1(1.0), v1(2.0), v1(3.0)], &());
    assert_eq!(fixed.outputs.map(|y| y[0]), [30.0, 50.0, 60.0]);
    assert_eq!(fixed.state[0], 6.0);
    let reversed = Rnn::new(Accumulate).direction(Direction::Reversed);
    assert_eq!(ys(&reversed.run(&xs, &())), [60.0, 50.0, 30.0]);
    let fixed = reversed.unroll(&[v1(1.0), v1(2.0), v1(3.0)], &());
    assert_eq!(fixed.outputs.map(|y| y[0]), [60.0, 50.0, 30.0]);
    // An iterator of owned inputs works backwards too.
    let run = go_backwards.run((1..=3).map(|i| v1(i as f32)), &());
    assert_eq!(ys(&run), [30.0, 50.0, 60.0]);
    // Back to forward.
    let forward = Rnn::new(Accumulate).go_backwards(true).go_backwards(false);
    assert_eq!(ys(&forward.run(&xs, &())), [10.0, 30.0, 60.0]);
}

/// An Elman cell with arbitrary weights: the "random cell" of the property tests.
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
    ) -> SVector<f32, 4> {
        *h = (self.w * x + self.u * *h + self.b).map(f32::tanh);
        *h
    }
}

fn elman(weights: &[f32]) -> Elman {
    let mut it = weights.iter().copied().cycle();
    Elman {
        w: SMatrix::from_fn(|_, _| it.next().unwrap()),
        u: SMatrix::from_fn(|_, _| it.next().unwrap()),
        b: SVector::from_fn(|_, _| it.next().unwrap()),
    }
}

/// tf.reverse_sequence along the first `len` steps.
fn reverse_sequence<T: Clone>(xs: &[T], len: usize) -> Vec<T> {
    let mut out = xs.to_vec();
    out[..len].reverse();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// go_backwards with a length is dynamic_rnn over reverse_sequence(x); the time-aligned
    /// reverse is reverse_sequence of that (tf.nn.bidirectional_dynamic_rnn's backward half).
    #[test]
    fn reverse_with_lengths_is_reverse_sequence_around_a_forward_run(
        weights in prop::collection::vec(-1.5f32..1.5, 32),
        xs in prop::collection::vec(prop::array::uniform3(-3.0f32..3.0), 0..24),
        len in 0usize..24,
    ) {
        let cell = elman(&weights);
        let xs: Vec<SVector<f32, 3>> = xs.into_iter().map(SVector::from).collect();
        let len = len.min(xs.len());
        let zero = |d| Rnn::new(&cell).padding(Padding::Zero).direction(d);
        let reference = zero(Direction::Forward)
            .run_masked(&reverse_sequence(&xs, len), Mask::Length(len), &())
            .unwrap();
        let backwards = zero(Direction::GoBackwards).run_masked(&xs, Mask::Length(len), &()).unwrap();
        prop_assert_eq!(&backwards, &reference);
        let aligned = zero(Direction::Reversed).run_masked(&xs, Mask::Length(len), &()).unwrap();
        prop_assert_eq!(aligned.outputs.into_vec(), reverse_sequence(&reference.outputs, len));
        prop_assert_eq!(aligned.state, reference.state);
    }

    /// A mask with holes equals running the valid steps alone, their outputs put back in place.
    #[test]
    fn a_mask_equals_a_run_over_its_valid_steps(
        weights in prop::collection::vec(-1.5f32..1.5, 32),
        steps in prop::collection::vec((prop::array::uniform3(-3.0f32..3.0), any::<bool>()), 0..24),
        go_backwards in any::<bool>(),
    ) {
        let cell = elman(&weights);
        let xs: Vec<SVector<f32, 3>> = steps.iter().map(|(x, _)| SVector::from(*x)).collect();
        let mask: Vec<bool> = steps.iter().map(|(_, m)| *m).collect();
        let order: Vec<usize> = if go_backwards {
            (0..xs.len()).rev().collect()
        } else {
            (0..xs.len()).collect()
        };
        let valid: Vec<SVector<f32, 3>> = order.iter().filter(|&&t| mask[t]).map(|&t| xs[t]).collect();
        let reference = Rnn::new(&cell).run(&valid, &());
        let run = Rnn::new(&cell).go_backwards(go_backwards).run_masked(&xs, &mask, &()).unwrap();
        let mut expected = Vec::new();
        let (mut next, mut last) = (0, SVector::<f32, 4>::zeros());
        for &t in &order {
            if mask[t] {
                last = reference.outputs[next];
                next += 1;
            }
            expected.push(last);
        }
        prop_assert_eq!(run.outputs.into_vec(), expected);
        prop_assert_eq!(run.state, reference.state);
    }
}

// ---- all states ---------------------------------------------------------------------------

/// An LSTM-shaped cell: two states, `h` and `c`; the output is `h`.
#[cell]
fn two_state(#[input] x: &f32, #[state] h: &mut f32, #[state] c: &mut f32) -> f32 {
    *c += x;
    *h = 0.5 * *c;
    *h
}

#[test]
fn all_states_returns_the_state_of_every_step() {
    let rnn = Rnn::new(TwoState).return_all_states();
    let run = rnn.run([1.0, 2.0, 3.0], &());
    let (hs, states) = run.outputs.unzip();
    assert_eq!(hs.into_vec(), [0.5, 1.5, 3.0]);
    let cs: Vec<f32> = states.iter().map(|s| s.c).collect();
    assert_eq!(cs, [1.0, 3.0, 6.0]);
    assert_eq!(run.state.c, 6.0);
    // With a mask, the carried state is the state after the last valid step.
    let run = rnn
        .run_masked(&[1.0, 9.0, 2.0], &[true, false, true], &())
        .unwrap();
    let (_, states) = run.outputs.unzip();
    let cs: Vec<f32> = states.iter().map(|s| s.c).collect();
    assert_eq!(cs, [1.0, 1.0, 3.0]);
    // The static unroll, too.
    let fixed = Rnn::new(TwoState)
        .return_all_states()
        .unroll(&[1.0, 2.0], &());
    assert_eq!(fixed.outputs.map(|(_, s)| s.c), [1.0, 3.0]);
}

// ---- stateful, masked ---------------------------------------------------------------------

#[test]
fn stateful_masked_chunks_equal_one_masked_run() {
    let xs = seq(&[1.0, 9.0, 2.0, 9.0, 9.0, 3.0, 9.0]);
    let mask = [true, false, true, false, false, true, false];
    for padding in [Padding::CarryLastOutput, Padding::Zero] {
        let whole = Rnn::new(Accumulate)
            .padding(padding)
            .run_masked(&xs, &mask, &())
            .unwrap();
        // The second chunk starts padded: the carried output crosses the chunk boundary.
        let mut stream = Rnn::new(Accumulate).padding(padding).stateful(());
        let mut all = Vec::new();
        for (chunk, m) in xs.chunks(3).zip(mask.chunks(3)) {
            all.extend(stream.feed_masked(chunk, m).unwrap());
        }
        assert_eq!(all, whole.outputs.into_vec(), "{padding:?}");
        assert_eq!(*stream.state(), whole.state);
        assert!(stream.feed_masked(&xs[..2], &mask[..3]).is_err());
        assert_eq!(
            *stream.state(),
            whole.state,
            "a rejected chunk changes nothing"
        );
    }
}

// ---- data-derived masks -------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Nested)]
struct Features {
    a: SVector<f32, 2>,
    b: f32,
}

#[test]
fn masking_compares_every_scalar_of_a_nested_input() {
    let masking = Masking::new(0.37);
    let all = Features {
        a: SVector::from([0.37, 0.37]),
        b: 0.37,
    };
    let one_differs = Features {
        a: SVector::from([0.37, 0.37]),
        b: 0.0,
    };
    assert!(masking.is_padding(&all));
    assert!(!masking.is_padding(&one_differs));
    assert_eq!(
        masking.compute_mask(&[one_differs.clone(), all.clone()]),
        [true, false]
    );
    assert_eq!(
        masking.apply(&[one_differs.clone(), all])[1],
        Features::zeros()
    );
    // f64 leaves compare in f64.
    assert!(Masking::new(0.37).is_padding(&0.37f64));
    assert!(!Masking::new(0.37).is_padding(&(0.37f32 as f64)));
}

#[test]
fn embedding_with_mask_zero_masks_token_zero() {
    let emb = Embedding::<3, 2>::from_f32_slice(&[0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
        .unwrap()
        .mask_zero(true);
    let tokens = [2, 0, 1, 0];
    let xs = emb.forward(&tokens).unwrap();
    assert_eq!(
        xs,
        [[2.0, 2.5], [0.0, 0.5], [1.0, 1.5], [0.0, 0.5]].map(SVector::from)
    );
    let mask = emb.compute_mask(&tokens);
    assert_eq!(mask, [true, false, true, false]);
    assert_eq!(
        Embedding::<3, 2>::zeros().compute_mask(&tokens),
        [true; 4],
        "without mask_zero every token is data"
    );
    assert_eq!(
        emb.forward(&[1, 7, 9]),
        Err(SequenceError::TokenOutOfRange {
            sequence: 0,
            step: 1,
            vocabulary: 3,
            found: 7
        })
    );
    assert_eq!(
        Embedding::<3, 2>::from_f32_slice(&[1.0; 5]),
        Err(ShapeError {
            what: "embedding weights [V, D]",
            expected: 6,
            found: 5,
            kind: ShapeErrorKind::Scalars,
        })
    );
}

// ---- seed 002 -----------------------------------------------------------------------------

#[test]
fn seed_002_no_mask_keras_mask_and_dynamic_rnn_lengths() {
    // Seed 002's layer: GRU(1, activation None, recurrent_activation None, kernel ones,
    // recurrent kernel zeros, bias ones, reset_after False).
    let gru = GruCell::<2, 1>::from_keras(&[1.0; 6], &[0.0; 3], Some(&[1.0; 3]))
        .unwrap()
        .with_activation(Activation::Linear)
        .with_recurrent_activation(Activation::Linear);
    let embedding = Embedding::<3, 2>::from_f32_slice(&[0.37, 0.37, 1.0, 1.0, 2.0, 2.0]).unwrap();
    let masking = Masking::new(0.37);
    let expected: [[[f32; 5]; 3]; 2] = [
        [
            [-6.0, -50.0, -156.0, -272.7276, -475.83362],
            [-6.0, -50.0, -156.0, -156.0, -156.0],
            [-6.0, -50.0, -156.0, 0.0, 0.0],
        ],
        [
            [-1.2876, -9.862801, -69.314, -213.94202, -373.54672],
            [0.0, -6.0, -50.0, -156.0, -156.0],
            [0.0, -6.0, -50.0, -156.0, 0.0],
        ],
    ];
    let tokens = [[1, 2, 1, 0, 0], [0, 1, 2, 1, 0]];
    let lengths = [3, 4];
    for b in 0..2 {
        let xs = embedding.forward(&tokens[b]).unwrap();
        let mask = masking.compute_mask(&xs);
        let masked = masking.apply(&xs);
        let rows = [
            Rnn::new(&gru).run(&xs, &()),
            Rnn::new(&gru).run_masked(&masked, &mask, &()).unwrap(),
            Rnn::new(&gru)
                .padding(Padding::Zero)
                .run_masked(&masked, Mask::Length(lengths[b]), &())
                .unwrap(),
        ];
        for (row, want) in rows.iter().zip(&expected[b]) {
            let got: Vec<f32> = row.outputs.iter().map(|y| y[0]).collect();
            assert_eq!(got, want, "sequence {b}");
        }
    }
}

// ---- bad input ----------------------------------------------------------------------------

#[test]
fn bad_masks_are_typed_errors_and_nothing_is_computed() {
    let cell = Counting::default();
    let rnn = Rnn::new(&cell);
    let xs = seq(&[1.0, 2.0, 3.0]);
    assert_eq!(
        rnn.run_masked(&xs, &[true, false], &()),
        Err(SequenceError::MaskLength {
            sequence: 0,
            expected: 3,
            found: 2
        })
    );
    assert_eq!(
        rnn.run_masked_from(&xs, Mask::Length(4), v1(0.0), &()),
        Err(SequenceError::LengthAboveSteps {
            sequence: 0,
            steps: 3,
            found: 4
        })
    );
    assert_eq!(cell.calls.get(), 0);
    let err = rnn.run_masked(&xs, Mask::Length(9), &()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sequence 0: length 9 is above the sequence's 3 timesteps"
    );
    let bi = rnn::Bidirectional::new(&cell, &cell);
    let result = bi.run_masked(&xs, &[true; 4], &());
    assert_eq!(
        result.unwrap_err(),
        SequenceError::MaskLength {
            sequence: 0,
            expected: 3,
            found: 4
        }
    );
    assert_eq!(cell.calls.get(), 0);
}
