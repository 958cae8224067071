//! The state of every step (per-step LSTM `c_t`; keras#9351 and pytorch#8938 ask for it).

use crate::cell::Cell;
use crate::drivers::rnn::Rnn;
use crate::nested::ShapeOf;

/// A cell that also outputs its state after every step: `Output = (C::Output, C::State)`.
///
/// Because it is a cell like any other, every driver returns all states with it: dynamic and
/// static runs, masks, reverse, batches, bidirectional. At a masked step the state output
/// follows the padding policy like the output: carried (the state after the last valid step)
/// or zero.
///
/// ```
/// use rnn::{cell, Rnn};
/// use nalgebra::SVector;
///
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let xs = [1.0, 2.0, 3.0].map(|x| SVector::from([x]));
/// let run = Rnn::new(Accumulate).return_all_states().run(&xs, &());
/// let (outputs, states) = run.outputs.unzip();
/// assert_eq!(states.iter().map(|s| s[0]).collect::<Vec<_>>(), [1.0, 3.0, 6.0]);
/// assert_eq!(outputs[2][0], 60.0);
/// ```
#[derive(Clone, Debug, Default, crate::Parameters)]
#[parameters(crate = crate)]
pub struct AllStates<C>(#[parameters(flatten)] pub C);

impl<C: Cell> Cell for AllStates<C> {
    type Input = C::Input;
    type State = C::State;
    type Constants = C::Constants;
    type Output = (C::Output, C::State);

    #[inline(always)]
    fn step(
        &self,
        input: &Self::Input,
        state: &mut Self::State,
        constants: &Self::Constants,
    ) -> Self::Output {
        let y = self.0.step(input, state, constants);
        (y, state.clone())
    }

    fn initial_state(&self, constants: &Self::Constants) -> Self::State {
        self.0.initial_state(constants)
    }

    fn state_size(&self) -> ShapeOf<Self::State> {
        self.0.state_size()
    }
}

impl<C: Cell> Rnn<C> {
    /// Also output the state after every step (the cell becomes [`AllStates`]): outputs are
    /// `(output, state)` pairs; `run.outputs.unzip()` splits them. Keeps the configuration.
    pub fn return_all_states(self) -> Rnn<AllStates<C>> {
        let (padding, direction) = (self.padding, self.direction);
        Rnn::new(AllStates(self.into_cell()))
            .padding(padding)
            .direction(direction)
    }
}
