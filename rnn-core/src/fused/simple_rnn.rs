//! The fused SimpleRNN layer.

use alloc::vec::Vec;

use super::gates::{self, tanh, Avx2, Lanes, Units};
use super::packed::{Part, Path, Stacked};
use super::{
    begin, by_sample_steps, last_outputs, run_chunks, step_operands, Chunk, Fma, Output, Packed,
    Plan, Widths, WORK,
};
use crate::cells::SimpleRnnCell;
use crate::error::ShapeError;
use crate::kernels::accumulate_columns_with;
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
        let by_sample = self.packed.by_sample(batch).is_some();
        let (t, widths) = begin(
            (inputs, batch),
            (I, H),
            [("initial h [B, H]", initial)],
            // Per sample, the work rows: one step's pre-activations, or by sample every step's
            // (see `chunk_by_sample`).
            |t| {
                let work = if by_sample {
                    ShapeError::product(WORK, [t, H], 0)?
                } else {
                    H
                };
                Widths::new(t, (I, H), [H, 0], (work, 0))
            },
            (&mut run.outputs, [&mut run.h], &mut run.scratch.0),
        )?;
        if t == 0 {
            return Ok(());
        }
        let path = self.packed.path;
        let plan = self.packed.plan(batch, |path| self.pack(path));
        let whole = Chunk {
            n: batch,
            x: inputs,
            out: &mut run.outputs,
            states: [&mut run.h, &mut []],
            work: &mut run.scratch.0,
        };
        run_chunks(
            whole,
            &widths,
            #[inline(always)]
            |chunk| match &plan {
                Plan::Gemm(w) => self.chunk(t, w, path, chunk),
                Plan::BySample(avx) => self.chunk_by_sample(t, *avx, chunk),
            },
        );
        Ok(())
    }

    /// The step's weights: `[W; U]`, with the bias, packed for `path`.
    fn pack(&self, path: Path) -> Stacked<'a> {
        let bias: Option<Vec<f32>> = self.cell.bias.map(|b| b.iter().copied().collect());
        let part = |b, k| Part {
            b,
            k,
            rs: H,
            col0: 0,
        };
        Stacked::new(
            [
                part(self.cell.kernel.as_slice(), I),
                part(self.cell.recurrent_kernel.as_slice(), H),
            ],
            H,
            bias.as_deref(),
            path,
        )
    }

    /// The whole recurrence for one chunk of samples.
    #[inline(always)]
    fn chunk(&self, t_len: usize, w: &Stacked<'_>, path: Path, ch: Chunk<'_>) {
        let Chunk {
            n,
            x,
            out,
            states: [h, _],
            work: z,
        } = ch;
        for t in 0..t_len {
            w.product(n, step_operands(x, I, out, h, H, (t, t_len)), z, H);
            for b in 0..n {
                let (z, at) = (&mut z[b * H..(b + 1) * H], (b * t_len + t) * H);
                self.activate(z, &mut out[at..at + H], path);
            }
        }
        last_outputs(out, h, H, t_len);
    }

    /// The recurrence for a chunk of fewer than [`GEMM_ROWS`](super::GEMM_ROWS) samples, one
    /// sample at a time (see [the module](super)): its projection, then per step the
    /// recurrent product and the activation.
    #[inline(always)]
    fn chunk_by_sample(&self, t_len: usize, avx: Avx2, ch: Chunk<'_>) {
        let Chunk {
            n,
            x,
            out,
            states: [h, _],
            work: z,
        } = ch;
        let recurrent = self.cell.recurrent_kernel.rows();
        let bias = self.cell.bias.as_ref().map(core::array::from_ref);
        by_sample_steps(
            (&self.cell.kernel, bias),
            (n, t_len),
            (x, out, h, z),
            #[inline(always)]
            |s| {
                accumulate_columns_with::<Fma, f32, H, 1, H>(recurrent, s.prev, 0, s.row);
                self.activate(s.row, s.y, Path::Packed(avx));
            },
        );
    }

    /// One sample's output `y = act(z)` (`z` is overwritten).
    #[inline(always)]
    fn activate(&self, z: &mut [f32], y: &mut [f32], path: Path) {
        if self.cell.activation == Activation::Tanh {
            gates::run(&mut Tanh { z, y }, H, path);
        } else {
            self.cell.activation.apply_slice(z);
            y.copy_from_slice(z);
        }
    }
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
