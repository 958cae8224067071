//! `SimpleRnnCell`'s backward: `h' = act(x·W + h·U + b)`.

use nalgebra::SVector;

use super::{
    activation_adjoint, add_kernel_gradient, backward_through_input_kernel, kernel_input_adjoint,
    mask_kernels,
};
use crate::cell::Cell;
use crate::cells::SimpleRnnCell;
use crate::drivers::dropout::DropoutMasks;
use crate::real::Real;
use crate::train::Differentiable;

/// What a [`SimpleRnnCell`] step keeps for its backward: the state before the step and the
/// output (the activation's derivative is taken from it).
#[derive(Clone, Debug, PartialEq)]
pub struct SimpleRnnResidual<const H: usize, T: Real = f32> {
    previous: SVector<T, H>,
    output: SVector<T, H>,
}

impl<const I: usize, const H: usize, T: Real> Differentiable for SimpleRnnCell<I, H, T> {
    type Residual = SimpleRnnResidual<H, T>;

    fn step_forward(
        &self,
        input: &SVector<T, I>,
        state: &mut SVector<T, H>,
        constants: &(),
    ) -> (SVector<T, H>, Self::Residual) {
        let previous = *state;
        let output = self.step(input, state, constants);
        (output, SimpleRnnResidual { previous, output })
    }

    backward_through_input_kernel!(SVector<T, H>);

    fn with_dropout(&self, masks: &DropoutMasks) -> Option<Self> {
        let mut cell = self.clone();
        mask_kernels((&mut cell.kernel, &mut cell.recurrent_kernel), masks);
        Some(cell)
    }
}

impl<const I: usize, const H: usize, T: Real> SimpleRnnCell<I, H, T> {
    /// The step's backward up to the adjoint of its input kernel's products (`dz`), which
    /// gives the input's adjoint when it is wanted.
    #[inline(always)]
    fn gates_backward(
        &self,
        input: &SVector<T, I>,
        residual: &<Self as Differentiable>::Residual,
        d_output: &SVector<T, H>,
        d_state: &mut SVector<T, H>,
        grads: &mut Self,
    ) -> [SVector<T, H>; 1] {
        // The output is the new state: both adjoints reach `h'`.
        let dz = [activation_adjoint(
            self.activation,
            &residual.output,
            &(d_output + *d_state),
        )];
        if let Some(bias) = &mut grads.bias {
            *bias += dz[0];
        }
        add_kernel_gradient(&mut grads.kernel, input, &dz);
        add_kernel_gradient(&mut grads.recurrent_kernel, &residual.previous, &dz);
        *d_state = kernel_input_adjoint(&self.recurrent_kernel, &dz);
        dz
    }
}
