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
