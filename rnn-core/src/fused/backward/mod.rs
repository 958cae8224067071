//! The fused layers' backward, in the GEMM form cuDNN uses: a training forward records each
//! sample-step's gates ([`Trace`]); the backward walks the steps last to first, where a
//! vectorized epilogue turns the adjoint of each running sample's output into its gates'
//! adjoints `dZ_t` (`[n, G·H]`) and one GEMM `dZ_t · Uᵀ` carries the adjoint to the previous
//! output (the LSTM also carries `dc`). After the loop, two large products over all `B·T`
//! sample-steps at once: the weight gradients `[X | H_prev]ᵀ · dZ` and the input adjoints
//! `dZ · Wᵀ` (cuDNN's backward-weights and backward-data).
//!
//! The batch is split into chunks over the cores as the forward splits it; each chunk sums
//! its own weight gradients, and the chunks' sums are added in chunk order: for a given
//! number of threads the gradients are the same bits on every call. The per-step product
//! runs on the forward's packed kernel over `Uᵀ`, packed once per call from `U`; so do the
//! large products, `dZ · Wᵀ` over `Wᵀ` packed once per call from `W`, and `[X | H_prev]ᵀ · dZ` over
//! each chunk's `dZ` packed into that chunk's own kept buffers. A general GEMM would allocate
//! its packing buffers on every call; these are kept in [`Gradients`], so a training step
//! after the first allocates nothing. (On a CPU without AVX2 and FMA the products go to
//! matrixmultiply, which does allocate.)
//!
//! Internal for now (`#[doc(hidden)]`): the `Rnn` training path is its user.

/// The training entry points of a fused layer with one state, `h` (the GRU, with `G = 3`
/// gates, and the SimpleRNN, with one): what `$kept` its training forward keeps.
macro_rules! one_state_training {
    ($layer:ident, $gates:literal, $kept:literal) => {
        impl<const I: usize, const H: usize> $layer<'_, I, H> {
            #[doc = "[`forward_into`](Self::forward_into) (the same bits) over samples of"]
            #[doc = "`lengths` steps (non-increasing, each at most `T`; `None`: all `T`),"]
            #[doc = "recording in `trace` what [`backward_into`](Self::backward_into) needs:"]
            #[doc = $kept]
            #[doc = ". An error when a buffer has the wrong size or the lengths are out of order."]
            #[doc(hidden)]
            pub fn forward_train_into(
                &self,
                inputs: &[f32],
                batch: usize,
                lengths: Option<&[usize]>,
                initial: Option<&[f32]>,
                trace: &mut Trace,
            ) -> Result<(), ShapeError> {
                forward::<_, I, $gates, H, 1>(
                    self,
                    (inputs, batch, lengths),
                    [("initial h [B, H]", initial)],
                    trace,
                )
            }

            /// The backward of the run `trace` recorded, whose `inputs` are given again: from
            /// the adjoints of every output (`d_outputs`, `[B, T, H]`; those past a sample's
            /// length are ignored) and of the final `h` (`None`: zeros), the gradients in
            /// `grads`.
            #[doc(hidden)]
            pub fn backward_into(
                &self,
                trace: &Trace,
                inputs: &[f32],
                d_outputs: &[f32],
                d_final: Option<&[f32]>,
                grads: &mut Gradients,
            ) -> Result<(), ShapeError> {
                backward::<_, I, $gates, H>(
                    self,
                    trace,
                    (inputs, d_outputs),
                    [d_final, None],
                    grads,
                )
            }
        }
    };
}

mod gru;
mod lstm;
mod simple_rnn;

use alloc::vec::Vec;

use super::packed::{Part, Path, Pool, Stacked};
use super::{reserve, steps, Layer, Lengths, Scratch, Strided, Widths};
use crate::error::ShapeError;
use crate::ops::Activation;

/// What the errors of a backward name.
const INPUTS: &str = "inputs [B, T, I] (those of the traced forward)";
const D_OUTPUTS: &str = "output adjoints [B, T, H]";
const D_STATES: &str = "final state adjoints [B, H]";
const TRACE: &str = "trace (from this layer's training forward)";
const LENGTHS: &str = "lengths [B] (non-increasing)";
const WORK: &str = "backward work buffers";

/// What a training forward (`forward_train_into` on a fused layer) computes and records for
/// the backward: the forward's results (the same bits as `forward_into`'s) and, per
/// sample-step, the gates after their activations (the LSTM's `[i f g o]` and `c`, the GRU's
/// `[z r h̃]` and what its candidate's recurrent part read; the SimpleRNN's backward reads the
/// outputs alone). Keep one and pass it to every call: its buffers are reused.
#[doc(hidden)]
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Every step's output, `[B, T, H]`: zeros past a sample's length.
    pub outputs: Vec<f32>,
    /// The final `h`, `[B, H]`.
    pub h: Vec<f32>,
    /// The LSTM's final `c`, `[B, H]` (empty for the other layers).
    pub c: Vec<f32>,
    /// `[B, T, SAVED]`: what each step's backward reads besides the outputs.
    gates: Vec<f32>,
    /// The initial states, `[B, H]` each (`h`, the LSTM's `c`).
    initial: [Vec<f32>; 2],
    /// Each sample's steps; empty when all run every step.
    lengths: Vec<usize>,
    batch: usize,
    steps: usize,
    scratch: Scratch,
}

/// What a fused layer's `backward_into` computes: the gradients of the weights (summed over
/// the batch, laid out as the cell's, Keras's `[I, G·H]` row-major kernels, gate-major
/// biases) and the adjoints of the inputs and initial states. Keep one and pass it to every
/// call: once it has held as large a call, a call allocates nothing.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Gradients {
    /// `[I, G·H]`.
    pub kernel: Vec<f32>,
    /// `[H, G·H]`.
    pub recurrent_kernel: Vec<f32>,
    /// `[G·H]` (whether or not the cell has a bias).
    pub bias: Vec<f32>,
    /// `[G·H]`, the GRU's `recurrent_bias` (zeros without `reset_after`, whose step does not
    /// read it); empty for the other layers.
    pub recurrent_bias: Vec<f32>,
    /// The inputs' adjoints, `[B, T, I]`: zeros past a sample's length; empty with
    /// [`skip_inputs`](Self::skip_inputs).
    pub inputs: Vec<f32>,
    /// Whether the backward skips the inputs' adjoints (the product `dZ · Wᵀ`), for inputs
    /// whose adjoint nothing reads.
    pub skip_inputs: bool,
    /// The initial `h`'s adjoint, `[B, H]`.
    pub initial_h: Vec<f32>,
    /// The LSTM's initial `c`'s adjoint, `[B, H]` (empty for the other layers).
    pub initial_c: Vec<f32>,
    work: Work,
}

/// The backward's working buffers, kept between calls.
#[derive(Default)]
struct Work {
    /// Every sample-step's gate adjoints, `[B, T, G·H]`.
    dz: Vec<f32>,
    /// The GRU's adjoint of its candidate's recurrent part, `[B, T, H]` (with `reset_after`).
    dzc: Vec<f32>,
    /// `[x_t | h_{t−1}]` per sample-step, `[B, T, I + H]`.
    xh: Vec<f32>,
    /// Per sample, two rows of `H` for a step's epilogue.
    tmp: Vec<f32>,
    /// Per chunk, its weight gradients `[I + H, G·H]`, then its bias's and recurrent bias's.
    partials: Vec<f32>,
    pool: Pool,
    /// Per chunk, the buffers its weight gradients' products pack `dZ` into.
    pools: Vec<Pool>,
}

impl core::fmt::Debug for Work {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Work({} gate adjoints)", self.dz.len())
    }
}

/// `a × b × c ...` for `what`, or the error when it overflows `usize`.
fn size(what: &'static str, dims: &[usize], found: usize) -> Result<usize, ShapeError> {
    dims.iter()
        .try_fold(1, |acc, &d| ShapeError::product(what, [acc, d], found))
}

/// A layer's training forward: its `forward_into` with a tape, then the initial states and
/// lengths kept for the backward. `initial` holds `S` states (`None`: zeros).
fn forward<L, const I: usize, const G: usize, const H: usize, const S: usize>(
    layer: &L,
    (inputs, batch, lengths): (&[f32], usize, Option<&[usize]>),
    initial: [(&'static str, Option<&[f32]>); S],
    trace: &mut Trace,
) -> Result<(), ShapeError>
where
    L: Layer<I, G, H>,
{
    if let Some(lengths) = lengths {
        // Sorted, as the GEMMs shrink to the samples still running.
        if let Some(b) = (1..lengths.len()).find(|&b| lengths[b] > lengths[b - 1]) {
            ShapeError::check_steps(LENGTHS, lengths[b - 1], lengths[b])?;
        }
    }
    let state_len = ShapeError::product(D_STATES, [batch, H], 0)?;
    for kept in trace.initial.iter_mut().take(S) {
        reserve(TRACE, kept, state_len)?;
    }
    trace
        .lengths
        .try_reserve_exact(
            lengths
                .map_or(0, <[usize]>::len)
                .saturating_sub(trace.lengths.len()),
        )
        .map_err(|_| ShapeError::allocation(LENGTHS, batch, 0))?;
    let Trace {
        outputs,
        h,
        c,
        gates,
        scratch,
        ..
    } = trace;
    let mut states = [Some(h), (S == 2).then_some(c)].into_iter().flatten();
    let states = core::array::from_fn(|_| states.next().expect("one or two states"));
    super::forward_into::<L, I, G, H, S>(
        layer,
        (inputs, batch, lengths.map_or(Lengths::All, Lengths::Sorted)),
        initial,
        (outputs, states, &mut scratch.0),
        Some(gates),
    )?;
    for (kept, (_, given)) in trace.initial.iter_mut().zip(initial) {
        kept.clear();
        match given {
            Some(state) => kept.extend_from_slice(state),
            None => kept.resize(state_len, 0.0),
        }
    }
    trace.lengths.clear();
    trace.lengths.extend_from_slice(lengths.unwrap_or(&[]));
    trace.batch = batch;
    trace.steps = steps(inputs, batch, I)?;
    Ok(())
}

/// What differs between the fused layers' backward passes.
trait Backward<const I: usize, const G: usize, const H: usize>: Layer<I, G, H> {
    /// The states that are results: the LSTM's `h` and `c`, the others' `h`.
    const STATES: usize = 1;
    /// Whether the cell has a recurrent bias (the GRU's).
    const RECURRENT_BIAS: bool = false;

    /// Per sample-step, the columns of `dzc`: the GRU's candidate's recurrent adjoint, with
    /// `reset_after`.
    fn extra(&self) -> usize {
        0
    }

    /// The weights of the per-step products, from `u`, `U` (`[H, G·H]`, read transposed),
    /// packed for `path` in buffers from `pool`. The LSTM's and SimpleRNN's step runs one,
    /// `dZ_t · Uᵀ`.
    fn step_weights<'u>(&self, u: &'u [f32], path: Path, pool: &mut Pool) -> [Stacked<'u>; 2] {
        let all = Part {
            b: u,
            k: G * H,
            rs: 1,
            cs: G * H,
            col0: 0,
        };
        [
            Stacked::new([all, Part::NONE], H, None, path, pool),
            Stacked::new([Part::NONE, Part::NONE], 0, None, path, pool),
        ]
    }

    /// Step `at.t` of the `at.n` samples of `c` that run it: their gate adjoints into `c.dz`
    /// (from `c.dy` and the carried adjoints), then the carried adjoints of the step before.
    fn step(&self, w: &[Stacked<'_>; 2], c: &mut Back<'_>, at: Step, path: Path);

    /// The weight gradients of a chunk from its `rows = n·T` sample-steps into
    /// `c.partial[..(I + H)·G·H]`, and the recurrent bias's into its last `G·H` (zeros on
    /// entry). The LSTM's and SimpleRNN's: one product, `[X | H_prev]ᵀ · dZ`.
    fn weight_gradients(&self, c: &mut Back<'_>, rows: usize, path: Path) {
        let (gh, xw) = (G * H, I + H);
        let dz = Part {
            b: c.dz,
            k: rows,
            rs: gh,
            cs: 1,
            col0: 0,
        };
        let at = (&mut c.pools[0], path);
        product(at, xw, (c.xh, 1, xw), dz, gh, (c.partial, gh));
    }
}

/// Which step of a chunk a [`Backward::step`] runs.
#[derive(Clone, Copy)]
struct Step {
    /// The samples that run it (the first ones).
    n: usize,
    t: usize,
    /// The chunk's steps.
    t_len: usize,
}

/// One chunk of a backward: `n` samples and their slices of every per-sample buffer, and the
/// chunk's own weight gradients.
struct Back<'a> {
    n: usize,
    lengths: Lengths<'a>,
    x: &'a [f32],
    out: &'a [f32],
    tape: &'a [f32],
    h0: &'a [f32],
    c0: &'a [f32],
    dy: &'a [f32],
    dx: &'a mut [f32],
    /// The carried adjoint of `h`: the final state's on entry, the initial state's at the end.
    dh: &'a mut [f32],
    /// The LSTM's carried adjoint of `c`, likewise.
    dc: &'a mut [f32],
    dz: &'a mut [f32],
    dzc: &'a mut [f32],
    xh: &'a mut [f32],
    tmp: &'a mut [f32],
    partial: &'a mut [f32],
    /// The chunk's packing buffers (its first).
    pools: &'a mut [Pool],
}

/// Per-sample widths of a [`Back`]'s buffers (each checked times the batch), and the width of
/// a chunk's weight gradients.
struct BackWidths {
    x: usize,
    /// The inputs' adjoints: `x`, or none when they are skipped.
    dx: usize,
    out: usize,
    tape: usize,
    h: usize,
    c: usize,
    dz: usize,
    dzc: usize,
    xh: usize,
    tmp: usize,
    partial: usize,
}

impl<'a> Back<'a> {
    /// The first `n` samples with the first `parts` chunks' gradients, and the rest.
    fn split(self, n: usize, parts: usize, w: &BackWidths) -> (Back<'a>, Back<'a>) {
        let of = Widths::of;
        let (lengths, lengths_rest) = self.lengths.split(n);
        let (x, x_rest) = self.x.split_at(of(n, w.x));
        let (out, out_rest) = self.out.split_at(of(n, w.out));
        let (tape, tape_rest) = self.tape.split_at(of(n, w.tape));
        let (h0, h0_rest) = self.h0.split_at(of(n, w.h));
        let (c0, c0_rest) = self.c0.split_at(of(n, w.c));
        let (dy, dy_rest) = self.dy.split_at(of(n, w.out));
        let (dx, dx_rest) = self.dx.split_at_mut(of(n, w.dx));
        let (dh, dh_rest) = self.dh.split_at_mut(of(n, w.h));
        let (dc, dc_rest) = self.dc.split_at_mut(of(n, w.c));
        let (dz, dz_rest) = self.dz.split_at_mut(of(n, w.dz));
        let (dzc, dzc_rest) = self.dzc.split_at_mut(of(n, w.dzc));
        let (xh, xh_rest) = self.xh.split_at_mut(of(n, w.xh));
        let (tmp, tmp_rest) = self.tmp.split_at_mut(of(n, w.tmp));
        let (partial, partial_rest) = self.partial.split_at_mut(of(parts, w.partial));
        let (pools, pools_rest) = self.pools.split_at_mut(parts);
        let head = Back {
            n,
            lengths,
            x,
            out,
            tape,
            h0,
            c0,
            dy,
            dx,
            dh,
            dc,
            dz,
            dzc,
            xh,
            tmp,
            partial,
            pools,
        };
        let rest = Back {
            n: self.n - n,
            lengths: lengths_rest,
            x: x_rest,
            out: out_rest,
            tape: tape_rest,
            h0: h0_rest,
            c0: c0_rest,
            dy: dy_rest,
            dx: dx_rest,
            dh: dh_rest,
            dc: dc_rest,
            dz: dz_rest,
            dzc: dzc_rest,
            xh: xh_rest,
            tmp: tmp_rest,
            partial: partial_rest,
            pools: pools_rest,
        };
        (head, rest)
    }

    /// Where sample `b`'s row of a `[n, T, width]` buffer starts at step `at`.
    #[inline(always)]
    fn row(b: usize, at: Step, width: usize) -> usize {
        (b * at.t_len + at.t) * width
    }

    /// Sample `b`'s previous output at step `at` (its initial state at step 0), `H` values.
    #[inline(always)]
    fn prev(&self, b: usize, at: Step, hidden: usize) -> &'a [f32] {
        let (h0, out) = (self.h0, self.out);
        match at.t {
            0 => &h0[b * hidden..(b + 1) * hidden],
            _ => &out[Self::row(b, at, hidden) - hidden..][..hidden],
        }
    }
}

/// A layer's `backward_into`: checks the call against `trace`, sizes the buffers of `grads`,
/// runs the chunks in parallel and adds their weight gradients in chunk order. `d_final`
/// holds the final states' adjoints (`None`: zeros; the second is the LSTM's `c`).
fn backward<L, const I: usize, const G: usize, const H: usize>(
    layer: &L,
    trace: &Trace,
    (inputs, d_outputs): (&[f32], &[f32]),
    d_final: [Option<&[f32]>; 2],
    grads: &mut Gradients,
) -> Result<(), ShapeError>
where
    L: Backward<I, G, H>,
{
    let (batch, t_len, gh) = (trace.batch, trace.steps, G * H);
    let two = L::STATES == 2;
    ShapeError::check_len(INPUTS, size(INPUTS, &[batch, t_len, I], 0)?, inputs.len())?;
    ShapeError::check_len(
        D_OUTPUTS,
        size(D_OUTPUTS, &[batch, t_len, H], 0)?,
        d_outputs.len(),
    )?;
    let state_len = size(D_STATES, &[batch, H], 0)?;
    for d in d_final.iter().take(L::STATES).flatten() {
        ShapeError::check_len(D_STATES, state_len, d.len())?;
    }
    ShapeError::check_len(
        TRACE,
        size(TRACE, &[batch, t_len, L::SAVED], 0)?,
        trace.gates.len(),
    )?;
    let x_width = size(WORK, &[t_len, I], 0)?;
    let widths = BackWidths {
        x: x_width,
        dx: if grads.skip_inputs { 0 } else { x_width },
        out: size(WORK, &[t_len, H], 0)?,
        tape: size(WORK, &[t_len, L::SAVED], 0)?,
        h: H,
        c: if two { H } else { 0 },
        dz: size(WORK, &[t_len, gh], 0)?,
        dzc: size(WORK, &[t_len, layer.extra()], 0)?,
        xh: size(WORK, &[t_len, I + H], 0)?,
        tmp: 2 * H,
        partial: size(WORK, &[I + H + 2, gh], 0)?,
    };
    // Per sample: the step's recurrent product and, after the loop, the weights' and inputs'
    // products, as many multiply-adds as the forward's.
    let parts = super::parts(batch, t_len.saturating_mul(2 * gh * (I + H)));
    let Gradients {
        kernel,
        recurrent_kernel,
        bias,
        recurrent_bias,
        inputs: dx,
        initial_h,
        initial_c,
        work,
        skip_inputs: _,
    } = grads;
    let Work {
        dz,
        dzc,
        xh,
        tmp,
        partials,
        pool,
        pools,
    } = work;
    let mut sized = [
        (&mut *kernel, size(WORK, &[I, gh], 0)?),
        (&mut *recurrent_kernel, size(WORK, &[H, gh], 0)?),
        (&mut *bias, gh),
        (&mut *recurrent_bias, if L::RECURRENT_BIAS { gh } else { 0 }),
        (&mut *dx, size(WORK, &[batch, widths.dx], 0)?),
        (&mut *initial_h, state_len),
        (&mut *initial_c, if two { state_len } else { 0 }),
        (&mut *dz, size(WORK, &[batch, widths.dz], 0)?),
        (&mut *dzc, size(WORK, &[batch, widths.dzc], 0)?),
        (&mut *xh, size(WORK, &[batch, widths.xh], 0)?),
        (&mut *tmp, size(WORK, &[batch, widths.tmp], 0)?),
        (&mut *partials, size(WORK, &[parts, widths.partial], 0)?),
    ];
    for (buffer, len) in sized.iter_mut() {
        reserve(WORK, buffer, *len)?;
    }
    pools
        .try_reserve(parts.saturating_sub(pools.len()))
        .map_err(|_| ShapeError::allocation(WORK, parts, 0))?;
    // From here on nothing fails.
    for (buffer, len) in sized {
        buffer.resize(len, 0.0);
    }
    if pools.len() < parts {
        pools.resize_with(parts, Pool::default);
    }
    for (adjoint, given) in [(&mut *initial_h, d_final[0]), (&mut *initial_c, d_final[1])] {
        match given {
            Some(given) if !adjoint.is_empty() => adjoint.copy_from_slice(given),
            _ => adjoint.fill(0.0),
        }
    }
    if t_len == 0 || batch == 0 {
        for gradient in [kernel, recurrent_kernel, bias, recurrent_bias] {
            gradient.fill(0.0);
        }
        return Ok(());
    }
    if !trace.lengths.is_empty() {
        // The steps past a sample's length are never written: they must add nothing.
        dz.fill(0.0);
        dzc.fill(0.0);
    }
    let (w_in, recurrent, _) = layer.kernels();
    let path = layer.packed().path;
    let w = layer.step_weights(recurrent.as_slice(), path, pool);
    let all = Part {
        b: w_in.as_slice(),
        k: gh,
        rs: 1,
        cs: gh,
        col0: 0,
    };
    let input_weights = Stacked::new([all, Part::NONE], I, None, path, pool);
    let whole = Back {
        n: batch,
        lengths: match trace.lengths.as_slice() {
            [] => Lengths::All,
            lengths => Lengths::Sorted(lengths),
        },
        x: inputs,
        out: &trace.outputs,
        tape: &trace.gates,
        h0: &trace.initial[0],
        c0: if two { &trace.initial[1] } else { &[] },
        dy: d_outputs,
        dx,
        dh: initial_h,
        dc: initial_c,
        dz,
        dzc,
        xh,
        tmp,
        partial: partials,
        pools,
    };
    in_parts(whole, parts, &widths, &|c: Back<'_>| {
        crate::kernels::vectorized_for(
            H,
            #[inline(always)]
            || chunk(layer, (&w, &input_weights), t_len, path, c),
        )
    });
    for stacked in w.into_iter().chain([input_weights]) {
        stacked.recycle(pool);
    }
    // The chunks' gradients, added in chunk order.
    let (sum, rest) = partials.split_at_mut(widths.partial);
    for partial in rest.chunks_exact(widths.partial) {
        for (s, p) in sum.iter_mut().zip(partial) {
            *s += p;
        }
    }
    let (sum_w, sum) = sum.split_at(I * gh);
    let (sum_u, sum) = sum.split_at(H * gh);
    let (sum_b, sum_rb) = sum.split_at(gh);
    kernel.copy_from_slice(sum_w);
    recurrent_kernel.copy_from_slice(sum_u);
    bias.copy_from_slice(sum_b);
    if L::RECURRENT_BIAS {
        recurrent_bias.copy_from_slice(sum_rb);
    }
    Ok(())
}

/// `c = a · b` over `m` rows of `a` (`b.k` columns) and columns `b.col0 .. b.col0 + n` of
/// `b`, on `path`: one of the large products after a chunk's loop, whose left operand is a
/// transposed one (`[X | H_prev]ᵀ`, read in place) and whose right operand is packed into
/// buffers from the chunk's own `pool`.
fn product(
    (pool, path): (&mut Pool, Path),
    m: usize,
    a: Strided<'_>,
    b: Part<'_>,
    n: usize,
    (c, rsc): (&mut [f32], usize),
) {
    let packed = Stacked::new([b, Part::NONE], n, None, path, pool);
    packed.strided(m, [a, (&[], 0, 0)], c, rsc);
    packed.recycle(pool);
}

/// `f` on `c` split into `parts` chunks of nearly equal size, in parallel, each with its own
/// weight gradients (as the forward's chunks).
fn in_parts<'a>(c: Back<'a>, parts: usize, w: &BackWidths, f: &(impl Fn(Back<'a>) + Sync)) {
    if parts <= 1 {
        return f(c);
    }
    let left = parts / 2;
    // `n·left / parts` without forming `n·left`.
    let n = c.n / parts * left + c.n % parts * left / parts;
    let (a, b) = c.split(n, left, w);
    rayon::join(
        || in_parts(a, left, w, f),
        || in_parts(b, parts - left, w, f),
    );
}

/// One chunk's backward: the steps last to first, then its input adjoints `dZ · Wᵀ`, its
/// weight gradients and its bias's (the column sums of `dZ`).
#[inline(always)]
fn chunk<L, const I: usize, const G: usize, const H: usize>(
    layer: &L,
    (w, input_weights): (&[Stacked<'_>; 2], &Stacked<'_>),
    t_len: usize,
    path: Path,
    mut c: Back<'_>,
) where
    L: Backward<I, G, H>,
{
    for t in (0..t_len).rev() {
        let n = c.lengths.running(c.n, t);
        if n > 0 {
            layer.step(w, &mut c, Step { n, t, t_len }, path);
        }
    }
    let (gh, xw, rows) = (G * H, I + H, c.n * t_len);
    // `[x_t | h_{t−1}]`, zeros past a sample's length (where `dZ` is zero, and the inputs
    // may hold anything).
    for b in 0..c.n {
        let len = c.lengths.of(b, t_len);
        for t in 0..t_len {
            let at = Step { n: c.n, t, t_len };
            let start = Back::row(b, at, xw);
            if t < len {
                let x = &c.x[Back::row(b, at, I)..][..I];
                let prev = c.prev(b, at, H);
                let row = &mut c.xh[start..start + xw];
                row[..I].copy_from_slice(x);
                row[I..].copy_from_slice(prev);
            } else {
                c.xh[start..start + xw].fill(0.0);
            }
        }
    }
    // Skipped, the inputs' adjoints have no room.
    if !c.dx.is_empty() {
        input_weights.product(rows, [(c.dz, gh), (&[], 0)], c.dx, I);
    }
    c.partial[xw * gh..].fill(0.0);
    layer.weight_gradients(&mut c, rows, path);
    let bias = &mut c.partial[xw * gh..(xw + 1) * gh];
    for row in c.dz.chunks_exact(gh) {
        for (s, d) in bias.iter_mut().zip(row) {
            *s += d;
        }
    }
}

/// `d ← d ⊙ act′`, the derivative taken from the output `y` as Keras's and PyTorch's
/// autodiff take it (see `train::cells::activation_adjoint`); softmax's full Jacobian,
/// `y ⊙ (d − y·d)`. The general path of the epilogues (the usual activations are vectorized).
fn adjoint(act: Activation, y: &[f32], d: &mut [f32]) {
    let each = |f: &dyn Fn(f32) -> f32, d: &mut [f32]| {
        for (d, &y) in d.iter_mut().zip(y) {
            *d *= f(y);
        }
    };
    match act {
        Activation::Tanh => each(&|y| 1.0 - y * y, d),
        Activation::Sigmoid => each(&|y| y * (1.0 - y), d),
        Activation::HardSigmoid => each(&|y| if y > 0.0 && y < 1.0 { 1.0 / 6.0 } else { 0.0 }, d),
        Activation::Relu => each(&|y| if y > 0.0 { 1.0 } else { 0.0 }, d),
        Activation::Linear => {}
        Activation::Softmax => {
            let dot: f32 = y.iter().zip(d.iter()).map(|(y, d)| y * d).sum();
            for (d, &y) in d.iter_mut().zip(y) {
                *d = y * (*d - dot);
            }
        }
    }
}
