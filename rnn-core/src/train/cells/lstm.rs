//! `LstmCell`'s backward: `c' = σ(f) ⊙ c + σ(i) ⊙ act(c̃)`, `h' = σ(o) ⊙ act(c')`.

use nalgebra::SVector;

use super::{
    activation_adjoint, add_bias_gradient, add_kernel_gradient, backward_through_input_kernel,
    kernel_input_adjoint, mask_kernels,
};
use crate::cells::{LstmCell, LstmGates, LstmState};
use crate::drivers::dropout::DropoutMasks;
use crate::real::Real;
use crate::train::Differentiable;

/// What an [`LstmCell`] step keeps for its backward: the state before the step, the four
/// gates after their activations and `act(c')` (`5H` values besides the state).
#[derive(Clone, Debug, PartialEq)]
pub struct LstmResidual<const H: usize, T: Real = f32> {
    previous: LstmState<H, T>,
    gates: LstmGates<T, H>,
}

impl<const I: usize, const H: usize, T: Real> Differentiable for LstmCell<I, H, T> {
    type Residual = LstmResidual<H, T>;

    fn step_forward(
        &self,
        input: &SVector<T, I>,
        state: &mut LstmState<H, T>,
        _: &(),
    ) -> (SVector<T, H>, Self::Residual) {
        let previous = state.clone();
        let gates = crate::with_rounding!(R, lanes = H => self.step_gates_with::<R>(input, &mut state.h, &mut state.c));
        (state.h, LstmResidual { previous, gates })
    }

    backward_through_input_kernel!(LstmState<H, T>);

    fn with_dropout(&self, masks: &DropoutMasks) -> Option<Self> {
        let mut cell = self.clone();
        mask_kernels((&mut cell.kernel, &mut cell.recurrent_kernel), masks);
        Some(cell)
    }
}

impl<const I: usize, const H: usize, T: Real> LstmCell<I, H, T> {
    /// The step's backward up to the adjoint of its input kernel's products (`dz`), which
    /// gives the input's adjoint when it is wanted.
    #[inline(always)]
    fn gates_backward(
        &self,
        input: &SVector<T, I>,
        residual: &<Self as Differentiable>::Residual,
        d_output: &SVector<T, H>,
        d_state: &mut LstmState<H, T>,
        grads: &mut Self,
    ) -> [SVector<T, H>; 4] {
        let LstmGates {
            input: i,
            forget: f,
            candidate: g,
            output: o,
            activated_cell,
        } = &residual.gates;
        // The output is `h'`: both adjoints reach it.
        let dh = d_output + d_state.h;
        let d_activated = dh.component_mul(o);
        let dc = d_state.c + activation_adjoint(self.activation, activated_cell, &d_activated);
        let (sigma, act) = (self.recurrent_activation, self.activation);
        let dz = [
            activation_adjoint(sigma, i, &dc.component_mul(g)),
            activation_adjoint(sigma, f, &dc.component_mul(&residual.previous.c)),
            activation_adjoint(act, g, &dc.component_mul(i)),
            activation_adjoint(sigma, o, &dh.component_mul(activated_cell)),
        ];
        add_bias_gradient(&mut grads.bias, &dz);
        add_kernel_gradient(&mut grads.kernel, input, &dz);
        add_kernel_gradient(&mut grads.recurrent_kernel, &residual.previous.h, &dz);
        d_state.c = dc.component_mul(f);
        d_state.h = kernel_input_adjoint(&self.recurrent_kernel, &dz);
        dz
    }
}
