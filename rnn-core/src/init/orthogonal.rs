//! Keras's `Orthogonal`: the Q of a normal matrix's QR decomposition, its signs fixed.

use super::InitRng;

/// Writes `gain · Q`, a `[rows, cols]` matrix with orthonormal rows (wide) or columns (tall),
/// row-major through `write`, as Keras's `Orthogonal`: the QR decomposition of a tall
/// standard normal matrix, each column of Q multiplied by the sign of R's diagonal (so that
/// Q is uniformly distributed), transposed when the matrix is wide.
#[cfg(feature = "alloc")]
pub(super) fn write(
    rng: &mut InitRng,
    [rows, cols]: [usize; 2],
    gain: f64,
    write: &mut dyn FnMut(&mut dyn FnMut() -> f64),
) {
    use nalgebra::DMatrix;
    let (tall, short) = (rows.max(cols), rows.min(cols));
    let a = DMatrix::<f64>::from_fn(tall, short, |_, _| super::sample::normal(rng));
    let qr = a.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for (j, mut column) in q.column_iter_mut().enumerate() {
        if r[(j, j)] < 0.0 {
            column.neg_mut();
        }
    }
    let q = if rows < cols { q.transpose() } else { q };
    let mut at = 0usize;
    write(&mut || {
        // `write` asks for `rows · cols` values; past them (a tensor that miscounts) it gets 0.
        let value = at
            .checked_div(cols)
            .and_then(|row| q.get((row, at % cols)))
            .map_or(0.0, |&v| v * gain);
        at += 1;
        value
    });
}

/// Without an allocator there is no QR workspace: `glorot_uniform` instead, as documented on
/// [`Initializer::Orthogonal`](super::Initializer::Orthogonal).
#[cfg(not(feature = "alloc"))]
pub(super) fn write(
    rng: &mut InitRng,
    [rows, cols]: [usize; 2],
    _gain: f64,
    write: &mut dyn FnMut(&mut dyn FnMut() -> f64),
) {
    super::Initializer::GlorotUniform.write(rng, &[rows, cols], write)
}
