//! The fused layers' epilogues with the usual activations (`tanh`, and the sigmoid for the
//! gates), 32 units at a time (two AVX-512 vectors side by side) or 16 (two AVX2 ones), then
//! narrower vectors, then one by one.
//!
//! The general path applies each activation to a whole row, one pass per gate, through the
//! cells' exact `exp`-based functions: on `lstm-b64-h128` that was a fifth of the time, about
//! 40 instructions per unit. Here each layer writes its per-unit arithmetic once, generic over
//! [`Lanes`], and [`run`] drives it over a row with AVX2+FMA vectors (the tail, and CPUs
//! without them, one lane at a time). `tanh` is the rational approximation of Eigen and
//! XNNPACK (`x·P(x²) / Q(x²)`, no `exp`, one division; absolute error ≤ 3.5e-7, never past
//! ±1) and `σ(x) = ½ + ½·tanh(x / 2)`, the same quotient with the halvings folded into its
//! coefficients (absolute error ≤ 2.7e-7, always in `[0, 1]`): the fused layers promise the
//! cell's results within 1e-5, not to the bit.

// Two tanh's and two sigmoids, deliberately: the cells keep the exact `exp`-based functions
// (≤ 1.3 ulp, so that a static and a dynamic run agree with Keras to the bit), and the
// epilogues take this rational form for speed. Measured with the general path's exact
// functions in its place, on an Intel Xeon (AVX-512) under load: the fused LSTM at batch 1,
// I = H = 32, 347 ns per step against 283 with this one.
//
// The `pulp` crate (one `Simd` trait, runtime dispatch) was measured against `Lanes` on this
// epilogue: the same bits and speed on AVX2, and faster with AVX-512; but its masked tail
// stores of the paired 8-lane form wrote past the slice. So `Lanes` stays, with an AVX-512
// implementation of its own.
use super::packed::Path;
use crate::kernels::Isa;

/// Arithmetic on a few lanes of `f32` (1, 8 or 16, or two vectors of them); the value of the
/// implementing type is the proof that the CPU runs it.
pub(super) trait Lanes: Copy {
    /// A vector of lanes.
    type V: Copy;
    /// Every lane `x`.
    fn splat(self, x: f32) -> Self::V;
    /// As many of `xs` as there are lanes.
    fn load(self, xs: &[f32]) -> Self::V;
    /// Writes as many of `xs` as there are lanes.
    fn store(self, v: Self::V, xs: &mut [f32]);
    /// `a + b`.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a - b`.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a · b`.
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a / b`.
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a · b + c` (fused where the CPU has FMA).
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `x` limited to `[-limit, limit]`; a NaN stays NaN.
    fn clamp(self, x: Self::V, limit: f32) -> Self::V;
}

/// One lane, plain `f32` arithmetic: any CPU.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scalar;

impl Lanes for Scalar {
    type V = f32;
    #[inline(always)]
    fn splat(self, x: f32) -> f32 {
        x
    }
    #[inline(always)]
    fn load(self, xs: &[f32]) -> f32 {
        xs[0]
    }
    #[inline(always)]
    fn store(self, v: f32, xs: &mut [f32]) {
        xs[0] = v;
    }
    #[inline(always)]
    fn add(self, a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    fn sub(self, a: f32, b: f32) -> f32 {
        a - b
    }
    #[inline(always)]
    fn mul(self, a: f32, b: f32) -> f32 {
        a * b
    }
    #[inline(always)]
    fn div(self, a: f32, b: f32) -> f32 {
        a / b
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
    #[inline(always)]
    fn clamp(self, x: f32, limit: f32) -> f32 {
        // Comparisons, not `min`/`max`: a NaN fails both and passes through.
        if x < -limit {
            -limit
        } else if x > limit {
            limit
        } else {
            x
        }
    }
}

/// Eight lanes in an AVX2 register, with FMA. Only [`Avx2::detect`] makes one, on a CPU
/// that has both, which is what makes its intrinsics sound to call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Avx2 {
    _detected: (),
}

impl Avx2 {
    /// The token, if this CPU has AVX2 and FMA: the one detection the drivers and the
    /// kernels also use ([`Isa::active`]).
    pub(super) fn detect() -> Option<Avx2> {
        (Isa::active() >= Isa::Avx2).then_some(Avx2 { _detected: () })
    }
}

/// Sixteen lanes in an AVX-512 register ([`Isa::Avx512`], which includes AVX2 and FMA). Only
/// [`Avx512::detect`] makes one, on a CPU that has them, which is what makes its intrinsics
/// sound to call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Avx512 {
    _detected: (),
}

impl Avx512 {
    /// The token, if the drivers and kernels run AVX-512 here ([`Isa::active`]).
    pub(super) fn detect() -> Option<Avx512> {
        (Isa::active() == Isa::Avx512).then_some(Avx512 { _detected: () })
    }

    /// The AVX2 token: a CPU with AVX-512 has AVX2 and FMA (`Isa::Avx512` requires them).
    pub(super) fn avx2(self) -> Avx2 {
        Avx2 { _detected: () }
    }
}

/// The vector instructions the packed path runs with, the widest the CPU has; the value is the
/// proof that it has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Simd {
    /// AVX2 and FMA.
    Avx2(Avx2),
    /// AVX-512 (and AVX2 and FMA).
    Avx512(Avx512),
}

impl Simd {
    /// The widest vectors this CPU runs, if it has at least AVX2 and FMA.
    pub(super) fn detect() -> Option<Simd> {
        Avx512::detect()
            .map(Simd::Avx512)
            .or_else(|| Avx2::detect().map(Simd::Avx2))
    }
}

// SAFETY (every `unsafe` block in this impl): an `Avx2` value exists only if the CPU has AVX2
// and FMA (`Avx2::detect`), the features these intrinsics need; the loads and stores touch
// `xs[..8]`, inside the slice by the slicing just before them (which panics otherwise).
#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    type V = core::arch::x86_64::__m256;
    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        unsafe { core::arch::x86_64::_mm256_set1_ps(x) }
    }
    #[inline(always)]
    fn load(self, xs: &[f32]) -> Self::V {
        let xs = &xs[..8];
        unsafe { core::arch::x86_64::_mm256_loadu_ps(xs.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: Self::V, xs: &mut [f32]) {
        let xs = &mut xs[..8];
        unsafe { core::arch::x86_64::_mm256_storeu_ps(xs.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { core::arch::x86_64::_mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { core::arch::x86_64::_mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { core::arch::x86_64::_mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { core::arch::x86_64::_mm256_div_ps(a, b) }
    }
    #[inline(always)]
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        unsafe { core::arch::x86_64::_mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn clamp(self, x: Self::V, limit: f32) -> Self::V {
        use core::arch::x86_64::*;
        // `min`/`max` return their second operand when either is NaN: `x` goes second.
        unsafe {
            let upper = _mm256_min_ps(_mm256_set1_ps(limit), x);
            _mm256_max_ps(_mm256_set1_ps(-limit), upper)
        }
    }
}

// SAFETY (every `unsafe` block in this impl): an `Avx512` value exists only if the CPU has the
// AVX-512 features these intrinsics need (`Avx512::detect`); the loads and stores touch
// `xs[..16]`, inside the slice by the slicing just before them (which panics otherwise).
#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512 {
    type V = core::arch::x86_64::__m512;
    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        unsafe { core::arch::x86_64::_mm512_set1_ps(x) }
    }
    #[inline(always)]
    fn load(self, xs: &[f32]) -> Self::V {
        let xs = &xs[..16];
        unsafe { core::arch::x86_64::_mm512_loadu_ps(xs.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: Self::V, xs: &mut [f32]) {
        let xs = &mut xs[..16];
        unsafe { core::arch::x86_64::_mm512_storeu_ps(xs.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { core::arch::x86_64::_mm512_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { core::arch::x86_64::_mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { core::arch::x86_64::_mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { core::arch::x86_64::_mm512_div_ps(a, b) }
    }
    #[inline(always)]
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        unsafe { core::arch::x86_64::_mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn clamp(self, x: Self::V, limit: f32) -> Self::V {
        use core::arch::x86_64::*;
        // As for AVX2: `min`/`max` return their second operand when either is NaN.
        unsafe {
            let upper = _mm512_min_ps(_mm512_set1_ps(limit), x);
            _mm512_max_ps(_mm512_set1_ps(-limit), upper)
        }
    }
}

/// Two vectors of a [`Lanes`] side by side, each operation done on both. The per-unit
/// arithmetic is a chain of dependent operations; two independent chains side by side in
/// program order keep both in the reorder window, where one chain after the other left the FMA
/// units idle.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pair<L>(L);

/// How many lanes a [`Lanes`] vector has (for [`Pair`]'s halves).
pub(super) trait Width: Lanes {
    /// Lanes per vector.
    const LANES: usize;
}

#[cfg(target_arch = "x86_64")]
impl Width for Avx2 {
    const LANES: usize = 8;
}

#[cfg(target_arch = "x86_64")]
impl Width for Avx512 {
    const LANES: usize = 16;
}

impl<L: Width> Lanes for Pair<L> {
    type V = [L::V; 2];
    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        let v = self.0.splat(x);
        [v, v]
    }
    #[inline(always)]
    fn load(self, xs: &[f32]) -> Self::V {
        let xs = &xs[..2 * L::LANES];
        [self.0.load(xs), self.0.load(&xs[L::LANES..])]
    }
    #[inline(always)]
    fn store(self, v: Self::V, xs: &mut [f32]) {
        let xs = &mut xs[..2 * L::LANES];
        self.0.store(v[0], xs);
        self.0.store(v[1], &mut xs[L::LANES..]);
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        [self.0.add(a[0], b[0]), self.0.add(a[1], b[1])]
    }
    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        [self.0.sub(a[0], b[0]), self.0.sub(a[1], b[1])]
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        [self.0.mul(a[0], b[0]), self.0.mul(a[1], b[1])]
    }
    #[inline(always)]
    fn div(self, a: Self::V, b: Self::V) -> Self::V {
        [self.0.div(a[0], b[0]), self.0.div(a[1], b[1])]
    }
    #[inline(always)]
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        [
            self.0.mul_add(a[0], b[0], c[0]),
            self.0.mul_add(a[1], b[1], c[1]),
        ]
    }
    #[inline(always)]
    fn clamp(self, x: Self::V, limit: f32) -> Self::V {
        [self.0.clamp(x[0], limit), self.0.clamp(x[1], limit)]
    }
}

/// tanh's numerator, `x·P(x²)`: the coefficients of `x¹²`, `x¹⁰`, ..., `x⁰` in `P`.
const P: [f32; 7] = [
    -2.760_768_5e-16,
    2.000_188e-13,
    -8.604_672e-11,
    5.122_297e-8,
    1.485_722_4e-5,
    6.372_619_3e-4,
    4.893_524_6e-3,
];
/// tanh's denominator, `Q(x²)`: the coefficients of `x⁶`, `x⁴`, `x²`, `x⁰`.
const Q: [f32; 4] = [1.198_258_4e-6, 1.185_347_1e-4, 2.268_434_6e-3, 4.893_525e-3];
/// Where tanh's quotient reaches ±1.
const TANH_LIMIT: f32 = 7.905_311;

/// `tanh(x)`: `x·P(x²) / Q(x²)` on `x` clamped to ±7.905, where the quotient reaches 1.
#[inline(always)]
pub(super) fn tanh<L: Lanes>(l: L, x: L::V) -> L::V {
    let x = l.clamp(x, TANH_LIMIT);
    let (p, q) = numerator_and_denominator(l, x, &P, &Q);
    l.div(l.mul(p, x), q)
}

/// The logistic sigmoid, `½ + ½·tanh(x / 2)`, with the halvings folded into tanh's
/// coefficients: with `u = x / 2`, `P̃(x²) = P(u²)` and `Q̃(x²) = Q(u²)`, it is
/// `(Q̃ + x·P̃ / 2) / (2·Q̃)`. Scaling a coefficient by a power of 2 is exact, so `P̃` and `Q̃`
/// are tanh's polynomials at `u`. Where `½ + ½·tanh(x·½)` ended in a multiply, the division
/// and a multiply-add, this ends in a multiply-add, an add (off the FMA units) and the
/// division, and starts without the multiply: the chain the epilogues wait on is two
/// operations shorter. At batch 1, I = H = 32, per step: LSTM 247.9 -> 245.1 ns, GRU
/// 205.1 -> 197.2; LSTM batch 64, I = H = 128: 1,544 -> 1,527 ns per sample-step.
#[inline(always)]
pub(super) fn sigmoid<L: Lanes>(l: L, x: L::V) -> L::V {
    /// `P̃ / 2`: `P`'s coefficient of `x²ʲ` times `4⁻ʲ / 2`.
    const SIGMOID_P: [f32; 7] = at_half_x(P, 0.5);
    /// `Q̃`: `Q`'s coefficient of `x²ʲ` times `4⁻ʲ`.
    const SIGMOID_Q: [f32; 4] = at_half_x(Q, 1.0);
    let x = l.clamp(x, 2.0 * TANH_LIMIT);
    let (p, q) = numerator_and_denominator(l, x, &SIGMOID_P, &SIGMOID_Q);
    l.div(l.mul_add(x, p, q), l.add(q, q))
}

/// The sigmoid's derivative from its output `s`: `s·(1 − s)`, what a backward multiplies by.
#[inline(always)]
pub(super) fn sigmoid_slope<L: Lanes>(l: L, s: L::V) -> L::V {
    l.mul(s, l.sub(l.splat(1.0), s))
}

/// The coefficients of `scale · c((x / 2)²)` as a polynomial in `x²`, for `c` in `x²`
/// (coefficients highest power first).
const fn at_half_x<const N: usize>(c: [f32; N], scale: f32) -> [f32; N] {
    let mut scaled = c;
    let (mut j, mut factor) = (N, scale);
    while j > 0 {
        j -= 1;
        scaled[j] = c[j] * factor;
        factor *= 0.25;
    }
    scaled
}

/// `(P(x²), Q(x²))` for `P` of degree 6 and `Q` of degree 3 in `x²`. Estrin's scheme (pairs
/// of coefficients combined by `x²` and `x⁴`): the chain from `x` to the division is a few
/// multiply-adds deep instead of Horner's six, and the epilogue of a step is bound by those
/// chains, not by its instruction count.
#[inline(always)]
fn numerator_and_denominator<L: Lanes>(l: L, x: L::V, p: &[f32; 7], q: &[f32; 4]) -> (L::V, L::V) {
    let x2 = l.mul(x, x);
    let x4 = l.mul(x2, x2);
    let p_low = l.mul_add(pair(l, p[3], p[4], x2), x4, pair(l, p[5], p[6], x2));
    let p_high = l.mul_add(l.splat(p[0]), x4, pair(l, p[1], p[2], x2));
    let p = l.mul_add(p_high, l.mul(x4, x4), p_low);
    let q = l.mul_add(pair(l, q[0], q[1], x2), x4, pair(l, q[2], q[3], x2));
    (p, q)
}

/// `hi·y + lo`. A function, not a closure: a closure may be compiled apart, where the
/// intrinsics would not inline.
#[inline(always)]
fn pair<L: Lanes>(l: L, hi: f32, lo: f32, y: L::V) -> L::V {
    l.mul_add(l.splat(hi), y, l.splat(lo))
}

/// A row's epilogue, one group of units at a time.
pub(super) trait Units {
    /// Units `k ..` of the row, as many as `L` has lanes.
    fn units<L: Lanes>(&mut self, l: L, k: usize);
}

/// Runs `row` over units `0 .. len`: on the packed path 32 then 16 at a time with AVX-512 or
/// 16 then 8 with AVX2, the rest (and everything on the portable path) one at a time.
#[inline(always)]
pub(super) fn run<U: Units>(row: &mut U, len: usize, path: Path) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the token proves the CPU has AVX2 and FMA, all `in_vectors` needs.
        Path::Packed(Simd::Avx2(avx)) => unsafe { in_vectors(row, len, avx) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the token proves the CPU has AVX-512, all `in_wide_vectors` needs.
        Path::Packed(Simd::Avx512(avx)) => unsafe { in_wide_vectors(row, len, avx) },
        _ => (0..len).for_each(|k| row.units(Scalar, k)),
    }
}

/// `run` for AVX2: compiled with the features, so the lanes' intrinsics inline.
///
/// # Safety
/// The CPU has AVX2 and FMA (as `_avx` proves).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn in_vectors<U: Units>(row: &mut U, len: usize, avx: Avx2) {
    let mut k = 0;
    while k + 16 <= len {
        row.units(Pair(avx), k);
        k += 16;
    }
    if k + 8 <= len {
        row.units(avx, k);
        k += 8;
    }
    for k in k..len {
        row.units(Scalar, k);
    }
}

/// `run` for AVX-512: pairs of 16-lane vectors, then one, then 8 lanes of AVX2 (a row of 8
/// units, or a remainder of 8, computes no padding), then one lane at a time.
///
/// # Safety
/// The CPU has AVX-512 (as `_avx` proves).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx2,fma")]
unsafe fn in_wide_vectors<U: Units>(row: &mut U, len: usize, avx: Avx512) {
    let mut k = 0;
    while k + 32 <= len {
        row.units(Pair(avx), k);
        k += 32;
    }
    if k + 16 <= len {
        row.units(avx, k);
        k += 16;
    }
    if k + 8 <= len {
        row.units(avx.avx2(), k);
        k += 8;
    }
    for k in k..len {
        row.units(Scalar, k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every thousandth in `[-24, 24]` (under Miri, which is a thousand times slower, every
    /// 97th of them: still both sides of the clamp at ±7.9 and ±15.8).
    fn grid() -> impl Iterator<Item = f32> {
        let step = if cfg!(miri) { 97 } else { 1 };
        (-24_000..=24_000).step_by(step).map(|i| i as f32 / 1000.0)
    }

    fn check<L: Lanes>(l: L, eval: impl Fn(L, f32) -> (f32, f32)) {
        for x in grid() {
            let (t, s) = eval(l, x);
            let (want_t, want_s) = ((x as f64).tanh(), 1.0 / (1.0 + (-x as f64).exp()));
            assert!(
                (t as f64 - want_t).abs() <= 4e-7 && t.abs() <= 1.0,
                "tanh({x}) = {t}"
            );
            assert!(
                (s as f64 - want_s).abs() <= 4e-7 && (0.0..=1.0).contains(&s),
                "σ({x}) = {s}"
            );
        }
        assert!(eval(l, f32::NAN).0.is_nan() && eval(l, f32::NAN).1.is_nan());
        let near =
            |(a, b): (f32, f32), (c, d): (f32, f32)| (a - c).abs() <= 4e-7 && (b - d).abs() <= 4e-7;
        assert!(near(eval(l, f32::INFINITY), (1.0, 1.0)));
        assert!(near(eval(l, f32::NEG_INFINITY), (-1.0, 0.0)));
    }

    /// Every `f32` in `[-40, 40]` (past ±15.8 the input is clamped): the sigmoid stays in
    /// `[0, 1]` and within 2.7e-7 on both paths. A minute per path in release:
    /// `cargo test --release -p rnn-core --lib sigmoid_of_every_f32 -- --ignored`.
    #[test]
    #[ignore = "two billion inputs per path"]
    fn sigmoid_of_every_f32_up_to_40_is_in_0_1_and_within_2_7e_7() {
        fn scan<L: Lanes, const N: usize>(l: L) {
            let inputs = (0x8000_0001..=(-40.0f32).to_bits()).chain(0..=40.0f32.to_bits());
            let (mut xs, mut ys, mut n) = ([0.0f32; N], [0.0f32; N], 0);
            for bits in inputs {
                xs[n] = f32::from_bits(bits);
                n += 1;
                if n == N {
                    l.store(sigmoid(l, l.load(&xs)), &mut ys);
                    for (&x, &y) in xs.iter().zip(&ys) {
                        let want = 1.0 / (1.0 + (-x as f64).exp());
                        assert!(
                            (0.0..=1.0).contains(&y) && (y as f64 - want).abs() <= 2.7e-7,
                            "σ({x}) = {y}"
                        );
                    }
                    n = 0;
                }
            }
        }
        scan::<_, 1>(Scalar);
        #[cfg(target_arch = "x86_64")]
        if let Some(avx) = Avx2::detect() {
            scan::<_, 8>(avx);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(avx) = Avx512::detect() {
            scan::<_, 16>(avx);
        }
    }

    /// Built with AVX2 and FMA enabled (as the Miri run of `tools/README.md` is, to run the
    /// packed path), the token exists without a run-time check.
    #[test]
    fn a_build_for_avx2_and_fma_has_the_token() {
        let built_for_them = cfg!(all(
            target_arch = "x86_64",
            target_feature = "avx2",
            target_feature = "fma"
        ));
        assert!(!built_for_them || Avx2::detect().is_some());
    }

    #[test]
    fn scalar_tanh_and_sigmoid_are_within_4e_7() {
        check(Scalar, |l, x| (tanh(l, x), sigmoid(l, x)));
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_tanh_and_sigmoid_are_within_4e_7_on_8_and_16_lanes() {
        let Some(avx) = Avx2::detect() else { return };
        check(avx, |l, x| {
            let mut out = [0.0; 8];
            l.store(tanh(l, l.splat(x)), &mut out);
            let t = out[3];
            l.store(sigmoid(l, l.splat(x)), &mut out);
            (t, out[5])
        });
        check(Pair(avx), |l, x| {
            let mut out = [0.0; 16];
            l.store(tanh(l, l.splat(x)), &mut out);
            let t = out[11];
            l.store(sigmoid(l, l.splat(x)), &mut out);
            (t, out[2])
        });
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx512_tanh_and_sigmoid_are_within_4e_7_on_16_and_32_lanes() {
        let Some(avx) = Avx512::detect() else { return };
        check(avx, |l, x| {
            let mut out = [0.0; 16];
            l.store(tanh(l, l.splat(x)), &mut out);
            let t = out[13];
            l.store(sigmoid(l, l.splat(x)), &mut out);
            (t, out[6])
        });
        check(Pair(avx), |l, x| {
            let mut out = [0.0; 32];
            l.store(tanh(l, l.splat(x)), &mut out);
            let t = out[27];
            l.store(sigmoid(l, l.splat(x)), &mut out);
            (t, out[1])
        });
    }
}
