//! `exp`, the logistic sigmoid and `tanh` for `f32`, branch-free so that a loop over an array
//! of them vectorizes (a libm call per element cannot).
//!
//! Each takes the [`Rounding`] of its multiply-adds: the array kernels pass the CPU's
//! ([`fused_multiply_add`](super::fused_multiply_add)); the plain `*_f32` functions round
//! separately. Both are within the accuracy stated on each function (the tests sweep every
//! range and the special values, for both roundings).

use super::{Rounding, Separate};

/// `e^x` for `f32`, branch-free (it vectorizes in a loop), with separate roundings
/// ([`exp_f32_with`] takes the rounding).
///
/// Cody–Waite reduction `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2`, Cephes's degree-6 polynomial for
/// `e^r`, and the scaling by `2^n` done as two exact multiplications so that results in the
/// subnormal range round once. Measured against `f64`: ≤ 1 ulp (0.98) on normal results
/// (relative error ≤ 8.2e-8). `e^x` overflows to `+inf` above `ln(f32::MAX)` ≈ 88.72, is
/// `0` below ≈ −103.97, `+inf → +inf`, `−inf → 0`, `NaN → NaN`.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    exp_f32_with::<Separate>(x)
}

/// [`exp_f32`] with the multiply-adds rounded as `R` says.
#[inline(always)]
pub fn exp_f32_with<R: Rounding>(x: f32) -> f32 {
    const LOG2_E: f32 = core::f32::consts::LOG2_E;
    // ln 2 split so that `n · LN2_HI` is exact for |n| < 2^15.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding it rounds to the nearest integer, kept in the low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    // Outside [-104, 89] the result is 0 or inf anyway; clamping keeps `n` in range. A NaN
    // fails both comparisons and flows through the arithmetic to the result.
    let x = if x < -104.0 { -104.0 } else { x };
    let x = if x > 89.0 { 89.0 } else { x };
    let t = R::mul_add(x, LOG2_E, SHIFTER);
    let n = t - SHIFTER;
    // x − n·ln 2 in two parts (with separate roundings: `x - n·HI - n·LO`, bit for bit).
    let r = R::mul_add(-n, LN2_LO, R::mul_add(-n, LN2_HI, x));
    // Cephes's polynomial, e^r ≈ 1 + r + r²·q(r), with q evaluated by Estrin's scheme: three
    // independent pairs combined by r², so the dependency chain is three multiply-adds deep
    // rather than Horner's six (the step's activations are bound by that chain's latency).
    let r2 = r * r;
    let q01 = R::mul_add(0.166_666_65, r, 0.5);
    let q23 = R::mul_add(8.333_452e-3, r, 4.166_579_6e-2);
    let q45 = R::mul_add(1.987_569_1e-4, r, 1.398_199_9e-3);
    let q = R::mul_add(R::mul_add(q45, r2, q23), r2, q01);
    let p = R::mul_add(q, r2, r);
    // n ∈ [-150, 129]: the integer the shifter left in t's low mantissa bits.
    let n = (t.to_bits() as i32).wrapping_sub(SHIFTER.to_bits() as i32);
    one_plus_times_power_of_two::<R>(p, n)
}

/// `(1 + p) · 2^n` for `|p| < 1/2` and `n ∈ [-150, 129]`, rounded as `round(1 + p)` scaled:
/// `2^n = 2^(n/2) · 2^(n - n/2)`, both factors normal, so that results in the subnormal
/// range round once more, not twice. The first factor goes into one multiply-add,
/// `p · s + s`: scaling by a power of two commutes with rounding while the result is normal
/// (which `(1 + p) · 2^(n/2)` is), so that gives `round(1 + p) · s` to the bit, one
/// operation shorter on the dependency chain than the add and the multiplication.
#[inline(always)]
fn one_plus_times_power_of_two<R: Rounding>(p: f32, n: i32) -> f32 {
    let n1 = n >> 1;
    let n2 = n - n1;
    let scale1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let scale2 = f32::from_bits(((n2 + 127) as u32) << 23);
    R::mul_add(p, scale1, scale1) * scale2
}

/// The logistic sigmoid `1 / (1 + e^-x)` for `f32`, branch-free, from [`exp_f32`], with
/// separate roundings ([`sigmoid_f32_with`] takes the rounding).
///
/// Measured against `f64`: ≤ 2.3 ulp (relative error ≤ 1.8e-7, down to the subnormals);
/// `1` above ≈ 17, `0` below ≈ −104; `+inf → 1`, `−inf → 0`; `NaN → NaN`.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    sigmoid_f32_with::<Separate>(x)
}

/// [`sigmoid_f32`] with the multiply-adds rounded as `R` says.
#[inline(always)]
pub fn sigmoid_f32_with<R: Rounding>(x: f32) -> f32 {
    // With e = e^-|x| ≤ 1 nothing overflows: σ(|x|) = 1 / (1 + e) and σ(-|x|) = e / (1 + e),
    // which keeps full relative accuracy down to the subnormals. The numerator is chosen
    // before the one division, so nothing follows it on the dependency chain (and σ(-|x|)
    // is rounded once).
    let e = exp_f32_with::<R>(-f32::from_bits(x.to_bits() & 0x7fff_ffff));
    let numerator = if x < 0.0 { e } else { 1.0 };
    numerator / (1.0 + e)
}

/// `tanh(x)` for `f32`, branch-free (both branches are computed and one is selected), with
/// separate roundings ([`tanh_f32_with`] takes the rounding).
///
/// `|x| < 0.625`: Cephes's odd polynomial `x + x³·P(x²)` (no cancellation near 0);
/// otherwise `1 − 2 / (e^{2|x|} + 1)`; then `x`'s sign. Measured against `f64`: ≤ 1.3 ulp
/// (relative error ≤ 1.4e-7); exactly `±1` beyond ≈ ±9.01; `±inf → ±1`; `NaN → NaN`;
/// `−0 → −0`.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    tanh_f32_with::<Separate>(x)
}

/// [`tanh_f32`] with the multiply-adds rounded as `R` says.
#[inline(always)]
pub fn tanh_f32_with<R: Rounding>(x: f32) -> f32 {
    const SIGN: u32 = 0x8000_0000;
    let a = f32::from_bits(x.to_bits() & !SIGN);
    let z = x * x;
    let mut p = -5.704_988_7e-3_f32;
    p = R::mul_add(p, z, 2.063_909e-2);
    p = R::mul_add(p, z, -5.373_971_6e-2);
    p = R::mul_add(p, z, 0.133_314_42);
    p = R::mul_add(p, z, -0.333_332_8);
    let small = R::mul_add(p * z, a, a);
    let e = exp_f32_with::<R>(a + a);
    let large = 1.0 - 2.0 / (e + 1.0);
    let magnitude = if a < 0.625 { small } else { large };
    // tanh is odd: the sign of x (−0 included) goes back on.
    f32::from_bits(magnitude.to_bits() | (x.to_bits() & SIGN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Fused;

    /// The scaling's multiply-add gives the bits of rounding `1 + p` first and then scaling,
    /// for both roundings, every `n` and a dense sweep of the polynomial's range of `p`
    /// (`e^r - 1` for `|r| ≤ ln 2 / 2`), whose ties and last bits are what could differ.
    #[test]
    fn the_fused_scaling_is_the_rounded_sum_scaled() {
        fn check<R: Rounding>(rounding: &str) {
            let factor = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
            // Magnitudes from 1e-12 up, every 65,537th float (an odd stride: every pattern
            // of low bits, where the ties are), of both signs.
            let magnitudes = (1e-12f32.to_bits()..=0.415f32.to_bits()).step_by(65_537);
            let mut checked = 0u32;
            for p in magnitudes
                .map(f32::from_bits)
                .flat_map(|m| [m, -m])
                .chain([0.0])
            {
                if p < -0.293 {
                    continue;
                }
                for n in -150..=129 {
                    let n1 = n >> 1;
                    let expected = (p + 1.0) * factor(n1) * factor(n - n1);
                    let found = one_plus_times_power_of_two::<R>(p, n);
                    assert_eq!(
                        found.to_bits(),
                        expected.to_bits(),
                        "{rounding}: (1 + {p:e}) · 2^{n}"
                    );
                }
                checked += 1;
            }
            assert!(checked > 9_000, "{rounding}: only {checked} values of p");
        }
        check::<Separate>("separate");
        check::<Fused>("fused");
    }
}
