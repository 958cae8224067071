//! `Dense`'s backward: `y = act(x·W + b)`, a stateless step.

use nalgebra::SVector;

use super::{activation_adjoint, add_kernel_gradient, kernel_input_adjoint};
use crate::cell::Cell;
use crate::cells::Dense;
use crate::real::Real;
use crate::train::Differentiable;

/// What a [`Dense`] step keeps for its backward: its output (the activation's derivative is
/// taken from it).
#[derive(Clone, Debug, PartialEq)]
pub struct DenseResidual<const U: usize, T: Real = f32> {
    output: SVector<T, U>,
}

impl<const I: usize, const U: usize, T: Real> Differentiable for Dense<I, U, T> {
    type Residual = DenseResidual<U, T>;

    fn step_forward(
        &self,
        input: &SVector<T, I>,
        state: &mut (),
        constants: &(),
    ) -> (SVector<T, U>, Self::Residual) {
        let output = self.step(input, state, constants);
        (output, DenseResidual { output })
    }

    fn step_backward(
        &self,
        input: &SVector<T, I>,
        residual: &Self::Residual,
        d_output: &SVector<T, U>,
        _: &mut (),
        _: &(),
        _: &mut (),
        grads: &mut Self,
    ) -> SVector<T, I> {
        let dz = self.gates_backward(input, residual, d_output, grads);
        kernel_input_adjoint(&self.kernel, &dz)
    }

    fn step_backward_without_input(
        &self,
        input: &SVector<T, I>,
        residual: &Self::Residual,
        d_output: &SVector<T, U>,
        _: &mut (),
        _: &(),
        _: &mut (),
        grads: &mut Self,
    ) {
        self.gates_backward(input, residual, d_output, grads);
    }
}

impl<const I: usize, const U: usize, T: Real> Dense<I, U, T> {
    /// The step's backward up to the adjoint of its products (`dz`), which gives the input's
    /// adjoint when it is wanted.
    #[inline(always)]
    fn gates_backward(
        &self,
        input: &SVector<T, I>,
        residual: &<Self as Differentiable>::Residual,
        d_output: &SVector<T, U>,
        grads: &mut Self,
    ) -> [SVector<T, U>; 1] {
        let dz = [activation_adjoint(
            self.activation,
            &residual.output,
            d_output,
        )];
        if let Some(bias) = &mut grads.bias {
            *bias += dz[0];
        }
        add_kernel_gradient(&mut grads.kernel, input, &dz);
        dz
    }
}
