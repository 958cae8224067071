//! The cost of the backward `#[cell]` generates: an LSTM written with the crate's operations
//! (its backward generated) against the built-in `LstmCell`, whose backward is derived by
//! hand and fused per step. Both backward passes run over the same recorded sequence of 32
//! steps; compare `generated/H` with `hand/H` (and the forward-with-tape pair beside them).

#[path = "workloads/mod.rs"]
mod workloads;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rnn::cells::LstmCell;
use rnn::prelude::*;
use rnn::train::{Differentiable, Tape};
use rnn::weights::Kernel;

/// The LSTM written as a custom cell would be: two stacked kernels, four biases, the
/// vectorized activations.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct OpsLstm<const H: usize> {
    kernel: Kernel<f32, H, 4, H>,
    recurrent_kernel: Kernel<f32, H, 4, H>,
    b_i: SVector<f32, H>,
    b_f: SVector<f32, H>,
    b_g: SVector<f32, H>,
    b_o: SVector<f32, H>,
}

#[derive(Clone, Debug, PartialEq, Nested)]
struct OpsState<const H: usize> {
    h: SVector<f32, H>,
    c: SVector<f32, H>,
}

#[cell]
impl<const H: usize> OpsLstm<H> {
    fn step(&self, #[input] x: &SVector<f32, H>, #[state] s: &mut OpsState<H>) -> SVector<f32, H> {
        let [xi, xf, xg, xo] = self.kernel.apply(x);
        let [hi, hf, hg, ho] = self.recurrent_kernel.apply(&s.h);
        let i = rnn::ops::sigmoid(&(xi + hi + self.b_i));
        let f = rnn::ops::sigmoid(&(xf + hf + self.b_f));
        let g = rnn::ops::tanh(&(xg + hg + self.b_g));
        let o = rnn::ops::sigmoid(&(xo + ho + self.b_o));
        let c = f.component_mul(&s.c) + i.component_mul(&g);
        let h = o.component_mul(&rnn::ops::tanh(&c));
        s.c = c;
        s.h = h;
        h
    }
}

fn backward_pair<
    C: Differentiable<Constants = (), Input = SVector<f32, H>> + Clone,
    const H: usize,
>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    rnn: &Rnn<C>,
    initial: C::State,
) {
    let xs = workloads::sequence::<H>(32, 2);
    let d_outputs: Vec<C::Output> = vec![C::Output::zeros(); xs.len()];
    let mut tape = Tape::new();
    group.bench_function(format!("{name} forward/{H}"), |b| {
        b.iter(|| {
            black_box(
                rnn.run_taped(black_box(&xs), Mask::All, initial.clone(), &(), &mut tape)
                    .unwrap(),
            )
        })
    });
    rnn.run_taped(&xs, Mask::All, initial.clone(), &(), &mut tape)
        .unwrap();
    group.bench_function(format!("{name}/{H}"), |b| {
        b.iter(|| {
            black_box(
                rnn.backward(&tape, black_box(&xs), &d_outputs, initial.clone(), &())
                    .unwrap(),
            )
        })
    });
}

fn pair<const H: usize>(c: &mut Criterion) {
    let hand = Rnn::new(LstmCell::<H, H>::keras_init(1));
    let generated = Rnn::new(OpsLstm::<H> {
        kernel: Kernel::zeros(),
        recurrent_kernel: Kernel::zeros(),
        b_i: SVector::zeros(),
        b_f: SVector::zeros(),
        b_g: SVector::zeros(),
        b_o: SVector::zeros(),
    })
    .initialized(rnn::parameters::Scheme::Keras, 1);
    let mut group = c.benchmark_group("adjoint_vs_hand");
    backward_pair(&mut group, "hand", &hand, Nested::zeros());
    backward_pair(&mut group, "generated", &generated, Nested::zeros());
    group.finish();
}

fn benches(c: &mut Criterion) {
    pair::<32>(c);
    pair::<128>(c);
}

criterion_group!(adjoint_overhead, benches);
criterion_main!(adjoint_overhead);
