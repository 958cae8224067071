//! The fused LSTM layer.

use alloc::vec::Vec;

use super::gates::{self, sigmoid, tanh, Avx2, Lanes, Units};
use super::packed::{Part, Path, Stacked};
use super::{
    by_sample_steps, initial, last_outputs, run_chunks, step_operands, steps, Chunk, Fma, Plan,
    Widths,
};
use crate::cells::{Activation, LstmCell};
use crate::error::ShapeError;
use crate::kernels::accumulate_columns_with;

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
        self.forward_on(inputs, batch, initial, Path::detect())
    }

    /// [`forward`](Self::forward) on the given path (the tests run both).
    pub(super) fn forward_on(
        &self,
        inputs: &[f32],
        batch: usize,
        initial: Option<(&[f32], &[f32])>,
        path: Path,
    ) -> Result<LstmOutput, ShapeError> {
        let t = steps(inputs, batch, I)?;
        let mut h = self::initial("initial h [B, H]", initial.map(|s| s.0), batch * H)?;
        let mut c = self::initial("initial c [B, H]", initial.map(|s| s.1), batch * H)?;
        let plan = Plan::new(path, batch, || self.weights(path));
        // Per sample, the work row: one step's gate pre-activations (none by sample, which
        // builds every step's, see `chunk_by_sample`).
        let widths = Widths {
            x: t * I,
            out: t * H,
            states: [H, H],
            work: match plan {
                Plan::Gemm(_) => 4 * H,
                Plan::BySample(_) => 0,
            },
        };
        let outputs = run_chunks(
            batch,
            inputs,
            [&mut h, &mut c],
            widths,
            #[inline(always)]
            |chunk| match &plan {
                Plan::Gemm(w) => self.chunk(t, w, path, chunk),
                Plan::BySample(avx) => self.chunk_by_sample(t, *avx, chunk),
            },
        );
        Ok(LstmOutput { outputs, h, c })
    }

    /// The step's weights: `[W; U]`, all `4H` columns, with the bias.
    fn weights(&self, path: Path) -> Stacked<'a> {
        let bias: Option<Vec<f32>> = self
            .cell
            .bias
            .map(|b| b.iter().flat_map(|g| g.iter().copied()).collect());
        let (kernel, recurrent) = (
            self.cell.kernel.as_slice(),
            self.cell.recurrent_kernel.as_slice(),
        );
        let part = |b, k| Part {
            b,
            k,
            rs: 4 * H,
            col0: 0,
        };
        Stacked::new(
            [part(kernel, I), part(recurrent, H)],
            4 * H,
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
            states: [h, c],
            work: z,
        } = ch;
        let g4 = 4 * H;
        for t in 0..t_len {
            w.product(n, step_operands(x, I, out, h, H, (t, t_len)), z, g4);
            for b in 0..n {
                let at = (b * t_len + t) * H;
                let (z, c) = (&mut z[b * g4..(b + 1) * g4], &mut c[b * H..(b + 1) * H]);
                self.gates(z, c, &mut out[at..at + H], path);
            }
        }
        last_outputs(out, h, H, t_len);
    }

    /// The recurrence for a chunk of fewer than [`GEMM_ROWS`](super::GEMM_ROWS) samples, one
    /// sample at a time (see [the module](super)): its projection, then per step the
    /// recurrent product (`4H` columns, `H` rows) and the epilogue. At batch 1, I = H = 32:
    /// 626 -> 275 ns per step (the projection at the FMA units' peak, 77 ns per step),
    /// against 357 for `Rnn::new(LstmCell)`.
    #[inline(always)]
    fn chunk_by_sample(&self, t_len: usize, avx: Avx2, ch: Chunk<'_>) {
        let Chunk {
            n,
            x,
            out,
            states: [h, c],
            work: _,
        } = ch;
        let recurrent = self.cell.recurrent_kernel.rows();
        by_sample_steps(
            (&self.cell.kernel, self.cell.bias.as_ref()),
            (n, t_len),
            (x, out, h),
            #[inline(always)]
            |s| {
                accumulate_columns_with::<Fma, f32, H, 4, H>(recurrent, s.prev, 0, s.row);
                let c = &mut c[s.b * H..(s.b + 1) * H];
                self.gates(s.row, c, s.y, Path::Packed(avx));
            },
        );
    }

    /// One sample's epilogue: from the pre-activations `z = [i f g o]` (`4H`), the new cell
    /// state `c` (in place) and output `y`.
    #[inline(always)]
    fn gates(&self, z: &mut [f32], c: &mut [f32], y: &mut [f32], path: Path) {
        let (act, rec) = (self.cell.activation, self.cell.recurrent_activation);
        if (act, rec) == (Activation::Tanh, Activation::Sigmoid) {
            return gates::run(&mut Standard { z, c, y }, H, path);
        }
        let (i_f, rest) = z.split_at_mut(2 * H);
        rec.apply_slice(i_f);
        let (i, f) = i_f.split_at_mut(H);
        let (g, o) = rest.split_at_mut(H);
        act.apply_slice(g);
        rec.apply_slice(o);
        for k in 0..H {
            c[k] = f[k] * c[k] + i[k] * g[k];
        }
        g.copy_from_slice(c);
        act.apply_slice(g);
        for (y, (&o, &a)) in y.iter_mut().zip(o.iter().zip(g.iter())) {
            *y = o * a;
        }
    }
}

/// The epilogue of the usual LSTM (tanh, sigmoid) in one pass: each unit's four gates, cell
/// state and output together, so nothing is written back and re-read between the
/// activations (the general path takes five passes over the row).
struct Standard<'r> {
    /// `[i f g o]`, `4H`.
    z: &'r [f32],
    c: &'r mut [f32],
    y: &'r mut [f32],
}

impl Units for Standard<'_> {
    #[inline(always)]
    fn units<L: Lanes>(&mut self, l: L, k: usize) {
        let h = self.c.len();
        let gate = |g: usize| l.load(&self.z[g * h + k..]);
        let (i, f) = (sigmoid(l, gate(0)), sigmoid(l, gate(1)));
        let (g, o) = (tanh(l, gate(2)), sigmoid(l, gate(3)));
        let c = l.mul_add(f, l.load(&self.c[k..]), l.mul(i, g));
        l.store(c, &mut self.c[k..]);
        l.store(l.mul(o, tanh(l, c)), &mut self.y[k..]);
    }
}
