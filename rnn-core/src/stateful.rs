//! Streaming: a cell whose state persists between calls (Keras's `stateful=True`).

use core::borrow::Borrow;

use crate::cell::Cell;

/// A cell with its state and constants, fed one step or one chunk at a time.
///
/// Feeding two chunks one after the other gives the outputs and state of one run over their
/// concatenation. [`reset`](Stateful::reset) returns to the initial state (Keras's
/// `reset_states()`: the given initial state, else zeros).
///
/// ```
/// use rnn_core::{cell, Rnn};
/// use nalgebra::SVector;
///
/// #[cell(crate = rnn_core)]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let mut stream = Rnn::new(Accumulate).stateful(());
/// stream.feed(&[SVector::from([1.0])]);
/// let ys = stream.feed(&[SVector::from([2.0])]);
/// assert_eq!(ys[0][0], 30.0);
/// stream.reset();
/// assert_eq!(stream.state()[0], 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct Stateful<C: Cell> {
    cell: C,
    constants: C::Constants,
    initial: C::State,
    state: C::State,
}

impl<C: Cell> Stateful<C> {
    /// Starts from the cell's initial state.
    pub fn new(cell: C, constants: C::Constants) -> Self {
        let initial = cell.initial_state(&constants);
        Stateful {
            state: initial.clone(),
            initial,
            cell,
            constants,
        }
    }

    /// Starts from `initial` instead; [`reset`](Stateful::reset) returns to it.
    pub fn with_initial_state(mut self, initial: C::State) -> Self {
        self.state = initial.clone();
        self.initial = initial;
        self
    }

    /// Runs one step.
    #[inline]
    pub fn step(&mut self, input: &C::Input) -> C::Output {
        self.cell.step(input, &mut self.state, &self.constants)
    }

    /// Runs a chunk of steps and returns their outputs.
    #[cfg(feature = "alloc")]
    pub fn feed<X: Borrow<C::Input>>(
        &mut self,
        inputs: impl IntoIterator<Item = X>,
    ) -> crate::Sequence<C::Output> {
        inputs.into_iter().map(|x| self.step(x.borrow())).collect()
    }

    /// Runs a chunk of exactly `T` steps with no heap allocation.
    pub fn feed_array<const T: usize>(&mut self, inputs: &[C::Input; T]) -> [C::Output; T] {
        core::array::from_fn(|t| self.step(&inputs[t]))
    }

    /// Returns to the initial state.
    pub fn reset(&mut self) {
        self.state.clone_from(&self.initial);
    }

    /// The current state.
    pub fn state(&self) -> &C::State {
        &self.state
    }

    /// Replaces the current state (the initial state [`reset`](Stateful::reset) returns to
    /// is unchanged).
    pub fn set_state(&mut self, state: C::State) {
        self.state = state;
    }

    /// The cell.
    pub fn cell(&self) -> &C {
        &self.cell
    }
}
