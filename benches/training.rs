//! The fused layers' training step without the optimizer: the training forward (recording the
//! gates) and the batched backward of a whole batch, `f32`, one iteration per batch. Divide
//! the time by `B × T` (criterion's throughput, in elements) for the time per sample-step.
//! Also an `Rnn` layer's step through the `Layer` API (as `Model::fit` runs it), lowered onto
//! the fused kernel and on the loop per sequence.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rnn::cells::{GruCell, LstmCell};
use rnn::fused::{self, Gradients, Trace};
use rnn::nalgebra::SVector;
use rnn::train::{Layer, RnnTape};
use rnn::Rnn;

/// Deterministic values in [-1, 1].
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

fn lstm<const N: usize>(c: &mut Criterion, batch: usize, steps: usize) {
    let cell = LstmCell::<N, N>::keras_init(1);
    let layer = fused::Lstm::new(&cell);
    let x = values(batch * steps * N, 2);
    let dy = values(batch * steps * N, 3);
    let (mut trace, mut grads) = (Trace::default(), Gradients::default());
    let mut group = c.benchmark_group("training");
    group.sample_size(20);
    group.throughput(Throughput::Elements((batch * steps) as u64));
    group.bench_function(format!("lstm-b{batch}-h{N}-t{steps}"), |b| {
        b.iter(|| {
            layer
                .forward_train_into(&x, batch, None, None, &mut trace)
                .unwrap();
            layer
                .backward_into(&trace, &x, &dy, None, &mut grads)
                .unwrap();
        })
    });
    group.finish();
}

fn gru<const N: usize>(c: &mut Criterion, batch: usize, steps: usize) {
    let cell = GruCell::<N, N>::keras_init(1);
    let layer = fused::Gru::new(&cell);
    let x = values(batch * steps * N, 2);
    let dy = values(batch * steps * N, 3);
    let (mut trace, mut grads) = (Trace::default(), Gradients::default());
    let mut group = c.benchmark_group("training");
    group.sample_size(20);
    group.throughput(Throughput::Elements((batch * steps) as u64));
    group.bench_function(format!("gru-b{batch}-h{N}-t{steps}"), |b| {
        b.iter(|| {
            layer
                .forward_train_into(&x, batch, None, None, &mut trace)
                .unwrap();
            layer
                .backward_into(&trace, &x, &dy, None, &mut grads)
                .unwrap();
        })
    });
    group.finish();
}

/// An `Rnn<LstmCell>` layer's forward and backward through [`Layer`] on `batch` sequences of
/// `steps` steps, on the batched kernel (`lowered`) or the loop per sequence.
fn rnn_layer<const I: usize, const N: usize>(
    c: &mut Criterion,
    batch: usize,
    steps: usize,
    lowered: bool,
) {
    let rnn = Rnn::new(LstmCell::<I, N>::keras_init(1)).batched_kernel(lowered);
    let x = values(batch * steps * I, 2);
    let inputs: Vec<Vec<SVector<f32, I>>> = x
        .chunks_exact(steps * I)
        .map(|sample| {
            sample
                .chunks_exact(I)
                .map(SVector::from_column_slice)
                .collect()
        })
        .collect();
    let dy: Vec<SVector<f32, N>> = values(batch * N, 3)
        .chunks_exact(N)
        .map(SVector::from_column_slice)
        .collect();
    let (mut tape, mut outputs) = (RnnTape::default(), Vec::new());
    let mut grads = rnn.clone();
    let path = if lowered { "lowered" } else { "per-sequence" };
    let mut group = c.benchmark_group("training");
    group.sample_size(20);
    group.throughput(Throughput::Elements((batch * steps) as u64));
    group.bench_function(
        format!("rnn-lstm-{path}-b{batch}-i{I}-h{N}-t{steps}"),
        |b| {
            b.iter(|| {
                Layer::forward(&rnn, &inputs, &mut tape, &mut outputs);
                Layer::backward(&rnn, &inputs, &mut tape, &dy, &mut grads, None);
            })
        },
    );
    group.finish();
}

fn training(c: &mut Criterion) {
    lstm::<32>(c, 1, 32);
    lstm::<64>(c, 32, 32);
    lstm::<128>(c, 64, 50);
    gru::<64>(c, 32, 32);
    // The digits example's layer: LSTM(64) on 8 steps of 8 pixels, batches of 32.
    rnn_layer::<8, 64>(c, 32, 8, true);
    rnn_layer::<8, 64>(c, 32, 8, false);
}

criterion_group!(benches, training);
criterion_main!(benches);
