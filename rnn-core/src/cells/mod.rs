//! The built-in cells: [`Dense`], [`SimpleRnnCell`], [`GruCell`], [`LstmCell`], and
//! [`Stacked`] layers of any cells. Each is written with `#[cell]`, like a user's cell; all are
//! generic over the scalar ([`Real`]: `f32` by default, or `f64`) and import
//! Keras's weight layout as it is and PyTorch's transposed, its gates reordered
//! (`from_keras`, `from_pytorch`).

mod batch_norm;
mod dense;
#[cfg(feature = "alloc")]
mod embedding;
mod gru;
pub(crate) mod layout;
mod lstm;
mod simple_rnn;
mod stacked;

pub use batch_norm::BatchNormalization;
pub use dense::Dense;
#[cfg(feature = "alloc")]
pub use embedding::Embedding;
pub use gru::GruCell;
// What a step computes on the way, kept by training's residuals.
#[cfg(feature = "alloc")]
pub(crate) use gru::GruGates;
#[cfg(feature = "alloc")]
pub(crate) use lstm::LstmGates;
pub use lstm::{LstmCell, LstmCellState, LstmState};
pub use simple_rnn::SimpleRnnCell;
pub use stacked::{FeedsInto, Stacked};

use nalgebra::SVector;

use crate::error::WeightError;
use crate::real::Real;

/// PyTorch's two biases as Keras's one: their sum, or whichever is given.
fn pytorch_bias<T: Real, const G: usize, const H: usize>(
    bias_ih: Option<&[T]>,
    bias_hh: Option<&[T]>,
    order: &[usize; 4],
) -> Result<Option<[SVector<T, H>; G]>, WeightError> {
    let ih = bias_ih
        .map(|b| layout::bias("bias_ih", b, order))
        .transpose()?;
    let hh = bias_hh
        .map(|b| layout::bias("bias_hh", b, order))
        .transpose()?;
    Ok(match (ih, hh) {
        (Some(a), Some(b)) => Some(layout::add(a, b)),
        (a, b) => a.or(b),
    })
}

/// Whether a cell's step over a chunk of timesteps computes the chunk's input products first:
/// for every cell but the smallest, whose kernels (`input + hidden` rows of `gates · hidden`
/// values of `size` bytes) are under 3 KB.
///
/// A chunk's input products are one block product: each weight of the input kernel is read
/// once for the chunk's steps and feeds their independent sums, which beats a product per step
/// even when the kernels stay in the first-level cache. The smallest steps are bound by the
/// chain from one step's state to the next instead, and lose more than they gain: there the
/// next step's input product, computed step by step, runs beside that chain (the bits are the
/// same either way).
pub(crate) const fn projects_chunk(input: usize, hidden: usize, gates: usize, size: usize) -> bool {
    (input + hidden) * gates * hidden * size >= 3 * 1024
}

/// `f(a[k], b[k])` for every unit `k`: element-wise arithmetic of a step as a plain loop,
/// compiled in the step's vectorized copy (nalgebra's operators may be left out of line,
/// outside it); the same operations, so the same bits.
#[inline(always)]
pub(crate) fn zip_units<T: Real, const H: usize>(
    a: &SVector<T, H>,
    b: &SVector<T, H>,
    f: impl Fn(T, T) -> T,
) -> SVector<T, H> {
    let mut out = *a;
    for (o, &b) in out.as_mut_slice().iter_mut().zip(b.as_slice()) {
        *o = f(*o, b);
    }
    out
}
