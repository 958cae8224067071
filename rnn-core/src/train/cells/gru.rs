//! `GruCell`'s backward, both variants: `h' = z ⊙ h + (1 − z) ⊙ h̃`.

use nalgebra::SVector;

use super::{
    activation_adjoint, add_bias_gradient, add_gate_gradient, add_kernel_gradient,
    backward_through_input_kernel, gate_input_adjoint, kernel_input_adjoint, mask_kernels,
};
use crate::cells::{GruCell, GruGates};
use crate::drivers::dropout::DropoutMasks;
use crate::real::Real;
use crate::train::Differentiable;

/// What a [`GruCell`] step keeps for its backward: the state before the step, the gates
/// after their activations and, with `reset_after`, `h·U_h + b_h` (what the reset gate
/// scaled).
#[derive(Clone, Debug, PartialEq)]
pub struct GruResidual<const H: usize, T: Real = f32> {
    previous: SVector<T, H>,
    gates: GruGates<T, H>,
}

impl<const I: usize, const H: usize, T: Real> Differentiable for GruCell<I, H, T> {
    type Residual = GruResidual<H, T>;

    fn step_forward(
        &self,
        input: &SVector<T, I>,
        state: &mut SVector<T, H>,
        _: &(),
    ) -> (SVector<T, H>, Self::Residual) {
        let previous = *state;
        let gates = crate::with_rounding!(R, lanes = H => self.step_gates_with::<R>(input, state));
        (*state, GruResidual { previous, gates })
    }

    backward_through_input_kernel!(SVector<T, H>);

    fn with_dropout(&self, masks: &DropoutMasks) -> Option<Self> {
        let mut cell = self.clone();
        mask_kernels((&mut cell.kernel, &mut cell.recurrent_kernel), masks);
        Some(cell)
    }
}

impl<const I: usize, const H: usize, T: Real> GruCell<I, H, T> {
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
    ) -> [SVector<T, H>; 3] {
        let GruGates {
            update: z,
            reset: r,
            candidate,
            recurrent_candidate,
        } = &residual.gates;
        let h = &residual.previous;
        let (sigma, act) = (self.recurrent_activation, self.activation);
        // The output is `h'`: both adjoints reach it.
        let dh = d_output + *d_state;
        let dz = activation_adjoint(sigma, z, &dh.component_mul(&(h - candidate)));
        let one_minus_z = SVector::repeat(T::one()) - z;
        let d_candidate = activation_adjoint(act, candidate, &dh.component_mul(&one_minus_z));
        let mut d_previous = dh.component_mul(z);
        let dx = if self.reset_after {
            // h̃ = act(x_h + r ⊙ (h·U_h + b_h)): the reset gate scales the recurrent product.
            let dr = activation_adjoint(sigma, r, &d_candidate.component_mul(recurrent_candidate));
            let dx = [dz, dr, d_candidate];
            let dh_gates = [dz, dr, d_candidate.component_mul(r)];
            add_bias_gradient(&mut grads.bias, &dx);
            add_bias_gradient(&mut grads.recurrent_bias, &dh_gates);
            add_kernel_gradient(&mut grads.recurrent_kernel, h, &dh_gates);
            d_previous += kernel_input_adjoint(&self.recurrent_kernel, &dh_gates);
            dx
        } else {
            // h̃ = act(x_h + (r ⊙ h)·U_h): the reset gate scales the state before the product.
            let d_reset_state = gate_input_adjoint(&self.recurrent_kernel, 2, &d_candidate);
            let dr = activation_adjoint(sigma, r, &d_reset_state.component_mul(h));
            d_previous += d_reset_state.component_mul(r);
            add_gate_gradient(&mut grads.recurrent_kernel, 0, h, &dz);
            add_gate_gradient(&mut grads.recurrent_kernel, 1, h, &dr);
            add_gate_gradient(
                &mut grads.recurrent_kernel,
                2,
                &r.component_mul(h),
                &d_candidate,
            );
            d_previous += gate_input_adjoint(&self.recurrent_kernel, 0, &dz)
                + gate_input_adjoint(&self.recurrent_kernel, 1, &dr);
            let dx = [dz, dr, d_candidate];
            add_bias_gradient(&mut grads.bias, &dx);
            dx
        };
        *d_state = d_previous;
        add_kernel_gradient(&mut grads.kernel, input, &dx);
        dx
    }
}
