//! Runtime CPU-feature dispatch for the drivers and the kernels: the one place that decides
//! which instructions run.
//!
//! The default build targets baseline x86-64 (SSE2: 4 lanes, no FMA). A driver runs its whole
//! loop through [`vectorized`], which calls the loop through a copy compiled for AVX2 with FMA
//! (8 lanes) when the CPU has them. The built-in steps and kernels enter a copy of their own,
//! for the widest instruction set the CPU has ([`Isa`]: AVX-512, 16 lanes) unless their
//! vectors are narrower than its registers ([`copy_for`]).
//!
//! The same choice decides how the kernels round a multiply-add ([`fma`]): once (an FMA
//! instruction) on AVX2 or AVX-512, twice on the baseline. A kernel that fuses also enters the
//! copy itself (a call, even inside a driver), so a step called outside any driver computes the
//! same bits at the same speed. The kernels sum every output in the same order whatever the
//! width, so within one machine every driver, every block size, every direct call (and both
//! vector widths) agree bit for bit; between a CPU with FMA and one without, results differ in
//! the last bits (both stay within the parity tests' 1e-5).
//!
//! The environment variable `RNN_ISA` (`baseline`, `avx2` or `avx512`), read once, narrows the
//! choice: the tests use it to run every path on a machine that has the widest. It never
//! widens it past what the CPU reports.

use core::sync::atomic::{AtomicU8, Ordering};

/// An instruction set the kernels are compiled for, narrowest first.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// What the build targets: on x86-64, SSE2 without FMA.
    Baseline,
    /// AVX2 and FMA: 8 lanes of `f32`.
    Avx2,
    /// AVX-512 F with the VL, DQ, BW and CD extensions that every Intel and AMD CPU with
    /// AVX-512 has (and AVX2 and FMA): 16 lanes of `f32`.
    Avx512,
}

impl Isa {
    /// Every instruction set, narrowest first.
    pub const ALL: [Isa; 3] = [Isa::Baseline, Isa::Avx2, Isa::Avx512];

    /// The name `RNN_ISA` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The widest instruction set this CPU reports (checked at every call; [`active`] caches).
    pub fn detected() -> Isa {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                if has!("avx512f")
                    && has!("avx512vl")
                    && has!("avx512dq")
                    && has!("avx512bw")
                    && has!("avx512cd")
                {
                    return Isa::Avx512;
                }
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }

    /// The instruction set every kernel and driver of this process runs: the
    /// [`detected`](Isa::detected) one, narrowed by `RNN_ISA` if that names a narrower one.
    /// Decided on the first call and kept, so the whole process computes the same bits.
    #[inline(always)]
    pub fn active() -> Isa {
        match ACTIVE.load(Ordering::Relaxed) {
            1 => Isa::Baseline,
            2 => Isa::Avx2,
            3 => Isa::Avx512,
            _ => decide(),
        }
    }
}

/// [`Isa::active`], once decided: 0 until then, else 1 + its place in [`Isa::ALL`].
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// Detects, applies `RNN_ISA` and caches the result. Two threads may both get here; both
/// compute the same value.
#[cold]
fn decide() -> Isa {
    let detected = Isa::detected();
    #[cfg(feature = "std")]
    let isa = std::env::var("RNN_ISA")
        .ok()
        .and_then(|name| Isa::ALL.into_iter().find(|isa| isa.name() == name))
        .map_or(detected, |asked| asked.min(detected));
    #[cfg(not(feature = "std"))]
    let isa = detected;
    let code = Isa::ALL.iter().position(|&i| i == isa).unwrap_or(0) as u8 + 1;
    ACTIVE.store(code, Ordering::Relaxed);
    isa
}

/// Whether the kernels fuse their multiply-adds here: the active instruction set has FMA
/// (AVX2 or AVX-512).
#[inline(always)]
pub(crate) fn fma() -> bool {
    Isa::active() >= Isa::Avx2
}

/// Runs `f` in a copy of the code compiled for AVX2 + FMA when the CPU has them (detected
/// once, at run time), else as built.
///
/// Every driver runs its loop inside it, so the steps it inlines use 8 lanes and the
/// kernels' fused multiply-adds ([`fused_multiply_add`](crate::kernels::fused_multiply_add))
/// are single instructions. Wrap a hand-written loop of [`Cell::step`](crate::Cell::step)
/// calls in it for the same speed.
///
/// The built-in kernels and cells choose their own copy inside it: AVX-512 where the CPU has
/// it and their vectors fill its registers. The loop around them stays on AVX2: a custom
/// step's own arithmetic, inlined here, is mostly narrow vectors, and compiled for AVX-512 it
/// ran slower, its 16-lane loads waiting on the 8-lane stores of the kernels around it.
///
/// Only code inlined into `f` is compiled for these instructions; a function the compiler
/// leaves out of line (a large helper of a custom step, say) runs with 4 lanes. The built-in
/// kernels are safe either way: they enter their copy themselves.
///
/// ```
/// use rnn::cells::LstmCell;
/// use rnn::{vectorized, Cell, Rnn};
/// use nalgebra::SVector;
///
/// let cell = LstmCell::<2, 3>::keras_init(0);
/// let xs = [SVector::from([1.0, 2.0]), SVector::from([0.5, -1.0])];
/// let mut state = cell.initial_state(&());
/// let ys: Vec<_> = vectorized(|| xs.iter().map(|x| cell.step(x, &mut state, &())).collect());
/// assert_eq!(ys, Rnn::new(&cell).run(&xs, &()).outputs.to_vec());
/// ```
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    vectorized_in(Isa::Avx2, f)
}

/// The copy of the code to run a call whose vectors are `lanes` wide (a step's `H`) in: the
/// active instruction set, except AVX2 rather than AVX-512 when they are narrower than one
/// AVX-512 register.
///
/// Such a step's products and activations run on 8-lane vectors either way, and in the
/// AVX-512 copy the compiler reads as one 16-lane vector what was written as two 8-lane
/// ones: the load waits for both stores to reach the cache instead of taking their values
/// from the store buffer, a stall per product. So the narrow cells (the LSTM at `H = 8`)
/// measure faster compiled for AVX2. The two copies compute the same bits.
#[doc(hidden)]
#[inline(always)]
pub fn copy_for(lanes: usize) -> Isa {
    match Isa::active() {
        Isa::Avx512 if lanes < 16 => Isa::Avx2,
        isa => isa,
    }
}

/// Runs `f` in the copy [`copy_for`] chooses for vectors of `lanes`.
#[doc(hidden)]
#[inline(always)]
pub fn vectorized_for<R>(lanes: usize, f: impl FnOnce() -> R) -> R {
    vectorized_in(copy_for(lanes), f)
}

/// Runs `f` in the copy of the code compiled for `isa`, or for the active instruction set if
/// that is narrower (so never with instructions the CPU lacks).
#[doc(hidden)]
#[inline(always)]
pub fn vectorized_in<R>(isa: Isa, f: impl FnOnce() -> R) -> R {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        match isa.min(Isa::active()) {
            // SAFETY: `run_avx512` only requires the features `Isa::Avx512` stands for, and
            // the CPU has them: `active` is never wider than what `detected` found.
            Isa::Avx512 => return unsafe { run_avx512(f) },
            // SAFETY: likewise, `run_avx2_fma` requires AVX2 and FMA, which `Isa::Avx2` (as
            // detected, or narrowed to from AVX-512, which includes them) stands for.
            Isa::Avx2 => return unsafe { run_avx2_fma(f) },
            Isa::Baseline => {}
        }
    }
    let _ = isa;
    f()
}

/// `f()`, with `f` inlined and compiled for AVX2 + FMA.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn run_avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `f()`, with `f` inlined and compiled for AVX-512 ([`Isa::Avx512`]).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx2,fma")]
#[inline]
unsafe fn run_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The active set is one the CPU has, and the same at every call.
    #[test]
    fn the_active_set_is_detected_and_kept() {
        let active = Isa::active();
        assert!(active <= Isa::detected());
        assert_eq!(Isa::active(), active);
        assert_eq!(fma(), active >= Isa::Avx2);
    }

    /// A build that enables the features by itself has them at run time.
    #[test]
    fn a_build_for_avx512_detects_it() {
        let built_for_it = cfg!(all(
            feature = "std",
            target_arch = "x86_64",
            target_feature = "avx512f",
            target_feature = "avx512vl",
            target_feature = "avx512dq",
            target_feature = "avx512bw",
            target_feature = "avx512cd",
        ));
        assert!(!built_for_it || Isa::detected() == Isa::Avx512);
    }
}
