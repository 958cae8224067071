//! The fused GRU layer, both variants.

use super::gates::{self, sigmoid, tanh, Lanes, Simd, Units};
use super::packed::{Part, Path, Pool, Stacked};
use super::{Fma, Kernels, Layer, Output, Packed, SampleStep};
use crate::cells::GruCell;
use crate::error::ShapeError;
use crate::kernels::accumulate_columns_with;
use crate::ops::Activation;

/// [`GruCell`] run over a batch of sequences with GEMMs (see [the module](super)): Keras's
/// `GRU(H, return_sequences=True, return_state=True)`, PyTorch's `nn.GRU(batch_first=True)`.
///
/// Both variants: with `reset_after` one recurrent GEMM per step (into a `[B, 3H]` buffer,
/// since the reset gate multiplies its candidate part); without, two (the `z r` gates, then
/// `(r ⊙ h) · U_h`).
///
/// Keep the layer to run many batches: the first batch of 4 or more samples packs the
/// weights for the GEMMs (a copy of the cell's kernels, which the later calls reuse).
#[derive(Clone, Debug)]
pub struct Gru<'a, const I: usize, const H: usize> {
    cell: &'a GruCell<I, H, f32>,
    packed: Packed<Weights<'a>>,
}

impl<'a, const I: usize, const H: usize> Gru<'a, I, H> {
    /// The fused layer of `cell`, on the fastest path this CPU runs.
    pub fn new(cell: &'a GruCell<I, H, f32>) -> Self {
        Self::on(cell, Path::detect())
    }

    /// The fused layer of `cell` on the given path (the tests run both).
    pub(super) fn on(cell: &'a GruCell<I, H, f32>, path: Path) -> Self {
        Gru {
            cell,
            packed: Packed::new(path),
        }
    }

    /// The cell the layer runs.
    pub(super) fn cell(&self) -> &'a GruCell<I, H, f32> {
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

    /// Without `reset_after`: from the reset gate's sums `r`, the candidate's recurrent input
    /// `rh = σ(r) ⊙ prev`.
    #[inline(always)]
    fn reset(&self, r: &mut [f32], prev: &[f32], rh: &mut [f32], path: Path) {
        let rec = self.cell.recurrent_activation;
        if rec == Activation::Sigmoid {
            return gates::run(&mut Reset { r, prev, rh }, H, path);
        }
        rec.apply_slice(r);
        for (rh, (&r, &p)) in rh.iter_mut().zip(r.iter().zip(prev)) {
            *rh = r * p;
        }
    }
}

impl<'a, const I: usize, const H: usize> Layer<I, 3, H> for Gru<'a, I, H> {
    const EXTRA_ROWS: usize = 1;
    /// `[z r h̃]` after their activations, then with `reset_after` `h·U_h + b'_h` (what the
    /// reset gate scaled), without `r ⊙ h` (what `U_h` multiplied).
    const SAVED: usize = 4 * H;

    type Weights = Weights<'a>;

    #[inline(always)]
    fn packed(&self) -> &Packed<Weights<'a>> {
        &self.packed
    }

    #[inline(always)]
    fn packed_mut(&mut self) -> &mut Packed<Weights<'a>> {
        &mut self.packed
    }

    fn pack(&self, path: Path, pool: &mut Pool) -> Weights<'a> {
        Weights::new(self.cell, path, pool)
    }

    fn recycle(weights: Weights<'a>, pool: &mut Pool) {
        weights.gates.recycle(pool);
        weights.candidate.recycle(pool);
        weights.candidate_h.recycle(pool);
    }

    #[inline(always)]
    fn kernels(&self) -> Kernels<'_, I, 3, H> {
        let cell = self.cell;
        (&cell.kernel, &cell.recurrent_kernel, cell.bias.as_ref())
    }

    /// Each sample's work row becomes `[x_z x_r x_h]`: the `z r` gates' sums and the
    /// candidate's input part; `hh` holds, with `reset_after`, the candidate's recurrent part,
    /// kept apart for the reset gate to scale, and without, the candidate's recurrent input
    /// `r ⊙ h` (its product then goes into `x_h`).
    #[inline(always)]
    fn gemm_step(
        &self,
        n: usize,
        w: &Weights<'a>,
        ops: [(&[f32], usize); 2],
        work: &mut [f32],
        hh: &mut [f32],
        path: Path,
    ) {
        let g3 = 3 * H;
        w.gates.product(n, ops, work, g3);
        if self.cell.reset_after {
            w.candidate.product(n, ops, &mut work[2 * H..], g3);
            w.candidate_h.product(n, ops, hh, H);
        } else {
            for b in 0..n {
                let prev = &ops[1].0[b * ops[1].1..][..H];
                let r = &mut work[b * g3 + H..b * g3 + 2 * H];
                self.reset(r, prev, &mut hh[b * H..(b + 1) * H], path);
            }
            w.candidate
                .product(n, [ops[0], (&*hh, H)], &mut work[2 * H..], g3);
        }
    }

    /// One step of a sample run by sample, from its projection `[x_z x_r x_h]`, as the cell
    /// computes it: with `reset_after` `h_s = b'_h + prev · U` (all `3H` columns) added to the
    /// `z r` sums and kept apart for the candidate; without, `prev · U` into the `z r` sums,
    /// then `(r ⊙ prev) · U_h` into the candidate's. The extra work row holds `h_s`, the
    /// second state `r ⊙ prev`.
    ///
    /// With `reset_after`, `h_s` costs a copy of `b'` and an add of its `z r` part per step,
    /// which folding `b'_z`, `b'_r` into the projection's bias (as the GEMMs' [`Weights`] do)
    /// would save; but then the step needs two products, `2H` columns into the sums and `H`
    /// into `h_s`, and those run slower than one of `3H`.
    #[inline(always)]
    fn sample_step(
        &self,
        s: SampleStep<'_, H>,
        recurrent: &[[[f32; H]; 3]; H],
        rh: &mut [f32],
        hs: &mut [f32],
        avx: Simd,
    ) {
        let path = Path::Packed(avx);
        let row = s.row;
        if self.cell.reset_after {
            match &self.cell.recurrent_bias {
                Some(bias) => {
                    for (hs, gate) in hs.chunks_exact_mut(H).zip(bias) {
                        hs.copy_from_slice(gate.as_slice());
                    }
                }
                None => hs.fill(0.0),
            }
            accumulate_columns_with::<Fma, f32, H, 3, H>(recurrent, s.prev, 0, hs);
            for (sum, h) in row[..2 * H].iter_mut().zip(&hs[..2 * H]) {
                *sum += h;
            }
            self.epilogue(row, &mut hs[2 * H..], s.prev, s.y, path);
        } else {
            accumulate_columns_with::<Fma, f32, H, 3, H>(recurrent, s.prev, 0, &mut row[..2 * H]);
            self.reset(&mut row[H..2 * H], s.prev, rh, path);
            let rh_h: &[f32; H] = (&*rh).try_into().expect("H values");
            accumulate_columns_with::<Fma, f32, H, 3, H>(recurrent, rh_h, 2 * H, &mut row[2 * H..]);
            self.epilogue(row, rh, s.prev, s.y, path);
        }
    }

    /// On the sample-by-sample path with `reset_after`, `h·U_h + b'_h` is the last third of
    /// the extra row; everywhere else it is the second state.
    #[inline(always)]
    fn record(&self, row: &[f32], second: &[f32], extra: &[f32], slot: &mut [f32]) {
        let kept = match extra {
            [] => &second[..H],
            _ if self.cell.reset_after => &extra[2 * H..3 * H],
            _ => &second[..H],
        };
        slot[..3 * H].copy_from_slice(row);
        slot[3 * H..].copy_from_slice(kept);
    }

    /// One sample's output from its row `[x_z x_r x_h]` (with `reset_after`, `x_h + σ(x_r) ⊙
    /// hh` is the candidate's sum; without, `x_h` alone): `y = z ⊙ prev + (1 − z) ⊙ h̃`.
    #[inline(always)]
    fn epilogue(&self, row: &mut [f32], hh: &mut [f32], prev: &[f32], y: &mut [f32], path: Path) {
        let hh = &*hh;
        let (act, rec) = (self.cell.activation, self.cell.recurrent_activation);
        let reset_after = self.cell.reset_after;
        if (act, rec) == (Activation::Tanh, Activation::Sigmoid) {
            return gates::run(
                &mut Blend {
                    row,
                    hh,
                    prev,
                    y,
                    reset_after,
                },
                H,
                path,
            );
        }
        let (z, rest) = row.split_at_mut(H);
        let (r, candidate) = rest.split_at_mut(H);
        if reset_after {
            rec.apply_slice(r);
            for (c, (&r, &hh)) in candidate.iter_mut().zip(r.iter().zip(hh)) {
                *c += r * hh;
            }
        }
        rec.apply_slice(z);
        act.apply_slice(candidate);
        for (k, y) in y.iter_mut().enumerate() {
            *y = z[k] * prev[k] + (1.0 - z[k]) * candidate[k];
        }
    }
}

/// [`Gru::reset`] with the sigmoid, a vector of units at a time.
struct Reset<'r> {
    /// The reset gate's sums, then the gate.
    r: &'r mut [f32],
    prev: &'r [f32],
    rh: &'r mut [f32],
}

impl Units for Reset<'_> {
    #[inline(always)]
    fn units<L: Lanes>(&mut self, l: L, k: usize) {
        let r = sigmoid(l, l.load(&self.r[k..]));
        l.store(r, &mut self.r[k..]);
        l.store(l.mul(r, l.load(&self.prev[k..])), &mut self.rh[k..]);
    }
}

/// [`Gru::epilogue`](Layer::epilogue) with tanh and the sigmoid, in one pass: 8 units' gates
/// and output at once. The gates go back into the row, for a training forward to record.
struct Blend<'r> {
    /// `[x_z x_r x_h]`: the sums, then the gates (without `reset_after` `r` is already one).
    row: &'r mut [f32],
    hh: &'r [f32],
    prev: &'r [f32],
    y: &'r mut [f32],
    reset_after: bool,
}

impl Units for Blend<'_> {
    #[inline(always)]
    fn units<L: Lanes>(&mut self, l: L, k: usize) {
        let h = self.y.len();
        let gate = |g: usize| l.load(&self.row[g * h + k..]);
        let (z_sum, r_sum, mut sum) = (gate(0), gate(1), gate(2));
        if self.reset_after {
            let r = sigmoid(l, r_sum);
            sum = l.mul_add(r, l.load(&self.hh[k..]), sum);
            l.store(r, &mut self.row[h + k..]);
        }
        let (z, candidate) = (sigmoid(l, z_sum), tanh(l, sum));
        l.store(z, &mut self.row[k..]);
        l.store(candidate, &mut self.row[2 * h + k..]);
        // z ⊙ prev + (1 − z) ⊙ h̃, as h̃ + z ⊙ (prev − h̃).
        let prev = l.load(&self.prev[k..]);
        l.store(
            l.mul_add(z, l.sub(prev, candidate), candidate),
            &mut self.y[k..],
        );
    }
}

/// The GRU's step products, packed once per layer (see [`Packed`]).
#[derive(Clone, Debug)]
pub(super) struct Weights<'a> {
    /// `[W; U]`, the `z r` columns, from their bias (and, with `reset_after`, the recurrent
    /// bias: both add to the same sums).
    gates: Stacked<'a>,
    /// The candidate's columns: with `reset_after` `x · W_h + b_h` alone; without,
    /// `x · W_h + (r ⊙ h) · U_h + b_h`.
    candidate: Stacked<'a>,
    /// With `reset_after`, `h · U_h + b'_h`, which the reset gate scales; unused without.
    candidate_h: Stacked<'a>,
}

impl<'a> Weights<'a> {
    fn new<const I: usize, const H: usize>(
        cell: &'a GruCell<I, H, f32>,
        path: Path,
        pool: &mut Pool,
    ) -> Self {
        let bias = cell.bias.as_ref();
        let recurrent_bias = cell.recurrent_bias.as_ref().filter(|_| cell.reset_after);
        let kernel = |col0| Part {
            b: cell.kernel.as_slice(),
            k: I,
            rs: 3 * H,
            cs: 1,
            col0,
        };
        let recurrent = |col0| Part {
            b: cell.recurrent_kernel.as_slice(),
            k: H,
            rs: 3 * H,
            cs: 1,
            col0,
        };
        // Column `j` of a `[3H]` bias, from gate `from` on.
        let at = |b: &[nalgebra::SVector<f32, H>; 3], from: usize, j: usize| {
            let j = from * H + j;
            b[j / H][j % H]
        };
        // The `z r` columns: the bias and, with `reset_after`, the recurrent bias, which add to
        // the same sums.
        let gates_bias = |j| match (bias, recurrent_bias) {
            (Some(b), Some(r)) => at(b, 0, j) + at(r, 0, j),
            (Some(b), None) | (None, Some(b)) => at(b, 0, j),
            (None, None) => 0.0,
        };
        let tail = |b: &'a [nalgebra::SVector<f32, H>; 3]| move |j| at(b, 2, j);
        let (bias_tail, recurrent_tail) = (bias.map(tail), recurrent_bias.map(tail));
        let gates = Stacked::new(
            [kernel(0), recurrent(0)],
            2 * H,
            (bias.is_some() || recurrent_bias.is_some())
                .then_some(&gates_bias as &dyn Fn(usize) -> f32),
            path,
            pool,
        );
        let bias_tail = bias_tail.as_ref().map(|f| f as &dyn Fn(usize) -> f32);
        if cell.reset_after {
            Weights {
                gates,
                candidate: Stacked::new([kernel(2 * H), Part::NONE], H, bias_tail, path, pool),
                candidate_h: Stacked::new(
                    [Part::NONE, recurrent(2 * H)],
                    H,
                    recurrent_tail.as_ref().map(|f| f as &dyn Fn(usize) -> f32),
                    path,
                    pool,
                ),
            }
        } else {
            Weights {
                gates,
                candidate: Stacked::new(
                    [kernel(2 * H), recurrent(2 * H)],
                    H,
                    bias_tail,
                    path,
                    pool,
                ),
                candidate_h: Stacked::new([Part::NONE, Part::NONE], 0, None, path, pool),
            }
        }
    }
}
