//! The recurrent GEMM of the fused layers: `c += a · B` with `B` (the recurrent kernel)
//! packed once per forward call, not once per step.
//!
//! A general GEMM (matrixmultiply) packs both operands on every call; in a recurrence the
//! right-hand operand is the same at every step, and with only `B / cores` rows on the left
//! the packing cost a quarter of the step (measured on `lstm-b64-h256`). Here `B` is packed
//! into panels of 16 columns (`k × 16`, row-major, the last one zero-padded) and an AVX2+FMA
//! micro-kernel keeps a `6 × 16` block of `c` in registers while it walks `k`. Without AVX2
//! and FMA the product goes to matrixmultiply.

use alloc::vec::Vec;

/// Columns per panel.
const NR: usize = 16;
/// Rows of `c` per micro-kernel call.
const MR: usize = 6;

/// The columns `[col0, col0 + n)` of a row-major `k × _` matrix with row stride `rs`, packed
/// in panels of 16 columns.
pub(super) struct PackedB<'a> {
    k: usize,
    n: usize,
    panels: Vec<f32>,
    /// The unpacked matrix, for the fallback.
    b: &'a [f32],
    rs: usize,
}

impl<'a> PackedB<'a> {
    /// Packs columns `col0 .. col0 + n` of `b` (`k` rows, row stride `rs`).
    pub(super) fn new(b: &'a [f32], k: usize, rs: usize, col0: usize, n: usize) -> Self {
        let b = &b[col0.min(b.len())..];
        let count = n.div_ceil(NR);
        let mut panels = alloc::vec![0.0; count * k * NR];
        if fma_available() {
            for (p, panel) in panels
                .chunks_exact_mut((k * NR).max(1))
                .enumerate()
                .take(count)
            {
                let width = NR.min(n - p * NR);
                for l in 0..k {
                    let row = &b[l * rs + p * NR..][..width];
                    panel[l * NR..l * NR + width].copy_from_slice(row);
                }
            }
        }
        PackedB {
            k,
            n,
            panels,
            b,
            rs,
        }
    }

    /// `c[i, :] += a[i, :] · B` for `m` rows (`a` row stride `rsa`, `c` row stride `rsc`).
    pub(super) fn gemm_acc(&self, m: usize, a: &[f32], rsa: usize, c: &mut [f32], rsc: usize) {
        let (k, n) = (self.k, self.n);
        if m == 0 || n == 0 {
            return;
        }
        if !fma_available() {
            super::gemm_acc(m, k, n, a, rsa, self.b, self.rs, c, rsc);
            return;
        }
        // What the kernel reads and writes lies inside these bounds (see its safety comment).
        assert!(k == 0 || a.len() >= (m - 1) * rsa + k, "gemm: a too short");
        assert!(c.len() >= (m - 1) * rsc + n, "gemm: c too short");
        assert!(self.panels.len() >= n.div_ceil(NR) * k * NR);
        #[cfg(target_arch = "x86_64")]
        for (p, panel) in self.panels.chunks_exact((k * NR).max(1)).enumerate() {
            if p * NR >= n {
                break;
            }
            let width = NR.min(n - p * NR);
            let mut i = 0;
            while i < m {
                let rows = MR.min(m - i);
                // SAFETY: AVX2 and FMA are available (`fma_available`, checked above). The
                // kernel reads `a[(i + r)·rsa + l]` for r < rows ≤ m − i and l < k, inside
                // `a` by the first assert; `panel[l·16 + j]` for l < k, j < 16, inside the
                // chunk of k·16; and reads and writes `c[(i + r)·rsc + p·16 + j]` for
                // j < width ≤ n − p·16, inside `c` by the second assert. `c` is a `&mut`
                // borrow, so it aliases neither `a` nor the panels.
                unsafe {
                    let a_ptr = a.as_ptr().add(i * rsa);
                    let c_ptr = c.as_mut_ptr().add(i * rsc + p * NR);
                    match rows {
                        6 => kernel::<6>(k, a_ptr, rsa, panel.as_ptr(), c_ptr, rsc, width),
                        5 => kernel::<5>(k, a_ptr, rsa, panel.as_ptr(), c_ptr, rsc, width),
                        4 => kernel::<4>(k, a_ptr, rsa, panel.as_ptr(), c_ptr, rsc, width),
                        3 => kernel::<3>(k, a_ptr, rsa, panel.as_ptr(), c_ptr, rsc, width),
                        2 => kernel::<2>(k, a_ptr, rsa, panel.as_ptr(), c_ptr, rsc, width),
                        _ => kernel::<1>(k, a_ptr, rsa, panel.as_ptr(), c_ptr, rsc, width),
                    }
                }
                i += rows;
            }
        }
    }
}

/// Whether the micro-kernel can run here.
fn fma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `c[r, j] += Σ_l a[r·rsa + l] · panel[l·16 + j]` for `r < R`, `j < width`.
///
/// # Safety
/// The CPU supports AVX2 and FMA; `a` is valid for reads at `r·rsa + l` (r < R, l < k),
/// `panel` at `l·16 + j` (l < k, j < 16), `c` for reads and writes at `r·rsc + j`
/// (r < R, j < width ≤ 16), and `c` does not overlap `a` or `panel`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel<const R: usize>(
    k: usize,
    a: *const f32,
    rsa: usize,
    panel: *const f32,
    c: *mut f32,
    rsc: usize,
    width: usize,
) {
    use core::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    for l in 0..k {
        // SAFETY (all pointer reads below): within the bounds of this function's contract.
        let (b0, b1) = unsafe {
            (
                _mm256_loadu_ps(panel.add(l * NR)),
                _mm256_loadu_ps(panel.add(l * NR + 8)),
            )
        };
        for (r, acc) in acc.iter_mut().enumerate() {
            let x = _mm256_set1_ps(unsafe { *a.add(r * rsa + l) });
            acc[0] = _mm256_fmadd_ps(x, b0, acc[0]);
            acc[1] = _mm256_fmadd_ps(x, b1, acc[1]);
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let row = unsafe { c.add(r * rsc) };
        if width == NR {
            unsafe {
                _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc[0]));
                _mm256_storeu_ps(
                    row.add(8),
                    _mm256_add_ps(_mm256_loadu_ps(row.add(8)), acc[1]),
                );
            }
        } else {
            let mut sums = [0.0f32; NR];
            unsafe {
                _mm256_storeu_ps(sums.as_mut_ptr(), acc[0]);
                _mm256_storeu_ps(sums.as_mut_ptr().add(8), acc[1]);
            }
            for (j, s) in sums.iter().enumerate().take(width) {
                unsafe { *row.add(j) += s };
            }
        }
    }
}
