//! The fused LSTM layer.

use alloc::vec::Vec;

use super::packed::PackedB;
use super::{initial, par_chunks, project, steps, Chunk, Widths};
use crate::cells::LstmCell;
use crate::error::ShapeError;

/// [`LstmCell`] run over a batch of sequences with GEMMs (see [the module](super)): Keras's
/// `LSTM(H, return_sequences=True, return_state=True)`, PyTorch's `nn.LSTM(batch_first=True)`.
///
/// Borrows the cell; its `activation` and `recurrent_activation` are honoured.
#[derive(Clone, Copy, Debug)]
pub struct Lstm<'a, const I: usize, const H: usize> {
    cell: &'a LstmCell<I, H, f32>,
}

/// What [`Lstm::forward`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct LstmOutput {
    /// Every step's output `h`, `[B, T, H]` row-major.
    pub outputs: Vec<f32>,
    /// The final `h`, `[B, H]` (the initial one when `T = 0`).
    pub h: Vec<f32>,
    /// The final cell state `c`, `[B, H]`.
    pub c: Vec<f32>,
}

impl<'a, const I: usize, const H: usize> Lstm<'a, I, H> {
    /// The fused layer of `cell` (no copy: the GEMMs read the cell's kernels).
    pub fn new(cell: &'a LstmCell<I, H, f32>) -> Self {
        Lstm { cell }
    }

    /// Runs `batch` sequences: `inputs` is `[B, T, I]` row-major (any `T`, including 0);
    /// `initial` is `(h, c)`, each `[B, H]`, zeros when `None`.
    ///
    /// Errors when `inputs` is not a whole number of `[B, I]` timesteps or a state is not
    /// `[B, H]`.
    pub fn forward(
        &self,
        inputs: &[f32],
        batch: usize,
        initial: Option<(&[f32], &[f32])>,
    ) -> Result<LstmOutput, ShapeError> {
        let t = steps(inputs, batch, I)?;
        let mut h = self::initial("initial h [B, H]", initial.map(|s| s.0), batch * H)?;
        let mut c = self::initial("initial c [B, H]", initial.map(|s| s.1), batch * H)?;
        let mut outputs = alloc::vec![0.0; batch * t * H];
        let mut z = alloc::vec![0.0; batch * t * 4 * H];
        let bias: Option<Vec<f32>> = self
            .cell
            .bias
            .map(|b| b.iter().flat_map(|g| g.iter().copied()).collect());
        let u = PackedB::new(self.cell.recurrent_kernel.as_slice(), H, 4 * H, 0, 4 * H);
        let widths = Widths {
            x: t * I,
            out: t * H,
            states: [H, H],
            work: t * 4 * H,
        };
        par_chunks(
            batch,
            inputs,
            &mut outputs,
            [&mut h, &mut c],
            &mut z,
            widths,
            |chunk| {
                // The epilogue runs in the AVX2 copy when the CPU has it (`#[inline(always)]`
                // puts `chunk` inside it); the GEMMs dispatch on their own.
                crate::dispatch::vectorized(
                    #[inline(always)]
                    || self.chunk(t, bias.as_deref(), &u, chunk),
                )
            },
        );
        Ok(LstmOutput { outputs, h, c })
    }

    /// The whole recurrence for one chunk of samples.
    #[inline(always)]
    fn chunk(&self, t_len: usize, bias: Option<&[f32]>, u: &PackedB<'_>, ch: Chunk<'_>) {
        let Chunk {
            n,
            x,
            out,
            states: [h, c],
            work: z,
        } = ch;
        let g4 = 4 * H;
        let (act, rec) = (self.cell.activation, self.cell.recurrent_activation);
        project(x, I, self.cell.kernel.as_slice(), bias, z);
        for t in 0..t_len {
            // The previous outputs are rows of `out` (stride T·H), or the initial h.
            let (prev, stride) = if t == 0 {
                (&h[..], H)
            } else {
                (&out[(t - 1) * H..], t_len * H)
            };
            u.gemm_acc(n, prev, stride, &mut z[t * g4..], t_len * g4);
            for b in 0..n {
                let at = b * t_len + t;
                let row = &mut z[at * g4..(at + 1) * g4];
                let (i_f, rest) = row.split_at_mut(2 * H);
                rec.apply_slice(i_f);
                let (i, f) = i_f.split_at_mut(H);
                let (g, o) = rest.split_at_mut(H);
                act.apply_slice(g);
                rec.apply_slice(o);
                let cb = &mut c[b * H..(b + 1) * H];
                for k in 0..H {
                    cb[k] = f[k] * cb[k] + i[k] * g[k];
                }
                g.copy_from_slice(cb);
                act.apply_slice(g);
                for (y, (&o, &a)) in out[at * H..(at + 1) * H]
                    .iter_mut()
                    .zip(o.iter().zip(g.iter()))
                {
                    *y = o * a;
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
