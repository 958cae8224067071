//! Runtime CPU-feature dispatch for the drivers and the kernels.
//!
//! The default build targets baseline x86-64 (SSE2: 4 lanes, no FMA). A driver runs its whole
//! loop through [`vectorized`], which, on a CPU with AVX2 and FMA, calls the loop through a
//! copy compiled for them: the cell's step is inlined into that copy, so its kernels use 8
//! lanes.
//!
//! The same test, [`fma`], decides how the kernels round a multiply-add: once (an FMA
//! instruction) on such a CPU, twice elsewhere. A kernel that fuses also enters the AVX2 copy
//! itself (a call, even inside a driver), so a step called outside any driver computes the
//! same bits at the same speed. Within one machine every driver, every block size and every
//! direct call therefore agree bit for bit; between a CPU with FMA and one without, results
//! differ in the last bits (both stay within the parity tests' 1e-5).

/// Whether this CPU has AVX2 and FMA, which the drivers' vectorized copy and the fused
/// multiply-adds of the kernels need (checked once, then cached by std).
#[inline(always)]
pub(crate) fn fma() -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    {
        false
    }
}

/// Runs `f` in a copy of the code compiled for AVX2 + FMA when the CPU has them (detected
/// once, at run time), else as built.
///
/// Every driver runs its loop inside it, so the steps it inlines use 8 lanes and the
/// kernels' fused multiply-adds ([`fused_multiply_add`](crate::kernels::fused_multiply_add))
/// are single instructions. Wrap a hand-written loop of [`Cell::step`](crate::Cell::step)
/// calls in it for the same speed.
///
/// Only code inlined into `f` is compiled for AVX2; a function the compiler leaves out of
/// line (a large helper of a custom step, say) runs with 4 lanes. The built-in kernels are
/// safe either way: they enter this copy themselves.
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
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if fma() {
            // SAFETY: `run_avx2_fma` only requires the `avx2` and `fma` target features, and
            // the CPU has both (`fma()` detected them just above).
            return unsafe { run_avx2_fma(f) };
        }
    }
    f()
}

/// `f()`, with `f` inlined and compiled for AVX2 + FMA.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn run_avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}
