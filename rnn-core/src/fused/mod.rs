//! Fused layers: the built-in LSTM, GRU and SimpleRNN over a whole batch at once, as cuDNN,
//! PyTorch's `nn.LSTM` and tract run them.
//!
//! A cell's step multiplies one sample's vectors by the weights; at batch 64 that reads every
//! weight 64 times per step. A fused layer instead
//! 1. projects the inputs of **all timesteps and samples** with one GEMM
//!    (`[B·T, I] × [I, G·H]`), hoisted out of the recurrence because it does not depend on
//!    the state;
//! 2. at each step, multiplies the batch's previous outputs by the recurrent kernel with one
//!    GEMM (`[B, H] × [H, G·H]`), accumulated onto that step's projections;
//! 3. applies the gates in one pass over the batch (the "epilogue"): activations, cell state,
//!    output, written straight into the `[B, T, H]` output buffer, which the next step's GEMM
//!    reads.
//!
//! The batch is split into one contiguous chunk per core (rayon) and each chunk runs the whole
//! recurrence on its own, so the cores never wait for each other within a sequence.
//!
//! The layers borrow a built-in cell's weights as they are (Keras's `[I, G·H]` row-major
//! kernels are the GEMM's right-hand matrices): `fused::Lstm::new(&cell)` computes what
//! `Rnn::new(cell)` computes on each sequence, within 1e-5 (the sums run in another order).
//! Buffers are flat and row-major, batch first, as numpy and PyTorch (`batch_first=True`) hold
//! them; a buffer of the wrong size is a [`ShapeError`], never a panic.
//!
//! ```
//! use rnn_core::cells::LstmCell;
//! use rnn_core::fused;
//!
//! let cell = LstmCell::<3, 2>::keras_init(0);
//! let (batch, steps) = (4, 5);
//! let inputs = vec![0.5f32; batch * steps * 3]; // [B, T, I]
//! let run = fused::Lstm::new(&cell).forward(&inputs, batch, None).unwrap();
//! assert_eq!(run.outputs.len(), batch * steps * 2); // [B, T, H]
//! assert_eq!((run.h.len(), run.c.len()), (batch * 2, batch * 2));
//! assert!(fused::Lstm::new(&cell).forward(&inputs[1..], batch, None).is_err());
//! ```

mod gru;
mod lstm;
mod packed;
mod simple_rnn;

pub use gru::Gru;
pub use lstm::{Lstm, LstmOutput};
pub use simple_rnn::SimpleRnn;

use alloc::vec::Vec;
use rayon::prelude::*;

use crate::error::ShapeError;

/// What [`Gru::forward`] and [`SimpleRnn::forward`] return.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// Every step's output, `[B, T, H]` row-major.
    pub outputs: Vec<f32>,
    /// The final state, `[B, H]` (the initial state when `T = 0`).
    pub h: Vec<f32>,
}

/// The number of timesteps in a `[B, T, I]` input buffer, or the error.
fn steps(inputs: &[f32], batch: usize, features: usize) -> Result<usize, ShapeError> {
    let per_step = batch * features;
    if per_step == 0 {
        ShapeError::check_len("inputs [B, T, I]", 0, inputs.len())?;
        return Ok(0);
    }
    if !inputs.len().is_multiple_of(per_step) {
        return Err(ShapeError {
            what: "inputs [B, T, I] (a whole number of timesteps)",
            expected: (inputs.len() / per_step + 1) * per_step,
            found: inputs.len(),
        });
    }
    Ok(inputs.len() / per_step)
}

/// A `[B, H]` initial state: the given buffer, checked, or zeros.
fn initial(what: &'static str, given: Option<&[f32]>, len: usize) -> Result<Vec<f32>, ShapeError> {
    match given {
        Some(s) => {
            ShapeError::check_len(what, len, s.len())?;
            Ok(s.to_vec())
        }
        None => Ok(alloc::vec![0.0; len]),
    }
}

/// `c[i, :] += a[i, :] · b` for `m` rows: `a` is `m × k` with row stride `rsa`, `b` is
/// `k × n` with row stride `rsb`, `c` is `m × n` with row stride `rsc`; all column strides 1.
#[inline]
#[allow(clippy::too_many_arguments)]
fn gemm_acc(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    rsa: usize,
    b: &[f32],
    rsb: usize,
    c: &mut [f32],
    rsc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    // These bounds make the raw-pointer call below sound; they are internal invariants (every
    // caller sizes its buffers from the checked shapes), so a failure is a bug, not bad input.
    assert!(k == 0 || a.len() >= (m - 1) * rsa + k, "gemm: a too short");
    assert!(k == 0 || b.len() >= (k - 1) * rsb + n, "gemm: b too short");
    assert!(c.len() >= (m - 1) * rsc + n, "gemm: c too short");
    // SAFETY: matrixmultiply reads `a[i·rsa + l]` (i < m, l < k) and `b[l·rsb + j]`
    // (l < k, j < n), and reads and writes `c[i·rsc + j]` (i < m, j < n). The asserts above
    // put every such index inside its slice. `c` is a `&mut` borrow, so it aliases neither
    // `a` nor `b`. The strides fit in `isize` because they index into live allocations.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            1,
            b.as_ptr(),
            rsb as isize,
            1,
            1.0,
            c.as_mut_ptr(),
            rsc as isize,
            1,
        );
    }
}

/// `z[r, :] = bias` for every row of a `[rows, width]` buffer, then `z += x · w`: the input
/// projection of every timestep of every sample at once.
fn project(x: &[f32], features: usize, w: &[f32], bias: Option<&[f32]>, z: &mut [f32]) {
    let width = w.len() / features.max(1);
    if width == 0 {
        return;
    }
    match bias {
        Some(b) => z.chunks_exact_mut(width).for_each(|r| r.copy_from_slice(b)),
        None => z.fill(0.0),
    }
    let rows = z.len() / width;
    gemm_acc(rows, features, width, x, features, w, width, z, width);
}

/// One chunk of the batch: `n` samples and their slices of every per-sample buffer.
struct Chunk<'a> {
    n: usize,
    x: &'a [f32],
    out: &'a mut [f32],
    states: [&'a mut [f32]; 2],
    work: &'a mut [f32],
}

/// Splits `buf` into consecutive pieces of `n_k · per_sample` scalars.
fn split_mut<'a>(mut buf: &'a mut [f32], sizes: &[usize], per_sample: usize) -> Vec<&'a mut [f32]> {
    sizes
        .iter()
        .map(|&n| {
            let (head, tail) = core::mem::take(&mut buf).split_at_mut(n * per_sample);
            buf = tail;
            head
        })
        .collect()
}

/// Per-sample widths of the buffers a layer runs on.
struct Widths {
    x: usize,
    out: usize,
    states: [usize; 2],
    work: usize,
}

/// Runs `chunk_fn` on one chunk of the batch per core, in parallel. The buffers are per-sample
/// contiguous (batch first), so the chunks are disjoint sub-slices.
fn par_chunks(
    batch: usize,
    x: &[f32],
    out: &mut [f32],
    states: [&mut [f32]; 2],
    work: &mut [f32],
    w: Widths,
    chunk_fn: impl Fn(Chunk<'_>) + Sync,
) {
    // Chunks of at least 4 samples: below that the GEMMs are too thin to pay for a thread.
    let parts = rayon::current_num_threads().min(batch.div_ceil(4)).max(1);
    let sizes: Vec<usize> = (0..parts)
        .map(|p| batch / parts + usize::from(p < batch % parts))
        .collect();
    let mut xs = Vec::with_capacity(parts);
    let mut rest = x;
    for &n in &sizes {
        let (head, tail) = rest.split_at(n * w.x);
        xs.push(head);
        rest = tail;
    }
    let [s0, s1] = states;
    let chunks: Vec<Chunk<'_>> = xs
        .into_iter()
        .zip(split_mut(out, &sizes, w.out))
        .zip(split_mut(s0, &sizes, w.states[0]))
        .zip(split_mut(s1, &sizes, w.states[1]))
        .zip(split_mut(work, &sizes, w.work))
        .zip(&sizes)
        .map(|(((((x, out), a), b), work), &n)| Chunk {
            n,
            x,
            out,
            states: [a, b],
            work,
        })
        .collect();
    if chunks.len() == 1 {
        chunks.into_iter().for_each(chunk_fn);
    } else {
        chunks.into_par_iter().for_each(&chunk_fn);
    }
}
