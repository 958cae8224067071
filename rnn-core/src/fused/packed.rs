//! The GEMM of the fused layers' steps: `c = bias + a₁ · B₁ + a₂ · B₂`, with the weights
//! `[B₁; B₂]` (a slice of the input kernel stacked on the same columns of the recurrent one)
//! packed once per layer (by its first call that runs the GEMMs), not once per step.
//!
//! One product per step with `K = I + H` replaces the input projection of every timestep
//! hoisted out of the recurrence: the hoisted `[B·T, 4H]` projections (26 MB on
//! `lstm-b64-h256`) went to RAM and came back one step at a time, and had to be zeroed and
//! filled with the bias first; here each step's `[n, G·H]` block is born in registers, starts
//! from the bias and is written once, into a buffer that stays in L2. The flops are the same.
//!
//! A general GEMM (matrixmultiply) packs both operands on every call; in a recurrence the
//! weights are the same at every step. Here they are packed into panels of 16 columns
//! (`K × 16`, row-major, the last one zero-padded) and an AVX2+FMA micro-kernel keeps a block
//! of up to `6 × 16` of `c` in registers while it walks `K`; with AVX-512 one keeps up to
//! `8 × 32` (two adjacent panels, one 16-lane register per panel row, so each broadcast of `a`
//! feeds two FMAs, and 32 registers hold twice the sums). The rows are split into blocks of
//! nearly equal height (32 rows: `6 6 5 5 5 5`, not `6 6 6 6 6 2`): a block of 2 rows has too
//! few independent sums to hide the FMA latency. Without AVX2 and FMA the product goes to
//! matrixmultiply ([`Path::Portable`]).

use alloc::vec::Vec;

use super::gates::{Avx2, Avx512, Simd};
use super::spans;

/// Columns per panel.
const NR: usize = 16;
/// The most rows of `c` per micro-kernel call (12 accumulators, 2 panel rows and a broadcast
/// fill 15 of the 16 AVX2 registers).
const MR: usize = 6;

/// The most rows per call of the AVX-512 micro-kernel, which keeps a block of up to `8 × 32`
/// of `c` in registers: 16 accumulators, 2 panel rows and the row's 8 broadcasts, which the
/// compiler loads together, fit the 32 registers (12 rows did not: the broadcasts spilled).
const MR_WIDE: usize = 8;

/// One operand of the weights: `k` rows of a row-major matrix with row stride `rs`, from its
/// column `col0`.
#[derive(Clone, Copy)]
pub(super) struct Part<'a> {
    /// The matrix (Keras's `[I, G·H]` kernel or `[H, G·H]` recurrent kernel).
    pub(super) b: &'a [f32],
    /// Its rows (`I` or `H`; 0 for an absent part).
    pub(super) k: usize,
    /// Its row stride (`G·H`).
    pub(super) rs: usize,
    /// The first column taken.
    pub(super) col0: usize,
}

impl Part<'_> {
    /// No operand: contributes nothing.
    pub(super) const NONE: Part<'static> = Part {
        b: &[],
        k: 0,
        rs: 0,
        col0: 0,
    };
}

/// Which implementation runs the products (and the epilogues, see [`gates`](super::gates)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Path {
    /// The packed panels and the micro-kernel of the widest vectors the CPU has (the token
    /// proves it has them).
    Packed(Simd),
    /// matrixmultiply on the unpacked weights: any CPU.
    Portable,
}

impl Path {
    /// The fastest path this CPU runs.
    pub(super) fn detect() -> Path {
        Simd::detect().map_or(Path::Portable, Path::Packed)
    }
}

/// `[B₁; B₂]`, columns `col0 .. col0 + n` of each, and the bias of those columns, ready for
/// [`Stacked::product`].
#[derive(Clone)]
pub(super) struct Stacked<'a> {
    parts: [Part<'a>; 2],
    /// `k₁ + k₂`.
    k: usize,
    n: usize,
    /// The bias, zero-padded to whole panels (zeros when there is none).
    bias: Vec<f32>,
    /// `k × 16` panels, empty on the portable path.
    panels: Vec<f32>,
    path: Path,
}

/// The shape and path, not the thousands of packed values.
impl core::fmt::Debug for Stacked<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stacked")
            .field("k", &self.k)
            .field("n", &self.n)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<'a> Stacked<'a> {
    /// Packs columns `col0 .. col0 + n` of both parts (each part's own `col0`), with the bias
    /// of column `j` from `bias(j)` (zeros with none), for [`Stacked::product`] on `path`; its
    /// buffers come from `pool`.
    pub(super) fn new(
        parts: [Part<'a>; 2],
        n: usize,
        bias: Option<&dyn Fn(usize) -> f32>,
        path: Path,
        pool: &mut Pool,
    ) -> Self {
        let k = parts[0].k + parts[1].k;
        let mut padded = pool.take(n.div_ceil(NR) * NR);
        if let Some(bias) = bias {
            for (j, b) in padded[..n].iter_mut().enumerate() {
                *b = bias(j);
            }
        }
        let mut panels = pool.take(0);
        if let Path::Packed(_) = path {
            pack(&parts, k, n, &mut panels);
        }
        Stacked {
            parts,
            k,
            n,
            bias: padded,
            panels,
            path,
        }
    }

    /// Gives the buffers back to `pool`, in the order [`Stacked::new`] took them.
    pub(super) fn recycle(self, pool: &mut Pool) {
        pool.give(self.bias);
        pool.give(self.panels);
    }

    /// `c[i, :] = bias + a₁[i, :] · B₁ + a₂[i, :] · B₂` for `m` rows; `a` gives each part's
    /// left operand and its row stride (an absent part's is ignored), `c` has row stride `rsc`.
    pub(super) fn product(&self, m: usize, a: [(&[f32], usize); 2], c: &mut [f32], rsc: usize) {
        if m == 0 || self.n == 0 {
            return;
        }
        // The bounds the micro-kernel's raw pointers rest on (see `packed`), computed without
        // wrapping; internal invariants (the layers size their buffers from checked shapes),
        // so a failure is a bug, not bad input.
        assert!(spans(c.len(), m, rsc, self.n), "gemm: c too short");
        for (part, (a, rsa)) in self.parts.iter().zip(a) {
            assert!(
                part.k == 0 || spans(a.len(), m, rsa, part.k),
                "gemm: a too short"
            );
        }
        // With no rows of weights there are no panels: the bias alone is the product.
        match self.path {
            Path::Packed(Simd::Avx2(avx)) if self.k > 0 => self.packed(m, a, c, rsc, avx),
            Path::Packed(Simd::Avx512(avx)) if self.k > 0 => self.packed_wide(m, a, c, rsc, avx),
            _ => self.portable(m, a, c, rsc),
        }
    }

    /// The bias rows, then matrixmultiply for each part.
    fn portable(&self, m: usize, a: [(&[f32], usize); 2], c: &mut [f32], rsc: usize) {
        for i in 0..m {
            c[i * rsc..i * rsc + self.n].copy_from_slice(&self.bias[..self.n]);
        }
        for (part, (a, rsa)) in self.parts.iter().zip(a) {
            if part.k > 0 {
                let b = &part.b[part.col0..];
                super::gemm_acc(m, part.k, self.n, a, rsa, b, part.rs, c, rsc);
            }
        }
    }

    /// The micro-kernel over every panel and every block of rows.
    fn packed(&self, m: usize, a: [(&[f32], usize); 2], c: &mut [f32], rsc: usize, avx: Avx2) {
        #[cfg(target_arch = "x86_64")]
        {
            let (k, n) = (self.k, self.n);
            let panels = k
                .checked_mul(NR)
                .and_then(|kn| n.div_ceil(NR).checked_mul(kn));
            assert!(panels.is_some_and(|len| self.panels.len() >= len));
            let _ = avx;
            let [(a1, rsa1), (a2, rsa2)] = a;
            let (k1, k2) = (self.parts[0].k, self.parts[1].k);
            let blocks = m.div_ceil(MR);
            for (p, panel) in self.panels.chunks_exact((k * NR).max(1)).enumerate() {
                if p * NR >= n {
                    break;
                }
                let width = NR.min(n - p * NR);
                let bias = &self.bias[p * NR..(p + 1) * NR];
                let mut i = 0;
                for block in 0..blocks {
                    // Nearly equal blocks: the first `m % blocks` get one row more.
                    let rows = m / blocks + usize::from(block < m % blocks);
                    // SAFETY: AVX2 and FMA are available (`avx` proves it). The kernel reads
                    // `a1[(i + r)·rsa1 + l]` for r < rows ≤ m − i, l < k1: at most
                    // `(m − 1)·rsa1 + k1 − 1`, inside `a1` by the assert of `product` (likewise
                    // `a2` for l < k2); a part with no rows is never read, and its pointer is
                    // the slice's start. `panel[l·16 + j]` for l < k, j < 16, inside this chunk
                    // of k·16; `bias[j]`, j < 16, inside its 16; and it writes
                    // `c[(i + r)·rsc + p·16 + j]` for j < width ≤ n − p·16: at most
                    // `(m − 1)·rsc + n − 1`, inside `c` by the assert of `product`. Those
                    // asserts computed the bounds without wrapping, and each offset below is at
                    // most its bound, so none wraps and every `add` stays inside its slice.
                    // `c` is a `&mut` borrow, so it aliases none of the others.
                    unsafe {
                        let seg = |k: usize, a: &[f32], rsa: usize| match k {
                            0 => (0, a.as_ptr(), 0),
                            _ => (k, a.as_ptr().add(i * rsa), rsa),
                        };
                        let segs = [seg(k1, a1, rsa1), seg(k2, a2, rsa2)];
                        let out = c.as_mut_ptr().add(i * rsc + p * NR);
                        let (b, pp) = (bias.as_ptr(), panel.as_ptr());
                        match rows {
                            6 => kernel::<6>(segs, pp, b, out, rsc, width),
                            5 => kernel::<5>(segs, pp, b, out, rsc, width),
                            4 => kernel::<4>(segs, pp, b, out, rsc, width),
                            3 => kernel::<3>(segs, pp, b, out, rsc, width),
                            2 => kernel::<2>(segs, pp, b, out, rsc, width),
                            _ => kernel::<1>(segs, pp, b, out, rsc, width),
                        }
                    }
                    i += rows;
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (m, a, c, rsc, avx);
            unreachable!("the packed path is only chosen on x86_64");
        }
    }
    /// The AVX-512 micro-kernel over every pair of adjacent panels (32 columns: each broadcast
    /// of `a` feeds two FMAs) and every block of rows; an odd last panel alone.
    fn packed_wide(
        &self,
        m: usize,
        a: [(&[f32], usize); 2],
        c: &mut [f32],
        rsc: usize,
        avx: Avx512,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            let (k, n) = (self.k, self.n);
            let count = n.div_ceil(NR);
            let panels = k.checked_mul(NR).and_then(|kn| count.checked_mul(kn));
            assert!(panels.is_some_and(|len| self.panels.len() >= len));
            let _ = avx;
            let [(a1, rsa1), (a2, rsa2)] = a;
            let (k1, k2) = (self.parts[0].k, self.parts[1].k);
            let blocks = m.div_ceil(MR_WIDE);
            let mut p = 0;
            while p < count {
                let two = count - p >= 2;
                let width = (if two { 2 * NR } else { NR }).min(n - p * NR);
                let panel = &self.panels[p * k * NR..][..if two { 2 * k * NR } else { k * NR }];
                let bias = &self.bias[p * NR..][..if two { 2 * NR } else { NR }];
                let mut i = 0;
                for block in 0..blocks {
                    let rows = m / blocks + usize::from(block < m % blocks);
                    // SAFETY: the CPU has AVX-512 (`avx` proves it). As in `packed`, the kernel
                    // reads `a1[(i + r)·rsa1 + l]` (r < rows ≤ m − i, l < k1) and likewise `a2`,
                    // inside them by the asserts of `product`; `panel[q·k·16 + l·16 + j]` for
                    // q < P (1, or 2 when `two`), l < k, j < 16, inside the `P·k·16` taken
                    // above (which the assert on `self.panels` bounds); `bias[q·16 + j]`,
                    // inside its `P·16`; and it writes `c[(i + r)·rsc + p·16 + j]` for
                    // j < width ≤ n − p·16, at most `(m − 1)·rsc + n − 1`, inside `c` by the
                    // assert of `product`, computed without wrapping. `c` is a `&mut` borrow,
                    // so it aliases none of the others.
                    unsafe {
                        let seg = |k: usize, a: &[f32], rsa: usize| match k {
                            0 => (0, a.as_ptr(), 0),
                            _ => (k, a.as_ptr().add(i * rsa), rsa),
                        };
                        let segs = [seg(k1, a1, rsa1), seg(k2, a2, rsa2)];
                        let out = c.as_mut_ptr().add(i * rsc + p * NR);
                        let (b, pp) = (bias.as_ptr(), panel.as_ptr());
                        let call = Wide {
                            segs,
                            panel: pp,
                            step: k * NR,
                            bias: b,
                            c: out,
                            rsc,
                            width,
                        };
                        if two {
                            call.rows::<2>(rows);
                        } else {
                            call.rows::<1>(rows);
                        }
                    }
                    i += rows;
                }
                p += if two { 2 } else { 1 };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (m, a, c, rsc, avx);
            unreachable!("the packed path is only chosen on x86_64");
        }
    }
}

/// The panels of `[B₁; B₂]` into `panels`: panel `p` holds columns `16p .. 16p + 16` of all
/// `k` rows, part 1's rows first.
fn pack(parts: &[Part<'_>; 2], k: usize, n: usize, panels: &mut Vec<f32>) {
    let count = n.div_ceil(NR);
    panels.resize(count * k * NR, 0.0);
    for (p, panel) in panels
        .chunks_exact_mut((k * NR).max(1))
        .enumerate()
        .take(count)
    {
        let width = NR.min(n - p * NR);
        let rows = parts
            .iter()
            .flat_map(|part| (0..part.k).map(move |l| &part.b[l * part.rs + part.col0..]));
        for (dst, row) in panel.chunks_exact_mut(NR).zip(rows) {
            dst[..width].copy_from_slice(&row[p * NR..p * NR + width]);
        }
    }
}

/// The buffers packing takes and gives back. A caller that keeps its pool between calls (a
/// lowered `Rnn` batch, which packs on every call) allocates nothing once a call like the last
/// has run: buffers come back in the order they were taken, so each finds the one it had.
#[derive(Default)]
pub(crate) struct Pool(Vec<Vec<f32>>);

impl Pool {
    /// `len` zeros, in the buffer given back longest ago.
    fn take(&mut self, len: usize) -> Vec<f32> {
        let mut buffer = if self.0.is_empty() {
            Vec::new()
        } else {
            self.0.remove(0)
        };
        buffer.clear();
        buffer.resize(len, 0.0);
        buffer
    }

    /// Keeps `buffer` for a later [`take`](Pool::take).
    fn give(&mut self, buffer: Vec<f32>) {
        self.0.push(buffer);
    }
}

/// `c[r, j] = bias[j] + Σ_s Σ_{l < k_s} a_s[r·rsa_s + l] · panel[(k₁·[s = 2] + l)·16 + j]`
/// for `r < R`, `j < width`, where `segs[s] = (k_s, a_s, rsa_s)`.
///
/// # Safety
/// The CPU supports AVX2 and FMA; each `a_s` is valid for reads at `r·rsa_s + l`
/// (r < R, l < k_s); `panel` at `l·16 + j` (l < k₁ + k₂, j < 16); `bias` at `j < 16`; `c` for
/// writes at `r·rsc + j` (r < R, j < width ≤ 16); and `c` overlaps none of the others.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel<const R: usize>(
    segs: [(usize, *const f32, usize); 2],
    panel: *const f32,
    bias: *const f32,
    c: *mut f32,
    rsc: usize,
    width: usize,
) {
    use core::arch::x86_64::*;
    // SAFETY (every pointer access below): within the bounds of this function's contract.
    let (bias0, bias1) = unsafe { (_mm256_loadu_ps(bias), _mm256_loadu_ps(bias.add(8))) };
    let mut acc = [[bias0, bias1]; R];
    let mut panel = panel;
    for (k, a, rsa) in segs {
        // Four rows of the panel per turn: fewer loop and address instructions between the
        // FMAs, which are the bottleneck.
        let mut l = 0;
        while l + 4 <= k {
            for u in 0..4 {
                unsafe { rank_one(&mut acc, a.add(l + u), rsa, panel.add(u * NR)) };
            }
            panel = unsafe { panel.add(4 * NR) };
            l += 4;
        }
        while l < k {
            unsafe { rank_one(&mut acc, a.add(l), rsa, panel) };
            panel = unsafe { panel.add(NR) };
            l += 1;
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let row = unsafe { c.add(r * rsc) };
        if width == NR {
            unsafe {
                _mm256_storeu_ps(row, acc[0]);
                _mm256_storeu_ps(row.add(8), acc[1]);
            }
        } else {
            let mut sums = [0.0f32; NR];
            unsafe {
                _mm256_storeu_ps(sums.as_mut_ptr(), acc[0]);
                _mm256_storeu_ps(sums.as_mut_ptr().add(8), acc[1]);
            }
            for (j, s) in sums.iter().enumerate().take(width) {
                unsafe { *row.add(j) = *s };
            }
        }
    }
}

/// `acc[r] += a[r·rsa] · panel[..16]` for `r < R`: one row of the panel into the block.
///
/// # Safety
/// The CPU supports AVX2 and FMA (callers are compiled with them, so this inlines); `a` is
/// valid for reads at `r·rsa` (r < R) and `panel` at `..16`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rank_one<const R: usize>(
    acc: &mut [[core::arch::x86_64::__m256; 2]; R],
    a: *const f32,
    rsa: usize,
    panel: *const f32,
) {
    use core::arch::x86_64::*;
    // SAFETY: within this function's contract.
    unsafe {
        let (b0, b1) = (_mm256_loadu_ps(panel), _mm256_loadu_ps(panel.add(8)));
        for (r, acc) in acc.iter_mut().enumerate() {
            let x = _mm256_set1_ps(*a.add(r * rsa));
            acc[0] = _mm256_fmadd_ps(x, b0, acc[0]);
            acc[1] = _mm256_fmadd_ps(x, b1, acc[1]);
        }
    }
}

/// One call of the AVX-512 micro-kernel: its operands, as [`kernel_wide`] takes them.
#[cfg(target_arch = "x86_64")]
struct Wide {
    segs: [(usize, *const f32, usize); 2],
    /// The first panel; the second, if any, starts `step` values further.
    panel: *const f32,
    step: usize,
    bias: *const f32,
    c: *mut f32,
    rsc: usize,
    width: usize,
}

#[cfg(target_arch = "x86_64")]
impl Wide {
    /// [`kernel_wide`] over `rows` rows (1 to [`MR_WIDE`]) and `P` panels.
    ///
    /// # Safety
    /// As [`kernel_wide`], for `R = rows`.
    #[inline(always)]
    unsafe fn rows<const P: usize>(self, rows: usize) {
        let Wide {
            segs,
            panel,
            step,
            bias,
            c,
            rsc,
            width,
        } = self;
        // SAFETY: the caller's contract, for the `R` matched.
        unsafe {
            match rows {
                8 => kernel_wide::<8, P>(segs, (panel, step), bias, c, rsc, width),
                7 => kernel_wide::<7, P>(segs, (panel, step), bias, c, rsc, width),
                6 => kernel_wide::<6, P>(segs, (panel, step), bias, c, rsc, width),
                5 => kernel_wide::<5, P>(segs, (panel, step), bias, c, rsc, width),
                4 => kernel_wide::<4, P>(segs, (panel, step), bias, c, rsc, width),
                3 => kernel_wide::<3, P>(segs, (panel, step), bias, c, rsc, width),
                2 => kernel_wide::<2, P>(segs, (panel, step), bias, c, rsc, width),
                _ => kernel_wide::<1, P>(segs, (panel, step), bias, c, rsc, width),
            }
        }
    }
}

/// [`kernel`] with AVX-512 on `P` adjacent panels (`16·P` columns): `c[r, j] = bias[j] +
/// Σ_s Σ_{l < k_s} a_s[r·rsa_s + l] · panel_q[(k₁·[s = 2] + l)·16 + j − 16q]` for `r < R`,
/// `j < width`, where panel `q` starts `q·step` values after `panel`.
///
/// # Safety
/// The CPU supports AVX-512 ([`Isa::Avx512`](crate::kernels::Isa)); each `a_s` is valid for
/// reads at `r·rsa_s + l` (r < R, l < k_s); `panel` at `q·step + l·16 + j` (q < P,
/// l < k₁ + k₂, j < 16); `bias` at `j < 16·P`; `c` for writes at `r·rsc + j` (r < R,
/// j < width ≤ 16·P); and `c` overlaps none of the others.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx2,fma")]
unsafe fn kernel_wide<const R: usize, const P: usize>(
    segs: [(usize, *const f32, usize); 2],
    (panel, step): (*const f32, usize),
    bias: *const f32,
    c: *mut f32,
    rsc: usize,
    width: usize,
) {
    use core::arch::x86_64::*;
    // SAFETY (every pointer access below): within the bounds of this function's contract.
    let start: [__m512; P] = core::array::from_fn(|q| unsafe { _mm512_loadu_ps(bias.add(16 * q)) });
    let mut acc = [start; R];
    let mut panel = panel;
    for (k, a, rsa) in segs {
        // One row of the panels per turn, unlike `kernel`: unrolled, the compiler loads every
        // broadcast of the turn first, and with the accumulators they outnumber the registers.
        for l in 0..k {
            unsafe { rank_one_wide(&mut acc, a.add(l), rsa, panel, step) };
            panel = unsafe { panel.add(NR) };
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let row = unsafe { c.add(r * rsc) };
        for (q, &v) in acc.iter().enumerate() {
            let columns = width.saturating_sub(16 * q).min(16);
            if columns == 16 {
                unsafe { _mm512_storeu_ps(row.add(16 * q), v) };
            } else if columns > 0 {
                // Masked: only the first `columns` lanes are written (or touched at all).
                let mask: __mmask16 = (1u16 << columns) - 1;
                unsafe { _mm512_mask_storeu_ps(row.add(16 * q), mask, v) };
            }
        }
    }
}

/// `acc[r][q] += a[r·rsa] · panel_q[..16]` for `r < R`, `q < P`, panel `q` at `q·step` from
/// `panel`: one row of the panels into the block.
///
/// # Safety
/// The CPU supports AVX-512 (callers are compiled with it, so this inlines); `a` is valid for
/// reads at `r·rsa` (r < R) and `panel` at `q·step + ..16` (q < P).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rank_one_wide<const R: usize, const P: usize>(
    acc: &mut [[core::arch::x86_64::__m512; P]; R],
    a: *const f32,
    rsa: usize,
    panel: *const f32,
    step: usize,
) {
    use core::arch::x86_64::*;
    // SAFETY: within this function's contract.
    unsafe {
        let b: [__m512; P] = core::array::from_fn(|q| _mm512_loadu_ps(panel.add(q * step)));
        for (r, acc) in acc.iter_mut().enumerate() {
            let x = _mm512_set1_ps(*a.add(r * rsa));
            for (acc, &b) in acc.iter_mut().zip(&b) {
                *acc = _mm512_fmadd_ps(x, b, *acc);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::test_values as values;

    /// `bias + a₁·B₁ + a₂·B₂` with plain loops.
    fn reference(
        m: usize,
        n: usize,
        parts: &[Part<'_>; 2],
        a: &[(&[f32], usize); 2],
        bias: &[f32],
    ) -> Vec<f32> {
        let mut c = Vec::new();
        for i in 0..m {
            for (j, &b) in bias.iter().enumerate().take(n) {
                let mut s = b as f64;
                for (part, (a, rsa)) in parts.iter().zip(a) {
                    for l in 0..part.k {
                        s += a[i * rsa + l] as f64 * part.b[l * part.rs + part.col0 + j] as f64;
                    }
                }
                c.push(s as f32);
            }
        }
        c
    }

    /// Both paths compute the stacked product, for row counts that split into blocks of every
    /// height, partial panels, column offsets, strided `a` and an absent part.
    #[test]
    fn both_paths_equal_the_plain_product() {
        let mut paths = alloc::vec![Path::Portable];
        paths.extend(Avx2::detect().map(|avx| Path::Packed(Simd::Avx2(avx))));
        paths.extend(Avx512::detect().map(|avx| Path::Packed(Simd::Avx512(avx))));
        let (k1, k2, rs) = (5, 7, 40);
        let w = values(k1 * rs, 1);
        let u = values(k2 * rs, 2);
        for path in paths {
            for (m, col0, n, second) in [
                (1, 0, 16, true),
                (2, 3, 21, true),
                (7, 0, 40, false),
                (13, 8, 9, true),
                (32, 1, 33, true),
                (25, 0, 40, true),
                (12, 2, 38, false),
            ] {
                let parts = [
                    Part {
                        b: &w,
                        k: k1,
                        rs,
                        col0,
                    },
                    if second {
                        Part {
                            b: &u,
                            k: k2,
                            rs,
                            col0: col0 / 2,
                        }
                    } else {
                        Part::NONE
                    },
                ];
                let (rsa1, rsa2) = (k1 + 3, k2 + 1);
                let a1 = values(m * rsa1, 3);
                let a2 = values(m * rsa2, 4);
                let bias = values(n, 5);
                let column = |j: usize| bias[j];
                let stacked = Stacked::new(parts, n, Some(&column), path, &mut Pool::default());
                let rsc = n + 2;
                let mut c = alloc::vec![f32::NAN; m * rsc];
                stacked.product(m, [(&a1, rsa1), (&a2, rsa2)], &mut c, rsc);
                let want = reference(m, n, &parts, &[(&a1, rsa1), (&a2, rsa2)], &bias);
                for i in 0..m {
                    for j in 0..n {
                        let (got, want) = (c[i * rsc + j], want[i * n + j]);
                        assert!(
                            (got - want).abs() < 1e-5,
                            "{path:?} m={m} n={n} [{i},{j}]: {got} vs {want}"
                        );
                    }
                    assert!(c[i * rsc + n].is_nan(), "{path:?}: wrote past the row");
                }
            }
        }
    }
}
