//! The fused layers' batched backward against the per-sequence backward (`Rnn::run_taped`,
//! `Rnn::backward`, itself checked against central differences and Keras), run in `f64` on
//! the same weights, one sequence at a time, its weight gradients summed over the batch: every
//! cell and variant, the usual activations (vectorized) and others (the general path), ragged
//! lengths (a sample of no step among them), batches run sample by sample (below 4) and with
//! the step GEMMs, on 1 and 3 threads. Also: the training forward's outputs are the inference
//! forward's bits, the gradients are the same bits twice on a pool, and bad sizes are errors.

#[path = "common/isa.rs"]
mod isa;

use rnn::cells::{GruCell, LstmCell, LstmState, SimpleRnnCell};
use rnn::fused::{self, Gradients, Trace};
use rnn::nalgebra::SVector;
use rnn::ops::Activation;
use rnn::parameters::Parameters;
use rnn::train::{Differentiable, Tape};
use rnn::{Mask, Rnn};

/// The largest error allowed, relative to `1 + |reference|`.
const TOLERANCE: f64 = 1e-5;

/// Deterministic values in [-1, 1].
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

/// Batches (their lengths, non-increasing) over `T = 6` steps: run sample by sample, then
/// with the GEMMs (split into chunks on 3 threads).
const STEPS: usize = 6;
const BATCHES: &[&[usize]] = &[&[6], &[6, 4, 0], &[6, 6, 5, 4, 4, 2, 1, 1, 0], &[6; 5]];

/// A batch with enough work to be split over the threads (the small ones run in one part).
const LARGE: &[usize] = &[STEPS; 1600];

/// The parameters of `p` as `f64`, in path order.
fn flat<P: Parameters>(p: &P) -> Vec<f64> {
    let mut values = Vec::new();
    p.for_each_parameter(|_, tensor| tensor.read(&mut |v| values.push(v)));
    values
}

/// `target`'s parameters set to `source`'s (same paths).
fn copy_parameters<A: Parameters, B: Parameters>(source: &A, target: &mut B) {
    let values = flat(source);
    let mut values = values.iter();
    target.for_each_parameter_mut(|_, tensor, _| tensor.write(&mut || *values.next().unwrap()));
    assert!(values.next().is_none());
}

fn assert_close(what: &str, fused: &[f32], reference: &[f64]) {
    assert_eq!(fused.len(), reference.len(), "{what}: lengths");
    for (k, (&a, &b)) in fused.iter().zip(reference).enumerate() {
        let error = (a as f64 - b).abs();
        assert!(
            error <= TOLERANCE * (1.0 + b.abs()),
            "{what}[{k}]: fused {a}, per sequence {b} (error {error:e})"
        );
    }
}

/// A batch's buffers: inputs with NaN past each sample's length (which must reach nothing),
/// initial states, output and final-state adjoints (zeros past each length).
struct Batch<'l> {
    lengths: &'l [usize],
    x: Vec<f32>,
    initial: [Vec<f32>; 2],
    dy: Vec<f32>,
    d_final: [Vec<f32>; 2],
}

impl<'l> Batch<'l> {
    fn new(lengths: &'l [usize], i: usize, h: usize) -> Self {
        let b = lengths.len();
        let mut x = values(b * STEPS * i, 1);
        let mut dy = values(b * STEPS * h, 2);
        for (s, &len) in lengths.iter().enumerate() {
            x[(s * STEPS + len) * i..(s + 1) * STEPS * i].fill(f32::NAN);
            dy[(s * STEPS + len) * h..(s + 1) * STEPS * h].fill(0.0);
        }
        Batch {
            lengths,
            x,
            initial: [values(b * h, 3), values(b * h, 4)],
            dy,
            d_final: [values(b * h, 5), values(b * h, 6)],
        }
    }
}

/// What the per-sequence backward gives for a batch: the parameters' gradients summed over
/// the samples (path order), the inputs' adjoints `[B, T, I]` (zeros past a length) and the
/// initial states' `[B, H]` each.
struct Reference {
    parameters: Vec<f64>,
    inputs: Vec<f64>,
    states: [Vec<f64>; 2],
}

/// Runs `cell` (`f64`) on each sample of `batch` with `run_taped` and `backward`; `state`
/// makes a state from `(h, c)` slices and `unstate` reads one back.
fn reference<C, const I: usize, const H: usize>(
    cell: C,
    batch: &Batch<'_>,
    state: impl Fn(&[f64], &[f64]) -> C::State,
    unstate: impl Fn(&C::State) -> [Vec<f64>; 2],
) -> Reference
where
    C: Differentiable<Input = SVector<f64, I>, Output = SVector<f64, H>, Constants = ()> + Clone,
{
    let rnn = Rnn::new(cell);
    let wide = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<_>>();
    let mut out = Reference {
        parameters: vec![0.0; flat(rnn.cell()).len()],
        inputs: vec![0.0; batch.x.len()],
        states: [vec![], vec![]],
    };
    let mut tape = Tape::new();
    for (b, &len) in batch.lengths.iter().enumerate() {
        let xs: Vec<SVector<f64, I>> = (0..STEPS)
            .map(|t| {
                let row = &batch.x[(b * STEPS + t) * I..][..I];
                // The padding is never read: any value will do in the reference.
                SVector::from_iterator(row.iter().map(|&v| if v.is_nan() { 0.0 } else { v as f64 }))
            })
            .collect();
        let sample = |v: &[f32]| wide(&v[b * H..(b + 1) * H]);
        let s0 = state(&sample(&batch.initial[0]), &sample(&batch.initial[1]));
        rnn.run_taped(&xs, Mask::Length(len), s0, &(), &mut tape)
            .unwrap();
        let dy: Vec<SVector<f64, H>> = (0..STEPS)
            .map(|t| SVector::from_iterator(wide(&batch.dy[(b * STEPS + t) * H..][..H])))
            .collect();
        let d_final = state(&sample(&batch.d_final[0]), &sample(&batch.d_final[1]));
        let grads = rnn.backward(&tape, &xs, &dy, d_final, &()).unwrap();
        for (sum, g) in out.parameters.iter_mut().zip(flat(&grads.parameters)) {
            *sum += g;
        }
        for (t, dx) in grads.inputs.iter().enumerate() {
            out.inputs[(b * STEPS + t) * I..][..I].copy_from_slice(dx.as_slice());
        }
        let [h, c] = unstate(&grads.initial_state);
        out.states[0].extend(h);
        out.states[1].extend(c);
    }
    out
}

/// The fused gradients in the cell's path order (`kernel`, `recurrent_kernel`, `bias`, and
/// the GRU's `recurrent_bias` when it has one).
fn fused_parameters(g: &Gradients, recurrent_bias: bool) -> Vec<f64> {
    let mut all = [&g.kernel, &g.recurrent_kernel, &g.bias]
        .into_iter()
        .flatten()
        .map(|&v| v as f64)
        .collect::<Vec<_>>();
    if recurrent_bias {
        all.extend(g.recurrent_bias.iter().map(|&v| v as f64));
    }
    all
}

/// Runs `check` on a pool of 1 thread and one of 3.
fn on_pools(check: impl Fn(usize) + Sync) {
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| check(threads));
    }
}

fn check_lstm<const I: usize, const H: usize>(cell: &LstmCell<I, H>) {
    let mut wide = LstmCell::<I, H, f64>::zeros();
    copy_parameters(cell, &mut wide);
    wide.activation = cell.activation;
    wide.recurrent_activation = cell.recurrent_activation;
    let layer = fused::Lstm::new(cell);
    on_pools(|threads| {
        let (mut trace, mut grads) = (Trace::default(), Gradients::default());
        for lengths in BATCHES.iter().chain([&LARGE]) {
            let at = format!("lstm {threads} threads, {} sequences", lengths.len());
            let batch = Batch::new(lengths, I, H);
            let [h0, c0] = &batch.initial;
            let [dh, dc] = &batch.d_final;
            let n = lengths.len();
            layer
                .forward_train_into(&batch.x, n, Some(lengths), Some((h0, c0)), &mut trace)
                .unwrap();
            layer
                .backward_into(&trace, &batch.x, &batch.dy, Some((dh, dc)), &mut grads)
                .unwrap();
            let want = reference::<_, I, H>(
                wide.clone(),
                &batch,
                |h, c| LstmState {
                    h: SVector::from_column_slice(h),
                    c: SVector::from_column_slice(c),
                },
                |s| [s.h.as_slice().to_vec(), s.c.as_slice().to_vec()],
            );
            assert_close(
                &format!("{at} parameters"),
                &fused_parameters(&grads, false)
                    .iter()
                    .map(|&v| v as f32)
                    .collect::<Vec<_>>(),
                &want.parameters,
            );
            assert_close(&format!("{at} inputs"), &grads.inputs, &want.inputs);
            assert_close(&format!("{at} h0"), &grads.initial_h, &want.states[0]);
            assert_close(&format!("{at} c0"), &grads.initial_c, &want.states[1]);
        }
    });
}

/// A one-state layer (GRU, SimpleRNN) against `wide`, its cell in `f64`.
fn check_one_state<C, const I: usize, const H: usize>(
    what: &str,
    wide: C,
    recurrent_bias: bool,
    run: impl Fn(&Batch<'_>, &mut Trace, &mut Gradients) + Sync,
) where
    C: Differentiable<
            Input = SVector<f64, I>,
            Output = SVector<f64, H>,
            State = SVector<f64, H>,
            Constants = (),
        > + Clone
        + Sync,
{
    on_pools(|threads| {
        let (mut trace, mut grads) = (Trace::default(), Gradients::default());
        for lengths in BATCHES {
            let at = format!("{what} {threads} threads, lengths {lengths:?}");
            let batch = Batch::new(lengths, I, H);
            run(&batch, &mut trace, &mut grads);
            let want = reference::<_, I, H>(
                wide.clone(),
                &batch,
                |h, _| SVector::from_column_slice(h),
                |s| [s.as_slice().to_vec(), vec![]],
            );
            let got = fused_parameters(&grads, recurrent_bias);
            let got: Vec<f32> = got.iter().map(|&v| v as f32).collect();
            assert_close(&format!("{at} parameters"), &got, &want.parameters);
            assert_close(&format!("{at} inputs"), &grads.inputs, &want.inputs);
            assert_close(&format!("{at} h0"), &grads.initial_h, &want.states[0]);
        }
    });
}

fn check_gru<const I: usize, const H: usize>(cell: &GruCell<I, H>) {
    let mut wide = GruCell::<I, H, f64>::zeros();
    wide.recurrent_bias = cell.recurrent_bias.map(|_| [SVector::zeros(); 3]);
    wide.bias = cell.bias.map(|_| [SVector::zeros(); 3]);
    copy_parameters(cell, &mut wide);
    wide.activation = cell.activation;
    wide.recurrent_activation = cell.recurrent_activation;
    wide.reset_after = cell.reset_after;
    let layer = fused::Gru::new(cell);
    let what = format!("gru reset_after={}", cell.reset_after);
    check_one_state::<_, I, H>(
        &what,
        wide,
        cell.recurrent_bias.is_some(),
        |batch, trace, grads| {
            let n = batch.lengths.len();
            let h0 = Some(batch.initial[0].as_slice());
            layer
                .forward_train_into(&batch.x, n, Some(batch.lengths), h0, trace)
                .unwrap();
            let dh = Some(batch.d_final[0].as_slice());
            layer
                .backward_into(trace, &batch.x, &batch.dy, dh, grads)
                .unwrap();
        },
    );
}

fn check_simple_rnn<const I: usize, const H: usize>(cell: &SimpleRnnCell<I, H>) {
    let mut wide = SimpleRnnCell::<I, H, f64>::zeros();
    copy_parameters(cell, &mut wide);
    wide.activation = cell.activation;
    let layer = fused::SimpleRnn::new(cell);
    check_one_state::<_, I, H>("simple_rnn", wide, false, |batch, trace, grads| {
        let n = batch.lengths.len();
        let h0 = Some(batch.initial[0].as_slice());
        layer
            .forward_train_into(&batch.x, n, Some(batch.lengths), h0, trace)
            .unwrap();
        let dh = Some(batch.d_final[0].as_slice());
        layer
            .backward_into(trace, &batch.x, &batch.dy, dh, grads)
            .unwrap();
    });
}

#[test]
fn lstm_backward_equals_the_per_sequence_backward() {
    // H = 19: 16 units in vectors, 3 one at a time.
    check_lstm(&LstmCell::<5, 19>::pytorch_init(1));
    // The general path.
    check_lstm(
        &LstmCell::<5, 19>::keras_init(2).with_recurrent_activation(Activation::HardSigmoid),
    );
}

#[test]
fn gru_backward_equals_the_per_sequence_backward_in_both_variants() {
    check_gru(&GruCell::<6, 11>::pytorch_init(3));
    let mut before = GruCell::<6, 11>::keras_init(4);
    before.reset_after = false;
    before.recurrent_bias = None;
    check_gru(&before);
    // The general path, both variants.
    check_gru(&GruCell::<6, 11>::keras_init(5).with_activation(Activation::Relu));
    let mut general = before.with_activation(Activation::Linear);
    general.recurrent_activation = Activation::HardSigmoid;
    check_gru(&general);
}

#[test]
fn simple_rnn_backward_equals_the_per_sequence_backward() {
    check_simple_rnn(&SimpleRnnCell::<4, 17>::pytorch_init(6));
    check_simple_rnn(&SimpleRnnCell::<4, 17>::pytorch_init(7).with_activation(Activation::Relu));
}

/// The training forward computes the inference forward's bits, sample by sample and with the
/// GEMMs.
#[test]
fn the_training_forward_is_the_inference_forward() {
    let lstm = LstmCell::<5, 19>::pytorch_init(8);
    let gru = GruCell::<6, 11>::pytorch_init(9);
    let rnn = SimpleRnnCell::<4, 17>::pytorch_init(10);
    let mut trace = Trace::default();
    for batch in [1, 3, 8] {
        let x = values(batch * STEPS * 6, 11);
        let lstm_x = &x[..batch * STEPS * 5];
        let run = fused::Lstm::new(&lstm)
            .forward(lstm_x, batch, None)
            .unwrap();
        fused::Lstm::new(&lstm)
            .forward_train_into(lstm_x, batch, None, None, &mut trace)
            .unwrap();
        assert_eq!(
            (&trace.outputs, &trace.h, &trace.c),
            (&run.outputs, &run.h, &run.c)
        );
        let run = fused::Gru::new(&gru).forward(&x, batch, None).unwrap();
        fused::Gru::new(&gru)
            .forward_train_into(&x, batch, None, None, &mut trace)
            .unwrap();
        assert_eq!((&trace.outputs, &trace.h), (&run.outputs, &run.h));
        let rnn_x = &x[..batch * STEPS * 4];
        let run = fused::SimpleRnn::new(&rnn)
            .forward(rnn_x, batch, None)
            .unwrap();
        fused::SimpleRnn::new(&rnn)
            .forward_train_into(rnn_x, batch, None, None, &mut trace)
            .unwrap();
        assert_eq!((&trace.outputs, &trace.h), (&run.outputs, &run.h));
    }
}

/// The same call twice on a pool gives the same bits (the chunks' gradients are added in a
/// fixed order), also into buffers kept from a larger call.
#[test]
fn the_gradients_are_the_same_bits_twice() {
    let cell = LstmCell::<5, 19>::pytorch_init(12);
    let layer = fused::Lstm::new(&cell);
    on_pools(|_| {
        let lengths = BATCHES[2];
        let batch = Batch::new(lengths, 5, 19);
        let run = |grads: &mut Gradients| {
            let mut trace = Trace::default();
            layer
                .forward_train_into(&batch.x, lengths.len(), Some(lengths), None, &mut trace)
                .unwrap();
            layer
                .backward_into(&trace, &batch.x, &batch.dy, None, grads)
                .unwrap();
            let bits = |v: &Vec<f32>| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            [
                &grads.kernel,
                &grads.recurrent_kernel,
                &grads.bias,
                &grads.inputs,
                &grads.initial_h,
                &grads.initial_c,
            ]
            .map(bits)
        };
        let mut trace = Trace::default();
        let mut kept = Gradients::default();
        // A larger call first: the second runs in buffers it left.
        let big = Batch::new(BATCHES[3], 5, 19);
        layer
            .forward_train_into(&big.x, 5, None, None, &mut trace)
            .unwrap();
        layer
            .backward_into(&trace, &big.x, &big.dy, None, &mut kept)
            .unwrap();
        let first = run(&mut Gradients::default());
        assert_eq!(first, run(&mut kept));
        assert_eq!(first, run(&mut kept));
    });
}

/// Sizes that do not fit the trace, and lengths out of order, are typed errors.
#[test]
fn bad_sizes_are_errors() {
    let cell = GruCell::<6, 11>::pytorch_init(13);
    let layer = fused::Gru::new(&cell);
    let (mut trace, mut grads) = (Trace::default(), Gradients::default());
    let x = values(4 * STEPS * 6, 14);
    assert!(layer
        .forward_train_into(&x, 4, Some(&[3, 6, 2, 1]), None, &mut trace)
        .is_err());
    layer
        .forward_train_into(&x, 4, Some(&[6, 3, 2, 1]), None, &mut trace)
        .unwrap();
    let dy = vec![0.0; 4 * STEPS * 11];
    let err = layer
        .backward_into(&trace, &x[1..], &dy, None, &mut grads)
        .unwrap_err();
    assert_eq!((err.expected, err.found), (x.len(), x.len() - 1));
    let err = layer
        .backward_into(&trace, &x, &dy[..11], None, &mut grads)
        .unwrap_err();
    assert_eq!((err.expected, err.found), (dy.len(), 11));
    let err = layer
        .backward_into(&trace, &x, &dy, Some(&[0.0; 3]), &mut grads)
        .unwrap_err();
    assert_eq!((err.expected, err.found), (44, 3));
    // A trace recorded by another layer.
    let lstm = LstmCell::<6, 11>::pytorch_init(15);
    fused::Lstm::new(&lstm)
        .forward_train_into(&x, 4, None, None, &mut trace)
        .unwrap();
    assert!(layer
        .backward_into(&trace, &x, &dy, None, &mut grads)
        .is_err());
}

/// This suite on every instruction set the CPU has (the narrower ones in children, see
/// `common/isa.rs`); `--nocapture` shows which ran.
#[test]
fn every_dispatched_path_runs_this_suite() {
    isa::assert_every_path_ran("every_dispatched_path_runs_this_suite");
}
