//! The fused GRU layer, both variants.

use alloc::vec::Vec;

use super::packed::PackedB;
use super::{initial, par_chunks, project, steps, Chunk, Output, Widths};
use crate::cells::GruCell;
use crate::error::ShapeError;

/// [`GruCell`] run over a batch of sequences with GEMMs (see [the module](super)): Keras's
/// `GRU(H, return_sequences=True, return_state=True)`, PyTorch's `nn.GRU(batch_first=True)`.
///
/// Both variants: with `reset_after` one recurrent GEMM per step (into a `[B, 3H]` buffer,
/// since the reset gate multiplies its candidate part); without, two (the `z r` gates, then
/// `(r ⊙ h) · U_h`).
#[derive(Clone, Copy, Debug)]
pub struct Gru<'a, const I: usize, const H: usize> {
    cell: &'a GruCell<I, H, f32>,
}

impl<'a, const I: usize, const H: usize> Gru<'a, I, H> {
    /// The fused layer of `cell` (no copy: the GEMMs read the cell's kernels).
    pub fn new(cell: &'a GruCell<I, H, f32>) -> Self {
        Gru { cell }
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
        // Per sample: the input projections of every step, then one step's recurrent part.
        let mut work = alloc::vec![0.0; batch * (t * 3 * H + 3 * H)];
        let flat = |b: &[nalgebra::SVector<f32, H>; 3]| -> Vec<f32> {
            b.iter().flat_map(|g| g.iter().copied()).collect()
        };
        let bias = self.cell.bias.as_ref().map(flat);
        let recurrent_bias = self.cell.recurrent_bias.as_ref().map(flat);
        // The recurrent kernel, packed once: whole (reset_after), or its `z r` and `h` column
        // blocks apart (the candidate's product waits for the reset gate).
        let kernel = self.cell.recurrent_kernel.as_slice();
        let u = if self.cell.reset_after {
            [
                PackedB::new(kernel, H, 3 * H, 0, 3 * H),
                PackedB::new(kernel, H, 3 * H, 0, 0),
            ]
        } else {
            [
                PackedB::new(kernel, H, 3 * H, 0, 2 * H),
                PackedB::new(kernel, H, 3 * H, 2 * H, H),
            ]
        };
        let widths = Widths {
            x: t * I,
            out: t * H,
            states: [H, 0],
            work: t * 3 * H + 3 * H,
        };
        par_chunks(
            batch,
            inputs,
            &mut outputs,
            [&mut h, &mut []],
            &mut work,
            widths,
            |chunk| {
                crate::dispatch::vectorized(
                    #[inline(always)]
                    || self.chunk(t, bias.as_deref(), recurrent_bias.as_deref(), &u, chunk),
                )
            },
        );
        Ok(Output { outputs, h })
    }

    #[inline(always)]
    fn chunk(
        &self,
        t_len: usize,
        bias: Option<&[f32]>,
        rec_bias: Option<&[f32]>,
        [u, u_h]: &[PackedB<'_>; 2],
        ch: Chunk<'_>,
    ) {
        let Chunk {
            n,
            x,
            out,
            states: [h, _],
            work,
        } = ch;
        let g3 = 3 * H;
        let (act, rec) = (self.cell.activation, self.cell.recurrent_activation);
        let (zx, extra) = work.split_at_mut(n * t_len * g3);
        project(x, I, self.cell.kernel.as_slice(), bias, zx);
        for t in 0..t_len {
            let stride = if t == 0 { H } else { t_len * H };
            if self.cell.reset_after {
                match rec_bias {
                    Some(b) => extra
                        .chunks_exact_mut(g3)
                        .for_each(|r| r.copy_from_slice(b)),
                    None => extra.fill(0.0),
                }
                let prev = if t == 0 { &h[..] } else { &out[(t - 1) * H..] };
                u.gemm_acc(n, prev, stride, extra, g3);
            } else {
                let prev = if t == 0 { &h[..] } else { &out[(t - 1) * H..] };
                u.gemm_acc(n, prev, stride, &mut zx[t * g3..], t_len * g3);
            }
            for b in 0..n {
                let at = b * t_len + t;
                let row = &mut zx[at * g3..(at + 1) * g3];
                let (xz, rest) = row.split_at_mut(H);
                let (xr, xh) = rest.split_at_mut(H);
                let prev = if t == 0 {
                    &h[b * H..(b + 1) * H]
                } else {
                    &out[(at - 1) * H..at * H]
                };
                let hr = &mut extra[b * g3..(b + 1) * g3];
                if self.cell.reset_after {
                    for k in 0..H {
                        xr[k] += hr[H + k];
                    }
                    rec.apply_slice(xr);
                    for k in 0..H {
                        xz[k] += hr[k];
                        xh[k] += xr[k] * hr[2 * H + k];
                    }
                } else {
                    rec.apply_slice(xr);
                    // r ⊙ h, the candidate's recurrent input, multiplied after this loop.
                    for k in 0..H {
                        hr[k] = xr[k] * prev[k];
                    }
                }
            }
            if !self.cell.reset_after {
                u_h.gemm_acc(n, extra, g3, &mut zx[t * g3 + 2 * H..], t_len * g3);
            }
            for b in 0..n {
                let at = b * t_len + t;
                let (before, after) = out.split_at_mut(at * H);
                let prev = if t == 0 {
                    &h[b * H..(b + 1) * H]
                } else {
                    &before[(at - 1) * H..]
                };
                let row = &mut zx[at * g3..(at + 1) * g3];
                let (z, rest) = row.split_at_mut(H);
                let candidate = &mut rest[H..];
                rec.apply_slice(z);
                act.apply_slice(candidate);
                for (k, y) in after[..H].iter_mut().enumerate() {
                    *y = z[k] * prev[k] + (1.0 - z[k]) * candidate[k];
                }
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
