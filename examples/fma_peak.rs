//! The peak `f32` multiply-add throughput of one core of this machine, per instruction set the
//! CPU has: the ceiling a kernel's GFLOP/s is a fraction of (`tools/peers.py` puts each
//! configuration's fraction in `docs/PERFORMANCE.md`).
//!
//! ```text
//! cargo run --release --example fma_peak            # a line per instruction set
//! cargo run --release --example fma_peak -- --json  # {"avx2": GFLOP/s, "avx512": GFLOP/s, ...}
//! ```
//!
//! Each measurement runs chains of fused multiply-adds that do not depend on one another
//! (more chains than the FMA units' latency times their count, so they never wait), with no
//! loads or stores in the loop: two FLOPs per lane per instruction. The baseline set has no
//! FMA; its figure is a multiply and an add per lane on SSE2's 4 lanes (the FLOPs of one
//! multiply-add).

use std::hint::black_box;
use std::time::{Duration, Instant};

use rnn::kernels::Isa;

/// Independent accumulator chains: at least latency (4 cycles) × 2 units, with room.
const CHAINS: usize = 12;
/// Multiply-adds per chain per call of a kernel.
const TURNS: usize = 1 << 14;

/// `acc = acc · m + a` on `CHAINS` vectors, `TURNS` times, through `fma` (one instruction of
/// the set measured). Written with vector types, not arrays of `f32`: in code compiled for
/// AVX-512, LLVM vectorizes a loop over arrays of accumulators across the arrays (gathers
/// and scatters through memory) instead of keeping each in a register.
#[inline(always)]
fn chains<V: Copy>(seed: V, m: V, a: V, fma: impl Fn(V, V, V) -> V) -> [V; CHAINS] {
    let mut acc = [seed; CHAINS];
    for _ in 0..TURNS {
        for x in &mut acc {
            *x = fma(*x, m, a);
        }
    }
    acc
}

/// The arguments every kernel starts from, hidden from the optimizer.
fn args() -> (f32, f32, f32) {
    black_box((1.0, 0.999_999, 1e-7))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2() -> f32 {
    use std::arch::x86_64::*;
    let (s, m, a) = args();
    let (s, m, a) = (_mm256_set1_ps(s), _mm256_set1_ps(m), _mm256_set1_ps(a));
    let acc = chains(s, m, a, |x, m, a| _mm256_fmadd_ps(x, m, a));
    acc.iter().map(|&v| _mm256_cvtss_f32(v)).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx2,fma")]
fn avx512() -> f32 {
    use std::arch::x86_64::*;
    let (s, m, a) = args();
    let (s, m, a) = (_mm512_set1_ps(s), _mm512_set1_ps(m), _mm512_set1_ps(a));
    let acc = chains(s, m, a, |x, m, a| _mm512_fmadd_ps(x, m, a));
    acc.iter().map(|&v| _mm512_cvtss_f32(v)).sum()
}

/// SSE2 has no FMA: a multiply and an add, 4 lanes.
#[cfg(target_arch = "x86_64")]
fn baseline() -> f32 {
    use std::arch::x86_64::*;
    let (s, m, a) = args();
    // SAFETY: these intrinsics need SSE2 only, which every x86-64 CPU has (the target's
    // baseline, enabled in every build for it).
    unsafe {
        let (s, m, a) = (_mm_set1_ps(s), _mm_set1_ps(m), _mm_set1_ps(a));
        let acc = chains(s, m, a, |x, m, a| _mm_add_ps(_mm_mul_ps(x, m), a));
        acc.iter().map(|&v| _mm_cvtss_f32(v)).sum()
    }
}

/// Elsewhere: plain `f32`, one lane.
#[cfg(not(target_arch = "x86_64"))]
fn baseline() -> f32 {
    let (s, m, a) = args();
    chains(s, m, a, |x, m, a| x * m + a).iter().sum()
}

/// FLOPs per call: 2 per lane per multiply-add.
fn flops(lanes: usize) -> f64 {
    (2 * lanes * CHAINS * TURNS) as f64
}

/// The best GFLOP/s of `kernel` over about `seconds` of calls (the best, not the median: the
/// peak is what the core can do when nothing else runs on it).
fn measure(kernel: impl Fn() -> f32, lanes: usize, seconds: f64) -> f64 {
    let start = Instant::now();
    let mut best = f64::INFINITY;
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        let t = Instant::now();
        black_box(kernel());
        best = best.min(t.elapsed().as_nanos() as f64);
    }
    flops(lanes) / best
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let seconds = 0.5;
    let lanes = if cfg!(target_arch = "x86_64") { 4 } else { 1 };
    let mut rows: Vec<(Isa, f64)> = vec![(Isa::Baseline, measure(baseline, lanes, seconds))];
    #[cfg(target_arch = "x86_64")]
    {
        // The kernels run one of these only where the CPU reports it, as here.
        if Isa::detected() >= Isa::Avx2 {
            // SAFETY: `avx2` requires AVX2 and FMA, which the CPU reports (`Isa::Avx2` and
            // `Isa::Avx512` both include them).
            rows.push((Isa::Avx2, measure(|| unsafe { avx2() }, 8, seconds)));
        }
        if Isa::detected() >= Isa::Avx512 {
            // SAFETY: `avx512` requires exactly the features `Isa::Avx512` stands for, which
            // the CPU reports.
            rows.push((Isa::Avx512, measure(|| unsafe { avx512() }, 16, seconds)));
        }
    }
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(isa, g)| format!("\"{}\": {g:.2}", isa.name()))
            .collect();
        println!("{{{}}}", items.join(", "));
    } else {
        for (isa, g) in rows {
            println!("{:<10}{g:>10.1} GFLOP/s per core", isa.name());
        }
    }
}
