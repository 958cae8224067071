//! The draws every random initialiser is made of, from the seeded generator.

use nalgebra::ComplexField;
use rand::{Rng, RngCore};

use super::InitRng;

/// A uniform draw in `[low, high)` as Keras computes it, `low + (high − low) · u` with `u` in
/// `[0, 1)`; `u` has 52 random bits, as `rand`'s float ranges draw it, so a range gives the
/// same bits through either. Bounds in either order, equal or not finite are not an error:
/// they give what the formula gives (a constant, or NaN), as in Keras.
pub(super) fn uniform(rng: &mut InitRng, low: f64, high: f64) -> f64 {
    const ONE: u64 = 1023 << 52; // the exponent of [1, 2)
    let u = f64::from_bits((rng.0.next_u64() >> 12) | ONE) - 1.0;
    u * (high - low) + low
}

/// A standard normal draw (Box–Muller).
pub(super) fn normal(rng: &mut InitRng) -> f64 {
    let u1: f64 = 1.0 - rng.0.random::<f64>(); // (0, 1]: ln is finite
    let u2: f64 = rng.0.random();
    ComplexField::sqrt(-2.0 * ComplexField::ln(u1)) * ComplexField::cos(core::f64::consts::TAU * u2)
}

/// A standard normal draw redrawn until it lies within two standard deviations, as Keras's
/// (TensorFlow's) `truncated_normal`: its standard deviation is `0.87962566103423978`.
pub(super) fn truncated_normal(rng: &mut InitRng) -> f64 {
    loop {
        let z = normal(rng);
        if z.abs() <= 2.0 {
            return z;
        }
    }
}
