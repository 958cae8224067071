//! The two ways to run a cell over time, side by side: [`static_unroll`] at a timestep count
//! known to the compiler (no heap, `[Output; T]`), and [`dynamic_unroll`] over a sequence of
//! any length. Same arguments, same arithmetic in the same order, so the same bits.
//! [`block_unroll`] runs a block of `N` sequences in lockstep through
//! [`Cell::step_block`], for cells that share their weight reads across a block.

use core::borrow::Borrow;
use core::mem::MaybeUninit;

use crate::cell::Cell;
use crate::reverse::Direction;
use crate::rnn::Unrolled;

/// One step of a sequence given to a dynamic driver: anything that borrows as the cell's
/// input `I` (the input itself, or a reference to one).
///
/// `Borrow<I>` under a name of ours, so that a sequence of the wrong type is reported as such,
/// not as a list of every type that implements `Borrow`.
#[diagnostic::on_unimplemented(
    message = "the sequence's steps are `{Self}`, but the cell reads `{I}` at each step",
    label = "each step of this sequence must be the cell's `Input`, or a reference to one",
    note = "the cell's `#[input]` parameters fix the type and size of each step"
)]
pub trait StepInput<I>: Borrow<I> {}

#[diagnostic::do_not_recommend]
impl<I, X: Borrow<I>> StepInput<I> for X {}

/// Runs `cell` over exactly `T` inputs, starting from `state`. Returns the `T` outputs and the
/// final state. Allocates nothing; the loop has a constant trip count, so the compiler may
/// unroll it.
///
/// ```
/// use rnn_core::{static_unroll, Cell};
/// use nalgebra::SVector;
/// # struct Accumulate;
/// # impl Cell for Accumulate {
/// #     type Input = SVector<f32, 1>; type State = SVector<f32, 1>;
/// #     type Constants = (); type Output = SVector<f32, 1>;
/// #     fn step(&self, x: &Self::Input, s: &mut Self::State, _: &()) -> Self::Output {
/// #         *s += x; *s * 10.0
/// #     }
/// # }
/// let xs = [SVector::from([1.0]), SVector::from([2.0])];
/// let (ys, s) = static_unroll(&Accumulate, &xs, SVector::zeros(), &());
/// assert_eq!((ys[0][0], ys[1][0], s[0]), (10.0, 30.0, 3.0));
/// ```
#[inline]
pub fn static_unroll<C: Cell, const T: usize>(
    cell: &C,
    inputs: &[C::Input; T],
    state: C::State,
    constants: &C::Constants,
) -> ([C::Output; T], C::State) {
    let run = unrolled(cell, inputs, state, constants, Direction::Forward);
    (run.outputs, run.state)
}

/// The static unroll in `direction` from `state`: a new [`Unrolled`], which starts on a cache
/// line (a stack array 16 bytes into a line makes every other 32-byte store straddle two
/// lines; measured 13% slower at H = 32).
///
/// The AVX2 copy builds the result in uninitialized storage, each output written once, by
/// its step, and returns it. Whether that storage is the caller's return slot or a local
/// copied out at the end is the compiler's choice, and it has changed with the code around
/// it: at 8495184 the unroll bench had no copy left; at 0fc65ac its GRU and LSTM H = 32
/// copies build a local and copy its 4.2 KB out (a `memcpy` in `run_avx2_fma`, about 1% of
/// the bench's samples). Filled through a `&mut` from outside that copy, the result was also
/// zeroed first (4 KB at H = 32).
///
/// Backward directions read the last input first and write each output in processing order
/// ([`Direction::GoBackwards`]) or at the time of the input it read ([`Direction::Reversed`]).
#[inline]
pub(crate) fn unrolled<C: Cell, const T: usize>(
    cell: &C,
    inputs: &[C::Input; T],
    state: C::State,
    constants: &C::Constants,
    direction: Direction,
) -> Unrolled<C::Output, C::State, T> {
    crate::dispatch::vectorized(
        #[inline(always)]
        move || {
            let mut run = MaybeUninit::<Unrolled<C::Output, C::State, T>>::uninit();
            let at = run.as_mut_ptr();
            // SAFETY: `at` points to `run`'s storage, valid and aligned for an `Unrolled`.
            // The state field is written before the `&mut` to it is made. The outputs field
            // is viewed as `[MaybeUninit<O>; T]`, which has the layout of `[O; T]` and needs
            // no initialization. The two borrows are of disjoint fields.
            let (outputs, state) = unsafe {
                core::ptr::addr_of_mut!((*at).state).write(state);
                (
                    &mut *core::ptr::addr_of_mut!((*at).outputs)
                        .cast::<[MaybeUninit<C::Output>; T]>(),
                    &mut *core::ptr::addr_of_mut!((*at).state),
                )
            };
            // One loop with one call of `step`, not a loop per direction: the compiler
            // inlines a large step at a single call site only, and a step left out of line
            // costs a call, and its output a trip through the stack, at every timestep
            // (LSTM H = 32 measured 15% slower that way than the dynamic loop, which has
            // one). A plain loop rather than `array::from_fn(|t| step)` for the same reason.
            for k in 0..T {
                let (read, write) = match direction {
                    Direction::Forward => (k, k),
                    Direction::GoBackwards => (T - 1 - k, k),
                    Direction::Reversed => (T - 1 - k, T - 1 - k),
                };
                outputs[write].write(cell.step(&inputs[read], state, constants));
            }
            // SAFETY: the state was written above, and the loop wrote every output: for
            // `k` in `0..T`, `write` is `k` or `T - 1 - k`, both bijections of `0..T`. (Had
            // a step panicked, `run` would have been dropped as a `MaybeUninit`: nothing
            // read or dropped, the state leaked.)
            unsafe { run.assume_init() }
        },
    )
}

/// Runs `cell` over every input of `inputs` (a slice, a `Vec`, any iterator; empty is fine),
/// starting from `state`. Returns every output, in time order, and the final state.
#[cfg(feature = "alloc")]
pub fn dynamic_unroll<C: Cell, X: StepInput<C::Input>>(
    cell: &C,
    inputs: impl IntoIterator<Item = X>,
    mut state: C::State,
    constants: &C::Constants,
) -> (crate::Sequence<C::Output>, C::State) {
    let inputs = inputs.into_iter();
    let mut outputs = alloc::vec::Vec::with_capacity(inputs.size_hint().0);
    crate::dispatch::vectorized(
        #[inline(always)]
        || {
            for x in inputs {
                outputs.push(cell.step(x.borrow(), &mut state, constants));
            }
        },
    );
    (crate::Sequence::from(outputs), state)
}

/// Runs `N` sequences of equal length in lockstep, one [`Cell::step_block`] per timestep:
/// what `N` [`dynamic_unroll`]s compute (the same bits when the cell's `step_block` is exact,
/// as the kernels' are), with each weight read once per block and step when the cell
/// overrides `step_block`. Returns each sequence's outputs and final state.
///
/// An error ([`ShapeErrorKind::Steps`](crate::ShapeErrorKind::Steps)) when the sequences' lengths
/// differ.
#[cfg(feature = "alloc")]
#[allow(clippy::type_complexity)]
pub fn block_unroll<C: Cell, const N: usize>(
    cell: &C,
    inputs: [&[C::Input]; N],
    mut states: [C::State; N],
    constants: [&C::Constants; N],
) -> Result<([crate::Sequence<C::Output>; N], [C::State; N]), crate::ShapeError> {
    let mut outputs = core::array::from_fn(|_| crate::Sequence(alloc::vec::Vec::new()));
    block_unroll_into(cell, inputs, &mut states, constants, &mut outputs)?;
    Ok((outputs, states))
}

/// [`block_unroll`] continuing from `states` (updated in place) into the storage `outputs`
/// already has: once `outputs` has held sequences as long, a call allocates nothing. What
/// `outputs` held is replaced; on an error neither argument changes.
#[cfg(feature = "alloc")]
pub fn block_unroll_into<C: Cell, const N: usize>(
    cell: &C,
    inputs: [&[C::Input]; N],
    states: &mut [C::State; N],
    constants: [&C::Constants; N],
    outputs: &mut [crate::Sequence<C::Output>; N],
) -> Result<(), crate::ShapeError> {
    let steps = inputs.first().map_or(0, |x| x.len());
    for x in &inputs {
        crate::ShapeError::check_steps("block_unroll: every sequence's length", steps, x.len())?;
    }
    for out in outputs.iter_mut() {
        out.0.clear();
        out.0.reserve(steps);
    }
    crate::dispatch::vectorized(
        #[inline(always)]
        || {
            for t in 0..steps {
                let ys = cell.step_block(inputs.map(|x| &x[t]), states, constants);
                for (out, y) in outputs.iter_mut().zip(ys) {
                    out.0.push(y);
                }
            }
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The static unroll builds its result in uninitialized storage (`unrolled`); these runs
    //! are small enough for Miri, which checks that every output is written before
    //! `assume_init`.
    use super::*;
    use nalgebra::SVector;

    /// `s' = s + x`, `y = 10 s'`.
    #[crate::cell(crate = crate)]
    fn accumulate(
        #[input] x: &SVector<f32, 2>,
        #[state] s: &mut SVector<f32, 2>,
    ) -> SVector<f32, 2> {
        *s += x;
        *s * 10.0
    }

    #[test]
    fn every_direction_writes_every_output_once() {
        let xs: [SVector<f32, 2>; 5] =
            core::array::from_fn(|t| SVector::from([t as f32 + 1.0, -(t as f32)]));
        let forward = dynamic_unroll(&Accumulate, xs.iter(), SVector::zeros(), &());
        let mut reversed = xs;
        reversed.reverse();
        let backward = dynamic_unroll(&Accumulate, reversed.iter(), SVector::zeros(), &());
        let run = |direction| unrolled(&Accumulate, &xs, SVector::zeros(), &(), direction);
        let run_forward = run(Direction::Forward);
        assert_eq!(run_forward.outputs[..], forward.0[..]);
        assert_eq!(run_forward.state, forward.1);
        let go_backwards = run(Direction::GoBackwards);
        assert_eq!(go_backwards.outputs[..], backward.0[..]);
        let mut aligned = run(Direction::Reversed).outputs;
        aligned.reverse();
        assert_eq!(aligned[..], backward.0[..]);
        assert_eq!(go_backwards.state, backward.1);
        let empty: [SVector<f32, 2>; 0] = [];
        let none = unrolled(
            &Accumulate,
            &empty,
            SVector::from([1.0, 2.0]),
            &(),
            Direction::Reversed,
        );
        assert_eq!(none.state, SVector::from([1.0, 2.0]));
    }
}
