//! Every configuration of the performance table, one criterion benchmark each (one iteration = one
//! forward of the whole batch over the sequence). `examples/perf_table.rs` times the same
//! workloads and prints ns per sample-step.

#[path = "workloads/mod.rs"]
mod workloads;

use criterion::{criterion_group, criterion_main, Criterion};

fn configs(c: &mut Criterion) {
    let mut group = c.benchmark_group("configs");
    group.sample_size(20);
    for name in workloads::NAMES
        .into_iter()
        .chain(["seed-custom-run-batch", "seed-nested-per-sample"])
    {
        let mut w = workloads::build(name).expect("known configuration");
        group.bench_function(name, |b| b.iter(&mut w.run));
    }
    group.finish();
}

criterion_group!(benches, configs);
criterion_main!(benches);
