//! The drivers' backward passes against central differences in `f64`: batches (mixed masks,
//! lengths and initial states), stacked cells, every merge of `Bidirectional`, and truncated
//! backpropagation through a stateful stream; and the batch's gradients bit-reproducible on
//! a given number of threads.

mod gradcheck;

use gradcheck::{
    check_batch_gradients, check_sequence_gradients, dot, flat, flat_all, indices, parameter_names,
    parameters, set_parameters, unflat, unflat_all, Check, Rng,
};
use rnn::cells::{Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn::nalgebra::{SMatrix, SVector};
use rnn::train::{
    BackwardError, BatchTape, BidirectionalBatchTape, BidirectionalTape, Differentiable,
    MergeAdjoint,
};
use rnn::{cell, ops, Real};
use rnn::{
    nalgebra, Ave, Batch, Bidirectional, Both, Direction, Mask, Mul, Nested, NoMerge, Padding,
    Resets, Rnn, SequenceError, Sum,
};

// ---------------------------------------------------------------------------------- batches

/// Ragged sequences with every kind of mask: all valid, a length, a hole, leading padding,
/// nothing valid.
const LENGTHS: [usize; 5] = [5, 3, 4, 5, 2];
const BATCH_MASKS: [Mask<'static>; 5] = [
    Mask::All,
    Mask::Length(2),
    Mask::Steps(&[true, false, true, true]),
    Mask::Steps(&[false, false, true, true, true]),
    Mask::Length(0),
];

fn check_batch<C>(name: &str, cell: C)
where
    C: Differentiable<Constants = ()> + Clone + Send + Sync,
    C::Input: Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Residual: Send + Sync,
{
    let mut tape = BatchTape::new();
    for (direction, padding) in [
        (Direction::Forward, Padding::CarryLastOutput),
        (Direction::GoBackwards, Padding::Zero),
        (Direction::Reversed, Padding::CarryLastOutput),
    ] {
        let case = format!("batch {name} {direction:?} {padding:?}");
        let mut rng = Rng::new(&case);
        let rnn = rng.parameters(Rnn::new(cell.clone()), 0.5);
        let rnn = rnn
            .direction(direction)
            .padding(padding)
            .batched_kernel(false);
        let xs: Vec<Vec<C::Input>> = LENGTHS.iter().map(|&t| rng.values(t)).collect();
        let initial: Vec<C::State> = rng.values(LENGTHS.len());
        let w_outputs: Vec<Vec<C::Output>> = LENGTHS.iter().map(|&t| rng.values(t)).collect();
        let w_states: Vec<C::State> = rng.values(LENGTHS.len());
        let loss = |rnn: &Rnn<C>, xs: &[Vec<C::Input>], initial: &[C::State]| {
            let batch = Batch::new(xs).masks(&BATCH_MASKS).initial_states(initial);
            let run = rnn.run_batch(&batch, &()).unwrap();
            let mut loss = 0.0;
            for b in 0..xs.len() {
                loss += run.outputs[b]
                    .iter()
                    .zip(&w_outputs[b])
                    .map(|(y, w)| dot(y, w))
                    .sum::<f64>();
                loss += dot(&run.states[b], &w_states[b]);
            }
            loss
        };

        let batch = Batch::new(&xs).masks(&BATCH_MASKS).initial_states(&initial);
        let run = rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
        assert_eq!(run, rnn.run_batch(&batch, &()).unwrap(), "{case}: forward");
        let grads = rnn
            .backward_batch(&tape, &batch, &w_outputs, &w_states, &())
            .unwrap();

        check_batch_gradients(&case, (&rnn, &xs, &initial), &grads, loss);
    }
}

#[test]
fn batch_of_lstm() {
    check_batch("lstm", LstmCell::<3, 4, f64>::zeros());
}

#[test]
fn batch_of_gru() {
    check_batch("gru", GruCell::<3, 4, f64>::zeros());
}

/// The batch's parameter gradients, as bits, from two runs in a pool of `threads` threads.
fn batch_gradient_bits(threads: usize) -> [Vec<u64>; 2] {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut rng = Rng::new("reproducible batch");
    let rnn = rng
        .parameters(Rnn::new(LstmCell::<6, 8>::zeros()), 0.5)
        .batched_kernel(false);
    let lengths = [7, 3, 9, 1, 6, 8, 2, 5, 9, 4, 7];
    let xs: Vec<Vec<nalgebra::SVector<f32, 6>>> = lengths.iter().map(|&t| rng.values(t)).collect();
    let w_outputs: Vec<Vec<nalgebra::SVector<f32, 8>>> =
        lengths.iter().map(|&t| rng.values(t)).collect();
    let w_states: Vec<_> = rng.values(lengths.len());
    let batch = Batch::new(&xs);
    pool.install(|| {
        [0, 1].map(|_| {
            let mut tape = BatchTape::new();
            rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
            let grads = rnn
                .backward_batch(&tape, &batch, &w_outputs, &w_states, &())
                .unwrap();
            parameters(&grads.parameters)
                .into_iter()
                .map(f64::to_bits)
                .collect()
        })
    })
}

/// The summed gradients are the same bits from run to run on a given number of threads.
#[test]
fn batch_gradients_are_reproducible_per_thread_count() {
    for threads in [1, 2] {
        let [first, second] = batch_gradient_bits(threads);
        assert_eq!(first, second, "{threads} threads: two runs differ");
        assert!(first.iter().any(|&b| b != 0), "a gradient that is not zero");
    }
}

/// Adjoints that do not fit the tape are an error naming both counts, and nothing computed.
#[test]
fn backward_batch_checks_its_arguments() {
    let rnn = Rnn::new(SimpleRnnCell::<2, 3, f64>::zeros());
    let xs = vec![vec![nalgebra::SVector::<f64, 2>::zeros(); 3]; 2];
    let batch = Batch::new(&xs);
    let mut tape = BatchTape::new();
    rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    let d_states = [nalgebra::SVector::zeros(); 2];
    let d_outputs = vec![vec![nalgebra::SVector::zeros(); 3]; 1];
    assert_eq!(
        rnn.backward_batch(&tape, &batch, &d_outputs, &d_states, &())
            .unwrap_err(),
        BackwardError::Sequence(SequenceError::BatchSize {
            what: "output adjoints",
            expected: 2,
            found: 1
        })
    );
    let d_outputs = vec![
        vec![nalgebra::SVector::zeros(); 3],
        vec![nalgebra::SVector::zeros(); 2],
    ];
    let err = rnn
        .backward_batch(&tape, &batch, &d_outputs, &d_states, &())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "output adjoints: expected 3 steps, found 2"
    );
    let masks = [Mask::Length(4), Mask::All];
    assert!(rnn
        .run_batch_taped(&Batch::new(&xs).masks(&masks), &(), &mut tape)
        .is_err());
}

// ---------------------------------------------------------------------------------- stacks

/// A sequence through `run_taped`/`backward` against central differences of
/// `run_masked_from`, the loss a weighting of every output and of the final state.
/// One sequence against central differences: the parameters, inputs and initial state, and
/// the constants when the cell has any (random, as everything else).
fn check_sequence<C>(case: &str, rnn: Rnn<C>, mask: Mask<'_>, steps: usize)
where
    C: Differentiable + Clone,
{
    let mut rng = Rng::new(case);
    let rnn = rng.parameters(rnn, 0.5);
    let xs: Vec<C::Input> = rng.values(steps);
    let initial: C::State = rng.value();
    let w_outputs: Vec<C::Output> = rng.values(steps);
    let w_state: C::State = rng.value();
    let k: C::Constants = rng.value();
    let loss = |rnn: &Rnn<C>, xs: &[C::Input], initial: &C::State, k: &C::Constants| {
        let run = rnn.run_masked_from(xs, mask, initial.clone(), k).unwrap();
        let outputs: f64 = run
            .outputs
            .iter()
            .zip(&w_outputs)
            .map(|(y, w)| dot(y, w))
            .sum();
        outputs + dot(&run.state, &w_state)
    };
    let mut tape = rnn::train::Tape::new();
    let run = rnn
        .run_taped(&xs, mask, initial.clone(), &k, &mut tape)
        .unwrap();
    assert_eq!(
        run,
        rnn.run_masked_from(&xs, mask, initial.clone(), &k).unwrap(),
        "{case}: forward"
    );
    let grads = rnn
        .backward(&tape, &xs, &w_outputs, w_state.clone(), &k)
        .unwrap();
    check_sequence_gradients(case, (&rnn, &xs, &initial), &grads, |rnn, xs, s0| {
        loss(rnn, xs, s0, &k)
    });
    if C::Constants::SIZE > 0 {
        let mut check = Check::new(case);
        check.against(
            "constant",
            &indices("k", C::Constants::SIZE),
            &flat(&k),
            &flat(&grads.constants),
            |v| loss(&rnn, &xs, &initial, &unflat(v)),
        );
        check.report();
    }
}

const STACK_MASKS: [Mask<'static>; 3] = [
    Mask::All,
    Mask::Steps(&[true, false, true, true, false]),
    Mask::Length(3),
];

/// An LSTM under a GRU, and three layers with a SimpleRNN on top: every layer's parameters,
/// the inputs and every layer's initial state.
#[test]
fn stacked_cells() {
    use rnn::cells::Stacked;
    for mask in STACK_MASKS {
        for direction in [Direction::Forward, Direction::GoBackwards] {
            let stack = Stacked((
                LstmCell::<3, 4, f64>::zeros(),
                GruCell::<4, 3, f64>::zeros(),
            ));
            let rnn = Rnn::new(stack).direction(direction);
            check_sequence(
                &format!("stacked lstm+gru {mask:?} {direction:?}"),
                rnn,
                mask,
                5,
            );
        }
        let stack = Stacked((
            GruCell::<3, 4, f64>::zeros(),
            LstmCell::<4, 2, f64>::zeros(),
            SimpleRnnCell::<2, 3, f64>::zeros(),
        ));
        check_sequence(
            &format!("stacked gru+lstm+simple_rnn {mask:?}"),
            Rnn::new(stack),
            mask,
            5,
        );
    }
}

/// Attention over a constant memory: the layer with constants on top of a stack.
#[derive(Clone, Debug, PartialEq, rnn::Parameters)]
struct Attend<T: Real> {
    query: Dense<3, 4, T>,
    out: Dense<8, 3, T>,
}

#[cell]
impl<T: Real> Attend<T> {
    fn step(
        &self,
        #[input] x: &SVector<T, 4>,
        #[state] h: &mut SVector<T, 3>,
        #[constant] memory: &SMatrix<T, 5, 4>,
    ) -> SVector<T, 3> {
        let weights = ops::softmax(&(memory * self.query.forward(h)));
        let context = memory.transpose() * weights;
        let cx: SVector<T, 8> = ops::concat(&context, x);
        *h = ops::tanh(&self.out.forward(&cx));
        *h
    }
}

/// A GRU (no constants) under an attention cell over a memory: each layer reads its own
/// constants, and the memory's gradient comes out of the stack with every other one.
#[test]
fn stacked_gru_under_a_cell_with_constants() {
    use rnn::cells::Stacked;
    for mask in STACK_MASKS {
        let attend = Attend::<f64> {
            query: Dense::zeros().with_use_bias(true),
            out: Dense::zeros().with_use_bias(true),
        };
        let stack = Stacked((GruCell::<2, 4, f64>::zeros(), attend));
        check_sequence(
            &format!("stacked gru+attention {mask:?}"),
            Rnn::new(stack),
            mask,
            5,
        );
    }
}

// ---------------------------------------------------------------------------- bidirectional

/// A bidirectional run against central differences, the loss a weighting of every merged
/// output and of both final states: both halves' parameters, the inputs, both initial states.
fn check_bidirectional<F, B, M, Y>(case: &str, bi: Bidirectional<F, B, M>, mask: Mask<'_>)
where
    F: Differentiable<Constants = ()> + Clone,
    B: Differentiable<Constants = (), Input = F::Input> + Clone,
    M: MergeAdjoint<F::Output, B::Output, Output = Y> + Clone,
    Y: Nested,
{
    check_bidirectional_resetting(case, bi, mask, &[]);
}

/// [`check_bidirectional`] with per-step resets (none when `resets` is empty): the taped
/// forward is `run_with_resets`'s bits, and the initial states' gradient includes every
/// episode's.
fn check_bidirectional_resetting<F, B, M, Y>(
    case: &str,
    bi: Bidirectional<F, B, M>,
    mask: Mask<'_>,
    resets: &[bool],
) where
    F: Differentiable<Constants = ()> + Clone,
    B: Differentiable<Constants = (), Input = F::Input> + Clone,
    M: MergeAdjoint<F::Output, B::Output, Output = Y> + Clone,
    Y: Nested,
{
    const STEPS: usize = 5;
    let mut rng = Rng::new(case);
    let bi = rng.parameters(bi, 0.5);
    let xs: Vec<F::Input> = rng.values(STEPS);
    let initial = Both::new(rng.value::<F::State>(), rng.value::<B::State>());
    let w_outputs: Vec<Y> = rng.values(STEPS);
    let w_state = Both::new(rng.value::<F::State>(), rng.value::<B::State>());
    let k = Both::new(&(), &());
    let flags = if resets.is_empty() {
        Resets::None
    } else {
        Resets::Steps(resets)
    };
    let loss =
        |bi: &Bidirectional<F, B, M>, xs: &[F::Input], initial: &Both<F::State, B::State>| {
            let run = bi
                .run_with_resets(xs, mask, flags, initial.clone(), k)
                .unwrap();
            let outputs: f64 = run
                .outputs
                .iter()
                .zip(&w_outputs)
                .map(|(y, w)| dot(y, w))
                .sum();
            outputs
                + dot(&run.state.forward, &w_state.forward)
                + dot(&run.state.backward, &w_state.backward)
        };

    let mut tape = BidirectionalTape::new();
    let run = bi
        .run_taped_with_resets(&xs, mask, flags, initial.clone(), k, &mut tape)
        .unwrap();
    assert_eq!(
        run,
        bi.run_with_resets(&xs, mask, flags, initial.clone(), k)
            .unwrap(),
        "{case}: forward"
    );
    let grads = bi
        .backward(&tape, &xs, &w_outputs, w_state.clone(), k)
        .unwrap();

    let mut check = Check::new(case);
    check.against(
        "parameter",
        &parameter_names(&bi),
        &parameters(&bi),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = bi.clone();
            set_parameters(&mut probe, p);
            loss(&probe, &xs, &initial)
        },
    );
    check.against(
        "input",
        &indices("x", STEPS * F::Input::SIZE),
        &flat_all(&xs),
        &flat_all(&grads.inputs),
        |v| loss(&bi, &unflat_all(v), &initial),
    );
    let both = |s: &Both<F::State, B::State>| [flat(&s.forward), flat(&s.backward)].concat();
    check.against(
        "initial state",
        &indices("s0", F::State::SIZE + B::State::SIZE),
        &both(&initial),
        &both(&grads.initial_state),
        |v| {
            let (f, b) = v.split_at(F::State::SIZE);
            loss(&bi, &xs, &Both::new(unflat(f), unflat(b)))
        },
    );
    check.report();
}

const BIDIRECTIONAL_MASKS: [Mask<'static>; 4] = [
    Mask::All,
    Mask::Length(3),
    Mask::Steps(&[false, true, true, false, true]),
    Mask::Length(0),
];

/// Every merge mode, an LSTM forward and a GRU backward, both paddings.
#[test]
fn bidirectional_every_merge() {
    let halves = || {
        (
            LstmCell::<3, 4, f64>::zeros(),
            GruCell::<3, 4, f64> {
                reset_after: false,
                ..GruCell::zeros()
            },
        )
    };
    for mask in BIDIRECTIONAL_MASKS {
        for padding in [Padding::CarryLastOutput, Padding::Zero] {
            let name = |merge: &str| format!("bidirectional {merge} {mask:?} {padding:?}");
            let (f, b) = halves();
            let bi = Bidirectional::new(f, b).padding(padding);
            check_bidirectional(&name("concat"), bi, mask);
            let (f, b) = halves();
            let bi = Bidirectional::new(f, b).padding(padding).merge_mode(Sum);
            check_bidirectional::<_, _, _, nalgebra::SVector<f64, 4>>(&name("sum"), bi, mask);
            let (f, b) = halves();
            let bi = Bidirectional::new(f, b).padding(padding).merge_mode(Mul);
            check_bidirectional::<_, _, _, nalgebra::SVector<f64, 4>>(&name("mul"), bi, mask);
            let (f, b) = halves();
            let bi = Bidirectional::new(f, b).padding(padding).merge_mode(Ave);
            check_bidirectional::<_, _, _, nalgebra::SVector<f64, 4>>(&name("ave"), bi, mask);
            let (f, b) = halves();
            let bi = Bidirectional::new(f, b)
                .padding(padding)
                .merge_mode(NoMerge);
            check_bidirectional::<_, _, _, (nalgebra::SVector<f64, 4>, nalgebra::SVector<f64, 4>)>(
                &name("none"),
                bi,
                mask,
            );
        }
    }
}

/// Resets in one sequence of five steps: three episodes (the last one step long), a reset at
/// step 0, a one-step episode in the middle.
const BIDIRECTIONAL_RESETS: [[bool; 5]; 3] = [
    [false, false, true, false, true],
    [true, false, false, true, false],
    [false, true, true, false, false],
];

/// One sequence with resets against central differences, through every reset pattern, a hole
/// in the mask and none, both paddings, concatenated and multiplied (a product's adjoint
/// reads the other half, so a half's wrong episode shows in both).
#[test]
fn bidirectional_with_resets() {
    let halves = || {
        (
            LstmCell::<3, 4, f64>::zeros(),
            GruCell::<3, 4, f64>::zeros(),
        )
    };
    for resets in &BIDIRECTIONAL_RESETS {
        for mask in [Mask::All, Mask::Steps(&[true, false, true, true, false])] {
            for padding in [Padding::CarryLastOutput, Padding::Zero] {
                let name = |merge: &str| {
                    format!("bidirectional resets {resets:?} {merge} {mask:?} {padding:?}")
                };
                let (f, b) = halves();
                let bi = Bidirectional::new(f, b).padding(padding);
                check_bidirectional_resetting(&name("concat"), bi, mask, resets);
                let (f, b) = halves();
                let bi = Bidirectional::new(f, b).padding(padding).merge_mode(Mul);
                check_bidirectional_resetting::<_, _, _, nalgebra::SVector<f64, 4>>(
                    &name("mul"),
                    bi,
                    mask,
                    resets,
                );
            }
        }
    }
}

/// The steps between resets: the episodes of a sequence.
fn episodes(resets: &[bool]) -> Vec<std::ops::Range<usize>> {
    let mut starts: Vec<usize> = (1..resets.len()).filter(|&t| resets[t]).collect();
    starts.insert(0, 0);
    starts.push(resets.len());
    starts.windows(2).map(|w| w[0]..w[1]).collect()
}

type PieceBi = Bidirectional<LstmCell<2, 3, f64>, GruCell<2, 3, f64>, Mul>;
type PieceStates = Both<rnn::cells::LstmState<3, f64>, nalgebra::SVector<f64, 3>>;
type PieceGradients =
    rnn::train::BidirectionalGradients<LstmCell<2, 3, f64>, GruCell<2, 3, f64>, Mul>;

/// `a` and `b` equal to rounding (a sum taken in another order).
fn assert_close(what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{what}: sizes");
    for (i, (a, b)) in a.iter().zip(b).enumerate() {
        assert!(
            (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
            "{what} {i}: {a:e}, the episodes' {b:e}"
        );
    }
}

/// The gradients of a run with resets against the episodes' own, taped apart: the inputs'
/// are theirs, the parameters' their sum, and the start's (`initial`) and the reset states'
/// (`resets`) the sums of the episodes that started there.
fn assert_gradients_are_the_episodes(
    case: &str,
    grads: &PieceGradients,
    pieces: &[PieceGradients],
    (initial, resets): (&[usize], &[usize]),
) {
    let both = |s: &PieceStates| [flat(&s.forward), flat(&s.backward)].concat();
    let sum = |which: &[usize]| {
        let mut sum = vec![0.0; both(&grads.initial_state).len()];
        for &i in which {
            for (sum, g) in sum.iter_mut().zip(both(&pieces[i].initial_state)) {
                *sum += g;
            }
        }
        sum
    };
    let inputs: Vec<_> = pieces.iter().flat_map(|g| g.inputs.clone()).collect();
    assert_close(
        &format!("{case}: input"),
        &flat_all(&grads.inputs),
        &flat_all(&inputs),
    );
    let mut parameter_sum = vec![0.0; parameters(&grads.parameters).len()];
    for g in pieces {
        for (sum, g) in parameter_sum.iter_mut().zip(parameters(&g.parameters)) {
            *sum += g;
        }
    }
    assert_close(
        &format!("{case}: parameter"),
        &parameters(&grads.parameters),
        &parameter_sum,
    );
    assert_close(
        &format!("{case}: initial state"),
        &both(&grads.initial_state),
        &sum(initial),
    );
    assert_close(
        &format!("{case}: reset state"),
        &both(&grads.reset_state),
        &sum(resets),
    );
}

/// A run with resets is its episodes run apart from the initial states: the same output and
/// state bits (the forward state of the last episode, the backward state of the first), and
/// the same gradients, the initial states' summed over the episodes.
#[test]
fn bidirectional_resets_equal_the_episodes_run_apart() {
    let mask = [true, false, true, true, true];
    for resets in &BIDIRECTIONAL_RESETS {
        for padding in [Padding::CarryLastOutput, Padding::Zero] {
            let case = format!("bidirectional episodes {resets:?} {padding:?}");
            let mut rng = Rng::new(&case);
            let bi: PieceBi = rng.parameters(
                Bidirectional::new(LstmCell::zeros(), GruCell::zeros())
                    .merge_mode(Mul)
                    .padding(padding),
                0.6,
            );
            let xs: Vec<nalgebra::SVector<f64, 2>> = rng.values(5);
            let initial: PieceStates = Both::new(rng.value(), rng.value());
            let w_outputs: Vec<nalgebra::SVector<f64, 3>> = rng.values(5);
            let w_state: PieceStates = Both::new(rng.value(), rng.value());
            let mut tape = BidirectionalTape::new();
            let run = bi
                .run_taped_with_resets(&xs, &mask[..], resets, initial.clone(), &(), &mut tape)
                .unwrap();
            let grads = bi
                .backward(&tape, &xs, &w_outputs, w_state.clone(), &())
                .unwrap();

            let episodes = episodes(resets);
            let (mut outputs, mut pieces) = (Vec::new(), Vec::new());
            let (mut forward, mut backward) = (None, None);
            for (i, range) in episodes.iter().enumerate() {
                let (first, last) = (i == 0, i + 1 == episodes.len());
                let piece = bi
                    .run_taped(
                        &xs[range.clone()],
                        &mask[range.clone()],
                        initial.clone(),
                        &(),
                        &mut tape,
                    )
                    .unwrap();
                outputs.extend(piece.outputs.iter().copied());
                let d_state = Both::new(
                    if last {
                        w_state.forward.clone()
                    } else {
                        Nested::zeros()
                    },
                    if first {
                        w_state.backward
                    } else {
                        Nested::zeros()
                    },
                );
                let w = &w_outputs[range.clone()];
                pieces.push(
                    bi.backward(&tape, &xs[range.clone()], w, d_state, &())
                        .unwrap(),
                );
                forward = forward
                    .filter(|_| !last)
                    .or(last.then_some(piece.state.forward));
                backward = backward.or(first.then_some(piece.state.backward));
            }
            assert_eq!(run.outputs.to_vec(), outputs, "{case}: outputs");
            assert_eq!(run.state.forward, forward.unwrap(), "{case}: forward state");
            assert_eq!(
                run.state.backward,
                backward.unwrap(),
                "{case}: backward state"
            );
            let every: Vec<usize> = (0..episodes.len()).collect();
            // A reset at step 0 returns to the initial states too.
            let fresh = &every[usize::from(!resets[0])..];
            assert_gradients_are_the_episodes(&case, &grads, &pieces, (&every, fresh));
        }
    }
}

/// A stream's chunk with resets is its episodes fed to streams of their own: the first
/// continues the stream (unless step 0 resets), the others start from the stream's initial
/// states, and the stream goes on with the last. The same output and state bits, and the
/// same gradients: the carried states' from the first episode, the initial states'
/// (`reset_state`) summed over the others.
#[test]
fn bidirectional_stream_resets_equal_the_episodes_fed_apart() {
    let mask = [true, false, true, true, true];
    for resets in &BIDIRECTIONAL_RESETS {
        for padding in [Padding::CarryLastOutput, Padding::Zero] {
            let case = format!("bidirectional stream episodes {resets:?} {padding:?}");
            let mut rng = Rng::new(&case);
            let bi: PieceBi = rng.parameters(
                Bidirectional::new(LstmCell::zeros(), GruCell::zeros())
                    .merge_mode(Mul)
                    .padding(padding),
                0.6,
            );
            let before: Vec<nalgebra::SVector<f64, 2>> = rng.values(3);
            let xs: Vec<nalgebra::SVector<f64, 2>> = rng.values(5);
            let w_outputs: Vec<nalgebra::SVector<f64, 3>> = rng.values(5);
            let w_state: PieceStates = Both::new(rng.value(), rng.value());
            let mut stream = bi.clone().stateful(());
            stream.feed(&before);
            let continued = stream.clone();
            let mut tape = BidirectionalTape::new();
            let ys = stream
                .feed_taped_with_resets(&xs, &mask[..], resets, &mut tape)
                .unwrap();
            let grads = stream
                .backward_chunk(&tape, &xs, &w_outputs, w_state.clone())
                .unwrap();

            let episodes = episodes(resets);
            let (mut outputs, mut pieces, mut state) = (Vec::new(), Vec::new(), None);
            for (i, range) in episodes.iter().enumerate() {
                let last = i + 1 == episodes.len();
                let mut own = if i == 0 && !resets[0] {
                    continued.clone()
                } else {
                    bi.clone().stateful(())
                };
                let piece = own
                    .feed_taped(&xs[range.clone()], &mask[range.clone()], &mut tape)
                    .unwrap();
                outputs.extend(piece.iter().copied());
                let d_state = if last {
                    w_state.clone()
                } else {
                    Both::new(Nested::zeros(), Nested::zeros())
                };
                let w = &w_outputs[range.clone()];
                pieces.push(
                    own.backward_chunk(&tape, &xs[range.clone()], w, d_state)
                        .unwrap(),
                );
                state = Some(own.state().clone());
            }
            assert_eq!(ys.to_vec(), outputs, "{case}: outputs");
            assert_eq!(stream.state(), &state.unwrap(), "{case}: states");
            let every: Vec<usize> = (0..episodes.len()).collect();
            let (carried, fresh) = every.split_at(usize::from(!resets[0]));
            assert_gradients_are_the_episodes(&case, &grads, &pieces, (carried, fresh));
        }
    }
}

// ---------------------------------------------------------------------- bidirectional batch

/// The batch of `xs` with `BATCH_MASKS`, `initial` states and, unless there are none, `flags`.
fn bidirectional_batch_of<'a, X, S>(
    xs: &'a [Vec<X>],
    initial: &'a [S],
    flags: &'a [Vec<bool>],
) -> Batch<'a, Vec<X>, S> {
    let batch = Batch::new(xs).masks(&BATCH_MASKS).initial_states(initial);
    if flags.is_empty() {
        batch
    } else {
        batch.resets(flags)
    }
}

/// Every sequence of `LENGTHS` with resets: two episodes, three, one, a reset at step 0, a
/// one-step episode at the end.
fn batch_resets() -> Vec<Vec<bool>> {
    vec![
        vec![false, false, true, false, true],
        vec![false, true, false],
        vec![false, false, false, false],
        vec![true, false, false, true, false],
        vec![false, true],
    ]
}

/// A Bidirectional batch (ragged, every kind of mask, given initial states, with or without
/// resets) against central differences of a weighting of every merged output and both final
/// states of each sequence: both halves' parameters, every input, every initial state. The
/// taped forward is `run_batch`'s bits; without resets, the gradients are the per-sequence
/// backward's (summed over the batch for the parameters).
fn check_bidirectional_batch<F, B, M, Y>(case: &str, bi: Bidirectional<F, B, M>, resets: bool)
where
    F: Differentiable<Constants = ()> + Clone + Send + Sync,
    B: Differentiable<Constants = (), Input = F::Input> + Clone + Send + Sync,
    F::Input: Send + Sync,
    F::State: Send + Sync,
    F::Output: Send + Sync,
    F::Residual: Send + Sync,
    B::State: Send + Sync,
    B::Output: Send + Sync,
    B::Residual: Send + Sync,
    M: MergeAdjoint<F::Output, B::Output, Output = Y> + Clone + Sync,
    Y: Nested + Send,
{
    let mut rng = Rng::new(case);
    let bi = rng.parameters(bi, 0.5);
    let xs: Vec<Vec<F::Input>> = LENGTHS.iter().map(|&t| rng.values(t)).collect();
    let initial: Vec<Both<F::State, B::State>> = (0..LENGTHS.len())
        .map(|_| Both::new(rng.value(), rng.value()))
        .collect();
    let w_outputs: Vec<Vec<Y>> = LENGTHS.iter().map(|&t| rng.values(t)).collect();
    let w_states: Vec<Both<F::State, B::State>> = (0..LENGTHS.len())
        .map(|_| Both::new(rng.value(), rng.value()))
        .collect();
    let flags = if resets { batch_resets() } else { Vec::new() };
    let loss = |bi: &Bidirectional<F, B, M>,
                xs: &[Vec<F::Input>],
                initial: &[Both<F::State, B::State>]| {
        let run = bi
            .run_batch(&bidirectional_batch_of(xs, initial, &flags), &())
            .unwrap();
        let mut sum = 0.0;
        for (b, outputs) in run.outputs.iter().enumerate() {
            sum += outputs
                .iter()
                .zip(&w_outputs[b])
                .map(|(y, w)| dot(y, w))
                .sum::<f64>();
            sum += dot(&run.states[b].forward, &w_states[b].forward);
            sum += dot(&run.states[b].backward, &w_states[b].backward);
        }
        sum
    };

    // A tape that recorded another batch first (the initial states in reverse order): it is
    // refilled, and the backward reads this batch's record alone.
    let mut tape = BidirectionalBatchTape::new();
    let other: Vec<_> = initial.iter().rev().cloned().collect();
    bi.run_batch_taped(&bidirectional_batch_of(&xs, &other, &flags), &(), &mut tape)
        .unwrap();
    let run = bi
        .run_batch_taped(
            &bidirectional_batch_of(&xs, &initial, &flags),
            &(),
            &mut tape,
        )
        .unwrap();
    assert_eq!(
        run,
        bi.run_batch(&bidirectional_batch_of(&xs, &initial, &flags), &())
            .unwrap(),
        "{case}: forward"
    );
    let grads = bi
        .backward_batch(
            &tape,
            &bidirectional_batch_of(&xs, &initial, &flags),
            &w_outputs,
            &w_states,
            &(),
        )
        .unwrap();

    let mut check = Check::new(case);
    check.against(
        "parameter",
        &parameter_names(&bi),
        &parameters(&bi),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = bi.clone();
            set_parameters(&mut probe, p);
            loss(&probe, &xs, &initial)
        },
    );
    check.against(
        "input",
        &indices("x", LENGTHS.iter().sum::<usize>() * F::Input::SIZE),
        &flat_all(&xs.concat()),
        &flat_all(&grads.inputs.concat()),
        |v| {
            let mut all = unflat_all::<F::Input>(v).into_iter();
            let xs: Vec<Vec<F::Input>> = LENGTHS
                .iter()
                .map(|&t| all.by_ref().take(t).collect())
                .collect();
            loss(&bi, &xs, &initial)
        },
    );
    let both = |s: &[Both<F::State, B::State>]| -> Vec<f64> {
        s.iter()
            .flat_map(|s| [flat(&s.forward), flat(&s.backward)].concat())
            .collect()
    };
    let per = F::State::SIZE + B::State::SIZE;
    check.against(
        "initial state",
        &indices("s0", LENGTHS.len() * per),
        &both(&initial),
        &both(&grads.initial_states),
        |v| {
            let initial: Vec<_> = v
                .chunks(per)
                .map(|s| {
                    let (f, b) = s.split_at(F::State::SIZE);
                    Both::new(unflat(f), unflat(b))
                })
                .collect();
            loss(&bi, &xs, &initial)
        },
    );
    check.report();

    if resets {
        return;
    }
    let mut one = BidirectionalTape::new();
    let mut sum = vec![0.0; parameters(&bi).len()];
    for (b, xs) in xs.iter().enumerate() {
        bi.run_taped(xs, BATCH_MASKS[b], initial[b].clone(), &(), &mut one)
            .unwrap();
        let g = bi
            .backward(&one, xs, &w_outputs[b], w_states[b].clone(), &())
            .unwrap();
        for (sum, g) in sum.iter_mut().zip(parameters(&g.parameters)) {
            *sum += g;
        }
        assert_eq!(
            flat_all(&g.inputs),
            flat_all(&grads.inputs[b]),
            "{case}: inputs {b}"
        );
        assert_eq!(
            both(&[g.initial_state]),
            both(&grads.initial_states[b..=b]),
            "{case}: initial states {b}"
        );
    }
    for (i, (a, e)) in parameters(&grads.parameters).iter().zip(&sum).enumerate() {
        assert!(
            (a - e).abs() <= 1e-12 * (1.0 + e.abs()),
            "{case}: parameter {i}: {a:e}, per sequence {e:e}"
        );
    }
}

/// An LSTM forward and a GRU backward over a batch, concatenated and multiplied, with and
/// without resets.
#[test]
fn bidirectional_batch() {
    let halves = || {
        (
            LstmCell::<3, 4, f64>::zeros(),
            GruCell::<3, 4, f64>::zeros(),
        )
    };
    for resets in [false, true] {
        for padding in [Padding::CarryLastOutput, Padding::Zero] {
            let name =
                |merge: &str| format!("bidirectional batch {merge} resets {resets} {padding:?}");
            let (f, b) = halves();
            let bi = Bidirectional::new(f, b).padding(padding);
            check_bidirectional_batch(&name("concat"), bi, resets);
            let (f, b) = halves();
            let bi = Bidirectional::new(f, b).padding(padding).merge_mode(Mul);
            check_bidirectional_batch::<_, _, _, nalgebra::SVector<f64, 4>>(
                &name("mul"),
                bi,
                resets,
            );
        }
    }
}

// ------------------------------------------------------------------------- truncated BPTT

/// Two chunks of a stream: the second chunk's backward against central differences of the
/// loss with the first chunk held constant (its final state and last output detached), the
/// carried state and output as in inference, and the cut real (the untruncated gradient
/// differs).
#[test]
fn truncated_backpropagation_over_two_chunks() {
    let case = "tbptt lstm";
    let mut rng = Rng::new(case);
    let rnn = rng
        .parameters(Rnn::new(LstmCell::<2, 3, f64>::zeros()), 0.6)
        .padding(Padding::CarryLastOutput);
    let first: Vec<nalgebra::SVector<f64, 2>> = rng.values(4);
    let second: Vec<nalgebra::SVector<f64, 2>> = rng.values(4);
    // The second chunk starts masked: its first output is the first chunk's last, carried.
    let mask = [false, true, false, true];
    let w_outputs: Vec<nalgebra::SVector<f64, 3>> = rng.values(4);
    let w_state: rnn::cells::LstmState<3, f64> = rng.value();
    let weigh = |outputs: &[nalgebra::SVector<f64, 3>], state: &rnn::cells::LstmState<3, f64>| {
        outputs
            .iter()
            .zip(&w_outputs)
            .map(|(y, w)| dot(y, w))
            .sum::<f64>()
            + dot(state, &w_state)
    };

    let mut stream = rnn.clone().stateful(());
    let mut inference = rnn.clone().stateful(());
    let mut tape = rnn::train::Tape::new();
    let ys = stream.feed_taped(&first, Mask::All, &mut tape).unwrap();
    assert_eq!(ys, inference.feed_masked(&first, Mask::All).unwrap());
    let carried_state = stream.state().clone();
    let ys = stream.feed_taped(&second, &mask[..], &mut tape).unwrap();
    assert_eq!(ys, inference.feed_masked(&second, &mask[..]).unwrap());
    assert_eq!(
        stream.state(),
        inference.state(),
        "the state carried as in inference"
    );
    let grads = stream
        .backward_chunk(&tape, &second, &w_outputs, w_state.clone())
        .unwrap();
    assert_eq!(
        grads.inputs[0],
        nalgebra::SVector::<f64, 2>::zeros(),
        "a masked step"
    );

    // Truncated: the second chunk from the carried state, a constant. (The carried output
    // at its first step is a constant too: `run_masked_from` outputs zeros there instead,
    // which changes the loss by a constant only.)
    let truncated = |rnn: &Rnn<LstmCell<2, 3, f64>>, xs: &[_], start: &_| {
        let run = rnn
            .run_masked_from(xs, &mask[..], Clone::clone(start), &())
            .unwrap();
        weigh(&run.outputs, &run.state)
    };
    let mut check = Check::new(case);
    check.against(
        "parameter",
        &parameter_names(rnn.cell()),
        &parameters(&rnn),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = rnn.clone();
            set_parameters(&mut probe, p);
            truncated(&probe, &second, &carried_state)
        },
    );
    check.against(
        "input",
        &indices("x", 8),
        &flat_all(&second),
        &flat_all(&grads.inputs),
        |v| truncated(&rnn, &unflat_all(v), &carried_state),
    );
    check.against(
        "carried state",
        &indices("s", 6),
        &flat(&carried_state),
        &flat(&grads.initial_state),
        |v| truncated(&rnn, &second, &unflat(v)),
    );
    check.report();

    // Untruncated, the gradient also flows into the first chunk: it differs.
    let whole = |rnn: &Rnn<LstmCell<2, 3, f64>>| {
        let mut stream = rnn.clone().stateful(());
        stream.feed_masked(&first, Mask::All).unwrap();
        let ys = stream.feed_masked(&second, &mask[..]).unwrap();
        weigh(&ys, stream.state())
    };
    untruncated_gradient_differs(&rnn, &grads.parameters, whole);
}

/// A Bidirectional stream's two chunks: the second chunk's backward against central
/// differences of the loss with the first chunk held constant (both carried states and
/// outputs detached), the stream carried as in inference, and the cut real.
#[test]
fn bidirectional_truncated_backpropagation_over_two_chunks() {
    type X = nalgebra::SVector<f64, 2>;
    type Bi = Bidirectional<LstmCell<2, 3, f64>, GruCell<2, 3, f64>, Sum>;
    type States = Both<rnn::cells::LstmState<3, f64>, nalgebra::SVector<f64, 3>>;
    let case = "tbptt bidirectional lstm gru sum";
    let mut rng = Rng::new(case);
    let bi: Bi = rng.parameters(
        Bidirectional::new(LstmCell::zeros(), GruCell::zeros())
            .merge_mode(Sum)
            .padding(Padding::CarryLastOutput),
        0.6,
    );
    let first: Vec<X> = rng.values(4);
    let second: Vec<X> = rng.values(4);
    // The second chunk starts masked: its forward output there is the first chunk's last.
    let mask = [false, true, false, true];
    let w_outputs: Vec<nalgebra::SVector<f64, 3>> = rng.values(4);
    let w_state = Both::new(rng.value(), rng.value());
    let weigh = |outputs: &[nalgebra::SVector<f64, 3>], state: &States| {
        outputs
            .iter()
            .zip(&w_outputs)
            .map(|(y, w)| dot(y, w))
            .sum::<f64>()
            + dot(&state.forward, &w_state.forward)
            + dot(&state.backward, &w_state.backward)
    };

    let mut stream = bi.clone().stateful(());
    let mut inference = bi.clone().stateful(());
    let mut tape = BidirectionalTape::new();
    let ys = stream.feed_taped(&first, Mask::All, &mut tape).unwrap();
    assert_eq!(ys, inference.feed(&first));
    let carried = stream.state().clone();
    let ys = stream.feed_taped(&second, &mask[..], &mut tape).unwrap();
    assert_eq!(ys, inference.feed_masked(&second, &mask[..]).unwrap());
    assert_eq!(stream.state(), inference.state(), "carried as in inference");
    let grads = stream
        .backward_chunk(&tape, &second, &w_outputs, w_state.clone())
        .unwrap();
    assert_eq!(grads.inputs[0], X::zeros(), "a masked step");

    // Truncated: the second chunk from the carried states, constants (the carried output at
    // its first step is a constant too; `run_masked_from` outputs zeros there instead, which
    // a sum changes by a constant only, where a product would weigh the other half by it).
    let truncated = |bi: &Bi, xs: &[X], start: &States| {
        let run = bi
            .run_masked_from(xs, &mask[..], start.clone(), &())
            .unwrap();
        weigh(&run.outputs, &run.state)
    };
    let both = |s: &States| [flat(&s.forward), flat(&s.backward)].concat();
    let mut check = Check::new(case);
    check.against(
        "parameter",
        &parameter_names(&bi),
        &parameters(&bi),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = bi.clone();
            set_parameters(&mut probe, p);
            truncated(&probe, &second, &carried)
        },
    );
    check.against(
        "input",
        &indices("x", 8),
        &flat_all(&second),
        &flat_all(&grads.inputs),
        |v| truncated(&bi, &unflat_all(v), &carried),
    );
    check.against(
        "carried states",
        &indices("s", 9),
        &both(&carried),
        &both(&grads.initial_state),
        |v| {
            let (f, b) = v.split_at(6);
            truncated(&bi, &second, &Both::new(unflat(f), unflat(b)))
        },
    );
    check.report();

    // Untruncated, the gradient also flows into the first chunk: it differs.
    let whole = |bi: &Bi| {
        let mut stream = bi.clone().stateful(());
        stream.feed(&first);
        let ys = stream.feed_masked(&second, &mask[..]).unwrap();
        weigh(&ys, stream.state())
    };
    untruncated_gradient_differs(&bi, &grads.parameters, whole);
}

/// A Bidirectional stream's second chunk, with or without resets, summed or multiplied (a
/// product's adjoint reads the other half's output), against central differences of the
/// loss with the first chunk held constant: its episodes fed to streams of their own, the
/// first from the carried states, the others from the stream's initial states. Padded
/// outputs are zeros, so no output is carried over from the first chunk.
fn check_bidirectional_stream<M>(case: &str, merge: M, resets: Option<&[bool]>)
where
    M: MergeAdjoint<
            nalgebra::SVector<f64, 3>,
            nalgebra::SVector<f64, 3>,
            Output = nalgebra::SVector<f64, 3>,
        > + Clone,
{
    type X = nalgebra::SVector<f64, 2>;
    type States = Both<rnn::cells::LstmState<3, f64>, nalgebra::SVector<f64, 3>>;
    let mut rng = Rng::new(case);
    let bi = rng.parameters(
        Bidirectional::new(
            LstmCell::<2, 3, f64>::zeros(),
            GruCell::<2, 3, f64>::zeros(),
        )
        .merge_mode(merge)
        .padding(Padding::Zero),
        0.6,
    );
    let first: Vec<X> = rng.values(3);
    let second: Vec<X> = rng.values(5);
    let mask = [true, false, true, true, true];
    let flags = resets.unwrap_or(&[false; 5]);
    let w_outputs: Vec<nalgebra::SVector<f64, 3>> = rng.values(5);
    let w_state: States = Both::new(rng.value(), rng.value());

    let mut stream = bi.clone().stateful(());
    let mut inference = bi.clone().stateful(());
    let mut tape = BidirectionalTape::new();
    stream.feed_taped(&first, Mask::All, &mut tape).unwrap();
    inference.feed(&first);
    let carried = stream.state().clone();
    let ys = match resets {
        Some(resets) => stream.feed_taped_with_resets(&second, &mask[..], resets, &mut tape),
        None => stream.feed_taped(&second, &mask[..], &mut tape),
    }
    .unwrap();
    let expected = inference
        .feed_with_resets(&second, &mask[..], flags)
        .unwrap();
    assert_eq!(ys, expected, "{case}: outputs as in inference");
    assert_eq!(
        stream.state(),
        inference.state(),
        "{case}: carried as in inference"
    );
    let grads = stream
        .backward_chunk(&tape, &second, &w_outputs, w_state.clone())
        .unwrap();

    let stream_initial: States = Both::new(Nested::zeros(), Nested::zeros());
    let truncated = |bi: &Bidirectional<_, _, M>, xs: &[X], carried: &States, initial: &States| {
        let (mut outputs, mut state) = (Vec::new(), None);
        for (i, range) in episodes(flags).into_iter().enumerate() {
            let start = if i == 0 && !flags[0] {
                carried
            } else {
                initial
            };
            let mut own = bi.clone().stateful(()).with_initial_state(start.clone());
            let ys = own.feed_masked(&xs[range.clone()], &mask[range]).unwrap();
            outputs.extend(ys.iter().copied());
            state = Some(own.state().clone());
        }
        let state = state.unwrap();
        outputs
            .iter()
            .zip(&w_outputs)
            .map(|(y, w)| dot(y, w))
            .sum::<f64>()
            + dot(&state.forward, &w_state.forward)
            + dot(&state.backward, &w_state.backward)
    };
    let both = |s: &States| [flat(&s.forward), flat(&s.backward)].concat();
    let states = |v: &[f64]| {
        let (f, b) = v.split_at(6);
        Both::new(unflat(f), unflat(b))
    };
    let mut check = Check::new(case);
    check.against(
        "parameter",
        &parameter_names(&bi),
        &parameters(&bi),
        &parameters(&grads.parameters),
        |p| {
            let mut probe = bi.clone();
            set_parameters(&mut probe, p);
            truncated(&probe, &second, &carried, &stream_initial)
        },
    );
    check.against(
        "input",
        &indices("x", 10),
        &flat_all(&second),
        &flat_all(&grads.inputs),
        |v| truncated(&bi, &unflat_all(v), &carried, &stream_initial),
    );
    check.against(
        "carried states",
        &indices("s", 9),
        &both(&carried),
        &both(&grads.initial_state),
        |v| truncated(&bi, &second, &states(v), &stream_initial),
    );
    check.against(
        "stream's initial states",
        &indices("s0", 9),
        &both(&stream_initial),
        &both(&grads.reset_state),
        |v| truncated(&bi, &second, &carried, &states(v)),
    );
    check.report();
}

/// Truncated backpropagation through a Bidirectional stream, every reset pattern and none,
/// summed and multiplied.
#[test]
fn bidirectional_stream_every_reset_and_merge() {
    let patterns = [None]
        .into_iter()
        .chain(BIDIRECTIONAL_RESETS.iter().map(|r| Some(&r[..])));
    for resets in patterns {
        check_bidirectional_stream(&format!("tbptt bidirectional sum {resets:?}"), Sum, resets);
        check_bidirectional_stream(&format!("tbptt bidirectional mul {resets:?}"), Mul, resets);
    }
}

/// The static unroll's backward is the dynamic loop's, bit for bit: the same steps in the
/// same order, in every direction and with dropout (checked against central differences
/// above and in `tests/dropout.rs`).
#[test]
fn the_static_unroll_backward_is_the_loops() {
    use rnn::nalgebra::SVector;
    use rnn::train::{Tape, UnrolledTape};
    use rnn::Dropout;
    let mut rng = Rng::new("static unroll");
    let cell = rng.parameters(GruCell::<3, 4, f64>::keras_init(2), 0.5);
    let xs: [SVector<f64, 3>; 5] = std::array::from_fn(|_| rng.value());
    let d_outputs: [SVector<f64, 4>; 5] = std::array::from_fn(|_| rng.value());
    let (s0, d_state): (SVector<f64, 4>, SVector<f64, 4>) = (rng.value(), rng.value());
    let dropout = Dropout {
        rate: 0.3,
        recurrent_rate: 0.2,
        seed: 9,
    };
    for direction in [
        Direction::Forward,
        Direction::GoBackwards,
        Direction::Reversed,
    ] {
        for dropped in [false, true] {
            let mut rnn = Rnn::new(cell.clone()).direction(direction);
            if dropped {
                rnn = rnn.dropout(dropout).unwrap();
            }
            let case = format!("{direction:?}, dropout {dropped}");
            let mut tape = UnrolledTape::new();
            let run = rnn.unroll_taped(&xs, s0, &(), &mut tape);
            let mut dynamic = Tape::new();
            let looped = rnn
                .run_taped(&xs, Mask::All, s0, &(), &mut dynamic)
                .unwrap();
            assert_eq!(
                run.outputs.to_vec(),
                looped.outputs.to_vec(),
                "{case}: outputs"
            );
            assert_eq!(run.state, looped.state, "{case}: state");
            if !dropped {
                assert_eq!(
                    run,
                    rnn.unroll_from(&xs, s0, &()),
                    "{case}: the unroll's bits"
                );
            }
            let grads = rnn
                .backward_unrolled(&tape, &xs, &d_outputs, d_state, &())
                .unwrap();
            let expected = rnn
                .backward(&dynamic, &xs, &d_outputs, d_state, &())
                .unwrap();
            assert_eq!(grads.parameters, expected.parameters, "{case}: parameters");
            assert_eq!(grads.inputs.to_vec(), expected.inputs, "{case}: inputs");
            assert_eq!(grads.initial_state, expected.initial_state, "{case}: state");
        }
    }
    // A tape that recorded nothing is an error, not zeros.
    let rnn = Rnn::new(cell);
    let empty = UnrolledTape::<_, 5>::new();
    assert!(rnn
        .backward_unrolled(&empty, &xs, &d_outputs, d_state, &())
        .is_err());
}

/// Asserts that the central differences of `whole` (the loss over both chunks) differ from
/// `truncated` (the second chunk's parameter gradient) somewhere: without truncation the
/// gradient also flows into the first chunk.
fn untruncated_gradient_differs<M: rnn::Parameters + Clone>(
    model: &M,
    truncated: &impl rnn::Parameters,
    whole: impl Fn(&M) -> f64,
) {
    let point = parameters(model);
    let truncated_gradient = parameters(truncated);
    let largest_difference = (0..point.len())
        .map(|i| {
            let mut probe = point.clone();
            let mut at = |v: f64| {
                probe[i] = v;
                let mut model = model.clone();
                set_parameters(&mut model, &probe);
                whole(&model)
            };
            let full = (at(point[i] + 1e-6) - at(point[i] - 1e-6)) / 2e-6;
            (full - truncated_gradient[i]).abs()
        })
        .fold(0.0, f64::max);
    assert!(
        largest_difference > 1e-2,
        "the untruncated gradient should differ: {largest_difference:e}"
    );
}
