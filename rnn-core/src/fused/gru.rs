//! The fused GRU layer, both variants.

use alloc::vec::Vec;

use super::gates::{self, sigmoid, tanh, Avx2, Lanes, Units};
use super::packed::{Part, Path, Stacked};
use super::{
    begin, by_sample_steps, last_outputs, prev_and_output, run_chunks, step_operands, Chunk, Fma,
    Output, Packed, Plan, Widths, WORK,
};
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
            // Per sample, the work rows: one step's `[x_z x_r x_h]` (see `chunk`), or by
            // sample `h_s` and every step's `[x_z x_r x_h]` (see `chunk_by_sample`); kept with
            // them, the second state, `h_h` or `r ⊙ prev`.
            |t| {
                let work = if by_sample {
                    // `t + 1` does not wrap: `t ≤ inputs.len() ≤ isize::MAX`.
                    ShapeError::product(WORK, [t + 1, 3 * H], 0)?
                } else {
                    3 * H
                };
                Widths::new(t, (I, H), [H, H], (work, H))
            },
            (&mut run.outputs, [&mut run.h], &mut run.scratch.0),
        )?;
        if t == 0 {
            return Ok(());
        }
        let path = self.packed.path;
        let plan = self
            .packed
            .plan(batch, |path| Weights::new(self.cell, path));
        let (work, hh) = run.scratch.0.split_at_mut(Widths::of(batch, widths.work));
        let whole = Chunk {
            n: batch,
            x: inputs,
            out: &mut run.outputs,
            states: [&mut run.h, hh],
            work,
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

    /// The whole recurrence for one chunk of samples. Each sample's work row is
    /// `[x_z x_r x_h]`: the `z r` gates' sums and the candidate's input part; `h_h` holds,
    /// with `reset_after`, the candidate's recurrent part, kept apart for the reset gate to
    /// scale, and without, the candidate's recurrent input `r ⊙ h` (its product then goes
    /// into `x_h`).
    #[inline(always)]
    fn chunk(&self, t_len: usize, w: &Weights<'_>, path: Path, ch: Chunk<'_>) {
        let Chunk {
            n,
            x,
            out,
            states: [h0, hh],
            work,
        } = ch;
        let g3 = 3 * H;
        for t in 0..t_len {
            let ops = step_operands(x, I, out, h0, H, (t, t_len));
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
                    .product(n, [ops[0], (hh, H)], &mut work[2 * H..], g3);
            }
            for b in 0..n {
                let (prev, y) = prev_and_output(out, h0, b, (t, t_len), H);
                let hh = &hh[b * H..(b + 1) * H];
                self.blend(&mut work[b * g3..(b + 1) * g3], hh, prev, y, path);
            }
        }
        last_outputs(out, h0, H, t_len);
    }

    /// The recurrence for a chunk of fewer than [`GEMM_ROWS`](super::GEMM_ROWS) samples, one
    /// sample at a time (see [the module](super)): its projection `[x_z x_r x_h]`, then per
    /// step, as the cell computes it, with `reset_after` `h_s = b'_h + prev · U` (all `3H`
    /// columns) added to the `z r` sums and kept apart for the candidate; without, `prev · U`
    /// into the `z r` sums, then `(r ⊙ prev) · U_h` into the candidate's. The work row holds
    /// `h_s`, the second state `r ⊙ prev`.
    ///
    /// With `reset_after`, `h_s` costs a copy of `b'` and an add of its `z r` part per step,
    /// which folding `b'_z`, `b'_r` into the projection's bias (as the GEMMs' [`Weights`] do)
    /// would save; but then the step needs two products, `2H` columns into the sums and `H`
    /// into `h_s`, and those measured slower than one of `3H` (GRU at batch 1, I = H = 32:
    /// 202.9 against 196.9 ns per step).
    #[inline(always)]
    fn chunk_by_sample(&self, t_len: usize, avx: Avx2, ch: Chunk<'_>) {
        let Chunk {
            n,
            x,
            out,
            states: [h, rh],
            work,
        } = ch;
        let (g3, path) = (3 * H, Path::Packed(avx));
        let (work, z) = work.split_at_mut(n * g3);
        let recurrent = self.cell.recurrent_kernel.rows();
        by_sample_steps(
            (&self.cell.kernel, self.cell.bias.as_ref()),
            (n, t_len),
            (x, out, h, z),
            #[inline(always)]
            |s| {
                let row = s.row;
                if self.cell.reset_after {
                    let hs = &mut work[s.b * g3..(s.b + 1) * g3];
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
                    self.blend(row, &hs[2 * H..], s.prev, s.y, path);
                } else {
                    let rh = &mut rh[s.b * H..(s.b + 1) * H];
                    accumulate_columns_with::<Fma, f32, H, 3, H>(
                        recurrent,
                        s.prev,
                        0,
                        &mut row[..2 * H],
                    );
                    self.reset(&mut row[H..2 * H], s.prev, rh, path);
                    let rh: &[f32; H] = (&*rh).try_into().expect("H values");
                    accumulate_columns_with::<Fma, f32, H, 3, H>(
                        recurrent,
                        rh,
                        2 * H,
                        &mut row[2 * H..],
                    );
                    self.blend(row, rh, s.prev, s.y, path);
                }
            },
        );
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

    /// One sample's output from its row `[x_z x_r x_h]` (with `reset_after`, `x_h + σ(x_r) ⊙
    /// hh` is the candidate's sum; without, `x_h` alone): `y = z ⊙ prev + (1 − z) ⊙ h̃`.
    #[inline(always)]
    fn blend(&self, row: &mut [f32], hh: &[f32], prev: &[f32], y: &mut [f32], path: Path) {
        let (act, rec) = (self.cell.activation, self.cell.recurrent_activation);
        let reset_after = self.cell.reset_after;
        if (act, rec) == (Activation::Tanh, Activation::Sigmoid) {
            let row = &*row;
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
    r: &'r [f32],
    prev: &'r [f32],
    rh: &'r mut [f32],
}

impl Units for Reset<'_> {
    #[inline(always)]
    fn units<L: Lanes>(&mut self, l: L, k: usize) {
        let r = sigmoid(l, l.load(&self.r[k..]));
        l.store(l.mul(r, l.load(&self.prev[k..])), &mut self.rh[k..]);
    }
}

/// [`Gru::blend`] with tanh and the sigmoid, in one pass: 8 units' gates and output at once.
struct Blend<'r> {
    /// `[x_z x_r x_h]`.
    row: &'r [f32],
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
        let mut sum = gate(2);
        if self.reset_after {
            let r = sigmoid(l, gate(1));
            sum = l.mul_add(r, l.load(&self.hh[k..]), sum);
        }
        let (z, candidate) = (sigmoid(l, gate(0)), tanh(l, sum));
        // z ⊙ prev + (1 − z) ⊙ h̃, as h̃ + z ⊙ (prev − h̃).
        let prev = l.load(&self.prev[k..]);
        l.store(
            l.mul_add(z, l.sub(prev, candidate), candidate),
            &mut self.y[k..],
        );
    }
}

/// The GRU's step products, packed once per layer (see [`Packed`](super::Packed)).
#[derive(Clone, Debug)]
struct Weights<'a> {
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
    fn new<const I: usize, const H: usize>(cell: &'a GruCell<I, H, f32>, path: Path) -> Self {
        let flat = |b: &[nalgebra::SVector<f32, H>; 3]| -> Vec<f32> {
            b.iter().flat_map(|g| g.iter().copied()).collect()
        };
        let bias = cell.bias.as_ref().map(flat);
        let recurrent_bias = cell
            .recurrent_bias
            .as_ref()
            .map(flat)
            .filter(|_| cell.reset_after);
        let kernel = |col0| Part {
            b: cell.kernel.as_slice(),
            k: I,
            rs: 3 * H,
            col0,
        };
        let recurrent = |col0| Part {
            b: cell.recurrent_kernel.as_slice(),
            k: H,
            rs: 3 * H,
            col0,
        };
        let gates_bias: Option<Vec<f32>> = match (&bias, &recurrent_bias) {
            (Some(b), Some(r)) => Some(b.iter().zip(r).map(|(b, r)| b + r).collect()),
            (b, r) => b.clone().or(r.clone()),
        };
        let tail = |b: &Option<Vec<f32>>| b.as_ref().map(|b| b[2 * H..].to_vec());
        let gates = Stacked::new(
            [kernel(0), recurrent(0)],
            2 * H,
            gates_bias.as_deref(),
            path,
        );
        if cell.reset_after {
            Weights {
                gates,
                candidate: Stacked::new(
                    [kernel(2 * H), Part::NONE],
                    H,
                    tail(&bias).as_deref(),
                    path,
                ),
                candidate_h: Stacked::new(
                    [Part::NONE, recurrent(2 * H)],
                    H,
                    tail(&recurrent_bias).as_deref(),
                    path,
                ),
            }
        } else {
            Weights {
                gates,
                candidate: Stacked::new(
                    [kernel(2 * H), recurrent(2 * H)],
                    H,
                    tail(&bias).as_deref(),
                    path,
                ),
                candidate_h: Stacked::new([Part::NONE, Part::NONE], 0, None, path),
            }
        }
    }
}
