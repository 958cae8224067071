//! Fused layers: the built-in LSTM, GRU and SimpleRNN over a whole batch at once, as cuDNN,
//! PyTorch's `nn.LSTM` and tract run them.
//!
//! [`Rnn::run_batch`](crate::Rnn::run_batch) on a built-in `f32` cell runs this kernel itself
//! whenever the batch's masks allow (lengths, or padding only around each sequence's valid
//! steps; any direction), so most programs never name this module. The layers here are the
//! same kernel seen over flat `[B, T, I]` buffers, as numpy and PyTorch hold a batch.
//!
//! A cell's step multiplies one sample's vectors by the weights; at batch 64 that reads every
//! weight 64 times per step. A fused layer instead
//! 1. at each step, multiplies the batch's inputs and previous outputs, side by side, by the
//!    input and recurrent kernels stacked, with one GEMM (`[B, I + H] × [I + H, G·H]`, from
//!    the bias; see `packed.rs` for why not a projection of all steps hoisted out of the
//!    recurrence);
//! 2. applies the gates in one pass over each sample's row (the "epilogue"): activations,
//!    cell state, output, written straight into the `[B, T, H]` output buffer, which the next
//!    step's GEMM reads. With the usual activations (`tanh`, and the sigmoid for the gates)
//!    it runs 32 or 16 units at a time (AVX-512 or AVX2; then narrower, then one) with a
//!    rational `tanh` (see `gates.rs`).
//!
//! The batch is split into one contiguous chunk per core (rayon) and each chunk runs the whole
//! recurrence on its own, so the cores never wait for each other within a sequence.
//!
//! A batch of fewer than 4 samples gives each step's GEMM a row or two: too few independent
//! sums to keep the FMA units busy. The layers run such a batch sample by sample instead (on
//! CPUs with AVX2 and FMA): the input projection of all of a sample's steps first, as a
//! product of four steps at a time sharing each weight read (`T × G·H` values, which stay in
//! cache, unlike a large batch's), then each step's recurrent matrix-vector product and
//! epilogue. At batch 1 that is also faster than `Rnn::new(LstmCell)`, whose exact
//! activations cost more than the epilogue's.
//!
//! The layers borrow a built-in cell's weights (Keras's `[I, G·H]` row-major kernels are the
//! GEMM's right-hand matrices): `fused::Lstm::new(&cell)` computes what `Rnn::new(cell)`
//! computes on each sequence, within 1e-5 (the sums run in another order, with fused
//! multiply-adds, and the epilogue's `tanh` is within 3.5e-7 of the cells'). A layer's first
//! call that runs the GEMMs packs the weights for them, and the layer keeps them for its later
//! calls. Buffers are flat and row-major, batch first, as numpy and PyTorch
//! (`batch_first=True`) hold them; a buffer of the wrong size is a [`ShapeError`], never a
//! panic, and so is a batch whose buffers no `usize` counts or no memory holds. `forward`
//! returns new buffers; `forward_into` refills those of an earlier call and, once they have
//! held as large a call, allocates nothing: a serving loop's form, for small batches where
//! `forward`'s allocations are a visible part of a call.
//!
//! ```
//! use rnn::cells::LstmCell;
//! use rnn::fused;
//!
//! let cell = LstmCell::<3, 2>::keras_init(0);
//! let (batch, steps) = (4, 5);
//! let inputs = vec![0.5f32; batch * steps * 3]; // [B, T, I]
//! let run = fused::Lstm::new(&cell).forward(&inputs, batch, None).unwrap();
//! assert_eq!(run.outputs.len(), batch * steps * 2); // [B, T, H]
//! assert_eq!((run.h.len(), run.c.len()), (batch * 2, batch * 2));
//! assert!(fused::Lstm::new(&cell).forward(&inputs[1..], batch, None).is_err());
//! ```

mod backward;
mod gates;
mod gru;
mod lowering;
mod lstm;
mod packed;
mod simple_rnn;

#[doc(hidden)]
pub use backward::{Gradients, Trace};
pub use gru::Gru;
#[doc(hidden)]
pub use lowering::{lower, BatchedKernel, Job, Workspace};
pub use lstm::{Lstm, LstmOutput};
pub use simple_rnn::SimpleRnn;

use alloc::vec::Vec;
use nalgebra::SVector;

use crate::error::ShapeError;
use crate::weights::Kernel;
use packed::{Path, Pool};

/// What [`Gru::forward`] and [`SimpleRnn::forward`] return, and the buffers their
/// `forward_into` refills.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    /// Every step's output, `[B, T, H]` row-major.
    pub outputs: Vec<f32>,
    /// The final state, `[B, H]` (the initial state when `T = 0`).
    pub h: Vec<f32>,
    scratch: Scratch,
}

/// A call's work rows, kept with its outputs for the next `forward_into` to reuse. They are
/// not a result: any two compare equal, and `Debug` shows their length only.
#[derive(Clone, Default)]
struct Scratch(Vec<f32>);

impl PartialEq for Scratch {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl core::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Scratch({} values)", self.0.len())
    }
}

/// What the errors of a call name: its buffers.
const INPUTS: &str = "inputs [B, T, I] (a whole number of timesteps)";
const STATES: &str = "states [B, H]";
const OUTPUTS: &str = "outputs [B, T, H]";
const WORK: &str = "work rows (gate sums per sample)";
const TAPE: &str = "recorded steps [B, T, saved values per step]";

/// The number of timesteps in a `[B, T, I]` input buffer, or the error (also when a timestep's
/// `B × I` scalars overflow `usize`).
fn steps(inputs: &[f32], batch: usize, features: usize) -> Result<usize, ShapeError> {
    let per_step = ShapeError::product(INPUTS, [batch, features], inputs.len())?;
    if per_step == 0 {
        ShapeError::check_len("inputs [B, T, I]", 0, inputs.len())?;
        return Ok(0);
    }
    let len = inputs.len();
    if !len.is_multiple_of(per_step) {
        // The next whole number of timesteps: `len − len % per_step + per_step`, which is at
        // most `2·len` when `per_step ≤ len` and `per_step` otherwise, so it does not wrap
        // (`len ≤ isize::MAX`); saturated all the same rather than trusted.
        let expected = (len - len % per_step).saturating_add(per_step);
        ShapeError::check_len(INPUTS, expected, len)?;
    }
    Ok(len / per_step)
}

/// Grows `buffer` (holding `what`) to a capacity of at least `len` scalars, or the error: a
/// size that cannot be allocated (more than `isize::MAX` bytes, or refused by the allocator)
/// is an error, not an abort. Exact, so that a capacity near the limit is not doubled past it.
fn reserve(what: &'static str, buffer: &mut Vec<f32>, len: usize) -> Result<(), ShapeError> {
    buffer
        .try_reserve_exact(len.saturating_sub(buffer.len()))
        .map_err(|_| ShapeError::allocation(what, len, buffer.len()))
}

/// The start of every layer's `forward_into`: checks the inputs (`[B, T, I]`, `I = features`)
/// and each initial state (`[B, H]`, named `what`; `None` for zeros), takes the per-sample
/// widths of the call from `widths(T)`, sizes every buffer (the outputs `[B, T, H]`, each
/// state `[B, H]`, the scratch `B × widths.scratch`, or nothing when `T = 0`), then fills the
/// outputs with zeros, each state with its initial value and the scratch with zeros. Returns
/// `T` and the widths; with `T = 0` the call is done (the states are the result).
///
/// Every size is computed without wrapping, and every buffer has its capacity before the first
/// write: a size that overflows or cannot be allocated is an error like a wrong length, and an
/// error leaves the buffers as they were.
#[allow(clippy::type_complexity)]
fn begin<const S: usize>(
    (inputs, batch): (&[f32], usize),
    (features, hidden): (usize, usize),
    initial: [(&'static str, Option<&[f32]>); S],
    widths: impl FnOnce(usize) -> Result<Widths, ShapeError>,
    (outputs, mut states, scratch): (&mut Vec<f32>, [&mut Vec<f32>; S], &mut Vec<f32>),
) -> Result<(usize, Widths), ShapeError> {
    let t = steps(inputs, batch, features)?;
    let w = widths(t)?;
    let given = initial.iter().find_map(|(_, s)| s.map(<[f32]>::len));
    let len = ShapeError::product(STATES, [batch, hidden], given.unwrap_or(0))?;
    for (what, given) in initial {
        given.map_or(Ok(()), |s| ShapeError::check_len(what, len, s.len()))?;
    }
    let out_len = ShapeError::product(OUTPUTS, [batch, w.out], outputs.len())?;
    // With no timestep there is nothing to work on: the states are the result.
    let scratch_len = match t {
        0 => 0,
        _ => ShapeError::product(WORK, [batch, w.scratch], scratch.len())?,
    };
    w.check(batch)?;
    reserve(OUTPUTS, outputs, out_len)?;
    for state in states.iter_mut() {
        reserve(STATES, state, len)?;
    }
    reserve(WORK, scratch, scratch_len)?;
    // From here on nothing allocates or fails.
    for (state, (_, given)) in states.into_iter().zip(initial) {
        state.clear();
        match given {
            Some(s) => state.extend_from_slice(s),
            None => state.resize(len, 0.0),
        }
    }
    outputs.resize(out_len, 0.0);
    scratch.resize(scratch_len, 0.0);
    Ok((t, w))
}

/// Whether `len` values hold `rows` rows of `cols` values at stride `stride`, the last one
/// ending at `(rows − 1)·stride + cols`; computed without wrapping (a sum that overflows
/// cannot fit), so it is a bound an `unsafe` block can rest on.
fn spans(len: usize, rows: usize, stride: usize, cols: usize) -> bool {
    rows.checked_sub(1)
        .and_then(|r| r.checked_mul(stride))
        .and_then(|start| start.checked_add(cols))
        .is_some_and(|end| end <= len)
}

/// A matrix operand of [`gemm`]: its values, row stride and column stride (a transposed
/// matrix is the same values with the strides swapped, so no copy is made).
pub(super) type Strided<'a> = (&'a [f32], usize, usize);

/// Whether `len` values hold every element `i·rs + j·cs` of a `rows × cols` matrix; computed
/// without wrapping, so it is a bound an `unsafe` block can rest on.
pub(super) fn holds(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    (rows - 1)
        .checked_mul(rs)
        .zip((cols - 1).checked_mul(cs))
        .and_then(|(r, c)| r.checked_add(c))
        .is_some_and(|last| last < len)
}

/// `c = a · b + beta · c` over an `m × k` `a`, a `k × n` `b` and an `m × n` `c` (row stride
/// `rsc`, column stride 1), any strides for `a` and `b`; with `beta = 0` the old `c` is not
/// read. The fused layers' one call into matrixmultiply.
pub(super) fn gemm(
    (m, k, n): (usize, usize, usize),
    (a, rsa, csa): Strided<'_>,
    (b, rsb, csb): Strided<'_>,
    beta: f32,
    (c, rsc): (&mut [f32], usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    // These bounds make the raw-pointer call below sound; they are internal invariants (every
    // caller sizes its buffers from the checked shapes), so a failure is a bug, not bad input.
    // `holds` computes them without wrapping.
    assert!(
        k == 0 || holds(a.len(), m, k, rsa, csa),
        "gemm: a too short"
    );
    assert!(
        k == 0 || holds(b.len(), k, n, rsb, csb),
        "gemm: b too short"
    );
    assert!(holds(c.len(), m, n, rsc, 1), "gemm: c too short");
    let stride = |s: usize| isize::try_from(s).expect("gemm: a stride above isize::MAX");
    let (rsa, csa, rsb, csb, rsc) = (
        stride(rsa),
        stride(csa),
        stride(rsb),
        stride(csb),
        stride(rsc),
    );
    // SAFETY: matrixmultiply reads `a[i·rsa + l·csa]` (i < m, l < k) and `b[l·rsb + j·csb]`
    // (l < k, j < n), and reads (unless `beta = 0`) and writes `c[i·rsc + j]` (i < m, j < n).
    // The asserts above put every such index inside its slice: `holds` checked the largest,
    // `(m − 1)·rsa + (k − 1)·csa` for `a` (likewise `b`, `c`), without wrapping (with `k = 0`
    // nothing of `a` or `b` is read). `c` is a `&mut` borrow, so it aliases neither `a` nor
    // `b`. The strides were converted to `isize` without loss.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            rsc,
            1,
        );
    }
}

/// The left operands of step `t` for a chunk: that step's inputs (rows of `x`, `[n, T, I]`,
/// stride `T·I`) and the previous outputs (rows of `out`, `[n, T, H]`, stride `T·H`; the
/// initial state `h0`, `[n, H]`, at step 0). They are the two parts of the step's
/// [`Stacked`](packed::Stacked) product.
fn step_operands<'s>(
    x: &'s [f32],
    features: usize,
    out: &'s [f32],
    h0: &'s [f32],
    hidden: usize,
    (t, t_len): (usize, usize),
) -> [(&'s [f32], usize); 2] {
    let prev = if t == 0 {
        (h0, hidden)
    } else {
        (&out[(t - 1) * hidden..], t_len * hidden)
    };
    [(&x[t * features..], t_len * features), prev]
}

/// Copies each sample's last valid output (`out` is `[n, T, H]`; sample `b` ran
/// `lengths.of(b)` steps) into its final state `h` (`[n, H]`); a sample that ran no step keeps
/// its initial state.
fn last_outputs(out: &[f32], h: &mut [f32], hidden: usize, t_len: usize, lengths: Lengths<'_>) {
    if t_len == 0 || hidden == 0 {
        return;
    }
    for (b, (h, seq)) in h
        .chunks_exact_mut(hidden)
        .zip(out.chunks_exact(t_len * hidden))
        .enumerate()
    {
        if let Some(last) = lengths.of(b, t_len).checked_sub(1) {
            h.copy_from_slice(&seq[last * hidden..(last + 1) * hidden]);
        }
    }
}

/// How many steps each sample of a call runs: all `T`, or its own length (right padding), the
/// lengths in non-increasing order so that the samples still running at a step are the first
/// rows of the batch and each step's GEMM shrinks to them.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lengths<'a> {
    /// Every sample runs every step.
    All,
    /// Sample `b` runs its first `lengths[b]` steps; non-increasing, each at most `T`.
    Sorted(&'a [usize]),
}

impl<'a> Lengths<'a> {
    /// The steps sample `b` runs out of `t_len`.
    #[inline]
    fn of(self, b: usize, t_len: usize) -> usize {
        match self {
            Lengths::All => t_len,
            Lengths::Sorted(lengths) => lengths[b],
        }
    }

    /// How many of `n` samples still run at step `t`: a prefix, as the lengths are sorted.
    #[inline]
    fn running(self, n: usize, t: usize) -> usize {
        match self {
            Lengths::All => n,
            Lengths::Sorted(lengths) => lengths.partition_point(|&len| len > t),
        }
    }

    /// The first `n` samples' lengths, and the rest's.
    fn split(self, n: usize) -> (Self, Self) {
        match self {
            Lengths::All => (Lengths::All, Lengths::All),
            Lengths::Sorted(lengths) => {
                let (a, b) = lengths.split_at(n);
                (Lengths::Sorted(a), Lengths::Sorted(b))
            }
        }
    }

    /// `Ok` when there is one length per sample, each at most `t_len`, in non-increasing order.
    fn check(self, batch: usize, t_len: usize) -> Result<(), ShapeError> {
        let Lengths::Sorted(lengths) = self else {
            return Ok(());
        };
        ShapeError::check_len("lengths [B]", batch, lengths.len())?;
        if let Some(&longest) = lengths.first() {
            ShapeError::check_len("lengths [B] (at most T)", t_len.max(longest), t_len)?;
        }
        // An internal invariant: the lowering sorts the samples before it calls.
        assert!(
            lengths.is_sorted_by(|a, b| a >= b),
            "fused: lengths out of order"
        );
        Ok(())
    }
}

/// One chunk of the batch: `n` samples and their slices of every per-sample buffer.
struct Chunk<'a> {
    n: usize,
    lengths: Lengths<'a>,
    x: &'a [f32],
    out: &'a mut [f32],
    states: [&'a mut [f32]; 2],
    work: &'a mut [f32],
    /// What a training forward records for the backward, `[n, T, SAVED]`; empty otherwise.
    tape: &'a mut [f32],
}

/// The fewest samples whose step GEMM pays: the batch is split into chunks of at least this
/// many, and the layers run a smaller batch sample by sample. Measured (LSTM), T = 32, ns per
/// sample-step, GEMM against sample by sample: batch 2, I = H = 32: 437 vs 264; batch 4:
/// 273 vs 270 at I = H = 32, 3,666 vs 5,411 at I = H = 128.
const GEMM_ROWS: usize = 4;

/// How a layer runs its batch: one GEMM per step over weights `W`, packed for it, or sample
/// by sample.
enum Plan<W> {
    /// The step GEMMs over the chunk's samples.
    Gemm(W),
    /// Sample by sample; the token proves the CPU has AVX2 and FMA (or AVX-512).
    BySample(gates::Simd),
}

/// A layer's path and its step weights `W` for that path, packed by the first call that runs
/// the GEMMs and kept for every later one, as PyTorch keeps an `nn.LSTM`'s weights flat once
/// the module is built: packing on every call copied `lstm-b64-h128`'s 512 KB on one core
/// while the other waited. A layer that only ever runs small batches never packs.
#[derive(Clone, Debug)]
struct Packed<W> {
    path: Path,
    weights: std::sync::OnceLock<W>,
}

impl<W> Packed<W> {
    /// Nothing packed yet, for `path`.
    fn new(path: Path) -> Self {
        Packed {
            path,
            weights: std::sync::OnceLock::new(),
        }
    }

    /// Packs nothing: `weights` are the packed weights.
    fn set(&mut self, weights: W) {
        self.weights = std::sync::OnceLock::from(weights);
    }

    /// The packed weights, if any, leaving none.
    fn take(&mut self) -> Option<W> {
        self.weights.take()
    }

    /// Whether `batch` samples run sample by sample: below [`GEMM_ROWS`] samples on the
    /// packed path (the token), else with the GEMMs.
    fn by_sample(&self, batch: usize) -> Option<gates::Simd> {
        match self.path {
            Path::Packed(avx) if batch < GEMM_ROWS => Some(avx),
            _ => None,
        }
    }

    /// How to run `batch` samples ([`Packed::by_sample`]); the GEMMs run over the weights
    /// (`pack(path)` the first time).
    fn plan(&self, batch: usize, pack: impl FnOnce(Path) -> W) -> Plan<&W> {
        match self.by_sample(batch) {
            Some(avx) => Plan::BySample(avx),
            None => Plan::Gemm(self.weights.get_or_init(|| pack(self.path))),
        }
    }
}

/// The multiply-adds of the sample-by-sample path: fused, as its [`Plan::BySample`] token proves
/// the CPU has FMA. Each sum runs in the cell's order (bias, then `x` or `h` in order).
type Fma = crate::kernels::Fused;

/// One step of a sample run by sample (see [`by_sample_steps`]).
struct SampleStep<'s, const H: usize> {
    /// The sample's index in its chunk.
    b: usize,
    /// The step's timestep.
    t: usize,
    /// The step's `G·H` pre-activations: `bias + x_t · W` so far.
    row: &'s mut [f32],
    /// The state the step reads: the sample's initial state, then its previous output.
    prev: &'s [f32; H],
    /// The step's output, `H` values.
    y: &'s mut [f32],
}

/// A chunk of `n` samples run one after the other: for each, the input projection of the
/// steps it runs (`lengths`; `x` is `[n, T, I]`) into its rows of `z` (`[n, T, G·H]`), then
/// `step` on each of those steps in order, whose output `y` the next step reads as `prev`; at
/// the end, the last outputs become the final states `h` (`[n, H]`, the initial states on
/// entry).
#[inline(always)]
fn by_sample_steps<const I: usize, const G: usize, const H: usize>(
    (kernel, bias): (&Kernel<f32, I, G, H>, Option<&[SVector<f32, H>; G]>),
    (n, t_len, lengths): (usize, usize, Lengths<'_>),
    (x, out, h, z): (&[f32], &mut [f32], &mut [f32], &mut [f32]),
    mut step: impl FnMut(SampleStep<'_, H>),
) {
    let gh = G * H;
    for b in 0..n {
        let steps = lengths.of(b, t_len);
        let z = &mut z[b * t_len * gh..][..steps * gh];
        let x = &x[b * t_len * I..][..steps * I];
        project(kernel, bias, (x, steps), z);
        for (t, row) in z.chunks_exact_mut(gh).enumerate() {
            let (prev, y) = prev_and_output(out, h, b, (t, t_len), H);
            let prev = prev.try_into().expect("H values");
            step(SampleStep { b, t, row, prev, y });
        }
    }
    last_outputs(out, h, H, t_len, lengths);
}

/// One sample's input projection: each `G·H` row `t` of `z` becomes `bias + x_t · W` (`x` is
/// `[T, I]`, `z` `[T, G·H]`); four steps at a time share each weight read, the rest go one
/// by one. The recurrence then adds each step's recurrent product to its row.
#[inline(always)]
fn project<const I: usize, const G: usize, const H: usize>(
    kernel: &Kernel<f32, I, G, H>,
    bias: Option<&[SVector<f32, H>; G]>,
    (x, t_len): (&[f32], usize),
    z: &mut [f32],
) {
    let gh = G * H;
    // The bias as the sums' start (zeros without one).
    let start: [[f32; H]; G] = match bias {
        Some(bias) => core::array::from_fn(|g| bias[g].data.0[0]),
        None => [[0.0; H]; G],
    };
    let rows = kernel.rows();
    let step = |t: usize| -> &[f32; I] { x[t * I..(t + 1) * I].try_into().expect("I values") };
    let fours = t_len / 4;
    let (z4, tail) = z.split_at_mut(fours * 4 * gh);
    for (f, z) in z4.chunks_exact_mut(4 * gh).enumerate() {
        let (z, _) = z.as_chunks_mut::<H>();
        let (z, _) = z.as_chunks_mut::<G>();
        let z: &mut [[[f32; H]; G]; 4] = z.try_into().expect("4 steps");
        let xs = core::array::from_fn(|s| step(4 * f + s));
        crate::kernels::accumulate_block_in_place::<Fma, f32, f32, I, G, H, 4>(
            rows,
            xs,
            Some(&start),
            z,
        );
    }
    for (t, z) in (4 * fours..t_len).zip(tail.chunks_exact_mut(gh)) {
        z.copy_from_slice(start.as_flattened());
        crate::kernels::accumulate_columns_with::<Fma, f32, I, G, H>(rows, step(t), 0, z);
    }
}

/// The previous output of sample `b` at step `t` (the initial state at step 0) and the slot
/// of its output, both rows of `out` (`[n, T, H]`). Inlined: the sample-by-sample path calls
/// it every step (not inlined, LSTM at batch 1, I = H = 32: 259.6 against 253.6 ns per step).
#[inline]
fn prev_and_output<'o>(
    out: &'o mut [f32],
    h0: &'o [f32],
    b: usize,
    (t, t_len): (usize, usize),
    hidden: usize,
) -> (&'o [f32], &'o mut [f32]) {
    let at = (b * t_len + t) * hidden;
    let (before, after) = out.split_at_mut(at);
    let prev = if t == 0 {
        &h0[b * hidden..(b + 1) * hidden]
    } else {
        &before[at - hidden..]
    };
    (prev, &mut after[..hidden])
}

/// Per-sample widths of the buffers a layer runs on. [`begin`] checks that the batch times
/// each of them fits in `usize` (the buffers hold that many values; the work rows' only when
/// there is a step to run, the only time they are split), so a sample count up to the batch
/// times a width does not wrap.
///
/// The gate widths (`4H`, `3H`) are products of the cell's const sizes, whose recurrent kernel
/// (`H × G·H` values) exists in memory: they do not wrap either.
struct Widths {
    x: usize,
    out: usize,
    states: [usize; 2],
    work: usize,
    /// The scratch per sample: the work rows, and a state the layer keeps there (the GRU's
    /// second).
    scratch: usize,
    /// The recorded steps of a training forward (`T·SAVED`), 0 otherwise.
    tape: usize,
}

impl Widths {
    /// The widths of a call of `t` steps of a layer with `features` inputs and `hidden` units:
    /// inputs `t·I`, outputs `t·H`, `states`, `work` rows and `kept` scratch values per sample.
    fn new(
        t: usize,
        (features, hidden): (usize, usize),
        states: [usize; 2],
        (work, kept): (usize, usize),
    ) -> Result<Self, ShapeError> {
        Ok(Widths {
            x: ShapeError::product(INPUTS, [t, features], 0)?,
            out: ShapeError::product(OUTPUTS, [t, hidden], 0)?,
            states,
            work,
            scratch: work
                .checked_add(kept)
                .ok_or(ShapeError::allocation(WORK, usize::MAX, 0))?,
            tape: 0,
        })
    }

    /// `Ok` when `batch` times every width but the scratch's fits in `usize` (`begin` sizes the
    /// scratch, which holds the work rows, when there is a step to run).
    fn check(&self, batch: usize) -> Result<(), ShapeError> {
        let widths = [
            (INPUTS, self.x),
            (OUTPUTS, self.out),
            (STATES, self.states[0]),
            (STATES, self.states[1]),
            (TAPE, self.tape),
        ];
        for (what, width) in widths {
            ShapeError::product(what, [batch, width], 0)?;
        }
        Ok(())
    }

    /// `n × width` for a chunk of `n` samples, `n` at most the checked batch.
    fn of(n: usize, width: usize) -> usize {
        n.checked_mul(width)
            .expect("a chunk's samples times a width, checked against the batch by `begin`")
    }
}

impl<'a> Chunk<'a> {
    /// The first `n` samples, and the rest.
    fn split(self, n: usize, w: &Widths) -> (Chunk<'a>, Chunk<'a>) {
        let Chunk {
            n: all,
            lengths,
            x,
            out,
            states: [s0, s1],
            work,
            tape,
        } = self;
        let (lengths, lengths_rest) = lengths.split(n);
        let (x, x_rest) = x.split_at(Widths::of(n, w.x));
        let (out, out_rest) = out.split_at_mut(Widths::of(n, w.out));
        let (s0, s0_rest) = s0.split_at_mut(Widths::of(n, w.states[0]));
        let (s1, s1_rest) = s1.split_at_mut(Widths::of(n, w.states[1]));
        let (work, work_rest) = work.split_at_mut(Widths::of(n, w.work));
        let (tape, tape_rest) = tape.split_at_mut(Widths::of(n, w.tape));
        let head = Chunk {
            n,
            lengths,
            x,
            out,
            states: [s0, s1],
            work,
            tape,
        };
        let rest = Chunk {
            n: all - n,
            lengths: lengths_rest,
            x: x_rest,
            out: out_rest,
            states: [s0_rest, s1_rest],
            work: work_rest,
            tape: tape_rest,
        };
        (head, rest)
    }
}

/// Runs `chunk_fn` on `batch`, the whole batch's buffers (per-sample contiguous, batch first,
/// with the widths `w`), split into one chunk per core, in parallel, each inside the
/// vectorized copy for vectors of `lanes` (the layer's `H`) when the CPU has one
/// ([`vectorized_for`](crate::kernels::vectorized_for); `chunk_fn` should be
/// `#[inline(always)]` to be compiled there). Allocates nothing: the chunks are halved
/// recursively over `rayon::join`, not listed.
fn run_chunks<'a>(
    batch: Chunk<'a>,
    (w, parts): (&Widths, usize),
    lanes: usize,
    chunk_fn: impl Fn(Chunk<'a>) + Sync,
) {
    let chunk_fn = |chunk: Chunk<'a>| {
        crate::kernels::vectorized_for(
            lanes,
            #[inline(always)]
            || chunk_fn(chunk),
        )
    };
    in_parts(batch, parts, w, &chunk_fn);
}

/// The fewest multiply-adds a parallel part is given: a smaller part costs more in waking a
/// thread, and in that thread then spinning beside the caller's serial work, than it saves
/// (a batch of 32 eight-step sequences of an LSTM of 64 units trained faster on one thread).
const PART_MULTIPLY_ADDS: usize = 1 << 23;

/// How many parts, in parallel, a batch of `samples` runs in, each sample costing
/// `multiply_adds`: one per thread, but parts of at least [`GEMM_ROWS`] samples (below that
/// the GEMMs are too thin to pay for a thread) and [`PART_MULTIPLY_ADDS`].
pub(crate) fn parts(samples: usize, multiply_adds: usize) -> usize {
    let by_work = samples.saturating_mul(multiply_adds) / PART_MULTIPLY_ADDS;
    rayon::current_num_threads()
        .min(samples.div_ceil(GEMM_ROWS))
        .min(by_work)
        .max(1)
}

/// `chunk_fn` on `chunk` split into `parts` chunks of nearly equal size.
fn in_parts<'a>(
    chunk: Chunk<'a>,
    parts: usize,
    w: &Widths,
    chunk_fn: &(impl Fn(Chunk<'a>) + Sync),
) {
    if parts <= 1 {
        return chunk_fn(chunk);
    }
    let left = parts / 2;
    // `n·left / parts`, without forming `n·left` (which wraps for a batch near `usize::MAX`
    // of a layer whose buffers are all empty).
    let n = chunk.n / parts * left + chunk.n % parts * left / parts;
    let (a, b) = chunk.split(n, w);
    rayon::join(
        || in_parts(a, left, w, chunk_fn),
        || in_parts(b, parts - left, w, chunk_fn),
    );
}

/// A cell's input and recurrent kernels and its bias, as the sample-by-sample path reads them.
type Kernels<'k, const I: usize, const G: usize, const H: usize> = (
    &'k Kernel<f32, I, G, H>,
    &'k Kernel<f32, H, G, H>,
    Option<&'k [SVector<f32, H>; G]>,
);

/// The step weights of a cell whose step is one product, `[x h] · [W; U] + b` into all `G·H`
/// sums (the LSTM's, the SimpleRNN's): `[W; U]` with the bias, packed for `path`.
fn stacked<'a, const I: usize, const G: usize, const H: usize>(
    (kernel, recurrent, bias): Kernels<'a, I, G, H>,
    path: Path,
    pool: &mut Pool,
) -> packed::Stacked<'a> {
    let part = |b, k| packed::Part {
        b,
        k,
        rs: G * H,
        cs: 1,
        col0: 0,
    };
    let bias = bias.map(|b| move |j: usize| b[j / H][j % H]);
    packed::Stacked::new(
        [part(kernel.as_slice(), I), part(recurrent.as_slice(), H)],
        G * H,
        bias.as_ref().map(|b| b as &dyn Fn(usize) -> f32),
        path,
        pool,
    )
}

/// What differs between the fused layers of the cells, over `I` inputs and `H` units with `G`
/// gates, so that one [`forward_into`] and its two chunk paths, [`chunk`] and
/// [`chunk_by_sample`], run the batch for all of them.
///
/// The step methods run inside the vectorized copy of a chunk, so they are `#[inline(always)]`
/// in every implementation: one left out of line would run without its vectors.
trait Layer<const I: usize, const G: usize, const H: usize>: Sync {
    /// Per sample, the width of the second state: the LSTM's `c`, a state the GRU keeps in
    /// the scratch; the SimpleRNN has none (0).
    const SECOND: usize = H;
    /// By sample, work rows of `G·H` values per sample beside one per step: the GRU's `h_s`.
    const EXTRA_ROWS: usize = 0;
    /// Per sample-step, the values a training forward records for the backward (see
    /// [`record`](Self::record)); 0 when the outputs are all the backward reads.
    const SAVED: usize = 0;

    /// The step weights of the GEMM path, packed once per layer.
    type Weights: Sync;

    /// The layer's path and its packed weights.
    fn packed(&self) -> &Packed<Self::Weights>;

    /// The same, to set or take the weights (a lowered batch packs into buffers it keeps).
    fn packed_mut(&mut self) -> &mut Packed<Self::Weights>;

    /// The step weights packed for `path`, in buffers from `pool`.
    fn pack(&self, path: Path, pool: &mut Pool) -> Self::Weights;

    /// Gives the buffers of `weights` back to `pool`.
    fn recycle(weights: Self::Weights, pool: &mut Pool);

    /// The cell's weights, which the sample-by-sample path reads unpacked.
    fn kernels(&self) -> Kernels<'_, I, G, H>;

    /// One step's GEMMs over a chunk of `n` samples: from the left operands `ops` (see
    /// [`step_operands`]), the `G·H` sums of each sample's `work` row and whatever the layer
    /// keeps in `second` (`[n, SECOND]`).
    fn gemm_step(
        &self,
        n: usize,
        w: &Self::Weights,
        ops: [(&[f32], usize); 2],
        work: &mut [f32],
        second: &mut [f32],
        path: Path,
    );

    /// One step of a sample run by sample: the recurrent product (`recurrent` is the
    /// recurrent kernel's rows) into `s.row`, then the [`epilogue`](Self::epilogue). `second`
    /// is the sample's second state, `extra` its `EXTRA_ROWS` work rows. The default is one
    /// product over all `G·H` columns.
    #[inline(always)]
    fn sample_step(
        &self,
        s: SampleStep<'_, H>,
        recurrent: &[[[f32; H]; G]; H],
        second: &mut [f32],
        _extra: &mut [f32],
        avx: gates::Simd,
    ) {
        crate::kernels::accumulate_columns_with::<Fma, f32, H, G, H>(recurrent, s.prev, 0, s.row);
        self.epilogue(s.row, second, s.prev, s.y, Path::Packed(avx));
    }

    /// Writes into `slot` (`SAVED` values) what the backward of a step needs, right after the
    /// step: its `row`, which the epilogue leaves holding the gates after their activations,
    /// then the start of `second` (the LSTM's new `c`). `extra` is the sample's extra work
    /// rows on the sample-by-sample path, empty on the GEMM path.
    #[inline(always)]
    fn record(&self, row: &[f32], second: &[f32], _extra: &[f32], slot: &mut [f32]) {
        let (gates, rest) = slot.split_at_mut(row.len());
        gates.copy_from_slice(row);
        rest.copy_from_slice(&second[..rest.len()]);
    }

    /// One sample's step from its sums `row`: the output `y` from `row`, its `second` state
    /// and its previous output `prev`, updating `second` when it is a state of the cell. The
    /// row is left holding the gates after their activations (what [`record`](Self::record)
    /// keeps).
    fn epilogue(
        &self,
        row: &mut [f32],
        second: &mut [f32],
        prev: &[f32],
        y: &mut [f32],
        path: Path,
    );
}

/// A layer's `forward_into`: checks and sizes the buffers of the call ([`begin`]; the outputs,
/// the `S` states that are results, the scratch), then runs the batch in chunks on the
/// layer's plan. A second state that is not a result (`S = 1` and `SECOND > 0`) lives in the
/// scratch, after the work rows. With a `tape` (a training forward) each step's
/// [`record`](Layer::record) goes into it, `[B, T, SAVED]`, zeros past a sample's length.
#[allow(clippy::type_complexity)]
fn forward_into<L, const I: usize, const G: usize, const H: usize, const S: usize>(
    layer: &L,
    (inputs, batch, lengths): (&[f32], usize, Lengths<'_>),
    initial: [(&'static str, Option<&[f32]>); S],
    (outputs, mut states, scratch): (&mut Vec<f32>, [&mut Vec<f32>; S], &mut Vec<f32>),
    mut tape: Option<&mut Vec<f32>>,
) -> Result<(), ShapeError>
where
    L: Layer<I, G, H>,
{
    let packed = layer.packed();
    let by_sample = packed.by_sample(batch).is_some();
    let kept = if S == 1 { L::SECOND } else { 0 };
    // The tape's size, and its capacity, before anything is written.
    let tape_width = match &mut tape {
        Some(tape) => {
            let per_sample = ShapeError::product(TAPE, [steps(inputs, batch, I)?, L::SAVED], 0)?;
            let len = ShapeError::product(TAPE, [batch, per_sample], tape.len())?;
            reserve(TAPE, tape, len)?;
            per_sample
        }
        None => 0,
    };
    let (t, mut widths) = begin(
        (inputs, batch),
        (I, H),
        initial,
        // Per sample, the work rows: one step's sums, or by sample every step's and the
        // layer's extra rows (see `chunk_by_sample`).
        |t| {
            let work = if by_sample {
                // `t + EXTRA_ROWS` does not wrap: `t ≤ inputs.len() ≤ isize::MAX`.
                ShapeError::product(WORK, [t + L::EXTRA_ROWS, G * H], 0)?
            } else {
                G * H
            };
            Widths::new(t, (I, H), [H, L::SECOND], (work, kept))
        },
        (outputs, states.each_mut().map(|s| &mut **s), scratch),
    )?;
    lengths.check(batch, t)?;
    widths.tape = tape_width;
    let tape = match tape {
        Some(tape) => {
            if let Lengths::Sorted(_) = lengths {
                // The steps past a sample's length are never recorded: zeros, which the
                // backward's products may read.
                tape.clear();
            }
            tape.resize(Widths::of(batch, tape_width), 0.0);
            tape.as_mut_slice()
        }
        None => &mut [],
    };
    if t == 0 {
        return Ok(());
    }
    if let Lengths::Sorted(lengths) = lengths {
        // The steps past a sample's length are never written: zeros, as PyTorch pads.
        for (sample, &length) in outputs.chunks_exact_mut(t * H).zip(lengths) {
            sample[length * H..].fill(0.0);
        }
    }
    let path = packed.path;
    let plan = packed.plan(batch, |path| layer.pack(path, &mut Pool::default()));
    let (work, kept) = scratch.split_at_mut(Widths::of(batch, widths.work));
    let [h, second] = match &mut states[..] {
        [h] => [h.as_mut_slice(), kept],
        [h, second] => [h.as_mut_slice(), second.as_mut_slice()],
        _ => unreachable!("a layer has one state or two"),
    };
    let whole = Chunk {
        n: batch,
        lengths,
        x: inputs,
        out: outputs,
        states: [h, second],
        work,
        tape,
    };
    // The step's products: `[x | h] · [W; U]`, `G·H` columns of `I + H`.
    let multiply_adds = t.saturating_mul(G * H * (I + H));
    run_chunks(
        whole,
        (&widths, parts(batch, multiply_adds)),
        H,
        #[inline(always)]
        |chunk| match &plan {
            Plan::Gemm(w) => self::chunk(layer, t, w, path, chunk),
            Plan::BySample(avx) => chunk_by_sample(layer, t, *avx, chunk),
        },
    );
    Ok(())
}

/// The whole recurrence for one chunk of samples: per step the layer's GEMMs, then each
/// sample's epilogue, whose output the next step's GEMMs read.
#[inline(always)]
fn chunk<L, const I: usize, const G: usize, const H: usize>(
    layer: &L,
    t_len: usize,
    w: &L::Weights,
    path: Path,
    ch: Chunk<'_>,
) where
    L: Layer<I, G, H>,
{
    let Chunk {
        n,
        lengths,
        x,
        out,
        states: [h, second],
        work,
        tape,
    } = ch;
    let (gh, sw, saved) = (G * H, L::SECOND, L::SAVED);
    for t in 0..t_len {
        // The samples that still run: the first rows (their lengths are sorted).
        let n = lengths.running(n, t);
        if n == 0 {
            break;
        }
        let ops = step_operands(x, I, out, h, H, (t, t_len));
        layer.gemm_step(n, w, ops, work, second, path);
        for b in 0..n {
            let (prev, y) = prev_and_output(out, h, b, (t, t_len), H);
            let row = &mut work[b * gh..(b + 1) * gh];
            let second = &mut second[b * sw..(b + 1) * sw];
            layer.epilogue(row, second, prev, y, path);
            if !tape.is_empty() {
                let slot = &mut tape[(b * t_len + t) * saved..][..saved];
                layer.record(row, second, &[], slot);
            }
        }
    }
    last_outputs(out, h, H, t_len, lengths);
}

/// The recurrence for a chunk of fewer than [`GEMM_ROWS`] samples, one sample at a time (see
/// [the module](self)): its projection, then per step the layer's
/// [`sample_step`](Layer::sample_step). The work rows hold each sample's extra rows, then
/// every step's sums.
#[inline(always)]
fn chunk_by_sample<L, const I: usize, const G: usize, const H: usize>(
    layer: &L,
    t_len: usize,
    avx: gates::Simd,
    ch: Chunk<'_>,
) where
    L: Layer<I, G, H>,
{
    let Chunk {
        n,
        lengths,
        x,
        out,
        states: [h, second],
        work,
        tape,
    } = ch;
    let (extra_w, sw, saved) = (L::EXTRA_ROWS * G * H, L::SECOND, L::SAVED);
    let (extra, z) = work.split_at_mut(n * extra_w);
    let (kernel, recurrent, bias) = layer.kernels();
    let recurrent = recurrent.rows();
    by_sample_steps(
        (kernel, bias),
        (n, t_len, lengths),
        (x, out, h, z),
        #[inline(always)]
        |s| {
            let SampleStep { b, t, row, prev, y } = s;
            let second = &mut second[b * sw..(b + 1) * sw];
            let extra = &mut extra[b * extra_w..(b + 1) * extra_w];
            let s = SampleStep {
                b,
                t,
                row: &mut *row,
                prev,
                y,
            };
            layer.sample_step(s, recurrent, second, extra, avx);
            if !tape.is_empty() {
                let slot = &mut tape[(b * t_len + t) * saved..][..saved];
                layer.record(row, second, extra, slot);
            }
        },
    );
}

/// Deterministic test values in [-1.5, 1.5] (the fused modules' unit tests).
#[cfg(test)]
fn test_values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104_729) % 3001) as f32 / 1000.0 - 1.5)
        .collect()
}

#[cfg(test)]
mod tests {
    //! The portable path (matrixmultiply, one lane at a time) against the detected one (the
    //! packed AVX2 path on a CPU that has it, which `tests/fused.rs` checks against the
    //! cells): both paths are tested on every machine that has AVX2.
    use super::packed::Path;
    use super::test_values as values;
    use super::*;
    use crate::cells::{GruCell, LstmCell, SimpleRnnCell};
    use crate::ops::Activation;

    fn assert_close(what: &str, a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "{what}");
        let worst = a
            .iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 1e-5, "{what}: {worst:e}");
    }

    /// Batches of one sample, of zero steps, split over threads and into GEMM blocks.
    #[cfg(not(miri))]
    const SHAPES: &[(usize, usize)] = &[(1, 1), (3, 0), (5, 3), (33, 2), (8, 4)];
    /// Under Miri (a thousand times slower): one sample by sample, one of GEMMs, no step.
    #[cfg(miri)]
    const SHAPES: &[(usize, usize)] = &[(1, 2), (3, 0), (5, 2)];

    #[test]
    fn the_portable_path_equals_the_detected_one() {
        let lstms = [
            LstmCell::<9, 19>::pytorch_init(1),
            LstmCell::<9, 19>::pytorch_init(2).with_recurrent_activation(Activation::HardSigmoid),
        ];
        let mut grus = [
            GruCell::<7, 11>::pytorch_init(3),
            GruCell::<7, 11>::keras_init(4),
        ];
        grus[1].reset_after = false;
        grus[1].recurrent_bias = None;
        let rnns = [
            SimpleRnnCell::<6, 17>::pytorch_init(5),
            SimpleRnnCell::<6, 17>::pytorch_init(6).with_activation(Activation::Relu),
        ];
        // Three threads: the batch is split into chunks (halved recursively) on any machine,
        // Miri's too, which has one CPU.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        pool.install(|| {
            for &(batch, t) in SHAPES {
                let at = alloc::format!("B={batch} T={t}");
                for cell in &lstms {
                    let x = values(batch * t * 9, batch + t);
                    let (h, c) = (values(batch * 19, 7), values(batch * 19, 8));
                    let run = |path| {
                        let lstm = Lstm::on(cell, path);
                        lstm.forward(&x, batch, Some((&h, &c))).unwrap()
                    };
                    let (fast, portable) = (run(Path::detect()), run(Path::Portable));
                    assert_close(&at, &fast.outputs, &portable.outputs);
                    assert_close(&at, &fast.c, &portable.c);
                }
                for cell in &grus {
                    let x = values(batch * t * 7, batch + t);
                    let h = values(batch * 11, 9);
                    let run = |path| Gru::on(cell, path).forward(&x, batch, Some(&h)).unwrap();
                    assert_close(
                        &at,
                        &run(Path::detect()).outputs,
                        &run(Path::Portable).outputs,
                    );
                }
                for cell in &rnns {
                    let x = values(batch * t * 6, batch + t);
                    let h = values(batch * 17, 10);
                    let run = |path| {
                        SimpleRnn::on(cell, path)
                            .forward(&x, batch, Some(&h))
                            .unwrap()
                    };
                    assert_close(
                        &at,
                        &run(Path::detect()).outputs,
                        &run(Path::Portable).outputs,
                    );
                }
            }
        });
    }
}
