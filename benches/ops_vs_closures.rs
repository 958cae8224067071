//! Why `rnn::ops`: a peephole LSTM step (I = H = 32) written with closures over `f32::exp` and
//! `f32::tanh`, as a newcomer writes it, against the same arithmetic with the vectorized
//! operations, both run by `Rnn::run` over 32 steps. Compare `closures` with `ops`.

#[path = "workloads/mod.rs"]
mod workloads;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rnn::cells::Dense;
use rnn::ops;
use rnn::prelude::*;

const H: usize = 32;

/// The gates' weights: `[x; h] · W + b` for the four gates, and the peephole diagonals.
struct Peephole {
    gates: [Dense<{ 2 * H }, H>; 4],
    peep: [SVector<f32, H>; 3],
}

impl Peephole {
    fn new() -> Self {
        Peephole {
            gates: core::array::from_fn(|g| Dense::keras_init(g as u64)),
            peep: core::array::from_fn(|g| SVector::repeat(0.1 * g as f32)),
        }
    }
}

struct WithClosures(Peephole);
struct WithOps(Peephole);

#[cell(inference)]
impl WithClosures {
    fn step(
        &self,
        #[input] x: &SVector<f32, H>,
        #[state] h: &mut SVector<f32, H>,
        #[state] c: &mut SVector<f32, H>,
    ) -> SVector<f32, H> {
        let p = &self.0;
        let xh: SVector<f32, { 2 * H }> = ops::concat(x, h);
        let sigmoid = |v: SVector<f32, H>| v.map(|z| 1.0 / (1.0 + (-z).exp()));
        let i = sigmoid(p.gates[0].forward(&xh) + p.peep[0].component_mul(c));
        let f = sigmoid(p.gates[1].forward(&xh) + p.peep[1].component_mul(c));
        let g = p.gates[2].forward(&xh).map(f32::tanh);
        *c = f.component_mul(c) + i.component_mul(&g);
        let o = sigmoid(p.gates[3].forward(&xh) + p.peep[2].component_mul(c));
        *h = o.component_mul(&c.map(f32::tanh));
        *h
    }
}

#[cell]
impl WithOps {
    fn step(
        &self,
        #[input] x: &SVector<f32, H>,
        #[state] h: &mut SVector<f32, H>,
        #[state] c: &mut SVector<f32, H>,
    ) -> SVector<f32, H> {
        let p = &self.0;
        let xh: SVector<f32, { 2 * H }> = ops::concat(x, h);
        let i = ops::sigmoid(&(p.gates[0].forward(&xh) + p.peep[0].component_mul(c)));
        let f = ops::sigmoid(&(p.gates[1].forward(&xh) + p.peep[1].component_mul(c)));
        let g = ops::tanh(&p.gates[2].forward(&xh));
        *c = f.component_mul(c) + i.component_mul(&g);
        let o = ops::sigmoid(&(p.gates[3].forward(&xh) + p.peep[2].component_mul(c)));
        *h = o.component_mul(&ops::tanh(c));
        *h
    }
}

fn pair(c: &mut Criterion) {
    let xs = workloads::sequence::<H>(32, 2);
    let closures = Rnn::new(WithClosures(Peephole::new()));
    let with_ops = Rnn::new(WithOps(Peephole::new()));
    let (a, b) = (closures.run(&xs, &()), with_ops.run(&xs, &()));
    let worst = (a.state.h - b.state.h).amax();
    assert!(worst < 1e-5, "the two forms disagree by {worst}");
    let mut group = c.benchmark_group("peephole-lstm-h32");
    group.bench_function("closures", |b| {
        b.iter(|| black_box(closures.run(black_box(&xs), &())))
    });
    group.bench_function("ops", |b| {
        b.iter(|| black_box(with_ops.run(black_box(&xs), &())))
    });
    group.finish();
}

criterion_group!(benches, pair);
criterion_main!(benches);
