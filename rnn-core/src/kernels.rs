//! The arithmetic inner loops of the built-in cells, over fixed-size arrays so the compiler
//! sees every trip count.

use nalgebra::SVector;

use crate::real::Real;

/// `out[g] += Σ_j x[j] · rows[j][g]`: a vector times a `[IN, G·H]` kernel, accumulated row by
/// row so that each step is a contiguous `H`-wide multiply-add.
#[inline(always)]
pub fn accumulate_rows<T: Real, const IN: usize, const G: usize, const H: usize>(
    rows: &[[[T; H]; G]; IN],
    x: &[T; IN],
    out: &mut [SVector<T, H>; G],
) {
    for (row, &xj) in rows.iter().zip(x) {
        for (block, acc) in row.iter().zip(out.iter_mut()) {
            for (a, &w) in acc.iter_mut().zip(block) {
                *a += xj * w;
            }
        }
    }
}

/// `tanh` of every element, in place.
#[inline(always)]
pub fn tanh<T: Real, const N: usize>(xs: &mut [T; N]) {
    for x in xs {
        *x = x.tanh();
    }
}

/// The logistic sigmoid `1 / (1 + e^-x)` of every element, in place.
#[inline(always)]
pub fn sigmoid<T: Real, const N: usize>(xs: &mut [T; N]) {
    for x in xs {
        *x = T::one() / (T::one() + (-*x).exp());
    }
}

/// Keras 3's `hard_sigmoid`, `relu6(x + 3) / 6`, of every element, in place (the same
/// operations in the same order as Keras, so the same bits).
#[inline(always)]
pub fn hard_sigmoid<T: Real, const N: usize>(xs: &mut [T; N]) {
    let three = nalgebra::convert::<f64, T>(3.0);
    let six = nalgebra::convert::<f64, T>(6.0);
    for x in xs {
        *x = (*x + three).clamp(T::zero(), six) / six;
    }
}

/// `max(x, 0)` of every element, in place.
#[inline(always)]
pub fn relu<T: Real, const N: usize>(xs: &mut [T; N]) {
    for x in xs {
        *x = x.max(T::zero());
    }
}

/// Softmax over the whole array, in place, shifted by the maximum so `exp` cannot overflow.
#[inline(always)]
pub fn softmax<T: Real, const N: usize>(xs: &mut [T; N]) {
    let max = xs
        .iter()
        .copied()
        .fold(T::min_value().unwrap_or(T::zero()), T::max);
    let mut sum = T::zero();
    for x in xs.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in xs.iter_mut() {
        *x /= sum;
    }
}
