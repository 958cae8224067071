//! [`Rnn`]: a cell wrapped to run over sequences (Keras's `keras.layers.RNN(cell)`).

use crate::cell::Cell;
use crate::mask::Padding;
use crate::reverse::Direction;
use crate::unroll::unrolled;

/// A cell ready to run over sequences: Keras's `RNN(cell)`, PyTorch's `nn.RNN` loop.
///
/// [`run`](Rnn::run) loops over a sequence of any length; [`unroll`](Rnn::unroll) runs a
/// const-generic number of steps with no heap; [`stateful`](Rnn::stateful) keeps the state
/// between chunks. All three compute the same bits.
///
/// Configuration, as Keras's layer arguments: [`padding`](Rnn::padding) (what a masked step
/// outputs), [`go_backwards`](Rnn::go_backwards) / [`direction`](Rnn::direction); masked runs
/// are [`run_masked`](Rnn::run_masked), batches [`run_batch`](Rnn::run_batch).
///
/// ```
/// use rnn::{cell, Rnn};
/// use nalgebra::SVector;
///
/// /// `s' = s + x`, `y = 10 s'`.
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let rnn = Rnn::new(Accumulate);
/// let xs = [SVector::from([1.0]), SVector::from([2.0])];
/// let run = rnn.run(&xs, &());
/// assert_eq!(run.outputs[1][0], 30.0);
/// assert_eq!(run.state[0], 3.0);
/// let fixed = rnn.unroll(&xs, &());
/// assert_eq!(fixed.outputs[1], run.outputs[1]);
/// ```
#[derive(Clone, Debug, Default, crate::Parameters)]
#[parameters(crate = crate)]
pub struct Rnn<C> {
    #[parameters(flatten)]
    cell: C,
    #[parameters(skip)]
    pub(crate) padding: Padding,
    #[parameters(skip)]
    pub(crate) direction: Direction,
}

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

impl<C: Cell> Rnn<C> {
    /// Wraps `cell`.
    pub fn new(cell: C) -> Self {
        Rnn {
            cell,
            padding: Padding::default(),
            direction: Direction::default(),
        }
    }

    /// What a masked step outputs (default: [`Padding::CarryLastOutput`], Keras's).
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// Keras's `go_backwards`: read the sequence last step first, outputs in processing order.
    /// `false` returns to [`Direction::Forward`].
    pub fn go_backwards(self, go_backwards: bool) -> Self {
        self.direction(if go_backwards {
            Direction::GoBackwards
        } else {
            Direction::Forward
        })
    }

    /// The order in which steps are read and outputs laid out (default: forward).
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// The wrapped cell.
    pub fn cell(&self) -> &C {
        &self.cell
    }

    /// Unwraps the cell.
    pub fn into_cell(self) -> C {
        self.cell
    }

    /// Runs over `inputs` (any length, including zero) from the cell's initial state, in the
    /// configured [`direction`](Rnn::direction). Forward, this is [`dynamic_unroll`](crate::dynamic_unroll).
    #[cfg(feature = "alloc")]
    pub fn run<X: crate::StepInput<C::Input>>(
        &self,
        inputs: impl IntoIterator<Item = X>,
        constants: &C::Constants,
    ) -> crate::Run<C::Output, C::State> {
        self.run_from(inputs, self.cell.initial_state(constants), constants)
    }

    /// Runs over `inputs` from `initial_state` (Keras's `initial_state=`).
    #[cfg(feature = "alloc")]
    pub fn run_from<X: crate::StepInput<C::Input>>(
        &self,
        inputs: impl IntoIterator<Item = X>,
        initial_state: C::State,
        constants: &C::Constants,
    ) -> crate::Run<C::Output, C::State> {
        if self.direction == Direction::Forward {
            let (outputs, state) =
                crate::unroll::dynamic_unroll(&self.cell, inputs, initial_state, constants);
            return crate::Run { outputs, state };
        }
        // Reading backwards needs the whole sequence: gather it once (not per step).
        let inputs: alloc::vec::Vec<X> = inputs.into_iter().collect();
        self.run_checked(&inputs, crate::Mask::All, initial_state, constants)
    }

    /// Runs exactly `T` steps from the cell's initial state, with no heap allocation, in the
    /// configured [`direction`](Rnn::direction).
    ///
    /// The result lives on the caller's stack: an optimized build needs about
    /// `size_of::<Unrolled<..>>()` of it in every direction (the outputs are written once,
    /// where they are returned); an unoptimized build copies the result a few times. A thread
    /// spawned by `std` has 2 MiB of stack by default, so a result of more than about 1 MiB
    /// (say 4,096 steps of 64 `f32` units) belongs in [`run`](Rnn::run), which keeps the
    /// outputs on the heap.
    pub fn unroll<const T: usize>(
        &self,
        inputs: &[C::Input; T],
        constants: &C::Constants,
    ) -> Unrolled<C::Output, C::State, T> {
        self.unroll_from(inputs, self.cell.initial_state(constants), constants)
    }

    /// Runs exactly `T` steps from `initial_state`, with no heap allocation.
    pub fn unroll_from<const T: usize>(
        &self,
        inputs: &[C::Input; T],
        initial_state: C::State,
        constants: &C::Constants,
    ) -> Unrolled<C::Output, C::State, T> {
        unrolled(&self.cell, inputs, initial_state, constants, self.direction)
    }

    /// A stepper that keeps its state between calls (Keras's `stateful=True`), starting
    /// from the cell's initial state.
    ///
    /// The stepper keeps this `Rnn`'s padding policy and direction for
    /// [`feed_masked`](crate::Stateful::feed_masked).
    pub fn stateful(self, constants: C::Constants) -> crate::Stateful<C> {
        let (padding, direction) = (self.padding, self.direction);
        crate::Stateful::new(self.cell, constants).configured(padding, direction)
    }
}
