//! `TimeDistributed`'s backward: the wrapped layer's, step by step.

use crate::train::Differentiable;
use crate::wrappers::time_distributed::{Stateless, TimeDistributed};

/// A layer that trains trains when wrapped: each step keeps the layer's residual, and its
/// backward is the layer's (a layer without state passes no adjoint from step to step).
impl<L: Stateless + Differentiable> Differentiable for TimeDistributed<L> {
    type Residual = L::Residual;

    fn step_forward(
        &self,
        input: &L::Input,
        state: &mut (),
        constants: &L::Constants,
    ) -> (L::Output, L::Residual) {
        self.0.step_forward(input, state, constants)
    }

    fn step_backward(
        &self,
        input: &L::Input,
        residual: &L::Residual,
        d_output: &L::Output,
        d_state: &mut (),
        constants: &L::Constants,
        d_constants: &mut L::Constants,
        grads: &mut Self,
    ) -> L::Input {
        self.0.step_backward(
            input,
            residual,
            d_output,
            d_state,
            constants,
            d_constants,
            &mut grads.0,
        )
    }

    fn step_backward_without_input(
        &self,
        input: &L::Input,
        residual: &L::Residual,
        d_output: &L::Output,
        d_state: &mut (),
        constants: &L::Constants,
        d_constants: &mut L::Constants,
        grads: &mut Self,
    ) {
        self.0.step_backward_without_input(
            input,
            residual,
            d_output,
            d_state,
            constants,
            d_constants,
            &mut grads.0,
        );
    }
}
