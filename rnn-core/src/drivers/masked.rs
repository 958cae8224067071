//! The masked loop: a sequence run with a [`Mask`], in any [`Direction`], emitting the
//! [`Padding`] policy's output at a masked step. The plain loop and the static unroll live in
//! [`unroll`](super::unroll); this one reads a mask at every step.

use alloc::vec::Vec;
use core::borrow::Borrow;

use super::direction::Direction;
use super::mask::{Mask, Padding};
use super::reset::ResetTo;
use super::unroll::{chunk_at, gather, CHUNK};
use crate::cell::Cell;

/// Which timestep processing step `k` of `steps` reads in `direction`, and whether it is
/// valid under `mask`. Outputs are produced in processing order; [`Direction::Reversed`]
/// flips them afterwards.
#[inline]
pub(crate) fn schedule(
    direction: Direction,
    mask: Mask<'_>,
    steps: usize,
    k: usize,
) -> (usize, bool) {
    match (direction, mask) {
        (Direction::Forward, _) => (k, mask.is_valid(k)),
        // tf.reverse_sequence: the valid prefix backwards, then the padding in place.
        (Direction::GoBackwards, Mask::Length(len)) => {
            if k < len {
                (len - 1 - k, true)
            } else {
                (k, false)
            }
        }
        (Direction::GoBackwards | Direction::Reversed, _) => {
            let t = steps - 1 - k;
            (t, mask.is_valid(t))
        }
    }
}

/// What a loop over a sequence carries from step to step: the state, the last output (for
/// [`Padding::CarryLastOutput`]), and where resets return the state to.
pub(crate) type Carried<'s, 'r, C> = (
    &'s mut <C as Cell>::State,
    &'s mut Option<<C as Cell>::Output>,
    Option<ResetTo<'r, <C as Cell>::State>>,
);

/// The masked driver: runs `cell` over `inputs` in `direction`, skipping the steps `mask`
/// marks as padding (the cell is not called; the state is kept) and emitting `padding`'s output
/// there, into `outputs`, which is cleared first; it allocates only when `outputs` has less
/// capacity than `inputs` has steps. The carried output is the one before the first step (for
/// [`Padding::CarryLastOutput`] across the chunks of a stateful run); it is left holding the
/// last output produced. With `reset`, a flagged timestep first sets the state back to
/// `reset`'s initial state and forgets the carried output.
///
/// The mask (and resets) must have been checked against `inputs.len()`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn masked_unroll_into<C: Cell, X: Borrow<C::Input>>(
    cell: &C,
    inputs: &[X],
    mask: Mask<'_>,
    direction: Direction,
    padding: Padding,
    (state, carried, reset): Carried<'_, '_, C>,
    constants: &C::Constants,
    outputs: &mut Vec<C::Output>,
) {
    let steps = inputs.len();
    outputs.clear();
    outputs.reserve(steps);
    // The loop runs in the AVX2 copy when the CPU has it (see `dispatch`): same bits.
    crate::kernels::dispatch::vectorized(
        #[inline(always)]
        || {
            // A chunk of valid steps with no reset inside goes through `step_chunk` (the same
            // bits as its steps); the other steps run one by one.
            let schedule = |k| schedule(direction, mask, steps, k);
            let chunked = cell.runs_in_chunks();
            let mut k = 0;
            while k < steps {
                if let Some(reads) = chunk_at(chunked, steps, k, reset.as_ref(), schedule) {
                    ResetTo::before(reset.as_ref(), reads[0], state);
                    let xs = gather(inputs, &reads);
                    outputs.extend(cell.step_chunk(xs, state, constants));
                    k += CHUNK;
                    continue;
                }
                let (t, valid) = schedule(k);
                let fresh = ResetTo::before(reset.as_ref(), t, state);
                let y = if valid {
                    cell.step(inputs[t].borrow(), state, constants)
                } else if fresh {
                    padding.masked_output(None)
                } else {
                    padding.masked_output(outputs.last().or(carried.as_ref()))
                };
                outputs.push(y);
                k += 1;
            }
        },
    );
    if let Some(last) = outputs.last() {
        *carried = Some(last.clone());
    }
    if direction.aligned_to_time() {
        outputs.reverse();
    }
}
