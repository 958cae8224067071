//! Batch training lowered onto the fused kernel: where `Rnn::run_batch` runs a built-in `f32`
//! cell's batched kernel, `run_batch_taped` records the kernel's trace and `backward_batch`
//! runs the fused backward. Its gradients (parameters, inputs, initial states) against the
//! loop per sequence (`.batched_kernel(false)`, itself checked against central differences
//! and Keras) for every cell and variant, ragged lengths and step masks with leading padding,
//! every direction and padding, initial states given or not, batches run sample by sample and
//! with the step GEMMs; its outputs are `run_batch`'s bits. A batch with holes falls back to
//! the loop per sequence.

use rnn::cells::{GruCell, LstmCell, SimpleRnnCell};
use rnn::nalgebra::SVector;
use rnn::train::{BackwardError, BatchGradients, BatchTape, Differentiable};
use rnn::{Batch, Direction, Mask, Nested, Padding, Rnn, ShapeError, ShapeErrorKind};

/// The largest error allowed, relative to `1 + |reference|`.
const TOLERANCE: f64 = 1e-5;

/// Deterministic values in [-1, 1].
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

/// `n` values of `V`, deterministic in `seed`.
fn nested<V: Nested>(n: usize, seed: usize) -> Vec<V> {
    let flat = values(n * V::SIZE, seed);
    flat.chunks_exact(V::SIZE.max(1))
        .map(V::read_f32)
        .take(n)
        .collect()
}

/// Ragged sequences whose valid steps are consecutive: all valid, lengths (one of none),
/// leading padding, padding on both sides, no valid step.
const STEPS: [usize; 7] = [6, 5, 6, 4, 5, 3, 6];
const MASKS: [Mask<'static>; 7] = [
    Mask::All,
    Mask::Length(3),
    Mask::Steps(&[false, false, true, true, true, true]),
    Mask::Length(0),
    Mask::Steps(&[false, true, true, false, false]),
    Mask::Steps(&[false, false, false]),
    Mask::Length(6),
];

/// Every value of `g` in a fixed order, each named.
fn flat<C: Differentiable>(g: &BatchGradients<C>) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    g.parameters.for_each_parameter(|path, tensor| {
        let mut k = 0;
        tensor.read(&mut |v| {
            out.push((format!("{path}[{k}]"), v));
            k += 1;
        })
    });
    let mut push = |name: String, value: &dyn Fn(&mut [f32]), size: usize| {
        let mut buffer = vec![0.0; size];
        value(&mut buffer);
        for (k, v) in buffer.into_iter().enumerate() {
            out.push((format!("{name}[{k}]"), f64::from(v)));
        }
    };
    for (b, inputs) in g.inputs.iter().enumerate() {
        for (t, x) in inputs.iter().enumerate() {
            push(
                format!("inputs[{b}][{t}]"),
                &|o| x.write_f32(o),
                C::Input::SIZE,
            );
        }
    }
    for (b, s) in g.initial_states.iter().enumerate() {
        push(format!("initial[{b}]"), &|o| s.write_f32(o), C::State::SIZE);
    }
    out
}

/// The lowered batch training of `cell` against the loop per sequence, on the first `n`
/// sequences, in every direction and padding, with and without initial states.
fn check<C>(name: &str, cell: C, n: usize)
where
    C: Differentiable<Constants = ()> + Clone + Send + Sync,
    C::Input: Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Residual: Send + Sync,
{
    let (steps, masks) = (&STEPS[..n], &MASKS[..n]);
    let xs: Vec<Vec<C::Input>> = steps
        .iter()
        .enumerate()
        .map(|(b, &t)| nested(t, 10 + b))
        .collect();
    let d_outputs: Vec<Vec<C::Output>> = steps
        .iter()
        .enumerate()
        .map(|(b, &t)| nested(t, 20 + b))
        .collect();
    let d_states: Vec<C::State> = nested(n, 30);
    let initial: Vec<C::State> = nested(n, 40);
    let mut tape = BatchTape::new();
    let mut generic = BatchTape::new();
    for direction in [
        Direction::Forward,
        Direction::GoBackwards,
        Direction::Reversed,
    ] {
        for padding in [Padding::CarryLastOutput, Padding::Zero] {
            for given in [false, true] {
                let case = format!("{name} b{n} {direction:?} {padding:?} initial {given}");
                let rnn = Rnn::new(cell.clone()).direction(direction).padding(padding);
                let batch = Batch::new(&xs).masks(masks);
                let batch = if given {
                    batch.initial_states(&initial)
                } else {
                    batch
                };
                assert!(rnn.runs_on_batched_kernel(&batch), "{case}: lowered");
                let run = rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
                assert!(tape.sequence(0).is_none(), "{case}: the kernel's record");
                assert_eq!(run, rnn.run_batch(&batch, &()).unwrap(), "{case}: forward");
                let lowered = rnn
                    .backward_batch(&tape, &batch, &d_outputs, &d_states, &())
                    .unwrap();
                // A clone keeps the record.
                let copy = tape.clone();
                let again = rnn.backward_batch(&copy, &batch, &d_outputs, &d_states, &());
                let same = flat(&again.unwrap()) == flat(&lowered);
                assert!(same, "{case}: cloned tape");
                // Without the inputs' adjoints: the other gradients' bits, and no inputs.
                let mut data = BatchGradients::new(rnn.cell()).without_input_adjoints();
                let adjoints = (&d_outputs[..], &d_states[..]);
                rnn.backward_batch_into(&tape, &batch, adjoints, &(), &mut data)
                    .unwrap();
                let mut others = flat(&lowered);
                others.retain(|(what, _)| !what.starts_with("inputs["));
                assert!(data.inputs.iter().all(Vec::is_empty), "{case}: no inputs");
                assert!(
                    flat(&data) == others,
                    "{case}: without the inputs' adjoints"
                );

                let rnn = rnn.batched_kernel(false);
                rnn.run_batch_taped(&batch, &(), &mut generic).unwrap();
                assert!(generic.sequence(0).is_some(), "{case}: per sequence");
                let reference = rnn
                    .backward_batch(&generic, &batch, &d_outputs, &d_states, &())
                    .unwrap();
                let (got, want) = (flat(&lowered), flat(&reference));
                assert_eq!(got.len(), want.len(), "{case}: gradient sizes");
                for ((what, g), (_, w)) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= TOLERANCE * (1.0 + w.abs()),
                        "{case}: {what}: lowered {g}, per sequence {w}"
                    );
                }
            }
        }
    }
}

/// Batches of 3 (run sample by sample) and 7 (the step GEMMs).
const BATCHES: [usize; 2] = [3, 7];

#[test]
fn lstm() {
    for n in BATCHES {
        check("lstm", LstmCell::<3, 4>::keras_init(1), n);
        let mut no_bias = LstmCell::<3, 4>::keras_init(2);
        no_bias.bias = None;
        check("lstm without bias", no_bias, n);
    }
}

#[test]
fn gru() {
    for n in BATCHES {
        let cell = GruCell::<3, 4>::keras_init(3);
        assert!(cell.reset_after);
        check("gru reset_after", cell, n);
        let mut before = GruCell::<3, 4>::keras_init(4);
        before.reset_after = false;
        before.recurrent_bias = None;
        check("gru reset before", before, n);
    }
}

#[test]
fn simple_rnn() {
    for n in BATCHES {
        check("simple rnn", SimpleRnnCell::<3, 4>::keras_init(5), n);
    }
}

/// Adjoints that do not match the lowered batch's steps are an error naming them.
#[test]
fn mismatched_adjoints_are_errors() {
    let rnn = Rnn::new(GruCell::<3, 4>::keras_init(7));
    let xs: Vec<Vec<SVector<f32, 3>>> = (0..4).map(|b| nested(5, b)).collect();
    let batch = Batch::new(&xs).lengths(&[5, 2, 3, 0]);
    let mut tape = BatchTape::new();
    rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    assert!(tape.sequence(0).is_none());
    let mut d_outputs: Vec<Vec<SVector<f32, 4>>> = (0..4).map(|b| nested(5, 20 + b)).collect();
    d_outputs[2].pop();
    let d_states = nested(4, 30);
    let err = rnn
        .backward_batch(&tape, &batch, &d_outputs, &d_states, &())
        .unwrap_err();
    assert_eq!(
        err,
        BackwardError::Shape(ShapeError {
            what: "output adjoints",
            expected: 5,
            found: 4,
            kind: ShapeErrorKind::Steps,
        })
    );
    let err = rnn
        .backward_batch(&tape, &batch, &d_outputs[..3], &d_states, &())
        .unwrap_err();
    assert!(matches!(err, BackwardError::Sequence(_)), "{err:?}");
}

/// A mask with a hole does not fit the kernel: the loop per sequence runs, the same bits as
/// with the kernel turned off.
#[test]
fn holes_fall_back() {
    let rnn = Rnn::new(LstmCell::<3, 4>::keras_init(6));
    let xs: Vec<Vec<SVector<f32, 3>>> = (0..3).map(|b| nested(4, b)).collect();
    let masks = [
        Mask::All,
        Mask::Steps(&[true, false, true, true]),
        Mask::Length(2),
    ];
    let batch = Batch::new(&xs).masks(&masks);
    assert!(!rnn.runs_on_batched_kernel(&batch));
    let d_outputs: Vec<Vec<SVector<f32, 4>>> = (0..3).map(|b| nested(4, 20 + b)).collect();
    let d_states = nested(3, 30);
    let mut tape = BatchTape::new();
    rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    assert!(tape.sequence(0).is_some());
    let got = rnn
        .backward_batch(&tape, &batch, &d_outputs, &d_states, &())
        .unwrap();
    let generic = rnn.clone().batched_kernel(false);
    let mut reference = BatchTape::new();
    generic
        .run_batch_taped(&batch, &(), &mut reference)
        .unwrap();
    let want = generic
        .backward_batch(&reference, &batch, &d_outputs, &d_states, &())
        .unwrap();
    assert_eq!(got, want);
}
