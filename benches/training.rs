//! The fused layers' training step without the optimizer: the training forward (recording the
//! gates) and the batched backward of a whole batch, `f32`, one iteration per batch. Divide
//! the time by `B × T` (criterion's throughput, in elements) for the time per sample-step.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rnn::cells::{GruCell, LstmCell};
use rnn::fused::{self, Gradients, Trace};

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

fn training(c: &mut Criterion) {
    lstm::<32>(c, 1, 32);
    lstm::<64>(c, 32, 32);
    lstm::<128>(c, 64, 50);
    gru::<64>(c, 32, 32);
}

criterion_group!(benches, training);
criterion_main!(benches);
