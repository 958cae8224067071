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
//! FMA; its figure is a multiply and an add per lane on SSE2's 4 lanes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rnn::kernels::Isa;

/// Independent accumulator chains: at least latency (4 cycles) × 2 units, with room.
const CHAINS: usize = 12;
/// Multiply-adds per chain per call of a kernel.
const TURNS: usize = 1 << 14;

/// `acc = acc · m + a` for every lane of `CHAINS` vectors of `L` lanes, `TURNS` times: the
/// compiler keeps each chain in a register of `L` lanes (with the features enabled by the
/// caller) and fuses each multiply-add when `FUSED`.
#[inline(always)]
fn chains<const L: usize, const FUSED: bool>(seed: f32) -> f32 {
    let mut acc = [[seed; L]; CHAINS];
    let (m, a) = (black_box(0.999_999f32), black_box(1e-7f32));
    for _ in 0..TURNS {
        for chain in &mut acc {
            for x in chain {
                *x = if FUSED { x.mul_add(m, a) } else { *x * m + a };
            }
        }
    }
    acc.iter().flatten().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2(seed: f32) -> f32 {
    chains::<8, true>(seed)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx2,fma")]
fn avx512(seed: f32) -> f32 {
    chains::<16, true>(seed)
}

fn baseline(seed: f32) -> f32 {
    chains::<4, false>(seed)
}

/// FLOPs per call: 2 per lane per multiply-add.
fn flops(lanes: usize) -> f64 {
    (2 * lanes * CHAINS * TURNS) as f64
}

/// The best GFLOP/s of `kernel` over about `seconds` of calls (the best, not the median: the
/// peak is what the core can do when nothing else runs on it).
fn measure(kernel: impl Fn(f32) -> f32, lanes: usize, seconds: f64) -> f64 {
    let start = Instant::now();
    let mut best = f64::INFINITY;
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        let t = Instant::now();
        black_box(kernel(black_box(1.0)));
        best = best.min(t.elapsed().as_nanos() as f64);
    }
    flops(lanes) / best
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let seconds = 0.5;
    let mut rows: Vec<(Isa, f64)> = vec![(Isa::Baseline, measure(baseline, 4, seconds))];
    #[cfg(target_arch = "x86_64")]
    {
        // The kernels run one of these only where the CPU reports it, as here.
        if Isa::detected() >= Isa::Avx2 {
            // SAFETY: `avx2` requires AVX2 and FMA, which the CPU reports (`Isa::Avx2` and
            // `Isa::Avx512` both include them).
            rows.push((Isa::Avx2, measure(|s| unsafe { avx2(s) }, 8, seconds)));
        }
        if Isa::detected() >= Isa::Avx512 {
            // SAFETY: `avx512` requires exactly the features `Isa::Avx512` stands for, which
            // the CPU reports.
            rows.push((Isa::Avx512, measure(|s| unsafe { avx512(s) }, 16, seconds)));
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
