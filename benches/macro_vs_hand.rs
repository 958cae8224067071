//! The cost of `#[cell]`: the built-in LSTM (written with the macro) against the same
//! arithmetic with its `Cell` impl written by hand, both run by `Rnn::run`. A timed test would be flaky on a shared machine, so this is a
//! benchmark pair; compare `macro/H` with `hand/H`.

#[path = "workloads/mod.rs"]
mod workloads;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rnn::cells::LstmCell;
use rnn::prelude::*;
use rnn::Cell;

/// The LSTM of `rnn_core::cells::lstm`, with its `Cell` impl written by hand (no macro):
/// the same kernels in the same order.
struct HandLstm<const H: usize>(LstmCell<H, H>);

#[derive(Clone, Debug, PartialEq, Nested)]
struct HandState<const H: usize> {
    h: SVector<f32, H>,
    c: SVector<f32, H>,
}

impl<const H: usize> Cell for HandLstm<H> {
    type Input = SVector<f32, H>;
    type State = HandState<H>;
    type Constants = ();
    type Output = SVector<f32, H>;

    #[inline(always)]
    fn step(&self, x: &Self::Input, s: &mut Self::State, _: &()) -> Self::Output {
        let cell = &self.0;
        // The rounding chosen once per step, as the built-in's body does.
        rnn::with_rounding!(R => {
            let mut z = cell.bias.unwrap_or([SVector::zeros(); 4]);
            cell.kernel.accumulate_with::<R>(x, &mut z);
            cell.recurrent_kernel.accumulate_with::<R>(&s.h, &mut z);
            let [mut i, mut f, mut g, mut o] = z;
            // The cell's configured activations, as the built-in reads them.
            cell.recurrent_activation.apply_with::<R, f32, H>(&mut i);
            cell.recurrent_activation.apply_with::<R, f32, H>(&mut f);
            cell.recurrent_activation.apply_with::<R, f32, H>(&mut o);
            cell.activation.apply_with::<R, f32, H>(&mut g);
            s.c = f.component_mul(&s.c) + i.component_mul(&g);
            let mut activated = s.c;
            cell.activation.apply_with::<R, f32, H>(&mut activated);
            s.h = o.component_mul(&activated);
            s.h
        })
    }
}

fn pair<const H: usize>(c: &mut Criterion) {
    let cell = LstmCell::<H, H>::keras_init(1);
    let xs = workloads::sequence::<H>(32, 2);
    let rnn = Rnn::new(cell.clone());
    let hand = Rnn::new(HandLstm(cell));
    assert_eq!(
        rnn.run(&xs, &()).outputs.0,
        hand.run(&xs, &()).outputs.0,
        "the same arithmetic"
    );
    let mut group = c.benchmark_group("macro_vs_hand");
    group.bench_function(format!("macro/{H}"), |b| {
        b.iter(|| black_box(rnn.run(black_box(&xs), &())))
    });
    group.bench_function(format!("hand/{H}"), |b| {
        b.iter(|| black_box(hand.run(black_box(&xs), &())))
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
