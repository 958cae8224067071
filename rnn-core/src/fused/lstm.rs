//! The fused LSTM layer.

use super::gates::{self, sigmoid, tanh, Lanes, Units};
use super::packed::{Path, Pool, Stacked};
use super::{Kernels, Layer, Packed, Scratch};
use crate::cells::LstmCell;
use crate::error::ShapeError;
use crate::ops::Activation;

/// [`LstmCell`] run over a batch of sequences with GEMMs (see [the module](super)): Keras's
/// `LSTM(H, return_sequences=True, return_state=True)`, PyTorch's `nn.LSTM(batch_first=True)`.
///
/// Borrows the cell; its `activation` and `recurrent_activation` are honoured. Keep the layer
/// to run many batches: the first batch of 4 or more samples packs the weights for the GEMMs
/// (a copy of the cell's kernels, which the later calls reuse).
#[derive(Clone, Debug)]
pub struct Lstm<'a, const I: usize, const H: usize> {
    cell: &'a LstmCell<I, H, f32>,
    packed: Packed<Stacked<'a>>,
}

/// What [`Lstm::forward`] returns, and the buffers [`Lstm::forward_into`] refills.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LstmOutput {
    /// Every step's output `h`, `[B, T, H]` row-major.
    pub outputs: Vec<f32>,
    /// The final `h`, `[B, H]` (the initial one when `T = 0`).
    pub h: Vec<f32>,
    /// The final cell state `c`, `[B, H]`.
    pub c: Vec<f32>,
    scratch: Scratch,
}

impl<'a, const I: usize, const H: usize> Lstm<'a, I, H> {
    /// The fused layer of `cell`, on the fastest path this CPU runs.
    pub fn new(cell: &'a LstmCell<I, H, f32>) -> Self {
        Self::on(cell, Path::detect())
    }

    /// The fused layer of `cell` on the given path (the tests run both).
    pub(super) fn on(cell: &'a LstmCell<I, H, f32>, path: Path) -> Self {
        Lstm {
            cell,
            packed: Packed::new(path),
        }
    }

    /// The cell the layer runs.
    pub(super) fn cell(&self) -> &'a LstmCell<I, H, f32> {
        self.cell
    }

    /// Runs `batch` sequences: `inputs` is `[B, T, I]` row-major (any `T`, including 0);
    /// `initial` is `(h, c)`, each `[B, H]`, zeros when `None`.
    ///
    /// Errors when `inputs` is not a whole number of `[B, I]` timesteps or a state is not
    /// `[B, H]`, and when the batch's buffers would hold more values than a `usize` counts or
    /// than can be allocated.
    pub fn forward(
        &self,
        inputs: &[f32],
        batch: usize,
        initial: Option<(&[f32], &[f32])>,
    ) -> Result<LstmOutput, ShapeError> {
        let mut run = LstmOutput::default();
        self.forward_into(inputs, batch, initial, &mut run)?;
        Ok(run)
    }

    /// [`forward`](Self::forward) into the buffers of `run`, resized in place: a loop that
    /// keeps `run` allocates nothing once `run` has held as large a call (`run` also keeps the
    /// call's work rows: one step's gate pre-activations per sample, or below 4 samples
    /// every step's). On an error `run` is left as it was.
    ///
    /// ```
    /// use rnn::cells::LstmCell;
    /// use rnn::fused::{Lstm, LstmOutput};
    ///
    /// let cell = LstmCell::<3, 2>::keras_init(0);
    /// let lstm = Lstm::new(&cell);
    /// let mut run = LstmOutput::default();
    /// for batch in [4, 4, 1] {
    ///     let inputs = vec![0.5f32; batch * 5 * 3]; // [B, T, I]
    ///     lstm.forward_into(&inputs, batch, None, &mut run).unwrap();
    ///     assert_eq!(run, lstm.forward(&inputs, batch, None).unwrap());
    /// }
    /// assert!(lstm.forward_into(&[0.5; 7], 1, None, &mut run).is_err());
    /// assert_eq!(run.outputs.len(), 5 * 2); // the last good run's
    /// ```
    pub fn forward_into(
        &self,
        inputs: &[f32],
        batch: usize,
        initial: Option<(&[f32], &[f32])>,
        run: &mut LstmOutput,
    ) -> Result<(), ShapeError> {
        super::forward_into(
            self,
            (inputs, batch, super::Lengths::All),
            [
                ("initial h [B, H]", initial.map(|s| s.0)),
                ("initial c [B, H]", initial.map(|s| s.1)),
            ],
            (
                &mut run.outputs,
                [&mut run.h, &mut run.c],
                &mut run.scratch.0,
            ),
            None,
        )
    }
}

impl<'a, const I: usize, const H: usize> Layer<I, 4, H> for Lstm<'a, I, H> {
    /// `[i f g o]` after their activations, then the new `c`.
    const SAVED: usize = 5 * H;

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
    fn kernels(&self) -> Kernels<'_, I, 4, H> {
        kernels(self.cell)
    }

    /// One product: `[x h] · [W; U] + b` into the `4H` sums.
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
        w.product(n, ops, work, 4 * H);
    }

    /// From the pre-activations `z = [i f g o]` (`4H`), the new cell state `c` (in place) and
    /// output `y`.
    #[inline(always)]
    fn epilogue(&self, z: &mut [f32], c: &mut [f32], _: &[f32], y: &mut [f32], path: Path) {
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
        // `act(c)` in `y`, so that the row keeps the gates.
        y.copy_from_slice(c);
        act.apply_slice(y);
        for (y, &o) in y.iter_mut().zip(o.iter()) {
            *y *= o;
        }
    }
}

/// The cell's weights, borrowed for as long as the cell: packed for the GEMMs, read as they are
/// by sample.
#[inline(always)]
fn kernels<const I: usize, const H: usize>(cell: &LstmCell<I, H, f32>) -> Kernels<'_, I, 4, H> {
    (&cell.kernel, &cell.recurrent_kernel, cell.bias.as_ref())
}

/// The epilogue of the usual LSTM (tanh, sigmoid) in one pass: each unit's four gates, cell
/// state and output together, so nothing is re-read between the activations (the general
/// path takes five passes over the row). The gates go back into the row, for a training
/// forward to record.
struct Standard<'r> {
    /// `[i f g o]`, `4H`: the sums, then the gates.
    z: &'r mut [f32],
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
        for (gate, v) in [i, f, g, o].into_iter().enumerate() {
            l.store(v, &mut self.z[gate * h + k..]);
        }
        let c = l.mul_add(f, l.load(&self.c[k..]), l.mul(i, g));
        l.store(c, &mut self.c[k..]);
        l.store(l.mul(o, tanh(l, c)), &mut self.y[k..]);
    }
}
