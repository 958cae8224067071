//! The fused SimpleRNN layer.

use super::gates::{self, tanh, Lanes, Units};
use super::packed::{Path, Pool, Stacked};
use super::{Kernels, Layer, Output, Packed};
use crate::cells::SimpleRnnCell;
use crate::error::ShapeError;
use crate::ops::Activation;

/// [`SimpleRnnCell`] run over a batch of sequences with GEMMs (see [the module](super)):
/// Keras's `SimpleRNN(H, return_sequences=True, return_state=True)`, PyTorch's `nn.RNN`.
///
/// Keep the layer to run many batches: the first batch of 4 or more samples packs the
/// weights for the GEMMs (a copy of the cell's kernels, which the later calls reuse).
#[derive(Clone, Debug)]
pub struct SimpleRnn<'a, const I: usize, const H: usize> {
    cell: &'a SimpleRnnCell<I, H, f32>,
    packed: Packed<Stacked<'a>>,
}

impl<'a, const I: usize, const H: usize> SimpleRnn<'a, I, H> {
    /// The fused layer of `cell`, on the fastest path this CPU runs.
    pub fn new(cell: &'a SimpleRnnCell<I, H, f32>) -> Self {
        Self::on(cell, Path::detect())
    }

    /// The fused layer of `cell` on the given path (the tests run both).
    pub(super) fn on(cell: &'a SimpleRnnCell<I, H, f32>, path: Path) -> Self {
        SimpleRnn {
            cell,
            packed: Packed::new(path),
        }
    }

    /// The cell the layer runs.
    pub(super) fn cell(&self) -> &'a SimpleRnnCell<I, H, f32> {
        self.cell
    }

    /// Runs `batch` sequences: `inputs` is `[B, T, I]` row-major (any `T`, including 0);
    /// `initial` is `h`, `[B, H]`, zeros when `None`.
    ///
    /// Errors when `inputs` is not a whole number of `[B, I]` timesteps or the state is not
    /// `[B, H]`, and when the batch's buffers would hold more values than a `usize` counts or
    /// than can be allocated.
    pub fn forward(
        &self,
        inputs: &[f32],
        batch: usize,
        initial: Option<&[f32]>,
    ) -> Result<Output, ShapeError> {
        let mut run = Output::default();
        self.forward_into(inputs, batch, initial, &mut run)?;
        Ok(run)
    }

    /// [`forward`](Self::forward) into the buffers of `run`, resized in place, as
    /// [`Lstm::forward_into`](super::Lstm::forward_into) does: a loop that keeps `run`
    /// allocates nothing once `run` has held as large a call. On an error `run` is left as it
    /// was.
    pub fn forward_into(
        &self,
        inputs: &[f32],
        batch: usize,
        initial: Option<&[f32]>,
        run: &mut Output,
    ) -> Result<(), ShapeError> {
        super::forward_into(
            self,
            (inputs, batch, super::Lengths::All),
            [("initial h [B, H]", initial)],
            (&mut run.outputs, [&mut run.h], &mut run.scratch.0),
            None,
        )
    }
}

impl<'a, const I: usize, const H: usize> Layer<I, 1, H> for SimpleRnn<'a, I, H> {
    const SECOND: usize = 0;

    type Weights = Stacked<'a>;

    #[inline(always)]
    fn packed(&self) -> &Packed<Stacked<'a>> {
        &self.packed
    }

    #[inline(always)]
    fn packed_mut(&mut self) -> &mut Packed<Stacked<'a>> {
        &mut self.packed
    }

    fn pack(&self, path: Path, pool: &mut Pool) -> Stacked<'a> {
        super::stacked(kernels(self.cell), path, pool)
    }

    fn recycle(weights: Stacked<'a>, pool: &mut Pool) {
        weights.recycle(pool);
    }

    #[inline(always)]
    fn kernels(&self) -> Kernels<'_, I, 1, H> {
        kernels(self.cell)
    }

    /// One product: `[x h] · [W; U] + b` into the `H` pre-activations.
    #[inline(always)]
    fn gemm_step(
        &self,
        n: usize,
        w: &Stacked<'a>,
        ops: [(&[f32], usize); 2],
        work: &mut [f32],
        _: &mut [f32],
        _: Path,
    ) {
        w.product(n, ops, work, H);
    }

    /// One sample's output `y = act(z)` (`z` is overwritten).
    #[inline(always)]
    fn epilogue(&self, z: &mut [f32], _: &mut [f32], _: &[f32], y: &mut [f32], path: Path) {
        if self.cell.activation == Activation::Tanh {
            gates::run(&mut Tanh { z, y }, H, path);
        } else {
            self.cell.activation.apply_slice(z);
            y.copy_from_slice(z);
        }
    }
}

/// The cell's weights, borrowed for as long as the cell: packed for the GEMMs, read as they are
/// by sample.
#[inline(always)]
fn kernels<const I: usize, const H: usize>(
    cell: &SimpleRnnCell<I, H, f32>,
) -> Kernels<'_, I, 1, H> {
    (
        &cell.kernel,
        &cell.recurrent_kernel,
        cell.bias.as_ref().map(core::array::from_ref),
    )
}

/// The epilogue with tanh, a vector of units at a time: `y = tanh(z)`.
struct Tanh<'r> {
    z: &'r [f32],
    y: &'r mut [f32],
}

impl Units for Tanh<'_> {
    #[inline(always)]
    fn units<L: Lanes>(&mut self, l: L, k: usize) {
        l.store(tanh(l, l.load(&self.z[k..])), &mut self.y[k..]);
    }
}
