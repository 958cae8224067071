//! The fused SimpleRNN layer.

use alloc::vec::Vec;

use super::packed::PackedB;
use super::{initial, par_chunks, project, steps, Chunk, Output, Widths};
use crate::cells::SimpleRnnCell;
use crate::error::ShapeError;

/// [`SimpleRnnCell`] run over a batch of sequences with GEMMs (see [the module](super)):
/// Keras's `SimpleRNN(H, return_sequences=True, return_state=True)`, PyTorch's `nn.RNN`.
#[derive(Clone, Copy, Debug)]
pub struct SimpleRnn<'a, const I: usize, const H: usize> {
    cell: &'a SimpleRnnCell<I, H, f32>,
}

impl<'a, const I: usize, const H: usize> SimpleRnn<'a, I, H> {
    /// The fused layer of `cell` (no copy: the GEMMs read the cell's kernels).
    pub fn new(cell: &'a SimpleRnnCell<I, H, f32>) -> Self {
        SimpleRnn { cell }
    }

    /// Runs `batch` sequences: `inputs` is `[B, T, I]` row-major (any `T`, including 0);
    /// `initial` is `h`, `[B, H]`, zeros when `None`.
    ///
    /// Errors when `inputs` is not a whole number of `[B, I]` timesteps or the state is not
    /// `[B, H]`.
    pub fn forward(
        &self,
        inputs: &[f32],
        batch: usize,
        initial: Option<&[f32]>,
    ) -> Result<Output, ShapeError> {
        let t = steps(inputs, batch, I)?;
        let mut h = self::initial("initial h [B, H]", initial, batch * H)?;
        let mut outputs = alloc::vec![0.0; batch * t * H];
        let mut z = alloc::vec![0.0; batch * t * H];
        let bias: Option<Vec<f32>> = self.cell.bias.map(|b| b.iter().copied().collect());
        let u = PackedB::new(self.cell.recurrent_kernel.as_slice(), H, H, 0, H);
        let widths = Widths {
            x: t * I,
            out: t * H,
            states: [H, 0],
            work: t * H,
        };
        par_chunks(
            batch,
            inputs,
            &mut outputs,
            [&mut h, &mut []],
            &mut z,
            widths,
            |chunk| {
                crate::dispatch::vectorized(
                    #[inline(always)]
                    || self.chunk(t, bias.as_deref(), &u, chunk),
                )
            },
        );
        Ok(Output { outputs, h })
    }

    #[inline(always)]
    fn chunk(&self, t_len: usize, bias: Option<&[f32]>, u: &PackedB<'_>, ch: Chunk<'_>) {
        let Chunk {
            n,
            x,
            out,
            states: [h, _],
            work: z,
        } = ch;
        project(x, I, self.cell.kernel.as_slice(), bias, z);
        for t in 0..t_len {
            let (prev, stride) = if t == 0 {
                (&h[..], H)
            } else {
                (&out[(t - 1) * H..], t_len * H)
            };
            u.gemm_acc(n, prev, stride, &mut z[t * H..], t_len * H);
            for b in 0..n {
                let at = (b * t_len + t) * H;
                let row = &mut z[at..at + H];
                self.cell.activation.apply_slice(row);
                out[at..at + H].copy_from_slice(row);
            }
        }
        if t_len > 0 {
            for b in 0..n {
                let last = (b * t_len + t_len - 1) * H;
                h[b * H..(b + 1) * H].copy_from_slice(&out[last..last + H]);
            }
        }
    }
}
