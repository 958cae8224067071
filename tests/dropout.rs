//! Keras's `dropout` and `recurrent_dropout` in training: the backward of a dropped run
//! against central differences in `f64` (the masks fixed by a fresh tape, through the dynamic
//! loop and a batch, for every built-in recurrent cell); the masks' rate, scaling and reuse at
//! every step; inference untouched; the same seed the same bits on any number of threads.
//! The same for a custom `#[cell]` that drops with `ops::dropout` and `ops::recurrent_dropout`
//! in its step (its backward generated).

mod gradcheck;

use gradcheck::{check_batch_gradients, check_sequence_gradients, dot, flat_all, parameters, Rng};
use rnn::cells::{Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn::ops::Activation;
use rnn::train::loss::MeanSquaredError;
use rnn::train::optim::{Optimizer, Sgd};
use rnn::train::{BatchTape, Differentiable, Fit, Layer, Model, Tape, Verbosity};
use rnn::{nalgebra, Batch, Direction, Dropout, DropoutError, Mask, Nested, Padding, Rnn};

use nalgebra::{SMatrix, SVector};
use rnn::prelude::{cell, Parameters};
use rnn::Real;

/// Rates high enough that a small cell drops units in every gate.
const DROPOUT: Dropout = Dropout {
    rate: 0.4,
    recurrent_rate: 0.3,
    seed: 11,
};

fn cells() -> (
    LstmCell<3, 4, f64>,
    [GruCell<3, 4, f64>; 2],
    SimpleRnnCell<3, 4, f64>,
) {
    let gru = |reset_after| GruCell {
        reset_after,
        ..GruCell::zeros()
    };
    (
        LstmCell::zeros(),
        [gru(true), gru(false)],
        SimpleRnnCell::zeros(),
    )
}

// ---------------------------------------------------------------------- gradient checks

/// A sequence through `run_taped`/`backward` with dropout against central differences of
/// the same dropped run (a fresh tape draws the same masks), the loss a weighting of every
/// output and of the final state.
fn check_sequence<C>(case: &str, rnn: Rnn<C>, dropout: Dropout, mask: Mask<'_>, steps: usize)
where
    C: Differentiable<Constants = ()> + Clone,
{
    let mut rng = Rng::new(case);
    let rnn = rng.parameters(rnn, 0.5).dropout(dropout).unwrap();
    let xs: Vec<C::Input> = rng.values(steps);
    let initial: C::State = rng.value();
    let w_outputs: Vec<C::Output> = rng.values(steps);
    let w_state: C::State = rng.value();
    let loss = |rnn: &Rnn<C>, xs: &[C::Input], initial: &C::State| {
        let mut tape = Tape::new();
        let run = rnn
            .run_taped(xs, mask, initial.clone(), &(), &mut tape)
            .unwrap();
        let outputs: f64 = run
            .outputs
            .iter()
            .zip(&w_outputs)
            .map(|(y, w)| dot(y, w))
            .sum();
        outputs + dot(&run.state, &w_state)
    };
    let mut tape = Tape::new();
    let run = rnn
        .run_taped(&xs, mask, initial.clone(), &(), &mut tape)
        .unwrap();
    assert!(tape.dropout_masks().is_some(), "{case}: dropped");
    let plain = rnn
        .run_masked_from(&xs, mask, initial.clone(), &())
        .unwrap();
    assert_ne!(
        run.outputs, plain.outputs,
        "{case}: the masks change the run"
    );
    let grads = rnn
        .backward(&tape, &xs, &w_outputs, w_state.clone(), &())
        .unwrap();
    check_sequence_gradients(case, (&rnn, &xs, &initial), &grads, loss);
}

/// Every rate combination (input only, whose single mask every gate shares; recurrent only;
/// both, one mask per gate), forward and backwards, with a hole in the mask.
fn check_cell<C>(name: &str, cell: C)
where
    C: Differentiable<Constants = ()> + Clone,
{
    let hole = Mask::Steps(&[true, false, true, true, true]);
    for (rate, recurrent_rate) in [(0.4, 0.0), (0.0, 0.3), (0.4, 0.3)] {
        for direction in [Direction::Forward, Direction::GoBackwards] {
            let dropout = Dropout {
                rate,
                recurrent_rate,
                ..DROPOUT
            };
            let case = format!("dropout {name} {rate}/{recurrent_rate} {direction:?}");
            let rnn = Rnn::new(cell.clone()).direction(direction);
            check_sequence(&case, rnn, dropout, hole, 5);
        }
    }
}

#[test]
fn sequence_of_lstm() {
    check_cell("lstm", cells().0);
}

#[test]
fn sequence_of_gru_reset_after() {
    check_cell("gru reset_after", cells().1[0].clone());
}

#[test]
fn sequence_of_gru_reset_before() {
    check_cell("gru reset_before", cells().1[1].clone());
}

#[test]
fn sequence_of_simple_rnn() {
    check_cell("simple_rnn", cells().2);
}

const LENGTHS: [usize; 4] = [5, 3, 4, 2];
const BATCH_MASKS: [Mask<'static>; 4] = [
    Mask::All,
    Mask::Length(2),
    Mask::Steps(&[true, false, true, true]),
    Mask::Length(0),
];

/// A batch through `run_batch_taped`/`backward_batch` with dropout (each sequence its own
/// masks) against central differences of the same dropped batch.
fn check_batch<C>(name: &str, cell: C)
where
    C: Differentiable<Constants = ()> + Clone + Send + Sync,
    C::Input: Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Residual: Send + Sync,
{
    let case = format!("dropout batch {name}");
    let mut rng = Rng::new(&case);
    let rnn = rng
        .parameters(Rnn::new(cell), 0.5)
        .padding(Padding::CarryLastOutput)
        .dropout(DROPOUT)
        .unwrap();
    let xs: Vec<Vec<C::Input>> = LENGTHS.iter().map(|&t| rng.values(t)).collect();
    let initial: Vec<C::State> = rng.values(LENGTHS.len());
    let w_outputs: Vec<Vec<C::Output>> = LENGTHS.iter().map(|&t| rng.values(t)).collect();
    let w_states: Vec<C::State> = rng.values(LENGTHS.len());
    let loss = |rnn: &Rnn<C>, xs: &[Vec<C::Input>], initial: &[C::State]| {
        let batch = Batch::new(xs).masks(&BATCH_MASKS).initial_states(initial);
        let run = rnn
            .run_batch_taped(&batch, &(), &mut BatchTape::new())
            .unwrap();
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
    let mut tape = BatchTape::new();
    rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    // Each sequence draws its own masks.
    let masks: Vec<_> = (0..LENGTHS.len())
        .map(|b| *tape.sequence(b).unwrap().dropout_masks().unwrap())
        .collect();
    assert!(masks.windows(2).all(|w| w[0] != w[1]), "{case}: {masks:?}");
    let grads = rnn
        .backward_batch(&tape, &batch, &w_outputs, &w_states, &())
        .unwrap();
    check_batch_gradients(&case, (&rnn, &xs, &initial), &grads, loss);
}

#[test]
fn batch_of_every_cell() {
    let (lstm, [gru_after, gru_before], simple) = cells();
    check_batch("lstm", lstm);
    check_batch("gru reset_after", gru_after);
    check_batch("gru reset_before", gru_before);
    check_batch("simple_rnn", simple);
}

// ---------------------------------------------------------------------- the masks

/// A SimpleRNN that outputs its dropped input: identity kernel, no recurrence, no bias,
/// linear. Fed ones, each step's output is the input mask itself.
fn mask_probe<const N: usize>(dropout: Dropout) -> Rnn<SimpleRnnCell<N, N, f32>> {
    let mut cell = SimpleRnnCell::<N, N, f32>::zeros()
        .with_use_bias(false)
        .with_activation(Activation::Linear);
    for (j, row) in cell.kernel.rows_mut().iter_mut().enumerate() {
        row[0][j] = 1.0;
    }
    Rnn::new(cell).dropout(dropout).unwrap()
}

/// The masks drop the rate's fraction of units, scale the kept ones by `1/(1 − rate)`, and
/// are drawn once per sequence: every step of a sequence reads the same mask, and sequences
/// draw different ones.
#[test]
fn masks_have_the_rate_the_scale_and_one_draw_per_sequence() {
    const N: usize = 64;
    let rate = 0.3;
    let rnn = mask_probe::<N>(Dropout {
        rate,
        recurrent_rate: 0.0,
        seed: 5,
    });
    let sequences = vec![vec![SVector::<f32, N>::repeat(1.0); 6]; 100];
    let run = rnn
        .run_batch_taped(&Batch::new(&sequences), &(), &mut BatchTape::new())
        .unwrap();
    let scale = 1.0 / (1.0 - rate as f32);
    let (mut dropped, mut units) = (0usize, 0usize);
    let mut distinct = std::collections::HashSet::new();
    for outputs in run.outputs.iter() {
        let first = outputs[0];
        for y in outputs.iter() {
            assert_eq!(*y, first, "the same mask at every step");
        }
        for &v in first.iter() {
            assert!(v == 0.0 || v == scale, "a mask value {v}");
            dropped += usize::from(v == 0.0);
            units += 1;
        }
        distinct.insert(first.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    }
    assert_eq!(distinct.len(), sequences.len(), "one mask per sequence");
    // 6,400 units: the fraction dropped has a standard deviation of 0.0057.
    let fraction = dropped as f64 / units as f64;
    assert!((fraction - rate).abs() < 0.02, "dropped {fraction}");
    // A mean of one: inverted dropout keeps the expected input.
    let mean: f64 = run
        .outputs
        .iter()
        .flat_map(|o| o[0].iter().map(|&v| f64::from(v)).collect::<Vec<_>>())
        .sum::<f64>()
        / units as f64;
    assert!((mean - 1.0).abs() < 0.03, "mean {mean}");
}

/// With a recurrent rate, each gate draws its own masks (Keras 3's `implementation=1`);
/// without one, every gate shares the input mask. The recurrent masks drop at their rate.
#[test]
fn gates_draw_their_own_masks_with_recurrent_dropout() {
    let probe = |recurrent_rate| {
        let rnn = Rnn::new(LstmCell::<32, 32, f32>::zeros())
            .dropout(Dropout {
                rate: 0.5,
                recurrent_rate,
                seed: 3,
            })
            .unwrap();
        let mut tape = Tape::new();
        rnn.run_taped(
            &[SVector::zeros()],
            Mask::All,
            Nested::zeros(),
            &(),
            &mut tape,
        )
        .unwrap();
        *tape.dropout_masks().unwrap()
    };
    let shared = probe(0.0);
    assert!((0..32).all(|j| (0..4).all(|g| shared.input_kept(g, j) == shared.input_kept(0, j))));
    assert!((0..32).all(|j| (0..4).all(|g| shared.recurrent_kept(g, j))));
    let own = probe(0.25);
    let differ = (0..32)
        .filter(|&j| own.input_kept(1, j) != own.input_kept(0, j))
        .count();
    assert!(differ > 4, "gates 0 and 1 differ on {differ} of 32 units");
    let dropped = (0..4)
        .flat_map(|g| (0..32).map(move |j| (g, j)))
        .filter(|&(g, j)| !own.recurrent_kept(g, j))
        .count();
    assert!(
        (12..=52).contains(&dropped),
        "{dropped} of 128 dropped at 0.25"
    );
    assert_eq!(own.recurrent_scale::<f32>(0, 0), {
        if own.recurrent_kept(0, 0) {
            1.0 / 0.75
        } else {
            0.0
        }
    });
}

// ---------------------------------------------------------------------- inference, seeds

/// Inference never drops: the same bits with and without dropout configured, on the loop,
/// the batched kernel and the layer's `predict`.
#[test]
fn inference_is_unaffected() {
    let plain = Rnn::new(LstmCell::<3, 8>::keras_init(4));
    let dropped = plain.clone().dropout(DROPOUT).unwrap();
    let mut rng = Rng::new("inference");
    let xs: Vec<Vec<SVector<f32, 3>>> = (0..5).map(|t| rng.values(t + 2)).collect();
    assert_eq!(dropped.run(&xs[0], &()), plain.run(&xs[0], &()));
    let batch = Batch::new(&xs);
    assert_eq!(
        dropped.run_batch(&batch, &()).unwrap(),
        plain.run_batch(&batch, &()).unwrap()
    );
    assert!(plain.runs_on_batched_kernel(&batch));
    assert_eq!(dropped.predict(&xs[1]), plain.predict(&xs[1]));
    // Training does drop.
    let taped = dropped
        .run_batch_taped(&batch, &(), &mut BatchTape::new())
        .unwrap();
    assert_ne!(taped, plain.run_batch(&batch, &()).unwrap());
}

/// A batch's final states and parameter gradients with dropout, as bits, in a pool of
/// `threads` threads: two consecutive batches on one tape (the second draws new masks).
fn dropped_batch_bits(threads: usize, seed: u64) -> [Vec<u64>; 2] {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut rng = Rng::new("reproducible dropout");
    let rnn = rng
        .parameters(Rnn::new(GruCell::<6, 8>::zeros()), 0.5)
        .dropout(Dropout { seed, ..DROPOUT })
        .unwrap();
    let lengths = [7, 3, 9, 1, 6, 8, 2, 5, 9, 4, 7];
    let xs: Vec<Vec<SVector<f32, 6>>> = lengths.iter().map(|&t| rng.values(t)).collect();
    let w_outputs: Vec<Vec<SVector<f32, 8>>> = lengths.iter().map(|&t| rng.values(t)).collect();
    let w_states: Vec<_> = rng.values(lengths.len());
    let batch = Batch::new(&xs);
    pool.install(|| {
        let mut tape = BatchTape::new();
        let [mut states, mut gradients] = [Vec::new(), Vec::new()];
        for _ in 0..2 {
            let run = rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
            let grads = rnn
                .backward_batch(&tape, &batch, &w_outputs, &w_states, &())
                .unwrap();
            states.extend(flat_all(&run.states).into_iter().map(f64::to_bits));
            gradients.extend(parameters(&grads.parameters).into_iter().map(f64::to_bits));
        }
        [states, gradients]
    })
}

/// The same seed draws the same masks on any number of threads: the forward is the same
/// bits on one thread or two, and the gradients the same bits from run to run on a given
/// number of threads (their partial sums follow the threads). Another seed, other masks.
#[test]
fn same_seed_same_masks_on_any_thread_count() {
    let [states, gradients] = dropped_batch_bits(1, 11);
    let [states_2, gradients_2] = dropped_batch_bits(2, 11);
    assert!(states == states_2, "the forward on two threads");
    assert!(
        [states.clone(), gradients.clone()] == dropped_batch_bits(1, 11),
        "a second run on one thread"
    );
    assert!(
        [states_2, gradients_2.clone()] == dropped_batch_bits(2, 11),
        "a second run on two threads"
    );
    for (a, b) in gradients.iter().zip(&gradients_2) {
        let (a, b) = (f64::from_bits(*a), f64::from_bits(*b));
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{a} against {b}");
    }
    assert!(states != dropped_batch_bits(1, 12)[0], "another seed");
}

/// `fit` with dropout: the same model, data and seeds train to the same weights, and so does
/// a run resumed at an epoch (Keras's `initial_epoch`); the dropout and its seed change them.
#[test]
fn fit_with_dropout_is_reproducible() {
    let train = |dropout: Dropout, epochs: usize, resume_at: Option<usize>| {
        let layers = (
            Rnn::new(GruCell::<2, 6>::keras_init(1))
                .dropout(dropout)
                .unwrap(),
            Dense::<6, 1>::keras_init(2),
        );
        let mut model = Model::new(
            layers,
            MeanSquaredError,
            Optimizer::new(Sgd::keras(0.0), 0.1),
        );
        let mut rng = Rng::new("fit");
        let x: Vec<Vec<SVector<f32, 2>>> = (0..24).map(|i| rng.values(3 + i % 4)).collect();
        let y: Vec<SVector<f32, 1>> = rng.values(24);
        let fit = Fit {
            epochs,
            batch_size: 8,
            verbosity: Verbosity::Silent,
            ..Fit::default()
        };
        model.fit(&x, &y, &fit).unwrap();
        if let Some(initial_epoch) = resume_at {
            let resumed = Fit {
                epochs: initial_epoch + 1,
                initial_epoch,
                ..fit
            };
            model.fit(&x, &y, &resumed).unwrap();
        }
        parameters(&model.layers)
    };
    let a = train(DROPOUT, 3, None);
    assert_eq!(a, train(DROPOUT, 3, None));
    // Two epochs, then the third resumed: the same masks as the uninterrupted run (plain SGD
    // keeps no state to carry).
    assert_eq!(a, train(DROPOUT, 2, Some(2)));
    assert_ne!(a, train(Dropout::default(), 3, None));
    let other_seed = Dropout {
        seed: 12,
        ..DROPOUT
    };
    assert_ne!(a, train(other_seed, 3, None));
}

// ---------------------------------------------------------------------- refusals

#[test]
fn bad_rates_and_cells_without_dropout_are_refused() {
    let rnn = Rnn::new(GruCell::<2, 3>::zeros());
    let err = rnn
        .clone()
        .dropout(Dropout {
            rate: 1.0,
            ..Dropout::default()
        })
        .unwrap_err();
    assert_eq!(
        err,
        DropoutError::Rate {
            which: "rate",
            found: 1.0
        }
    );
    assert_eq!(
        err.to_string(),
        "dropout rate: expected a rate in [0, 1), found 1"
    );
    assert!(matches!(
        rnn.dropout(Dropout {
            recurrent_rate: -0.5,
            ..Dropout::default()
        }),
        Err(DropoutError::Rate {
            which: "recurrent_rate",
            ..
        })
    ));
    // A cell that does not say how its kernels read its inputs has no dropout.
    let dense = Rnn::new(Dense::<2, 2, f64>::zeros());
    assert_eq!(
        dense.dropout(DROPOUT).unwrap_err(),
        DropoutError::Unsupported
    );
}

// ---------------------------------------------------------------------- custom cells

/// A custom cell that drops in its step: its input (at the rate), its state where the
/// recurrent matrix reads it (at the recurrent rate), and, at the rate again with a mask of
/// its own, the candidate before it reaches the output.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct DroppingCell<T: Real> {
    kernel: SMatrix<T, 4, 3>,
    recurrent: SMatrix<T, 4, 4>,
    bias: SVector<T, 4>,
}

#[cell]
impl<T: Real> DroppingCell<T> {
    fn step(&self, #[input] x: &SVector<T, 3>, #[state] h: &mut SVector<T, 4>) -> SVector<T, 4> {
        let z = self.kernel * rnn::ops::dropout(x)
            + self.recurrent * rnn::ops::recurrent_dropout(h)
            + self.bias;
        let candidate = rnn::ops::tanh(&z);
        *h = candidate;
        rnn::ops::dropout(&candidate) + h.component_mul(h)
    }
}

fn dropping_cell() -> DroppingCell<f64> {
    DroppingCell {
        kernel: SMatrix::zeros(),
        recurrent: SMatrix::zeros(),
        bias: SVector::zeros(),
    }
}

#[test]
fn custom_cell_sequence_gradients() {
    check_cell("custom cell", dropping_cell());
}

#[test]
fn custom_cell_batch_gradients() {
    check_batch("custom cell", dropping_cell());
}

/// A custom cell that outputs its input dropped at the rate and its state dropped at the
/// recurrent rate, keeping the state: fed ones from a state of ones, each step's outputs are
/// the two masks themselves.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct MaskProbe;

#[cell]
impl MaskProbe {
    fn step(
        &self,
        #[input] x: &SVector<f32, 64>,
        #[state] h: &mut SVector<f32, 64>,
    ) -> (SVector<f32, 64>, SVector<f32, 64>) {
        (rnn::ops::dropout(x), rnn::ops::recurrent_dropout(h))
    }
}

/// The masks of a custom step: its values `0` or `1/(1 − rate)`, at each call's own rate; the
/// same at every step of a sequence; different between the sequences of a batch, between
/// batches, and between the two calls of the step.
#[test]
fn custom_cell_masks_are_drawn_once_per_sequence() {
    let (rate, recurrent_rate) = (0.3, 0.5);
    let rnn = Rnn::new(MaskProbe)
        .dropout(Dropout {
            rate,
            recurrent_rate,
            seed: 9,
        })
        .unwrap();
    let sequences = vec![vec![SVector::<f32, 64>::repeat(1.0); 6]; 50];
    let ones = vec![SVector::<f32, 64>::repeat(1.0); sequences.len()];
    let batch = Batch::new(&sequences).initial_states(&ones);
    let mut tape = BatchTape::new();
    let first = rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    let second = rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    let bits = |v: &SVector<f32, 64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut distinct = std::collections::HashSet::new();
    let (mut dropped, mut units) = ([0usize; 2], 0usize);
    for (b, outputs) in first.outputs.iter().enumerate() {
        let (input_mask, state_mask) = outputs[0];
        for y in outputs.iter() {
            assert_eq!(
                *y,
                (input_mask, state_mask),
                "sequence {b}: one mask per call"
            );
        }
        for (which, (mask, rate)) in [(input_mask, rate), (state_mask, recurrent_rate)]
            .into_iter()
            .enumerate()
        {
            let scale = 1.0 / (1.0 - rate as f32);
            assert!(mask.iter().all(|&v| v == 0.0 || v == scale), "{mask:?}");
            dropped[which] += mask.iter().filter(|&&v| v == 0.0).count();
        }
        units += 64;
        let kept = |mask: &SVector<f32, 64>| mask.map(|v| v != 0.0);
        assert_ne!(
            kept(&input_mask),
            kept(&state_mask),
            "each call its own mask"
        );
        distinct.insert(bits(&input_mask));
        assert_ne!(second.outputs[b][0], outputs[0], "a new batch, new masks");
    }
    assert_eq!(distinct.len(), sequences.len(), "one mask per sequence");
    // 3,200 units per call: the fraction dropped has a standard deviation under 0.009.
    for (dropped, rate) in dropped.into_iter().zip([rate, recurrent_rate]) {
        let fraction = dropped as f64 / units as f64;
        assert!(
            (fraction - rate).abs() < 0.04,
            "dropped {fraction} at {rate}"
        );
    }
}

/// Inference never drops in a custom step (`ops::dropout` is the identity there), and a step
/// outside a training run with dropout is the step's own bits.
#[test]
fn custom_cell_inference_is_unaffected() {
    let mut rng = Rng::new("custom inference");
    let cell = rng.parameters(dropping_cell(), 0.5);
    let plain = Rnn::new(cell.clone());
    let dropped = plain.clone().dropout(DROPOUT).unwrap();
    let xs: Vec<SVector<f64, 3>> = rng.values(5);
    assert_eq!(dropped.run(&xs, &()), plain.run(&xs, &()));
    let s0 = SVector::repeat(0.5);
    let taped = plain
        .run_taped(&xs, Mask::All, s0, &(), &mut Tape::new())
        .unwrap();
    assert_eq!(
        taped,
        plain.run_masked_from(&xs, Mask::All, s0, &()).unwrap()
    );
    let mut tape = Tape::new();
    let training = dropped
        .run_taped(&xs, Mask::All, s0, &(), &mut tape)
        .unwrap();
    assert!(tape.dropout_masks().is_some());
    assert_ne!(training, taped, "training drops");
    // A custom cell without dropout calls refuses a dropout configuration.
    assert_eq!(
        Rnn::new(MaskFree).dropout(DROPOUT).unwrap_err(),
        DropoutError::Unsupported
    );
}

#[derive(Clone, Debug, PartialEq, Parameters)]
struct MaskFree;

#[cell]
impl MaskFree {
    fn step(
        &self,
        #[input] x: &SVector<f32, 2>,
        #[state] h: &mut SVector<f32, 2>,
    ) -> SVector<f32, 2> {
        *h += x;
        *h
    }
}

/// The static unroll drops a custom step's units as the loop does: a fresh tape of each draws
/// the same masks, so the two runs and their gradients are the same bits.
#[test]
fn custom_cell_static_unroll_drops_as_the_loop() {
    let mut rng = Rng::new("custom unroll");
    let rnn = rng
        .parameters(Rnn::new(dropping_cell()), 0.5)
        .dropout(DROPOUT)
        .unwrap();
    let xs: [SVector<f64, 3>; 4] = std::array::from_fn(|_| rng.value());
    let d_outputs: [SVector<f64, 4>; 4] = std::array::from_fn(|_| rng.value());
    let (s0, d_state): (SVector<f64, 4>, SVector<f64, 4>) = (rng.value(), rng.value());
    let mut unrolled = rnn::train::UnrolledTape::new();
    let run = rnn.unroll_taped(&xs, s0, &(), &mut unrolled);
    let grads = rnn
        .backward_unrolled(&unrolled, &xs, &d_outputs, d_state, &())
        .unwrap();
    let mut tape = Tape::new();
    let looped = rnn.run_taped(&xs, Mask::All, s0, &(), &mut tape).unwrap();
    let plain = rnn.run_masked_from(&xs, Mask::All, s0, &()).unwrap();
    assert_ne!(looped.state, plain.state, "the loop drops");
    assert_eq!(run.outputs.to_vec(), looped.outputs.to_vec());
    let loop_grads = rnn.backward(&tape, &xs, &d_outputs, d_state, &()).unwrap();
    assert_eq!(grads.parameters, loop_grads.parameters);
    assert_eq!(grads.inputs.to_vec(), loop_grads.inputs);
}
