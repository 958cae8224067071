//! Runtime CPU-feature dispatch for the drivers.
//!
//! The default build targets baseline x86-64 (SSE2: 4 lanes). A driver runs its whole loop
//! through [`vectorized`], which, on a CPU with AVX2 and FMA, calls the loop through a copy
//! compiled for them: the cell's step is inlined into that copy, so its kernels use 8 lanes.
//! Nothing in the crate asks for fused multiply-adds (`mul_add`) and Rust never contracts
//! `a * b + c` on its own, so both copies compute the same operations in the same order:
//! the results are bit-identical on every CPU and in every driver.

/// Runs `f`, compiled for AVX2 + FMA when the CPU has them (checked once, then cached by
/// std), else as built.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: `run_avx2_fma` only requires the `avx2` and `fma` target features, and
            // the CPU has both (detected just above).
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
