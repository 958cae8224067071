//! The static unroll's backward: `T` steps known at compile time, their residuals in an array
//! (no heap), the backward walking it last step first.

use super::differentiable::{add_parameters, zeros_like, Differentiable};
use super::sequence::Dropping;
use crate::drivers::constants::ConstantsOf;
use crate::drivers::dropout::DropoutMasks;
use crate::drivers::reset::ResetTo;
use crate::error::ShapeError;
use crate::nested::{ops::Add, Nested};
use crate::{Direction, Resets, Rnn, Unrolled};

/// What [`Rnn::unroll_taped`] records for [`Rnn::backward_unrolled`]: the `T` steps'
/// residuals in processing order, the direction they were read in, the timesteps that reset
/// the state first, and the dropout masks.
///
/// Keep one and pass it to every run: like [`Tape`](super::Tape), it counts the runs with
/// dropout, each drawing its own masks.
#[derive(Clone, Debug)]
pub struct UnrolledTape<R, const T: usize> {
    /// `None` until a run is recorded.
    residuals: Option<[R; T]>,
    direction: Direction,
    /// The run's reset flags, in time order.
    resets: [bool; T],
    dropout: Option<DropoutMasks>,
    draws: u64,
}

impl<R, const T: usize> UnrolledTape<R, T> {
    /// A tape that has recorded no run.
    pub const fn new() -> Self {
        UnrolledTape {
            residuals: None,
            direction: Direction::Forward,
            resets: [false; T],
            dropout: None,
            draws: 0,
        }
    }
}

impl<R, const T: usize> Default for UnrolledTape<R, T> {
    fn default() -> Self {
        UnrolledTape::new()
    }
}

/// What [`Rnn::backward_unrolled`] returns: the gradient of the loss with respect to
/// everything the unrolled run read.
#[derive(Clone, Debug, PartialEq)]
pub struct UnrolledGradients<C: crate::Cell, const T: usize> {
    /// The parameters' gradients, shaped like the cell.
    pub parameters: C,
    /// The adjoint of each input, in time order.
    pub inputs: [C::Input; T],
    /// The adjoint of the initial state. It includes
    /// [`reset_state`](UnrolledGradients::reset_state), since the resets return to it.
    pub initial_state: C::State,
    /// The adjoint of the state the run's resets returned to (the initial state), summed over
    /// the steps that reset: zeros without resets (as [`Gradients::reset_state`]).
    ///
    /// [`Gradients::reset_state`]: super::Gradients::reset_state
    pub reset_state: C::State,
    /// The adjoint of the constants.
    pub constants: C::Constants,
}

/// Training through the static unroll.
impl<C: Differentiable + Clone> Rnn<C> {
    /// [`unroll_from`](Rnn::unroll_from) (the same outputs and state, bit for bit), recording
    /// in `tape` what [`backward_unrolled`](Rnn::backward_unrolled) needs: `T` residuals in
    /// an array, so a run allocates nothing. With [`dropout`](Rnn::dropout), the masks are
    /// drawn as [`run_taped`](Rnn::run_taped) draws them.
    ///
    /// ```
    /// use rnn::cells::LstmCell;
    /// use rnn::train::UnrolledTape;
    /// use rnn::{Cell, Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// let rnn = Rnn::new(LstmCell::<2, 3, f64>::keras_init(5));
    /// let xs = [[1.0, 0.5], [0.0, -1.0], [0.25, 0.0]].map(SVector::from);
    /// let s0 = rnn.cell().initial_state(&());
    /// let mut tape = UnrolledTape::new();
    /// let run = rnn.unroll_taped(&xs, s0.clone(), &(), &mut tape);
    /// assert_eq!(run, rnn.unroll_from(&xs, s0.clone(), &()));
    ///
    /// // The same gradients as the dynamic loop's.
    /// let d_outputs = [SVector::repeat(1.0); 3];
    /// let d_state = rnn.cell().initial_state(&());
    /// let grads = rnn.backward_unrolled(&tape, &xs, &d_outputs, d_state.clone(), &()).unwrap();
    /// let mut dynamic = rnn::train::Tape::new();
    /// rnn.run_taped(&xs, Mask::All, s0.clone(), &(), &mut dynamic).unwrap();
    /// let loop_grads = rnn.backward(&dynamic, &xs, &d_outputs, d_state, &()).unwrap();
    /// assert_eq!(grads.inputs.to_vec(), loop_grads.inputs);
    /// assert_eq!(grads.parameters, loop_grads.parameters);
    /// ```
    pub fn unroll_taped<const T: usize>(
        &self,
        inputs: &[C::Input; T],
        initial_state: C::State,
        constants: &impl ConstantsOf<C::Constants>,
        tape: &mut UnrolledTape<C::Residual, T>,
    ) -> Unrolled<C::Output, C::State, T> {
        self.unroll_taped_with_resets(inputs, &[false; T], initial_state, constants, tape)
    }

    /// [`unroll_with_resets`](Rnn::unroll_with_resets) (the same outputs and state, bit for
    /// bit), recording in `tape` what [`backward_unrolled`](Rnn::backward_unrolled) needs, the
    /// resets included: as after [`run_taped_with_resets`](Rnn::run_taped_with_resets), the
    /// backward stops the state's adjoint at each reset step and adds it into the initial
    /// state's, and the gradients are the dynamic loop's bits.
    ///
    /// ```
    /// use rnn::cells::GruCell;
    /// use rnn::train::{Tape, UnrolledTape};
    /// use rnn::{Cell, Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// let rnn = Rnn::new(GruCell::<2, 3, f64>::keras_init(5));
    /// let xs = [[1.0, 0.5], [0.0, -1.0], [0.25, 0.0]].map(SVector::from);
    /// let resets = [false, true, false];
    /// let s0 = rnn.cell().initial_state(&());
    /// let mut tape = UnrolledTape::new();
    /// let run = rnn.unroll_taped_with_resets(&xs, &resets, s0, &(), &mut tape);
    /// assert_eq!(run, rnn.unroll_with_resets(&xs, &resets, s0, &()));
    ///
    /// let d_outputs = [SVector::repeat(1.0); 3];
    /// let grads = rnn.backward_unrolled(&tape, &xs, &d_outputs, s0, &()).unwrap();
    /// let mut dynamic = Tape::new();
    /// rnn.run_taped_with_resets(&xs, Mask::All, &resets, s0, &(), &mut dynamic).unwrap();
    /// let loop_grads = rnn.backward(&dynamic, &xs, &d_outputs, s0, &()).unwrap();
    /// assert_eq!(grads.parameters, loop_grads.parameters);
    /// assert_eq!(grads.initial_state, loop_grads.initial_state);
    /// assert_eq!(grads.reset_state, loop_grads.reset_state);
    /// ```
    pub fn unroll_taped_with_resets<const T: usize>(
        &self,
        inputs: &[C::Input; T],
        resets: &[bool; T],
        initial_state: C::State,
        constants: &impl ConstantsOf<C::Constants>,
        tape: &mut UnrolledTape<C::Residual, T>,
    ) -> Unrolled<C::Output, C::State, T> {
        let constants: &C::Constants = constants.borrow();
        let masks = self.dropout.is_active().then(|| {
            tape.draws += 1;
            self.dropout.masks(tape.draws - 1, 0)
        });
        let Dropping {
            copy,
            in_step,
            taped,
        } = Dropping::of(self.cell(), masks);
        tape.dropout = taped;
        tape.direction = self.direction;
        tape.resets = *resets;
        let cell = copy.as_ref().unwrap_or(self.cell());
        let direction = self.direction;
        let reset = ResetTo::new(Resets::Steps(resets), &initial_state);
        let mut state = initial_state;
        let (outputs, residuals) = crate::vectorized(
            #[inline(always)]
            || {
                let steps = core::array::from_fn::<_, T, _>(|k| {
                    let time = read(direction, T, k);
                    ResetTo::before(reset.as_ref(), time, &mut state);
                    let input = &inputs[time];
                    cell.step_forward_with_dropout(input, &mut state, constants, in_step.as_ref())
                });
                // The residuals stay in processing order; the outputs sit where the
                // direction puts them.
                let mut outputs = steps.each_ref().map(|(output, _)| output.clone());
                if direction.aligned_to_time() {
                    outputs.reverse();
                }
                let residuals = steps.map(|(_, residual)| residual);
                (outputs, residuals)
            },
        );
        tape.residuals = Some(residuals);
        Unrolled { outputs, state }
    }

    /// The backward of an [`unroll_taped`](Rnn::unroll_taped) run: given its `tape`, the same
    /// `inputs` and `constants`, the adjoint of every output (in time order, as the run
    /// returned them) and of the final state, the gradients of the parameters, inputs,
    /// initial state and constants. An error when `tape` recorded no run.
    pub fn backward_unrolled<const T: usize>(
        &self,
        tape: &UnrolledTape<C::Residual, T>,
        inputs: &[C::Input; T],
        d_outputs: &[C::Output; T],
        d_final_state: C::State,
        constants: &impl ConstantsOf<C::Constants>,
    ) -> Result<UnrolledGradients<C, T>, ShapeError> {
        let constants: &C::Constants = constants.borrow();
        let Some(residuals) = &tape.residuals else {
            return Err(ShapeError::check_steps("recorded steps", T, 0).unwrap_err());
        };
        let cell = self.cell();
        let mut gradients = UnrolledGradients {
            parameters: zeros_like(cell),
            inputs: core::array::from_fn(|_| C::Input::zeros()),
            initial_state: d_final_state,
            reset_state: C::State::zeros(),
            constants: C::Constants::zeros(),
        };
        // With dropout, the run was the masked copy's: its gradient, masked again, is the
        // cell's (`W' = M ⊙ W`, so `dW = M ⊙ dW'`).
        let copy = tape
            .dropout
            .and_then(|masks| Some((cell.with_dropout(&masks)?, masks)));
        let stepped = copy.as_ref().map_or(cell, |(copy, _)| copy);
        let direction = tape.direction;
        let UnrolledGradients {
            parameters,
            inputs: d_inputs,
            initial_state: d_state,
            reset_state: d_reset,
            constants: d_constants,
        } = &mut gradients;
        crate::vectorized(
            #[inline(always)]
            || {
                for (k, residual) in residuals.iter().enumerate().rev() {
                    let time = read(direction, T, k);
                    let at = if direction.aligned_to_time() { time } else { k };
                    d_inputs[time] = stepped.step_backward(
                        &inputs[time],
                        residual,
                        &d_outputs[at],
                        d_state,
                        constants,
                        d_constants,
                        parameters,
                    );
                    // The step read the reset state, not the one before it (as in
                    // `replay`): the state's adjoint goes there and stops.
                    if tape.resets[time] {
                        d_reset.zip_apply(d_state, &Add);
                        *d_state = C::State::zeros();
                    }
                }
            },
        );
        // Only with resets, as `backward` does: adding zeros would turn a `-0.0` into `0.0`.
        if tape.resets.contains(&true) {
            gradients
                .initial_state
                .zip_apply(&gradients.reset_state, &Add);
        }
        if let Some((_, masks)) = copy {
            if let Some(masked) = gradients.parameters.with_dropout(&masks) {
                // Added into zeros, as `replay` adds it: a dropped weight's gradient is then
                // `0.0`, not `-0.0`, and the two loops agree bit for bit.
                gradients.parameters = zeros_like(cell);
                add_parameters(
                    &mut gradients.parameters,
                    &masked,
                    &mut alloc::vec::Vec::new(),
                );
            }
        }
        Ok(gradients)
    }
}

/// The timestep the `k`-th of `steps` steps reads in `direction`.
fn read(direction: Direction, steps: usize, k: usize) -> usize {
    match direction {
        Direction::Forward => k,
        Direction::GoBackwards | Direction::Reversed => steps - 1 - k,
    }
}
