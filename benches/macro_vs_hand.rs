//! The cost of `#[cell]`: the built-in LSTM (written with the macro, run by `Rnn::run`)
//! against the same arithmetic written by hand as a plain loop, with no macro, no `Cell`
//! trait and no driver. Issue 6's target: within 5%. A timed test would be flaky on a shared
//! machine, so this is a benchmark pair; compare `macro/H` with `hand/H`.

#[path = "workloads/mod.rs"]
mod workloads;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rnn::cells::{Activation, LstmCell};
use rnn::prelude::*;

/// The LSTM step of `rnn_core::cells::lstm`, written out by hand over the cell's public
/// weights: the same kernels in the same order.
fn hand_lstm<const H: usize>(
    cell: &LstmCell<H, H>,
    xs: &[SVector<f32, H>],
    h: &mut SVector<f32, H>,
    c: &mut SVector<f32, H>,
) -> Vec<SVector<f32, H>> {
    let mut outputs = Vec::with_capacity(xs.len());
    for x in xs {
        let mut z = cell.bias.unwrap_or([SVector::zeros(); 4]);
        cell.kernel.accumulate(x, &mut z);
        cell.recurrent_kernel.accumulate(h, &mut z);
        let [mut i, mut f, mut g, mut o] = z;
        Activation::Sigmoid.apply(&mut i);
        Activation::Sigmoid.apply(&mut f);
        Activation::Sigmoid.apply(&mut o);
        Activation::Tanh.apply(&mut g);
        *c = f.component_mul(c) + i.component_mul(&g);
        let mut activated = *c;
        Activation::Tanh.apply(&mut activated);
        *h = o.component_mul(&activated);
        outputs.push(*h);
    }
    outputs
}

fn pair<const H: usize>(c: &mut Criterion) {
    let cell = LstmCell::<H, H>::keras_init(1);
    let xs = workloads::sequence::<H>(32, 2);
    let rnn = Rnn::new(&cell);
    let mut group = c.benchmark_group("macro_vs_hand");
    group.bench_function(format!("macro/{H}"), |b| {
        b.iter(|| black_box(rnn.run(black_box(&xs), &())))
    });
    group.bench_function(format!("hand/{H}"), |b| {
        b.iter(|| {
            let (mut h, mut c) = (SVector::zeros(), SVector::zeros());
            black_box(hand_lstm(&cell, black_box(&xs), &mut h, &mut c))
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    pair::<8>(c);
    pair::<32>(c);
    pair::<128>(c);
}

criterion_group!(macro_overhead, benches);
criterion_main!(macro_overhead);
