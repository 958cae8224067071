//! The static unroll's backward: `T` steps known at compile time, their residuals in an array
//! (no heap), the backward walking it last step first.

use super::differentiable::{zeros_like, Differentiable};
use super::sequence::Dropping;
use crate::drivers::dropout::DropoutMasks;
use crate::error::ShapeError;
use crate::nested::Nested;
use crate::{Direction, Rnn, Unrolled};

/// What [`Rnn::unroll_taped`] records for [`Rnn::backward_unrolled`]: the `T` steps'
/// residuals in processing order, the direction they were read in, and the dropout masks.
///
/// Keep one and pass it to every run: like [`Tape`](super::Tape), it counts the runs with
/// dropout, each drawing its own masks.
#[derive(Clone, Debug)]
pub struct UnrolledTape<R, const T: usize> {
    /// `None` until a run is recorded.
    residuals: Option<[R; T]>,
    direction: Direction,
    dropout: Option<DropoutMasks>,
    draws: u64,
}

impl<R, const T: usize> UnrolledTape<R, T> {
    /// A tape that has recorded no run.
    pub const fn new() -> Self {
        UnrolledTape {
            residuals: None,
            direction: Direction::Forward,
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
    /// The adjoint of the initial state.
    pub initial_state: C::State,
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
        constants: &C::Constants,
        tape: &mut UnrolledTape<C::Residual, T>,
    ) -> Unrolled<C::Output, C::State, T> {
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
        let cell = copy.as_ref().unwrap_or(self.cell());
        let direction = self.direction;
        let mut state = initial_state;
        let (outputs, residuals) = crate::vectorized(
            #[inline(always)]
            || {
                let steps = core::array::from_fn::<_, T, _>(|k| {
                    let input = &inputs[read(direction, T, k)];
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
        constants: &C::Constants,
    ) -> Result<UnrolledGradients<C, T>, ShapeError> {
        let Some(residuals) = &tape.residuals else {
            return Err(ShapeError::check_steps("recorded steps", T, 0).unwrap_err());
        };
        let cell = self.cell();
        let mut gradients = UnrolledGradients {
            parameters: zeros_like(cell),
            inputs: core::array::from_fn(|_| C::Input::zeros()),
            initial_state: d_final_state,
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
                }
            },
        );
        if let Some((_, masks)) = copy {
            if let Some(masked) = gradients.parameters.with_dropout(&masks) {
                gradients.parameters = masked;
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
