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
//! `6 × 64` (four adjacent panels, one 16-lane register per panel row, so each broadcast of
//! `a` feeds four FMAs, and 32 registers hold four times the sums), and up to `8 × 32` on the
//! last two or three panels. The rows are split into blocks of
//! nearly equal height (32 rows: `6 6 5 5 5 5`, not `6 6 6 6 6 2`): a block of 2 rows has too
//! few independent sums to hide the FMA latency. Without AVX2 and FMA the product goes to
//! matrixmultiply ([`Path::Portable`]).
//!
//! The backward's large products run here too, packing into buffers the caller keeps (a
//! general GEMM allocates its packing buffers on every call): their left operand is a
//! transposed matrix, read in place through a column stride, and their `K` is every
//! sample-step of a chunk, which the kernel walks in passes of [`KC`] rows.

use alloc::vec::Vec;
use core::ops::Range;

use super::gates::{Avx2, Avx512, Simd};
use super::{gemm, holds, spans, Strided};

/// Columns per panel.
const NR: usize = 16;
/// The most rows of `c` per micro-kernel call (12 accumulators, 2 panel rows and a broadcast
/// fill 15 of the 16 AVX2 registers).
const MR: usize = 6;

/// The most rows of the panels one pass of a long product walks (a one-part product with a
/// larger `k`, the backward's over every sample-step, makes several passes, each adding into
/// `c`): a pass's `KC × 32` of the panels stays in L1 and its `m × KC` of `a` in L2, where
/// walking all of `k` at once would stream `a` from memory once per block of rows.
const KC: usize = 256;

/// The most rows per call of the AVX-512 micro-kernel, which keeps a block of up to `8 × 32`
/// of `c` in registers: 16 accumulators, 2 panel rows and the row's 8 broadcasts, which the
/// compiler loads together, fit the 32 registers (12 rows did not: the broadcasts spilled).
const MR_WIDE: usize = 8;

/// The most rows per call of the AVX-512 micro-kernel on four adjacent panels (64 columns):
/// 24 accumulators, 4 panel rows and the broadcasts fit the 32 registers. Each broadcast feeds
/// four FMAs and each call does half as much again as one on two panels, so a step's product
/// makes fewer calls, each with its fixed cost of starting and storing its block.
const MR_FOUR: usize = 6;

/// One operand of the weights: `k` rows of a matrix with row stride `rs` and column stride
/// `cs`, from its column `col0` (a transposed matrix is the same values with the strides
/// swapped: the backward's `Uᵀ` and `Wᵀ` are packed from the kernels where they lie).
#[derive(Clone, Copy)]
pub(super) struct Part<'a> {
    /// The matrix (Keras's `[I, G·H]` kernel or `[H, G·H]` recurrent kernel).
    pub(super) b: &'a [f32],
    /// Its rows (`I` or `H`; 0 for an absent part).
    pub(super) k: usize,
    /// Its row stride (`G·H`).
    pub(super) rs: usize,
    /// Its column stride (1, or `G·H` for a transposed kernel).
    pub(super) cs: usize,
    /// The first column taken.
    pub(super) col0: usize,
}

impl Part<'_> {
    /// No operand: contributes nothing.
    pub(super) const NONE: Part<'static> = Part {
        b: &[],
        k: 0,
        rs: 0,
        cs: 1,
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
    /// `k × 16` panels from [`Stacked::aligned`], empty on the portable path.
    panels: Vec<f32>,
    /// Where the panels start in `panels`: on a 64-byte boundary, so that no load of a panel
    /// row (64 bytes, one AVX-512 register) straddles two cache lines. (With the allocator's
    /// 16-byte alignment the forward at H = 256 ran 13% slower or not, from build to build.)
    aligned: usize,
    /// Whether every value of the second part is finite, so that its product with zero rows
    /// of `a₂` is zero and may be skipped (see [`Stacked::strided`]).
    finite_second: bool,
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
        let finite_second = finite(&parts[1], n);
        let mut panels = pool.take(0);
        let mut aligned = 0;
        if let Path::Packed(_) = path {
            aligned = pack(&parts, k, n, &mut panels);
        }
        Stacked {
            parts,
            k,
            n,
            bias: padded,
            panels,
            aligned,
            finite_second,
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
        self.strided(m, a.map(|(a, rsa)| (a, rsa, 1)), c, rsc);
    }

    /// [`product`](Self::product) with a column stride for each left operand as well: a
    /// transposed operand (the backward's `[X | H_prev]ᵀ`) is read where it lies, its rows
    /// side by side in memory.
    pub(super) fn strided(&self, m: usize, a: [Strided<'_>; 2], c: &mut [f32], rsc: usize) {
        if m == 0 || self.n == 0 {
            return;
        }
        // The bounds the micro-kernel's raw pointers rest on (see `packed`), computed without
        // wrapping; internal invariants (the layers size their buffers from checked shapes),
        // so a failure is a bug, not bad input.
        assert!(spans(c.len(), m, rsc, self.n), "gemm: c too short");
        for (part, (a, rsa, csa)) in self.parts.iter().zip(a) {
            assert!(
                part.k == 0 || holds(a.len(), m, part.k, rsa, csa),
                "gemm: a too short"
            );
        }
        // Zero rows of `a₂` (a zero initial state, at the first step) times finite weights add
        // only zeros: the product skips the second part. The check stops at the first nonzero
        // value, which is the first one read in any later step.
        let (a2, rsa2, csa2) = a[1];
        let second = match self.finite_second
            && (0..m).all(|i| (0..self.parts[1].k).all(|l| a2[i * rsa2 + l * csa2] == 0.0))
        {
            true => 0,
            false => self.parts[1].k,
        };
        let passes = match self.parts[1].k {
            0 => self.k.div_ceil(KC).max(1),
            _ => 1,
        };
        for pass in 0..passes {
            let depth = match passes {
                1 => 0..self.k,
                _ => pass * KC..self.k.min((pass + 1) * KC),
            };
            // With no rows of weights there are no panels: the bias alone is the product.
            match self.path {
                Path::Packed(Simd::Avx2(avx)) if self.k > 0 => {
                    self.packed(m, a, (c, rsc), (depth, second), avx)
                }
                Path::Packed(Simd::Avx512(avx)) if self.k > 0 => {
                    self.packed_wide(m, a, (c, rsc), (depth, second), avx)
                }
                _ => return self.portable(m, a, (c, rsc), second),
            }
        }
    }

    /// The left operands of a pass over rows `depth` of the panels: the first part's columns
    /// in `depth` (a pass of a long product, which has one part), or both parts whole, the
    /// second's first `second` rows (all of them, or none).
    fn pass<'x>(
        &self,
        a: [Strided<'x>; 2],
        (depth, second): (&Range<usize>, usize),
    ) -> [(usize, Strided<'x>); 2] {
        let [(a1, rsa1, csa1), a2] = a;
        let first = self.parts[0].k.min(depth.end) - depth.start;
        // A column inside the product's `k` (or past an empty part): within `a1` or empty.
        let a1 = a1.get(depth.start * csa1..).unwrap_or(&[]);
        [(first, (a1, rsa1, csa1)), (second, a2)]
    }

    /// The bias rows, then matrixmultiply for each part (the second's first `second` rows).
    fn portable(
        &self,
        m: usize,
        a: [Strided<'_>; 2],
        (c, rsc): (&mut [f32], usize),
        second: usize,
    ) {
        for i in 0..m {
            c[i * rsc..i * rsc + self.n].copy_from_slice(&self.bias[..self.n]);
        }
        let [first, rest] = self.parts;
        for (part, a) in [first, Part { k: second, ..rest }].iter().zip(a) {
            if part.k > 0 {
                let b = (&part.b[part.col0 * part.cs..], part.rs, part.cs);
                gemm((m, part.k, self.n), a, b, 1.0, (c, rsc));
            }
        }
    }

    /// The micro-kernel over every panel and every block of rows, for rows `depth` of the
    /// panels (adding into `c` after the first pass).
    fn packed(
        &self,
        m: usize,
        a: [Strided<'_>; 2],
        (c, rsc): (&mut [f32], usize),
        (depth, second): (Range<usize>, usize),
        avx: Avx2,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            let (k, n) = (self.k, self.n);
            let panels = k
                .checked_mul(NR)
                .and_then(|kn| n.div_ceil(NR).checked_mul(kn));
            let all = &self.panels[self.aligned..];
            assert!(panels.is_some_and(|len| all.len() >= len));
            let _ = avx;
            let [(k1, a1), (k2, a2)] = self.pass(a, (&depth, second));
            let blocks = m.div_ceil(MR);
            for (p, panel) in all.chunks_exact((k * NR).max(1)).enumerate() {
                if p * NR >= n {
                    break;
                }
                let width = NR.min(n - p * NR);
                let panel = &panel[depth.start * NR..];
                let bias = &self.bias[p * NR..(p + 1) * NR];
                let mut i = 0;
                for block in 0..blocks {
                    // Nearly equal blocks: the first `m % blocks` get one row more.
                    let rows = m / blocks + usize::from(block < m % blocks);
                    // SAFETY: AVX2 and FMA are available (`avx` proves it). The kernel reads
                    // `a1[(i + r)·rsa1 + l·csa1]` for r < rows ≤ m − i, l < k1: `a1` starts at
                    // column `depth.start` of the operand and `depth.start + k1 ≤ k₁` (`pass`),
                    // so this is at most `(m − 1)·rsa1 + (k₁ − 1)·csa1` of the operand, inside
                    // it by the assert of `strided` (likewise `a2` for l < k2); a part with no
                    // rows is never read, and its pointer is the slice's start.
                    // `panel[l·16 + j]` for l < k1 + k2 ≤ k − depth.start, j < 16, inside this
                    // chunk of k·16 from its row `depth.start`; `bias[j]`, j < 16, inside its
                    // 16; and it reads (after the first pass) and writes
                    // `c[(i + r)·rsc + p·16 + j]` for j < width ≤ n − p·16: at most
                    // `(m − 1)·rsc + n − 1`, inside `c` by the assert of `strided`. Those
                    // asserts computed the bounds without wrapping, and each offset below is at
                    // most its bound, so none wraps and every `add` stays inside its slice.
                    // `c` is a `&mut` borrow, so it aliases none of the others.
                    unsafe {
                        let seg = |k: usize, (a, rsa, csa): Strided<'_>| match k {
                            0 => (0, a.as_ptr(), 0, 0),
                            _ => (k, a.as_ptr().add(i * rsa), rsa, csa),
                        };
                        let segs = [seg(k1, a1), seg(k2, a2)];
                        let out = (c.as_mut_ptr().add(i * rsc + p * NR), rsc, width);
                        let (b, pp) = (Start::new(bias.as_ptr(), &depth), panel.as_ptr());
                        match rows {
                            6 => kernel::<6>(segs, pp, b, out),
                            5 => kernel::<5>(segs, pp, b, out),
                            4 => kernel::<4>(segs, pp, b, out),
                            3 => kernel::<3>(segs, pp, b, out),
                            2 => kernel::<2>(segs, pp, b, out),
                            _ => kernel::<1>(segs, pp, b, out),
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
        a: [Strided<'_>; 2],
        (c, rsc): (&mut [f32], usize),
        (depth, second): (Range<usize>, usize),
        avx: Avx512,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            let (k, n) = (self.k, self.n);
            let count = n.div_ceil(NR);
            let panels = k.checked_mul(NR).and_then(|kn| count.checked_mul(kn));
            let all = &self.panels[self.aligned..];
            assert!(panels.is_some_and(|len| all.len() >= len));
            let _ = avx;
            let [(k1, a1), (k2, a2)] = self.pass(a, (&depth, second));
            let mut p = 0;
            while p < count {
                // Four panels with blocks of up to 6 rows while four remain, else two (or the
                // last one) with blocks of up to 8.
                let (np, mr) = match count - p {
                    4.. => (4, MR_FOUR),
                    left => (left.min(2), MR_WIDE),
                };
                let width = (np * NR).min(n - p * NR);
                let panel = &all[p * k * NR..][..np * k * NR];
                let panel = &panel[depth.start * NR..];
                let bias = &self.bias[p * NR..][..np * NR];
                let blocks = m.div_ceil(mr);
                let mut i = 0;
                for block in 0..blocks {
                    let rows = m / blocks + usize::from(block < m % blocks);
                    // SAFETY: the CPU has AVX-512 (`avx` proves it). As in `packed`, the kernel
                    // reads `a1[(i + r)·rsa1 + l·csa1]` (r < rows ≤ m − i, l < k1) and likewise
                    // `a2`, inside them by the asserts of `strided` and `pass`;
                    // `panel[q·k·16 + l·16 + j]` for q < np, l < k1 + k2 ≤ k − depth.start,
                    // j < 16, inside the `np·k·16` sliced above from its row `depth.start`;
                    // `bias[q·16 + j]`, inside its `np·16`; and it reads (after the first pass)
                    // and writes `c[(i + r)·rsc + p·16 + j]` for j < width ≤ n − p·16, at most
                    // `(m − 1)·rsc + n − 1`, inside `c` by the assert of `strided`, computed
                    // without wrapping. `c` is a `&mut` borrow, so it aliases none of the
                    // others.
                    unsafe {
                        let seg = |k: usize, (a, rsa, csa): Strided<'_>| match k {
                            0 => (0, a.as_ptr(), 0, 0),
                            _ => (k, a.as_ptr().add(i * rsa), rsa, csa),
                        };
                        let segs = [seg(k1, a1), seg(k2, a2)];
                        let out = c.as_mut_ptr().add(i * rsc + p * NR);
                        let (b, pp) = (Start::new(bias.as_ptr(), &depth), panel.as_ptr());
                        let call = Wide {
                            segs,
                            panel: pp,
                            step: k * NR,
                            start: b,
                            c: out,
                            rsc,
                            width,
                        };
                        match np {
                            4 => call.rows::<4>(rows),
                            2 => call.rows::<2>(rows),
                            _ => call.rows::<1>(rows),
                        }
                    }
                    i += rows;
                }
                p += np;
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
/// `k` rows, part 1's rows first; they start at the returned index, the first on a 64-byte
/// boundary (the buffer holds `NR − 1` values more for it).
fn pack(parts: &[Part<'_>; 2], k: usize, n: usize, panels: &mut Vec<f32>) -> usize {
    let count = n.div_ceil(NR);
    panels.resize(count * k * NR + NR - 1, 0.0);
    let aligned = panels.as_ptr().align_offset(64).min(NR - 1);
    for (p, panel) in panels[aligned..]
        .chunks_exact_mut((k * NR).max(1))
        .enumerate()
        .take(count)
    {
        let width = NR.min(n - p * NR);
        let mut rest = &mut panel[..];
        for part in parts {
            let (rows, after) = core::mem::take(&mut rest).split_at_mut(part.k * NR);
            rest = after;
            let first = |l: usize, j: usize| l * part.rs + (part.col0 + p * NR + j) * part.cs;
            if part.cs == 1 {
                for (l, dst) in rows.chunks_exact_mut(NR).enumerate() {
                    dst[..width].copy_from_slice(&part.b[first(l, 0)..][..width]);
                }
            } else {
                // A transposed matrix: a row of the panel gathers values `cs` apart (the
                // next row's lie beside them, in the same cache lines), in the widest vectors
                // the CPU has, which gather them (a scalar loop spent an eighth of a batch-1
                // training step here).
                crate::vectorized(
                    #[inline(always)]
                    || {
                        for (l, dst) in rows.chunks_exact_mut(NR).enumerate() {
                            let src = &part.b[first(l, 0)..][..(width - 1) * part.cs + 1];
                            for (j, d) in dst[..width].iter_mut().enumerate() {
                                *d = src[j * part.cs];
                            }
                        }
                    },
                );
            }
        }
    }
    aligned
}

/// Whether columns `col0 .. col0 + n` of `part` are all finite. Integer operations on the
/// exponents, with no early exit, so that the loop vectorizes: a training step packs its
/// weights anew, and checks them with them.
fn finite(part: &Part<'_>, n: usize) -> bool {
    // An exponent of all ones (infinity, NaN) plus one carries into the sign bit; no other
    // exponent does.
    let carry = |v: &f32| (v.to_bits() & 0x7f80_0000) + 0x0080_0000;
    if n == 0 {
        return true;
    }
    let mut any = 0;
    for l in 0..part.k {
        let row = &part.b[l * part.rs + part.col0 * part.cs..];
        if part.cs == 1 {
            any |= row[..n].iter().map(carry).fold(0, |a, c| a | c);
        } else {
            any |= (0..n)
                .map(|j| carry(&row[j * part.cs]))
                .fold(0, |a, c| a | c);
        }
    }
    any & 0x8000_0000 == 0
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

/// What a micro-kernel's sums start from.
#[derive(Clone, Copy)]
enum Start {
    /// The bias of the block's columns (`16·P` values): the first pass over the panels.
    Bias(*const f32),
    /// The block of `c` itself: a later pass of a long product adds into it.
    Sums,
}

impl Start {
    /// `bias` for the pass over the panels' first rows, `c`'s sums for the later ones.
    fn new(bias: *const f32, depth: &Range<usize>) -> Start {
        match depth.start {
            0 => Start::Bias(bias),
            _ => Start::Sums,
        }
    }
}

/// `c[r, j] = s[r, j] + Σ_s Σ_{l < k_s} a_s[r·rsa_s + l·csa_s] · panel[(k₁·[s = 2] + l)·16 + j]`
/// for `r < R`, `j < width`, where `segs[s] = (k_s, a_s, rsa_s, csa_s)` and `s` is the bias
/// `bias[j]` or, with [`Start::Sums`], `c[r, j]` itself.
///
/// # Safety
/// The CPU supports AVX2 and FMA; each `a_s` is valid for reads at `r·rsa_s + l·csa_s`
/// (r < R, l < k_s); `panel` at `l·16 + j` (l < k₁ + k₂, j < 16); a [`Start::Bias`] at
/// `j < 16`; `c` for reads and writes at `r·rsc + j` (r < R, j < width ≤ 16); and `c`
/// overlaps none of the others.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel<const R: usize>(
    segs: [(usize, *const f32, usize, usize); 2],
    panel: *const f32,
    start: Start,
    (c, rsc, width): (*mut f32, usize, usize),
) {
    use core::arch::x86_64::*;
    // SAFETY (every pointer access below): within the bounds of this function's contract.
    let mut acc = match start {
        Start::Bias(bias) => {
            let (bias0, bias1) = unsafe { (_mm256_loadu_ps(bias), _mm256_loadu_ps(bias.add(8))) };
            [[bias0, bias1]; R]
        }
        Start::Sums => core::array::from_fn(|r| {
            let mut sums = [0.0f32; NR];
            for (j, s) in sums.iter_mut().enumerate().take(width) {
                *s = unsafe { *c.add(r * rsc + j) };
            }
            let sums = sums.as_ptr();
            unsafe { [_mm256_loadu_ps(sums), _mm256_loadu_ps(sums.add(8))] }
        }),
    };
    let mut panel = panel;
    for (k, a, rsa, csa) in segs {
        // Four rows of the panel per turn: fewer loop and address instructions between the
        // FMAs, which are the bottleneck. Column `l` of `a` at `column(l)`: one copy of the
        // loop for the unit stride of the forward's operands, whose addresses need no product.
        macro_rules! walk {
            ($column:expr) => {{
                let mut l = 0;
                while l + 4 <= k {
                    for u in 0..4 {
                        let x = unsafe { a.add($column(l + u)) };
                        unsafe { rank_one(&mut acc, x, rsa, panel.add(u * NR)) };
                    }
                    panel = unsafe { panel.add(4 * NR) };
                    l += 4;
                }
                while l < k {
                    unsafe { rank_one(&mut acc, a.add($column(l)), rsa, panel) };
                    panel = unsafe { panel.add(NR) };
                    l += 1;
                }
            }};
        }
        match csa {
            1 => walk!(|l: usize| l),
            _ => walk!(|l: usize| l * csa),
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
    segs: [(usize, *const f32, usize, usize); 2],
    /// The first panel; the second, if any, starts `step` values further.
    panel: *const f32,
    step: usize,
    start: Start,
    c: *mut f32,
    rsc: usize,
    width: usize,
}

#[cfg(target_arch = "x86_64")]
impl Wide {
    /// [`kernel_wide`] over `rows` rows (1 to [`MR_WIDE`]; with 4 panels, to [`MR_FOUR`])
    /// and `P` panels.
    ///
    /// # Safety
    /// As [`kernel_wide`], for `R = rows`.
    #[inline(always)]
    unsafe fn rows<const P: usize>(self, rows: usize) {
        let Wide {
            segs,
            panel,
            step,
            start,
            c,
            rsc,
            width,
        } = self;
        // SAFETY: the caller's contract, for the `R` matched.
        unsafe {
            match rows {
                8 => kernel_wide::<8, P>(segs, (panel, step), start, (c, rsc, width)),
                7 => kernel_wide::<7, P>(segs, (panel, step), start, (c, rsc, width)),
                6 => kernel_wide::<6, P>(segs, (panel, step), start, (c, rsc, width)),
                5 => kernel_wide::<5, P>(segs, (panel, step), start, (c, rsc, width)),
                4 => kernel_wide::<4, P>(segs, (panel, step), start, (c, rsc, width)),
                3 => kernel_wide::<3, P>(segs, (panel, step), start, (c, rsc, width)),
                2 => kernel_wide::<2, P>(segs, (panel, step), start, (c, rsc, width)),
                _ => kernel_wide::<1, P>(segs, (panel, step), start, (c, rsc, width)),
            }
        }
    }
}

/// [`kernel`] with AVX-512 on `P` adjacent panels (`16·P` columns): `c[r, j] = s[r, j] +
/// Σ_s Σ_{l < k_s} a_s[r·rsa_s + l·csa_s] · panel_q[(k₁·[s = 2] + l)·16 + j − 16q]` for
/// `r < R`, `j < width`, where panel `q` starts `q·step` values after `panel` and `s` is as
/// in [`kernel`].
///
/// # Safety
/// The CPU supports AVX-512 ([`Isa::Avx512`](crate::kernels::Isa)); each `a_s` is valid for
/// reads at `r·rsa_s + l·csa_s` (r < R, l < k_s); `panel` at `q·step + l·16 + j` (q < P,
/// l < k₁ + k₂, j < 16); a [`Start::Bias`] at `j < 16·P`; `c` for reads and writes at
/// `r·rsc + j` (r < R, j < width ≤ 16·P); and `c` overlaps none of the others.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx2,fma")]
unsafe fn kernel_wide<const R: usize, const P: usize>(
    segs: [(usize, *const f32, usize, usize); 2],
    (panel, step): (*const f32, usize),
    start: Start,
    (c, rsc, width): (*mut f32, usize, usize),
) {
    use core::arch::x86_64::*;
    // The lanes of column block `q` inside `width`: the mask of the loads and stores.
    let lanes = |q: usize| -> __mmask16 {
        let columns = width.saturating_sub(16 * q).min(16);
        ((1u32 << columns) - 1) as __mmask16
    };
    // SAFETY (every pointer access below): within the bounds of this function's contract; a
    // masked load touches only the lanes of its mask.
    let mut acc: [[__m512; P]; R] = match start {
        Start::Bias(bias) => {
            [core::array::from_fn(|q| unsafe { _mm512_loadu_ps(bias.add(16 * q)) }); R]
        }
        Start::Sums => core::array::from_fn(|r| {
            core::array::from_fn(|q| unsafe {
                _mm512_maskz_loadu_ps(lanes(q), c.add(r * rsc + 16 * q))
            })
        }),
    };
    let mut panel = panel;
    for (k, a, rsa, csa) in segs {
        // One row of the panels per turn, unlike `kernel`: unrolled, the compiler loads every
        // broadcast of the turn first, and with the accumulators they outnumber the registers.
        // As in `kernel`, a copy of the loop for a unit column stride (measured: the product
        // in the address cost the forward's step 13% at H = 256).
        macro_rules! walk {
            ($column:expr) => {
                for l in 0..k {
                    unsafe { rank_one_wide(&mut acc, a.add($column(l)), rsa, panel, step) };
                    panel = unsafe { panel.add(NR) };
                }
            };
        }
        match csa {
            1 => walk!(|l: usize| l),
            _ => walk!(|l: usize| l * csa),
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

    /// A long one-part product over a transposed left operand (the backward's weight
    /// gradients): several passes over the panels, the later ones adding into `c`, on every
    /// path, for row counts of every block height, partial panels and a last pass of any
    /// depth.
    #[test]
    fn long_products_of_a_transposed_operand() {
        let mut paths = alloc::vec![Path::Portable];
        paths.extend(Avx2::detect().map(|avx| Path::Packed(Simd::Avx2(avx))));
        paths.extend(Avx512::detect().map(|avx| Path::Packed(Simd::Avx512(avx))));
        for path in paths {
            // Under Miri, which interprets every multiply-add, one case of two passes.
            let cases: &[_] = match cfg!(miri) {
                true => &[(9, 300, 40)],
                false => &[(1, 600, 16), (9, 257, 40), (17, 512, 33), (8, 1000, 7)],
            };
            for &(m, k, n) in cases {
                let rs = n + 3;
                let b = values(k * rs, 1);
                let part = Part {
                    b: &b,
                    k,
                    rs,
                    cs: 1,
                    col0: 2,
                };
                // `a` is the transpose of a `k × m` matrix with row stride `m + 2`.
                let csa = m + 2;
                let at = values(k * csa, 2);
                let stacked =
                    Stacked::new([part, Part::NONE], n - 2, None, path, &mut Pool::default());
                let rsc = n + 1;
                let mut c = alloc::vec![f32::NAN; m * rsc];
                stacked.strided(m, [(&at, 1, csa), (&[], 0, 0)], &mut c, rsc);
                for i in 0..m {
                    for j in 0..n - 2 {
                        let want: f64 = (0..k)
                            .map(|l| at[l * csa + i] as f64 * b[l * rs + 2 + j] as f64)
                            .sum();
                        let got = c[i * rsc + j] as f64;
                        assert!(
                            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                            "{path:?} m={m} k={k} n={n} [{i},{j}]: {got} vs {want}"
                        );
                    }
                    assert!(c[i * rsc + n - 2].is_nan(), "{path:?}: wrote past the row");
                }
            }
        }
    }

    /// A right operand read transposed (the backward's `Uᵀ` and `Wᵀ`, packed from the
    /// kernels): the same product as from its transposed copy, on every path.
    #[test]
    fn a_right_operand_read_transposed() {
        let mut paths = alloc::vec![Path::Portable];
        paths.extend(Avx2::detect().map(|avx| Path::Packed(Simd::Avx2(avx))));
        paths.extend(Avx512::detect().map(|avx| Path::Packed(Simd::Avx512(avx))));
        let (m, k, n) = (5, 24, 37);
        // `bt` is `[n + 1, k]`: `B[l, j] = bt[(j + 1)·k + l]`, from its column 1.
        let bt = values((n + 1) * k, 1);
        let b: Vec<f32> = (0..k)
            .flat_map(|l| (0..n).map(move |j| (l, j)))
            .map(|(l, j)| bt[(j + 1) * k + l])
            .collect();
        let a = values(m * k, 2);
        for path in paths {
            let mut pool = Pool::default();
            let products = [0, 1].map(|transposed| {
                let part = match transposed {
                    1 => Part {
                        b: &bt,
                        k,
                        rs: 1,
                        cs: k,
                        col0: 1,
                    },
                    _ => Part {
                        b: &b,
                        k,
                        rs: n,
                        cs: 1,
                        col0: 0,
                    },
                };
                let stacked = Stacked::new([part, Part::NONE], n, None, path, &mut pool);
                let mut c = alloc::vec![0.0; m * n];
                stacked.product(m, [(&a, k), (&[], 0)], &mut c, n);
                stacked.recycle(&mut pool);
                c
            });
            assert_eq!(products[0], products[1], "{path:?}");
        }
    }

    /// Zero rows of the second operand (a zero initial state) give the product of the first
    /// part alone when the second part's weights are finite, and the plain product's NaN where
    /// they are not, on every path, whatever the row count.
    #[test]
    fn zero_rows_of_the_second_operand() {
        let mut paths = alloc::vec![Path::Portable];
        paths.extend(Avx2::detect().map(|avx| Path::Packed(Simd::Avx2(avx))));
        paths.extend(Avx512::detect().map(|avx| Path::Packed(Simd::Avx512(avx))));
        let (k1, k2, n) = (9, 6, 83);
        let w = values(k1 * n, 1);
        for path in paths {
            for infinite in [false, true] {
                let mut u = values(k2 * n, 2);
                if infinite {
                    u[3 * n + 70] = f32::INFINITY;
                }
                let part = |b, k| Part {
                    b,
                    k,
                    rs: n,
                    cs: 1,
                    col0: 0,
                };
                let parts = [part(&w, k1), part(&u, k2)];
                for m in [1, 7, 32] {
                    let a1 = values(m * k1, 3);
                    let a2 = alloc::vec![0.0; m * k2];
                    let bias = values(n, 5);
                    let column = |j: usize| bias[j];
                    let stacked = Stacked::new(parts, n, Some(&column), path, &mut Pool::default());
                    let mut c = alloc::vec![f32::NAN; m * n];
                    stacked.product(m, [(&a1, k1), (&a2, k2)], &mut c, n);
                    let want = reference(m, n, &parts, &[(&a1, k1), (&a2, k2)], &bias);
                    for (j, (got, want)) in c.iter().zip(&want).enumerate() {
                        let nan = infinite && j % n == 70;
                        assert_eq!(want.is_nan(), nan, "{path:?} m={m} [{j}]");
                        assert!(
                            got.is_nan() == nan && (nan || (got - want).abs() < 1e-5),
                            "{path:?} infinite={infinite} m={m} [{j}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// Both paths compute the stacked product, for row counts that split into blocks of every
    /// height, partial panels, column offsets, strided `a` and an absent part.
    #[test]
    fn both_paths_equal_the_plain_product() {
        let mut paths = alloc::vec![Path::Portable];
        paths.extend(Avx2::detect().map(|avx| Path::Packed(Simd::Avx2(avx))));
        paths.extend(Avx512::detect().map(|avx| Path::Packed(Simd::Avx512(avx))));
        let (k1, k2, rs) = (5, 7, 130);
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
                // Four panels at a time, then two, then one (AVX-512).
                (13, 1, 101, true),
                (32, 0, 128, true),
                (6, 2, 70, false),
            ] {
                let parts = [
                    Part {
                        b: &w,
                        k: k1,
                        rs,
                        cs: 1,
                        col0,
                    },
                    if second {
                        Part {
                            b: &u,
                            k: k2,
                            rs,
                            cs: 1,
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
