//! Weight initialisers, reproducible from a seed: Keras's defaults (`glorot_uniform` kernels,
//! `orthogonal` recurrent kernels, zero biases, LSTM forget-gate bias 1) and PyTorch's
//! (`uniform(±1/√H)` for every weight and bias).
//!
//! The generator is ChaCha8 (`rand_chacha`): the same seed gives the same weights on every
//! platform and in every release of this crate. The values are not Keras's or PyTorch's own
//! draws (those come from their generators); the distributions are theirs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::real::Real;

/// The seeded random generator every initialiser draws from: ChaCha8, whose stream is the
/// same on every platform. Opaque, so that the generator behind it is not part of the API.
#[derive(Clone, Debug)]
pub struct InitRng(ChaCha8Rng);

/// A generator from a seed.
pub fn rng(seed: u64) -> InitRng {
    InitRng(ChaCha8Rng::seed_from_u64(seed))
}

/// How a weight tensor of shape `[rows, cols]` (Keras's layout: `[inputs, gates·units]`)
/// is filled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Initializer {
    /// All zeros (Keras's default bias).
    Zeros,
    /// Every value `c`.
    Constant(f64),
    /// `uniform(±√(6 / (fan_in + fan_out)))`, fans `rows` and `cols` (Keras's default kernel).
    GlorotUniform,
    /// A (semi-)orthogonal matrix from the QR decomposition of a standard normal one, signs
    /// fixed by `R`'s diagonal (Keras's default recurrent kernel). Needs the `alloc` feature.
    Orthogonal,
    /// `uniform(±limit)` (PyTorch: `limit = 1/√H` for every RNN weight and bias). The sign of
    /// `limit` does not matter; a limit that is NaN or infinite gives NaN weights, as Keras's
    /// `minval + (maxval − minval) · u` does.
    Uniform(f64),
}

impl Initializer {
    /// Fills `out`, a row-major `[rows, cols]` tensor.
    ///
    /// # Panics
    /// If `out` does not hold `rows · cols` values, as `copy_from_slice` does on a length
    /// mismatch.
    pub fn fill<T: Real>(self, rng: &mut InitRng, rows: usize, cols: usize, out: &mut [T]) {
        assert!(
            rows.checked_mul(cols) == Some(out.len()),
            "a [{rows}, {cols}] tensor in {} values",
            out.len()
        );
        let cast = nalgebra::convert::<f64, T>;
        match self {
            Initializer::Zeros => out.iter_mut().for_each(|x| *x = T::zero()),
            Initializer::Constant(c) => out.iter_mut().for_each(|x| *x = cast(c)),
            Initializer::GlorotUniform => {
                let limit = nalgebra::ComplexField::sqrt(6.0 / (rows + cols) as f64);
                out.iter_mut()
                    .for_each(|x| *x = cast(rng.0.random_range(-limit..limit)));
            }
            Initializer::Uniform(limit) if limit.is_finite() => {
                let limit = limit.abs();
                out.iter_mut()
                    .for_each(|x| *x = cast(rng.0.random_range(-limit..=limit)));
            }
            // No interval to sample: `random_range` would panic.
            Initializer::Uniform(_) => out.iter_mut().for_each(|x| *x = cast(f64::NAN)),
            Initializer::Orthogonal => orthogonal(rng, rows, cols, out),
        }
    }
}

/// A standard normal draw (Box–Muller).
#[cfg(feature = "alloc")]
fn normal(rng: &mut InitRng) -> f64 {
    let u1: f64 = 1.0 - rng.0.random::<f64>(); // (0, 1]: ln is finite
    let u2: f64 = rng.0.random();
    nalgebra::ComplexField::sqrt(-2.0 * nalgebra::ComplexField::ln(u1))
        * nalgebra::ComplexField::cos(core::f64::consts::TAU * u2)
}

#[cfg(feature = "alloc")]
fn orthogonal<T: Real>(rng: &mut InitRng, rows: usize, cols: usize, out: &mut [T]) {
    use nalgebra::DMatrix;
    // As Keras: QR of a tall normal matrix, columns' signs fixed, transposed when wide.
    let (tall, short) = (rows.max(cols), rows.min(cols));
    let a = DMatrix::<f64>::from_fn(tall, short, |_, _| normal(rng));
    let qr = a.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for (j, mut column) in q.column_iter_mut().enumerate() {
        if r[(j, j)] < 0.0 {
            column.neg_mut();
        }
    }
    let q = if rows < cols { q.transpose() } else { q };
    for i in 0..rows {
        for j in 0..cols {
            out[i * cols + j] = nalgebra::convert(q[(i, j)]);
        }
    }
}

#[cfg(not(feature = "alloc"))]
fn orthogonal<T: Real>(rng: &mut InitRng, rows: usize, cols: usize, out: &mut [T]) {
    // Without an allocator there is no QR workspace: fall back to Glorot, documented on
    // `Initializer::Orthogonal`.
    Initializer::GlorotUniform.fill(rng, rows, cols, out)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_rows_are_orthonormal_when_wide() {
        let (rows, cols) = (4, 16);
        let mut w = vec![0.0f64; rows * cols];
        Initializer::Orthogonal.fill(&mut rng(7), rows, cols, &mut w);
        for a in 0..rows {
            for b in 0..rows {
                let dot: f64 = (0..cols).map(|j| w[a * cols + j] * w[b * cols + j]).sum();
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-12, "rows {a},{b}: {dot}");
            }
        }
    }

    #[test]
    fn glorot_stays_within_its_limit_and_seeds_reproduce() {
        let mut a = vec![0.0f32; 5 * 16];
        let mut b = a.clone();
        Initializer::GlorotUniform.fill(&mut rng(1), 5, 16, &mut a);
        Initializer::GlorotUniform.fill(&mut rng(1), 5, 16, &mut b);
        assert_eq!(a, b);
        let limit = (6.0f32 / 21.0).sqrt();
        assert!(a.iter().all(|x| x.abs() <= limit));
        assert!(
            a.iter().any(|x| x.abs() > limit / 2.0),
            "values spread over the range"
        );
    }
}
