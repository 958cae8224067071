//! Static unroll against the dynamic loop (the static unroll is never slower), and a
//! partially unrolled loop (as `lax.scan(unroll=k)`) against the same loop not unrolled,
//! measured to decide whether the library should offer one.

#[path = "workloads/mod.rs"]
mod workloads;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rnn::cells::{GruCell, LstmCell};
use rnn::prelude::*;
use rnn::Cell;

/// The dynamic loop with its body repeated `K` times (a tail loop for the rest).
fn run_unrolled<C: Cell, const K: usize>(
    cell: &C,
    xs: &[C::Input],
    mut state: C::State,
    constants: &C::Constants,
) -> (Vec<C::Output>, C::State) {
    let mut outputs = Vec::with_capacity(xs.len());
    let mut chunks = xs.chunks_exact(K);
    for chunk in &mut chunks {
        let chunk: &[C::Input; K] = chunk.try_into().expect("K inputs");
        for x in chunk {
            outputs.push(cell.step(x, &mut state, constants));
        }
    }
    for x in chunks.remainder() {
        outputs.push(cell.step(x, &mut state, constants));
    }
    (outputs, state)
}

fn compare<C: Cell<Constants = ()>, const N: usize>(c: &mut Criterion, name: &str, cell: C)
where
    C::Input: Copy,
{
    let xs: Vec<C::Input> = (0..32)
        .map(|t| {
            let v = workloads::values(N, t);
            C::Input::from_f32_slice(&v).expect("N inputs")
        })
        .collect();
    // Both runs read the same inputs, in the same place: only where the outputs go differs.
    let fixed: &[C::Input; 32] = xs.as_slice().try_into().expect("32 inputs");
    let rnn = Rnn::new(&cell);
    let mut group = c.benchmark_group(format!("unroll/{name}"));
    // Both results are kept by reference: `black_box(value)` would copy the static
    // unroll's `[O; T]` (4 KB at H = 32) to a new place, a cost a caller that keeps the
    // result where it was returned does not pay, while the dynamic loop's moves a pointer.
    group.bench_function("static", |b| {
        b.iter(|| black_box(&rnn.unroll(black_box(fixed), &())).outputs.len())
    });
    group.bench_function("dynamic", |b| {
        b.iter(|| black_box(&rnn.run(black_box(&xs), &())).outputs.len())
    });
    // The partial unroll is measured against the same loop written outside the crate with
    // K = 1 (neither runs in the crate's AVX2 copy, so the two differ only by the unroll).
    group.bench_function("plain-loop", |b| {
        b.iter(|| {
            black_box(run_unrolled::<_, 1>(
                &cell,
                black_box(&xs),
                cell.initial_state(&()),
                &(),
            ))
        })
    });
    group.bench_function("plain-loop-unroll-4", |b| {
        b.iter(|| {
            black_box(run_unrolled::<_, 4>(
                &cell,
                black_box(&xs),
                cell.initial_state(&()),
                &(),
            ))
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    compare::<_, 8>(c, "lstm-h8", LstmCell::<8, 8>::keras_init(1));
    compare::<_, 32>(c, "lstm-h32", LstmCell::<32, 32>::keras_init(1));
    compare::<_, 32>(c, "gru-h32", GruCell::<32, 32>::keras_init(1));
}

criterion_group!(unroll, benches);
criterion_main!(unroll);
