//! The two ways to run a cell over time, side by side: [`static_unroll`] at a timestep count
//! known to the compiler (no heap, `[Output; T]`), and [`dynamic_unroll`] over a sequence of
//! any length. Same arguments, same arithmetic in the same order, so the same bits.
//! [`block_unroll`] runs a block of `N` sequences in lockstep through
//! [`Cell::step_block`], for cells that share their weight reads across a block.

use core::borrow::Borrow;
use core::mem::MaybeUninit;

use crate::cell::Cell;
use crate::drivers::constants::ConstantsOf;
use crate::drivers::direction::Direction;
use crate::drivers::reset::ResetTo;

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

/// What a static unroll returns: exactly `T` outputs and the final state.
///
/// It starts on a cache line (64-byte aligned) and the outputs come first, so the steps'
/// vector stores never straddle two lines.
#[derive(Clone, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct Unrolled<O, S, const T: usize> {
    /// The output of every timestep.
    pub outputs: [O; T],
    /// The state after the last step.
    pub state: S,
}

/// Runs `cell` over exactly `T` inputs, starting from `state`. Returns the `T` outputs and the
/// final state. Allocates nothing; the loop has a constant trip count, so the compiler may
/// unroll it.
///
/// ```
/// use rnn::{static_unroll, Cell};
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
    constants: &impl ConstantsOf<C::Constants>,
) -> ([C::Output; T], C::State) {
    built(
        cell,
        inputs,
        state,
        constants.borrow(),
        (Direction::Forward, None),
    )
}

/// How a static unroll reads its steps: in `direction`, and, with resets, returning the
/// state to the reset's initial state before each flagged timestep.
pub(crate) type Reading<'a, 'r, S> = (Direction, Option<&'a ResetTo<'r, S>>);

/// The static unroll in `direction` (with resets, if any) from `state`: a new [`Unrolled`],
/// which starts on a cache line (a stack array 16 bytes into a line makes every other 32-byte
/// store straddle two lines; measured 13% slower at H = 32).
#[inline(always)]
pub(crate) fn unrolled<C: Cell, const T: usize>(
    cell: &C,
    inputs: &[C::Input; T],
    state: C::State,
    constants: &C::Constants,
    reading: Reading<'_, '_, C::State>,
) -> Unrolled<C::Output, C::State, T> {
    built(cell, inputs, state, constants, reading)
}

/// What a static unroll returns, built in place: `T` outputs and the final state.
trait Built<O, S, const T: usize> {
    /// The places of the outputs and of the state inside `*this`: disjoint, and inside it.
    ///
    /// # Safety
    /// `this` points to storage valid for a `Self` (it may be uninitialized).
    unsafe fn places(this: *mut Self) -> (*mut [O; T], *mut S);
}

impl<O, S, const T: usize> Built<O, S, T> for Unrolled<O, S, T> {
    unsafe fn places(this: *mut Self) -> (*mut [O; T], *mut S) {
        // SAFETY: field projections of storage the caller vouches for; no reference made.
        unsafe {
            (
                core::ptr::addr_of_mut!((*this).outputs),
                core::ptr::addr_of_mut!((*this).state),
            )
        }
    }
}

impl<O, S, const T: usize> Built<O, S, T> for ([O; T], S) {
    unsafe fn places(this: *mut Self) -> (*mut [O; T], *mut S) {
        // SAFETY: as above.
        unsafe {
            (
                core::ptr::addr_of_mut!((*this).0),
                core::ptr::addr_of_mut!((*this).1),
            )
        }
    }
}

/// The static unroll into a new `R`.
#[inline(always)]
fn built<C: Cell, R: Built<C::Output, C::State, T>, const T: usize>(
    cell: &C,
    inputs: &[C::Input; T],
    state: C::State,
    constants: &C::Constants,
    reading: Reading<'_, '_, C::State>,
) -> R {
    let mut run = MaybeUninit::<R>::uninit();
    fill(cell, inputs, state, constants, reading, &mut run);
    // SAFETY: `fill` initialized `run` (had a step panicked, `run` would have been dropped as
    // a `MaybeUninit`: nothing read or dropped, the state leaked).
    unsafe { run.assume_init() }
}

/// Fills `run` in place. Out of line on purpose: a call that alone writes a local, followed
/// by the local's move into the result, is what the compiler turns into writing the result
/// directly (inlined, the local stays and the stack holds the result twice).
#[inline(never)]
fn fill<C: Cell, R: Built<C::Output, C::State, T>, const T: usize>(
    cell: &C,
    inputs: &[C::Input; T],
    state: C::State,
    constants: &C::Constants,
    reading: Reading<'_, '_, C::State>,
    run: &mut MaybeUninit<R>,
) {
    // SAFETY: `run` is storage for an `R`, so `places` gives two disjoint places inside it.
    // The state is written before the `&mut` to it is made. The outputs are viewed as
    // `[MaybeUninit<O>; T]`, which has the layout of `[O; T]` and needs no initialization.
    let (outputs, state) = unsafe {
        let (outputs, at) = R::places(run.as_mut_ptr());
        at.write(state);
        (
            &mut *outputs.cast::<[MaybeUninit<C::Output>; T]>(),
            &mut *at,
        )
    };
    unroll_in_place(cell, inputs, state, constants, reading, outputs);
}

/// A stateful chunk of `T` steps ([`Stateful::feed_array`](crate::Stateful::feed_array)):
/// the outputs written into `outputs`, the state updated in place, and the last output in
/// processing order copied into `carried` (kept if `T = 0`). Out of line for the reason
/// given at [`fill`] (which is also why `carried` is set here: a read of the
/// outputs after the call would keep them in a local); on return `outputs` is initialized.
#[inline(never)]
pub(crate) fn fill_outputs<C: Cell, const T: usize>(
    cell: &C,
    inputs: &[C::Input; T],
    (state, carried): (&mut C::State, &mut Option<C::Output>),
    constants: &C::Constants,
    direction: Direction,
    outputs: &mut MaybeUninit<[C::Output; T]>,
) {
    // SAFETY: `MaybeUninit<[O; T]>` and `[MaybeUninit<O>; T]` have the same layout, and
    // neither needs initialization.
    let outputs = unsafe { &mut *outputs.as_mut_ptr().cast::<[MaybeUninit<C::Output>; T]>() };
    unroll_in_place(cell, inputs, state, constants, (direction, None), outputs);
    let last = if direction.aligned_to_time() {
        Some(0)
    } else {
        T.checked_sub(1)
    };
    if let Some(last) = last.and_then(|k| outputs.get(k)) {
        // SAFETY: `unroll_in_place` initialized every output.
        *carried = Some(unsafe { last.assume_init_ref() }.clone());
    }
}

/// The static unroll's loop: runs `T` steps in `direction`, updating `state` in place and
/// writing each output once into `outputs`. On return every element of `outputs` is
/// initialized.
///
/// Results go straight into storage the caller owns, never through a return value: a
/// `[Output; T]` returned through the call into the vectorized copy (which the compiler
/// cannot inline) was copied out and back, three to four times the result's size on the
/// stack.
///
/// Backward directions read the last input first and write each output in processing order
/// ([`Direction::GoBackwards`]) or at the time of the input it read ([`Direction::Reversed`]).
/// A reset belongs to the timestep it flags, in any direction, as in the masked loop.
#[inline(always)]
fn unroll_in_place<C: Cell, const T: usize>(
    cell: &C,
    inputs: &[C::Input; T],
    state: &mut C::State,
    constants: &C::Constants,
    (direction, reset): Reading<'_, '_, C::State>,
    outputs: &mut [MaybeUninit<C::Output>; T],
) {
    crate::kernels::dispatch::vectorized(
        #[inline(always)]
        || {
            // One loop with one call of `step`, not a loop per direction: the compiler
            // inlines a large step at a single call site only, and a step left out of line
            // costs a call, and its output a trip through the stack, at every timestep
            // (LSTM H = 32 measured 15% slower that way than the dynamic loop, which has
            // one). A plain loop rather than `array::from_fn(|t| step)` for the same reason.
            // `write` is `k` or `T - 1 - k`: a bijection of `0..T`, so every output is
            // written exactly once. Whole chunks of steps go through `step_chunk` (the same
            // bits as its steps), the rest one by one.
            let place = |k: usize| match direction {
                Direction::Forward => (k, k),
                Direction::GoBackwards => (T - 1 - k, k),
                Direction::Reversed => (T - 1 - k, T - 1 - k),
            };
            let chunked = cell.runs_in_chunks();
            let mut k = 0;
            while k < T {
                if let Some(reads) = chunk_at(chunked, T, k, reset, |k| (place(k).0, true)) {
                    ResetTo::before(reset, reads[0], state);
                    let ys = cell.step_chunk(gather(inputs, &reads), state, constants);
                    for (i, y) in ys.into_iter().enumerate() {
                        outputs[place(k + i).1].write(y);
                    }
                    k += CHUNK;
                    continue;
                }
                let (read, write) = place(k);
                ResetTo::before(reset, read, state);
                outputs[write].write(cell.step(&inputs[read], state, constants));
                k += 1;
            }
        },
    )
}

/// Consecutive steps of one sequence the drivers run as one [`Cell::step_chunk`]; the steps
/// left over (fewer than a chunk, or broken by a mask or a reset) run one by one.
pub(crate) const CHUNK: usize = 8;

/// The timesteps that processing steps `k..k + CHUNK` of `steps` read, when they can run as
/// one chunk: the cell runs in chunks (`chunked`), all of them exist,
/// `schedule(k) = (timestep, valid)` says each is valid, and none but the first is flagged to
/// reset (a reset at the first is applied before the chunk).
#[inline(always)]
pub(crate) fn chunk_at<S: Clone>(
    chunked: bool,
    steps: usize,
    k: usize,
    reset: Option<&ResetTo<'_, S>>,
    schedule: impl Fn(usize) -> (usize, bool),
) -> Option<[usize; CHUNK]> {
    if !chunked || steps.saturating_sub(k) < CHUNK {
        return None;
    }
    let mut reads = [0; CHUNK];
    for (i, read) in reads.iter_mut().enumerate() {
        let (t, valid) = schedule(k + i);
        if !valid || (i > 0 && ResetTo::at(reset, t)) {
            return None;
        }
        *read = t;
    }
    Some(reads)
}

/// Runs `cell` forward over every input of `inputs` from `state`, pushing the outputs onto
/// `outputs`: whole chunks through [`Cell::step_chunk`], the last few steps one by one. Call
/// it inside [`vectorized`](crate::vectorized), as the drivers do.
#[cfg(feature = "alloc")]
#[inline(always)]
pub(crate) fn push_forward<C: Cell, X: Borrow<C::Input>>(
    cell: &C,
    inputs: impl Iterator<Item = X>,
    state: &mut C::State,
    constants: &C::Constants,
    outputs: &mut alloc::vec::Vec<C::Output>,
) {
    if !cell.runs_in_chunks() {
        for x in inputs {
            outputs.push(cell.step(x.borrow(), state, constants));
        }
        return;
    }
    // Plain loops rather than `array::map` and `from_fn`: their closures, left out of line,
    // cost a call and a stalled reload per chunk.
    let mut inputs = inputs.peekable();
    let mut chunk: [Option<X>; CHUNK] = [const { None }; CHUNK];
    while inputs.peek().is_some() {
        let mut n = 0;
        for slot in chunk.iter_mut() {
            *slot = inputs.next();
            if slot.is_none() {
                break;
            }
            n += 1;
        }
        let Some(first) = chunk[0].as_ref() else {
            return;
        };
        if n < CHUNK {
            for x in chunk[..n].iter().flatten() {
                outputs.push(cell.step(x.borrow(), state, constants));
            }
            return;
        }
        let mut xs: [&C::Input; CHUNK] = [first.borrow(); CHUNK];
        for (x, slot) in xs.iter_mut().zip(&chunk) {
            if let Some(slot) = slot {
                *x = slot.borrow();
            }
        }
        outputs.extend(cell.step_chunk(xs, state, constants));
    }
}

/// `[&inputs[reads[0]], …]`, by a plain loop (see [`push_forward`]).
#[inline(always)]
pub(crate) fn gather<'a, I, X: Borrow<I>>(
    inputs: &'a [X],
    reads: &[usize; CHUNK],
) -> [&'a I; CHUNK] {
    let mut xs = [inputs[reads[0]].borrow(); CHUNK];
    for (x, &t) in xs.iter_mut().zip(reads) {
        *x = inputs[t].borrow();
    }
    xs
}

/// Runs `cell` over every input of `inputs` (a slice, a `Vec`, any iterator; empty is fine),
/// starting from `state`. Returns every output, in time order, and the final state.
#[cfg(feature = "alloc")]
pub fn dynamic_unroll<C: Cell, X: StepInput<C::Input>>(
    cell: &C,
    inputs: impl IntoIterator<Item = X>,
    state: C::State,
    constants: &impl ConstantsOf<C::Constants>,
) -> (crate::Sequence<C::Output>, C::State) {
    let constants: &C::Constants = constants.borrow();
    let inputs = inputs.into_iter();
    let mut outputs = alloc::vec::Vec::with_capacity(inputs.size_hint().0);
    let mut state = crate::kernels::CacheAligned(state);
    crate::kernels::dispatch::vectorized(
        #[inline(always)]
        || push_forward(cell, inputs, &mut state.0, constants, &mut outputs),
    );
    (crate::Sequence::from(outputs), state.0)
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
    crate::kernels::dispatch::vectorized(
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
    //! The in-place construction of a static unroll's result, small enough for Miri
    //! (`cargo +nightly miri test -p rnn-core --lib unroll`): every direction, both result
    //! shapes, a stateful chunk, and `T = 0`, against the dynamic loop.
    use super::*;
    use crate::Rnn;
    use nalgebra::SVector;

    /// `s' = s + x`, `y = (10 s', s')`: an output with two leaves and a state the outputs
    /// do not repeat, so a field written to the wrong place shows.
    #[derive(Clone)]
    struct Accumulate;

    impl Cell for Accumulate {
        type Input = SVector<f32, 2>;
        type State = SVector<f32, 2>;
        type Constants = ();
        type Output = (SVector<f32, 2>, f32);

        fn step(&self, x: &Self::Input, s: &mut Self::State, _: &()) -> Self::Output {
            *s += x;
            (*s * 10.0, s.sum())
        }
    }

    const XS: [SVector<f32, 2>; 3] = [
        SVector::from_array_storage(nalgebra::ArrayStorage([[1.0, 2.0]])),
        SVector::from_array_storage(nalgebra::ArrayStorage([[3.0, 4.0]])),
        SVector::from_array_storage(nalgebra::ArrayStorage([[5.0, 6.0]])),
    ];

    #[test]
    fn every_direction_builds_what_the_dynamic_loop_computes() {
        for direction in [
            Direction::Forward,
            Direction::GoBackwards,
            Direction::Reversed,
        ] {
            let rnn = Rnn::new(Accumulate).direction(direction);
            let run = rnn.run(XS, &());
            let fixed = rnn.unroll(&XS, &());
            assert_eq!(fixed.outputs.as_slice(), &run.outputs[..], "{direction:?}");
            assert_eq!(fixed.state, run.state, "{direction:?}");

            let mut stream = rnn.clone().stateful(());
            assert_eq!(stream.feed_array(&XS), fixed.outputs, "{direction:?}");
            assert_eq!(*stream.state(), run.state, "{direction:?}");
            assert_eq!(stream.feed_array(&[]), [], "{direction:?}");
            assert_eq!(*stream.state(), run.state, "{direction:?}");
        }
        let (ys, s) = static_unroll(&Accumulate, &XS, SVector::zeros(), &());
        assert_eq!(ys[2], (SVector::from([90.0, 120.0]), 21.0));
        assert_eq!(s, SVector::from([9.0, 12.0]));
        let empty: ([(SVector<f32, 2>, f32); 0], _) =
            static_unroll(&Accumulate, &[], SVector::from([1.0, 1.0]), &());
        assert_eq!(empty.1, SVector::from([1.0, 1.0]));
    }
}
