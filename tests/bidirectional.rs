//! Bidirectional: merge modes, time alignment of the backward half, initial and final states.

use proptest::prelude::*;
use rnn::prelude::*;
use rnn::{
    Ave, Batch, Bidirectional, Both, Concat, Direction, Mask, MergeFn, Mul, NoMerge, Padding,
    SequenceError, Sum,
};

/// An Elman cell `h' = tanh(W x + U h + b)` of any width over a 3-wide input.
struct Elman<const H: usize> {
    w: SMatrix<f32, H, 3>,
    u: SMatrix<f32, H, H>,
    b: SVector<f32, H>,
}

#[cell(inference)]
impl<const H: usize> Elman<H> {
    fn step(
        &self,
        #[input] x: &SVector<f32, 3>,
        #[state] h: &mut SVector<f32, H>,
    ) -> SVector<f32, H> {
        *h = (self.w * x + self.u * *h + self.b).map(f32::tanh);
        *h
    }
}

fn elman<const H: usize>(seed: f32) -> Elman<H> {
    let mut k = seed;
    let mut next = move || {
        k += 0.618;
        (k * 7.3).sin()
    };
    Elman {
        w: SMatrix::from_fn(|_, _| next()),
        u: SMatrix::from_fn(|_, _| next() * 0.5),
        b: SVector::from_fn(|_, _| next() * 0.1),
    }
}

fn inputs(n: usize) -> Vec<SVector<f32, 3>> {
    (0..n)
        .map(|t| SVector::from_fn(|i, _| ((t * 3 + i) as f32 * 0.37).cos()))
        .collect()
}

#[test]
fn concat_of_a_10_and_a_6_wide_output_is_a_16_wide_vector() {
    let (f, b) = (elman::<10>(0.0), elman::<6>(1.0));
    let xs = inputs(5);
    let run = Bidirectional::new(&f, &b).run(&xs, &());
    let forward = Rnn::new(&f).run(&xs, &());
    let backward = Rnn::new(&b).direction(Direction::Reversed).run(&xs, &());
    for (t, y) in run.outputs.iter().enumerate() {
        assert_eq!(y.len(), 16);
        let y: SVector<f32, 16> = y.to_vector();
        assert_eq!(y.fixed_rows::<10>(0), forward.outputs[t]);
        assert_eq!(y.fixed_rows::<6>(10), backward.outputs[t]);
    }
    // The same bits as Keras lays them out: [forward; backward] per step.
    assert_eq!(run.outputs.to_flat_f32().len(), 5 * 16);
    assert_eq!(run.state, Both::new(forward.state, backward.state));
    // Concat is the default merge mode; the explicit one is the same.
    let explicit = Bidirectional::new(&f, &b).merge_mode(Concat).run(&xs, &());
    assert_eq!(explicit.outputs.into_vec(), run.outputs.into_vec());
}

#[test]
fn sum_mul_ave_combine_step_by_step() {
    let (f, b) = (elman::<4>(0.0), elman::<4>(2.0));
    let xs = inputs(4);
    let forward = Rnn::new(&f).run(&xs, &()).outputs;
    let backward = Rnn::new(&b)
        .direction(Direction::Reversed)
        .run(&xs, &())
        .outputs;
    let bi = Bidirectional::new(&f, &b);
    let sum = bi.clone().merge_mode(Sum).run(&xs, &());
    let mul = bi.clone().merge_mode(Mul).run(&xs, &());
    let ave = bi.clone().merge_mode(Ave).run(&xs, &());
    let max = bi
        .merge_mode(MergeFn::new(|f: &SVector<f32, 4>, b: &SVector<f32, 4>| {
            f.sup(b)
        }))
        .run(&xs, &());
    for t in 0..4 {
        let (y, z): (SVector<f32, 4>, SVector<f32, 4>) = (forward[t], backward[t]);
        assert_eq!(sum.outputs[t], y + z);
        assert_eq!(mul.outputs[t], y.component_mul(&z));
        assert_eq!(ave.outputs[t], (y + z) * 0.5);
        assert_eq!(max.outputs[t], y.sup(&z));
    }
}

#[test]
fn merge_on_the_canonical_cell_gives_exact_numbers() {
    #[cell]
    fn accumulate(
        #[input] x: &SVector<f32, 1>,
        #[state] s: &mut SVector<f32, 1>,
    ) -> SVector<f32, 1> {
        *s += x;
        *s * 10.0
    }
    let xs = [1.0, 2.0, 3.0].map(|x| SVector::from([x]));
    let bi = Bidirectional::new(Accumulate, Accumulate);
    // forward 10 30 60; backward (time-aligned) 60 50 30.
    let flat = |o: &[SVector<f32, 1>]| o.iter().map(|y| y[0]).collect::<Vec<_>>();
    assert_eq!(
        flat(&bi.clone().merge_mode(Sum).run(&xs, &()).outputs),
        [70.0, 80.0, 90.0]
    );
    assert_eq!(
        flat(&bi.clone().merge_mode(Mul).run(&xs, &()).outputs),
        [600.0, 1500.0, 1800.0]
    );
    assert_eq!(
        flat(&bi.clone().merge_mode(Ave).run(&xs, &()).outputs),
        [35.0, 40.0, 45.0]
    );
    let concat = bi.run(&xs, &());
    let concat: Vec<[f32; 2]> = concat.outputs.iter().map(|y| [y[0], y[1]]).collect();
    assert_eq!(concat, [[10.0, 60.0], [30.0, 50.0], [60.0, 30.0]]);
}

#[test]
fn no_merge_returns_both_sequences_and_each_direction_has_its_initial_state() {
    let (f, b) = (elman::<3>(0.5), elman::<5>(1.5));
    let xs = inputs(6);
    let mask = [false, true, true, false, true, false];
    let h0 = Both::new(SVector::from([0.1, -0.2, 0.3]), SVector::from([0.5; 5]));
    let bi = Bidirectional::new(&f, &b)
        .merge_mode(NoMerge)
        .padding(Padding::Zero);
    let run = bi.run_masked_from(&xs, &mask, h0, &()).unwrap();
    let (forward, backward) = run.outputs.unzip();
    let f_ref = Rnn::new(&f)
        .padding(Padding::Zero)
        .run_masked_from(&xs, &mask, h0.forward, &())
        .unwrap();
    let b_ref = Rnn::new(&b)
        .padding(Padding::Zero)
        .direction(Direction::Reversed)
        .run_masked_from(&xs, &mask, h0.backward, &())
        .unwrap();
    assert_eq!(forward, f_ref.outputs);
    assert_eq!(backward, b_ref.outputs);
    assert_eq!(run.state, Both::new(f_ref.state, b_ref.state));
    // Zero padding: the masked steps are zero in both halves.
    assert_eq!(forward[3], SVector::<f32, 3>::zeros());
    assert_eq!(backward[5], SVector::<f32, 5>::zeros());
    // The initial states were used: the backward half starts from 0.5, not zeros.
    let from_zero = bi.run_masked(&xs, &mask, &()).unwrap();
    assert_ne!(from_zero.state.backward, run.state.backward);
}

#[test]
fn constants_reach_each_direction() {
    struct Scaled;
    #[cell]
    impl Scaled {
        fn step(&self, #[input] x: &f32, #[state] s: &mut f32, #[constant] k: &f32) -> f32 {
            *s += x * k;
            *s
        }
    }
    let bi = Bidirectional::new(Scaled, Scaled).merge_mode(NoMerge);
    let run = bi.run(&[1.0, 2.0], Both::new(&1.0, &10.0));
    assert_eq!(run.outputs.into_vec(), [(1.0, 30.0), (3.0, 20.0)]);
    assert_eq!(run.state, Both::new(3.0, 30.0));
}

/// One constant shared by both directions is given once, as `&k`.
#[test]
fn a_shared_constant_is_given_once() {
    struct Scaled;
    #[cell]
    impl Scaled {
        fn step(&self, #[input] x: &f32, #[state] s: &mut f32, #[constant] k: &f32) -> f32 {
            *s += x * k;
            *s
        }
    }
    let bi = Bidirectional::new(Scaled, Scaled).merge_mode(Sum);
    assert_eq!(
        bi.run(&[1.0, 2.0], &10.0),
        bi.run(&[1.0, 2.0], Both::new(&10.0, &10.0))
    );
    assert_eq!(bi.run(&[1.0, 2.0], &10.0).state, Both::new(30.0, 30.0));
}

/// The stream's forward half over two chunks is one forward run over both; its backward half
/// starts each chunk from the state the previous chunk left; a mask that does not fit is an
/// error that leaves both states as they were; `reset` returns to the initial states.
#[test]
fn stateful_chunks_continue_each_half() {
    let (f, b) = (elman::<2>(0.5), elman::<3>(-0.5));
    let xs = inputs(7);
    let bi = Bidirectional::new(&f, &b).merge_mode(NoMerge);
    let mut stream = bi.clone().stateful(());
    let first = stream.feed(&xs[..4]);
    let after_first = *stream.state();
    let err = stream.feed_masked(&xs[4..], &[true; 2]).unwrap_err();
    assert_eq!(
        err,
        SequenceError::MaskLength {
            sequence: 0,
            expected: 3,
            found: 2
        }
    );
    assert_eq!(stream.state(), &after_first);
    let second = stream.feed(&xs[4..]);

    let whole = Rnn::new(&f).run(&xs, &());
    let forward: Vec<_> = first.iter().chain(second.iter()).map(|y| y.0).collect();
    assert_eq!(forward, whole.outputs.into_vec());
    assert_eq!(stream.state().forward, whole.state);
    let chunk = |xs: &[SVector<f32, 3>], s0| {
        Rnn::new(&b)
            .direction(Direction::Reversed)
            .run_from(xs, s0, &())
    };
    let backward_first = chunk(&xs[..4], SVector::zeros());
    let backward_second = chunk(&xs[4..], backward_first.state);
    assert_eq!(
        second.iter().map(|y| y.1).collect::<Vec<_>>(),
        backward_second.outputs.into_vec()
    );
    assert_eq!(stream.state().backward, backward_second.state);

    stream.reset();
    assert_eq!(stream.state(), &bi.initial_state(&()));
    assert_eq!(stream.feed(&xs[..4]), first);
}

/// A batch whose masks do not fit is an error naming the sequence, and nothing is computed.
#[test]
fn run_batch_checks_its_masks() {
    let (f, b) = (elman::<2>(0.5), elman::<3>(-0.5));
    let sequences = vec![inputs(3), inputs(2)];
    let bi = Bidirectional::new(&f, &b);
    let err = bi
        .run_batch(&Batch::new(&sequences).lengths(&[3, 3]), &())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sequence 1: length 3 is above the sequence's 2 timesteps"
    );
    let err = bi
        .run_batch(&Batch::new(&sequences).lengths(&[3]), &())
        .unwrap_err();
    assert!(matches!(
        err,
        SequenceError::BatchSize {
            expected: 2,
            found: 1,
            ..
        }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A batch (ragged, any masks, given initial states) is its sequences run one by one,
    /// bit for bit, whatever the merge.
    #[test]
    fn run_batch_is_each_sequence_run_alone(
        seed in -3.0f32..3.0,
        lengths in proptest::collection::vec(0usize..9, 0..6),
        mask_bits in any::<u64>(),
        by_lengths in any::<bool>(),
    ) {
        let (f, b) = (elman::<2>(seed), elman::<3>(seed + 1.0));
        let sequences: Vec<_> = lengths.iter().map(|&n| inputs(n)).collect();
        let steps: Vec<Vec<bool>> = lengths
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|t| mask_bits >> ((i * 9 + t) % 64) & 1 == 1).collect())
            .collect();
        let valid: Vec<usize> = lengths.iter().map(|&n| n / 2).collect();
        let masks: Vec<Mask> = if by_lengths {
            valid.iter().map(|&n| Mask::Length(n)).collect()
        } else {
            steps.iter().map(Mask::from).collect()
        };
        let initial: Vec<_> = lengths
            .iter()
            .map(|&n| Both::new(SVector::repeat(n as f32 * 0.1), SVector::repeat(-0.2)))
            .collect();
        let bi = Bidirectional::new(&f, &b).padding(Padding::Zero);
        let run = bi
            .run_batch(&Batch::new(&sequences).masks(&masks).initial_states(&initial), &())
            .unwrap();
        prop_assert_eq!(run.outputs.len(), sequences.len());
        for (i, xs) in sequences.iter().enumerate() {
            let alone = bi.run_masked_from(xs, masks[i], initial[i], &()).unwrap();
            prop_assert_eq!(&run.outputs[i], &alone.outputs);
            prop_assert_eq!(run.states[i], alone.state);
        }
        let c = elman::<2>(-seed);
        let summed = Bidirectional::new(&f, &c).merge_mode(Sum);
        let run = summed.run_batch(&Batch::new(&sequences).masks(&masks), &()).unwrap();
        for (i, xs) in sequences.iter().enumerate() {
            let alone = summed.run_masked(xs, masks[i], &()).unwrap();
            prop_assert_eq!(&run.outputs[i], &alone.outputs);
        }
    }

    /// The backward half is the go_backwards run of the backward cell, re-aligned to time:
    /// Keras's Bidirectional reverses the backward layer's outputs.
    #[test]
    fn backward_half_is_the_go_backwards_run_realigned(
        seed in -3.0f32..3.0,
        n in 0usize..20,
        mask_bits in any::<u32>(),
        carry in any::<bool>(),
    ) {
        let (f, b) = (elman::<2>(seed), elman::<3>(seed + 1.0));
        let xs = inputs(n);
        let mask: Vec<bool> = (0..n).map(|t| mask_bits >> t & 1 == 1).collect();
        let padding = if carry { Padding::CarryLastOutput } else { Padding::Zero };
        let run = Bidirectional::new(&f, &b)
            .merge_mode(NoMerge)
            .padding(padding)
            .run_masked(&xs, &mask, &())
            .unwrap();
        let (_, backward) = run.outputs.unzip();
        let go_backwards = Rnn::new(&b)
            .padding(padding)
            .go_backwards(true)
            .run_masked(&xs, &mask, &())
            .unwrap();
        let mut realigned = go_backwards.outputs.into_vec();
        realigned.reverse();
        prop_assert_eq!(backward.into_vec(), realigned);
        prop_assert_eq!(run.state.backward, go_backwards.state);
    }

    /// With right padding, the same holds for lengths and their prefix masks.
    #[test]
    fn lengths_and_prefix_masks_agree(seed in -3.0f32..3.0, n in 0usize..12, len in 0usize..12) {
        let len = len.min(n);
        let (f, b) = (elman::<2>(seed), elman::<2>(-seed));
        let xs = inputs(n);
        let prefix: Vec<bool> = (0..n).map(|t| t < len).collect();
        let bi = Bidirectional::new(&f, &b).merge_mode(Sum);
        let by_length = bi.run_masked(&xs, Mask::Length(len), &()).unwrap();
        let by_mask = bi.run_masked(&xs, &prefix, &()).unwrap();
        prop_assert_eq!(by_length, by_mask);
    }
}

// -------------------------------------------------------------------------------- resets

/// Flags that do not fit the sequence are an error naming both counts, and a stream's states
/// are left as they were.
#[test]
fn resets_that_do_not_fit_are_errors_and_change_nothing() {
    let (f, b) = (elman::<2>(0.5), elman::<3>(-0.5));
    let xs = inputs(3);
    let bi = Bidirectional::new(&f, &b);
    let expected = SequenceError::ResetsLength {
        sequence: 0,
        expected: 3,
        found: 2,
    };
    let err = bi
        .run_with_resets(&xs, Mask::All, &[false, true], bi.initial_state(&()), &())
        .unwrap_err();
    assert_eq!(err, expected);
    let mut stream = bi.clone().stateful(());
    stream.feed(&xs);
    let before = *stream.state();
    let err = stream
        .feed_with_resets(&xs, Mask::All, &[true, true])
        .unwrap_err();
    assert_eq!(err, expected);
    assert_eq!(stream.state(), &before);
    let sequences = vec![xs.clone(), inputs(1)];
    let resets = vec![vec![false; 3], vec![true; 2]];
    let err = bi
        .run_batch(&Batch::new(&sequences).resets(&resets), &())
        .unwrap_err();
    assert_eq!(
        err,
        SequenceError::ResetsLength {
            sequence: 1,
            expected: 1,
            found: 2
        }
    );
}

type Pair = (SVector<f32, 2>, SVector<f32, 3>);
type States = Both<SVector<f32, 2>, SVector<f32, 3>>;

/// The bits of every output, to compare `-0.0` and `0.0` apart.
fn output_bits(outputs: &[Pair]) -> Vec<u32> {
    (outputs.iter())
        .flat_map(|(f, b)| f.iter().chain(b.iter()).map(|v| v.to_bits()))
        .collect()
}

fn state_bits(state: &States) -> Vec<u32> {
    (state.forward.iter().chain(state.backward.iter()))
        .map(|v| v.to_bits())
        .collect()
}

/// Where the episodes of `resets` (over `steps` steps) start and end: `[0, r₁, …, T]`.
fn episodes(resets: &[bool]) -> Vec<std::ops::Range<usize>> {
    let mut bounds = vec![0];
    bounds.extend((1..resets.len()).filter(|&t| resets[t]));
    bounds.push(resets.len());
    bounds.windows(2).map(|w| w[0]..w[1]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Resets at random steps of a ragged batch with random masks: the run equals its episodes
    /// run one by one from the initial states, bit for bit (each step's outputs, the forward
    /// state of the last episode, the backward state of the first), in `run_with_resets` and
    /// `run_batch`; and a stream fed in two chunks equals each episode fed its part of each
    /// chunk as a stream of its own, the stream's states those of its last episode.
    #[test]
    fn a_run_with_resets_equals_its_episodes_run_one_by_one(
        seed in -3.0f32..3.0,
        shapes in proptest::collection::vec((0usize..10, any::<u16>(), any::<u16>(), 0usize..10), 0..5),
        carry in any::<bool>(),
    ) {
        let (f, b) = (elman::<2>(seed), elman::<3>(seed + 1.0));
        let padding = if carry { Padding::CarryLastOutput } else { Padding::Zero };
        let bi = Bidirectional::new(&f, &b).merge_mode(NoMerge).padding(padding);
        let sequences: Vec<_> = shapes.iter().map(|&(n, ..)| inputs(n)).collect();
        let resets: Vec<Vec<bool>> = (shapes.iter())
            .map(|&(n, flags, ..)| (0..n).map(|t| flags >> t & 1 == 1).collect())
            .collect();
        let valid: Vec<Vec<bool>> = (shapes.iter())
            .map(|&(n, _, mask, _)| (0..n).map(|t| mask >> t & 1 == 1 || mask % 3 == 0).collect())
            .collect();
        let masks: Vec<Mask> = valid.iter().map(Mask::from).collect();
        let initial: Vec<States> = (shapes.iter())
            .map(|&(n, ..)| Both::new(SVector::repeat(n as f32 * 0.1), SVector::repeat(-0.2)))
            .collect();
        let batch = Batch::new(&sequences).masks(&masks).resets(&resets).initial_states(&initial);
        let run = bi.run_batch(&batch, &()).unwrap();

        for (i, xs) in sequences.iter().enumerate() {
            let pieces: Vec<_> = episodes(&resets[i])
                .into_iter()
                .map(|e| bi.run_masked_from(&xs[e.clone()], &valid[i][e], initial[i], &()).unwrap())
                .collect();
            let outputs: Vec<Pair> = pieces.iter().flat_map(|p| p.outputs.iter().copied()).collect();
            let state = Both::new(
                pieces.last().unwrap().state.forward,
                pieces[0].state.backward,
            );
            prop_assert_eq!(output_bits(&run.outputs[i]), output_bits(&outputs));
            prop_assert_eq!(state_bits(&run.states[i]), state_bits(&state));
            let one = bi.run_with_resets(xs, masks[i], &resets[i], initial[i], &()).unwrap();
            prop_assert_eq!(output_bits(&one.outputs), output_bits(&outputs));
            prop_assert_eq!(state_bits(&one.state), state_bits(&state));

            // A stream in two chunks; each episode a stream of its own, fed its part of each.
            let cut = shapes[i].3.min(xs.len());
            let chunks = [0..cut, cut..xs.len()];
            let mut stream = bi.clone().stateful(()).with_initial_state(initial[i]);
            let mut streamed = Vec::new();
            for chunk in chunks.clone() {
                let ys = stream
                    .feed_with_resets(&xs[chunk.clone()], &valid[i][chunk.clone()], &resets[i][chunk])
                    .unwrap();
                streamed.extend(ys.iter().copied());
            }
            let mut expected = Vec::new();
            for episode in episodes(&resets[i]) {
                let mut alone = bi.clone().stateful(()).with_initial_state(initial[i]);
                for chunk in &chunks {
                    let part = episode.start.max(chunk.start)..episode.end.min(chunk.end);
                    if !part.is_empty() {
                        let ys = alone.feed_masked(&xs[part.clone()], &valid[i][part]).unwrap();
                        expected.extend(ys.iter().copied());
                    }
                }
                // The stream goes on with the last episode: both its states are that one's.
                if episode.end == xs.len() {
                    prop_assert_eq!(state_bits(stream.state()), state_bits(alone.state()));
                }
            }
            prop_assert_eq!(output_bits(&streamed), output_bits(&expected));
        }
    }
}
