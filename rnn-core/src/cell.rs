//! The cell contract: one step of a recurrence.

use crate::nested::{Nested, ShapeOf};

/// One step of a recurrent network: `(input, state, constants) -> output`, with the state
/// updated in place.
///
/// This is Keras's `cell.call(inputs, states, constants)` with the shapes in the types: the
/// four roles are the four values that cross a recurrence (tract's scan calls them scanned
/// input, state, full input and scanned output). A driver ([`Rnn`](crate::Rnn)) runs a cell
/// over a sequence; a masked step never calls `step`, it keeps the state as it is.
///
/// Write cells with [`#[cell]`](macro@crate::cell) rather than by hand: the macro derives this
/// impl from a plain step function, with generated structs for several inputs or states.
///
/// ```
/// use rnn::{Cell, Nested};
/// use nalgebra::SVector;
///
/// /// `s' = s + x`, `y = 10 s'`: the cell of DESIGN.md's test vectors.
/// struct Accumulate;
///
/// impl Cell for Accumulate {
///     type Input = SVector<f32, 1>;
///     type State = SVector<f32, 1>;
///     type Constants = ();
///     type Output = SVector<f32, 1>;
///
///     fn step(&self, x: &Self::Input, s: &mut Self::State, _: &()) -> Self::Output {
///         *s += x;
///         *s * 10.0
///     }
/// }
///
/// let mut s = Accumulate.initial_state(&());
/// let y = Accumulate.step(&SVector::from([2.0]), &mut s, &());
/// assert_eq!((y[0], s[0]), (20.0, 2.0));
/// assert_eq!(Accumulate.state_size().to_string(), "[1]");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a recurrent cell",
    label = "this is not a `Cell`",
    note = "write its step function with `#[cell]`, or implement `rnn::Cell` by hand"
)]
pub trait Cell {
    /// The value read at each timestep (Keras: `inputs` of one step).
    type Input: Nested;
    /// The value carried from step to step (Keras: `states`; LSTM's `[h, c]`).
    type State: Nested;
    /// Values read at every step but never changed (Keras: `constants`); `()` when none.
    type Constants: Nested;
    /// The value produced at each timestep; a tuple or struct for several outputs.
    type Output: Nested;

    /// Runs one timestep: reads `input` and `constants`, updates `state`, returns the output.
    ///
    /// The drivers ([`Rnn`](crate::Rnn), [`Stateful`](crate::Stateful), the unrolls) run the
    /// steps inside [`vectorized`](crate::vectorized); a loop of direct calls should too, or
    /// it computes the same bits more slowly.
    fn step(
        &self,
        input: &Self::Input,
        state: &mut Self::State,
        constants: &Self::Constants,
    ) -> Self::Output;

    /// Runs one timestep of `N` independent samples (a block of a batch): the same as `N`
    /// calls of [`step`](Cell::step), which is what this default does.
    ///
    /// A cell whose step is bound by reading big weights (a 4.9 MB kernel, say) overrides
    /// it so that the block shares each weight read, with
    /// [`Kernel::accumulate_block`](crate::weights::Kernel::accumulate_block); the result must
    /// equal the `N` steps (the kernels make it bit-identical).
    /// [`block_unroll`](crate::drivers::unroll::block_unroll) runs a block of sequences through it.
    #[inline(always)]
    fn step_block<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        states: &mut [Self::State; N],
        constants: [&Self::Constants; N],
    ) -> [Self::Output; N]
    where
        Self: Sized,
    {
        let mut states = states.iter_mut();
        core::array::from_fn(|n| {
            let state = states.next().expect("N states");
            self.step(inputs[n], state, constants[n])
        })
    }

    /// Runs `N` consecutive timesteps of one sequence (a chunk of its time axis): the same
    /// as `N` calls of [`step`](Cell::step) in order, threading `state` from one to the
    /// next, which is what this default does. Not to be confused with
    /// [`step_block`](Cell::step_block), which runs one timestep of `N` sequences.
    ///
    /// A cell whose input product does not depend on the state overrides it to compute the
    /// chunk's input products first, each weight of the input kernel read once for the
    /// chunk rather than once per step; the result must equal the `N` steps bit for bit (the
    /// kernels sum in the same order, so it does). The forward drivers ([`Rnn::run`],
    /// [`Rnn::unroll`], [`Stateful`]) run the steps of a sequence through it.
    ///
    /// [`Rnn::run`]: crate::Rnn::run
    /// [`Rnn::unroll`]: crate::Rnn::unroll
    /// [`Stateful`]: crate::Stateful
    #[inline(always)]
    fn step_chunk<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        state: &mut Self::State,
        constants: &Self::Constants,
    ) -> [Self::Output; N]
    where
        Self: Sized,
    {
        // A plain loop, not `array::from_fn(|n| step)`: a closure holding the whole step may be
        // left out of line, hence out of the driver's vectorized copy (a profile of the custom
        // cell of the benchmarks showed it so).
        let mut outputs: [Self::Output; N] = [(); N].map(|()| Nested::zeros());
        for (output, input) in outputs.iter_mut().zip(inputs) {
            *output = self.step(input, state, constants);
        }
        outputs
    }

    /// Whether the drivers run this cell's steps through [`step_chunk`](Cell::step_chunk)
    /// (chunks of consecutive valid steps) rather than one [`step`](Cell::step) at a time.
    ///
    /// `false` by default: a chunk of plain steps gains nothing and costs gathering its
    /// inputs. A cell that overrides `step_chunk` to share work between the steps returns
    /// `true` where that pays (the built-in cells, all but the smallest).
    #[inline(always)]
    fn runs_in_chunks(&self) -> bool {
        false
    }

    /// The state a sequence starts from when none is given. Zeros, as in Keras and PyTorch;
    /// a cell may override it (a learned initial state, or one computed from the constants).
    fn initial_state(&self, constants: &Self::Constants) -> Self::State {
        let _ = constants;
        Self::State::zeros()
    }

    /// A built-in cell's batched kernel, which [`Rnn::run_batch`](crate::Rnn::run_batch) runs
    /// instead of a loop per sequence when the batch's masks allow: calls `run` with it and
    /// returns `true`, or returns `false` (this default: every other cell).
    #[doc(hidden)]
    #[cfg(feature = "std")]
    fn batched_kernel(&self, run: &mut dyn FnMut(&mut dyn crate::fused::BatchedKernel)) -> bool {
        let _ = run;
        false
    }

    /// The state's shape, as Keras's `cell.state_size`.
    fn state_size(&self) -> ShapeOf<Self::State> {
        ShapeOf::new()
    }

    /// The output's shape, as Keras's `cell.output_size`.
    fn output_size(&self) -> ShapeOf<Self::Output> {
        ShapeOf::new()
    }
}

impl<C: Cell> Cell for &C {
    type Input = C::Input;
    type State = C::State;
    type Constants = C::Constants;
    type Output = C::Output;

    #[inline(always)]
    fn step(
        &self,
        input: &Self::Input,
        state: &mut Self::State,
        constants: &Self::Constants,
    ) -> Self::Output {
        (**self).step(input, state, constants)
    }

    #[inline(always)]
    fn step_block<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        states: &mut [Self::State; N],
        constants: [&Self::Constants; N],
    ) -> [Self::Output; N] {
        (**self).step_block(inputs, states, constants)
    }

    #[inline(always)]
    fn step_chunk<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        state: &mut Self::State,
        constants: &Self::Constants,
    ) -> [Self::Output; N] {
        (**self).step_chunk(inputs, state, constants)
    }

    #[inline(always)]
    fn runs_in_chunks(&self) -> bool {
        (**self).runs_in_chunks()
    }

    fn initial_state(&self, constants: &Self::Constants) -> Self::State {
        (**self).initial_state(constants)
    }

    #[cfg(feature = "std")]
    fn batched_kernel(&self, run: &mut dyn FnMut(&mut dyn crate::fused::BatchedKernel)) -> bool {
        (**self).batched_kernel(run)
    }
}
