//! A batch's training lowered onto a built-in cell's fused kernel, where the inference
//! lowering applies (`drivers::lowering`): the fused layer's training forward records each
//! sample-step's gates over the gathered batch, and its backward runs the whole batch at once
//! from the outputs' adjoints laid out as the kernel ran the batch. The gradients are then
//! scattered back to what the generic path returns: the parameters shaped like the cell, the
//! adjoints per sequence and timestep.

use alloc::vec::Vec;
use core::borrow::Borrow;

use rayon::prelude::*;

use super::batch::BatchGradients;
use super::differentiable::Differentiable;
use super::error::BackwardError;
use crate::cell::Cell;
use crate::drivers::lowering::{sequences_per_task, Gathered};
use crate::error::ShapeError;
use crate::fused::{Gradients, Trace, Workspace};
use crate::nested::Nested;
use crate::parameters::Parameters;
use crate::{Batch, BatchConstants, BatchRun, Direction, Padding};

/// What a tape of a lowered batch names in its errors.
const TAPE: &str = "batch tape (from a batch lowered onto this cell's kernel)";

/// What a parameter gradient of the wrong size is named in errors.
const PARAMETER: &str = "parameter gradient of the batched kernel";

/// The record of a lowered batch: the batch as the kernel ran it and the kernel's trace.
#[derive(Default)]
pub(crate) struct LoweredTape {
    batch: Gathered,
    trace: Trace,
    /// Each sequence's number of steps.
    steps: Vec<usize>,
    /// The buffers the packed weights borrow: not part of the record.
    work: Workspace,
}

/// The record; the work buffers start empty.
impl Clone for LoweredTape {
    fn clone(&self) -> Self {
        LoweredTape {
            batch: self.batch.clone(),
            trace: self.trace.clone(),
            steps: self.steps.clone(),
            work: Workspace::default(),
        }
    }
}

impl core::fmt::Debug for LoweredTape {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "LoweredTape({} sequences)", self.steps.len())
    }
}

impl LoweredTape {
    /// The number of sequences recorded.
    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }

    /// Sequence `b`'s number of steps.
    pub(crate) fn steps(&self, b: usize) -> usize {
        self.steps[b]
    }
}

/// Runs `batch` (checked) on `cell`'s batched kernel into `out`, as
/// [`run_lowered`](crate::drivers::lowering::run_lowered) does (the same bits), recording in
/// `tape` what [`backward`] needs; `false`, with `out` untouched, when it does not apply.
pub(crate) fn record<C, Q, X>(
    cell: &C,
    config: (Direction, Padding),
    batch: &Batch<'_, Q, C::State>,
    constants: BatchConstants<'_, C::Constants>,
    tape: &mut LoweredTape,
    out: &mut BatchRun<C::Output, C::State>,
) -> bool
where
    C: Cell,
    C::Output: Send,
    Q: AsRef<[X]> + Sync,
    X: Borrow<C::Input> + Sync,
{
    let mut ran = false;
    cell.batched_kernel(&mut |kernel| {
        let LoweredTape {
            batch: gathered,
            trace,
            steps,
            work,
        } = &mut *tape;
        ran = gathered.gather(cell, kernel.sizes(), config.0, batch, constants)
            && kernel.forward_train(gathered.job(work), trace).is_ok();
        if ran {
            let results = (&trace.outputs[..], [&trace.h[..], &trace.c[..]]);
            gathered.scatter(results, out, batch.sequences, config);
            steps.clear();
            steps.extend(batch.sequences.iter().map(|q| q.as_ref().len()));
        }
    });
    ran
}

/// The backward's buffers, kept between calls: the adjoints laid out for the kernel, and the
/// kernel's gradients and work.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The outputs' adjoints, `[B, T, H]`.
    dy: Vec<f32>,
    /// The final states' adjoints, `[B, H]` each: `h`, then the LSTM's `c`.
    d_final: [Vec<f32>; 2],
    /// One state, flat.
    value: Vec<f32>,
    /// One output adjoint per sequence, flat, on its way into `dy`.
    staging: Vec<f32>,
    grads: Gradients,
}

/// The backward of the batch `tape` recorded, whose sizes the caller checked against
/// `d_outputs` (one per sequence, one adjoint per step) and `d_final_states`, into
/// `gradients`, which it leaves as they were on an error.
pub(crate) fn backward<C, D>(
    cell: &C,
    tape: &LoweredTape,
    (direction, padding): (Direction, Padding),
    (d_outputs, d_final_states): (&[D], &[C::State]),
    gradients: &mut BatchGradients<C>,
) -> Result<(), BackwardError>
where
    C: Differentiable + Clone,
    C::Input: Send,
    C::State: Send,
    D: AsRef<[C::Output]> + Sync,
{
    let g = &tape.batch;
    let (hidden, longest) = (C::Output::SIZE, g.longest());
    let row = (longest * hidden).max(1);
    let BatchGradients {
        parameters: d_parameters,
        inputs,
        initial_states,
        constants,
        input_adjoints,
        scratch,
    } = gradients;
    let Scratch {
        dy,
        d_final,
        value,
        staging,
        grads,
    } = &mut scratch.lowered;
    // The outputs' adjoints in the kernel's layout, `[B, T, H]`: each valid step's own, plus,
    // with `CarryLastOutput`, those of the trailing padding, which repeated the last valid
    // output. The leading padding's outputs were zeros, and `Zero` padding's: they read
    // nothing.
    dy.clear();
    dy.resize(tape.trace.outputs.len(), 0.0);
    value.clear();
    value.resize(C::State::SIZE.max(hidden), 0.0);
    staging.clear();
    staging.resize(g.order.len() * hidden, 0.0);
    dy.par_chunks_exact_mut(row)
        .zip(g.order.par_iter())
        .zip(staging.par_chunks_exact_mut(hidden.max(1)))
        .with_min_len(sequences_per_task(row))
        .for_each(|((rows, &b), staged)| {
            let (span, d) = (g.spans[b], d_outputs[b].as_ref());
            let steps = d.len();
            for p in 0..steps {
                let k = match p.checked_sub(span.lead) {
                    Some(k) if k < span.valid => k,
                    Some(_) if padding == Padding::CarryLastOutput && span.valid > 0 => {
                        span.valid - 1
                    }
                    _ => continue,
                };
                // The run's outputs are in processing order, or reversed to sit at their
                // time.
                let at = if direction.aligned_to_time() {
                    steps - 1 - p
                } else {
                    p
                };
                d[at].write_f32(staged);
                for (y, v) in rows[k * hidden..][..hidden].iter_mut().zip(staged.iter()) {
                    *y += v;
                }
            }
        });
    // The final states' adjoints, `[B, H]` each: `h`, then the LSTM's `c`.
    let sequences = tape.len();
    let second = if C::State::SIZE > hidden { hidden } else { 0 };
    for (state, len) in d_final.iter_mut().zip([hidden, second]) {
        state.clear();
        state.resize(sequences * len, 0.0);
    }
    for (b, d) in d_final_states.iter().enumerate() {
        d.write_f32(&mut value[..C::State::SIZE]);
        let j = g.rank[b];
        for (state, part) in d_final.iter_mut().zip(value.chunks_exact(hidden)) {
            state[j * hidden..][..hidden].copy_from_slice(part);
        }
    }

    let mut biases = [false; 2];
    let mut result = Ok(());
    grads.skip_inputs = !*input_adjoints;
    let lowered = cell.batched_kernel(&mut |kernel| {
        biases = kernel.biases();
        let adjoints = (&g.inputs[..], &dy[..]);
        let d_final = [&d_final[0][..], &d_final[1][..]];
        result = kernel.backward(&tape.trace, adjoints, d_final, grads);
    });
    if !lowered {
        ShapeError::check_len(TAPE, sequences, 0)?;
    }
    result?;
    parameters(grads, biases, d_parameters)?;
    scratch.spare.resize(inputs, sequences, Vec::new);
    let per_task = sequences_per_task(longest * C::Input::SIZE);
    inputs
        .par_iter_mut()
        .enumerate()
        .with_min_len(per_task)
        .for_each(|(b, d)| {
            let (j, span, features) = (g.rank[b], g.spans[b], C::Input::SIZE);
            d.clear();
            if !*input_adjoints {
                return;
            }
            d.resize(tape.steps(b), C::Input::zeros());
            let rows = &grads.inputs[j * longest * features..];
            for (k, x) in rows.chunks_exact(features).take(span.valid).enumerate() {
                d[span.timestep(k)] = C::Input::read_f32(x);
            }
        });
    initial_states.clear();
    initial_states.extend((0..sequences).map(|b| {
        let j = g.rank[b];
        value.clear();
        for state in [&grads.initial_h, &grads.initial_c] {
            if !state.is_empty() {
                value.extend_from_slice(&state[j * hidden..][..hidden]);
            }
        }
        C::State::read_f32(&value[..])
    }));
    constants.clear();
    constants.resize(sequences, C::Constants::zeros());
    Ok(())
}

/// The kernel's parameter gradients written into `parameters`, a value shaped like the cell:
/// its `kernel` and `recurrent_kernel`, and its `bias` tensor, whose rows are the biases the
/// cell has (`biases`: its `bias`, its recurrent bias). The sizes are checked before anything
/// is written.
fn parameters<C: Parameters>(
    grads: &Gradients,
    biases: [bool; 2],
    parameters: &mut C,
) -> Result<(), ShapeError> {
    let rows = [&grads.bias, &grads.recurrent_bias];
    let present = || rows.iter().zip(biases).filter(|(_, has)| *has);
    let bias_len: usize = present().map(|(row, _)| row.len()).sum();
    let mut result = Ok(());
    parameters.for_each_parameter(|path, tensor| {
        let expected = match path.last() {
            "kernel" => grads.kernel.len(),
            "recurrent_kernel" => grads.recurrent_kernel.len(),
            "bias" => bias_len,
            _ => return,
        };
        let checked = ShapeError::check_len(PARAMETER, tensor.len(), expected);
        result = result.clone().and(checked);
    });
    result?;
    parameters.for_each_parameter_mut(|path, tensor, _| {
        let written = match path.last() {
            "kernel" => tensor.copy_from_f32(&grads.kernel),
            "recurrent_kernel" => tensor.copy_from_f32(&grads.recurrent_kernel),
            "bias" => {
                let mut values = present().flat_map(|(row, _)| row.iter());
                tensor.write(&mut || values.next().map_or(0.0, |&v| f64::from(v)));
                Ok(())
            }
            _ => {
                tensor.write(&mut || 0.0);
                Ok(())
            }
        };
        debug_assert!(written.is_ok(), "sizes checked above");
    });
    Ok(())
}
