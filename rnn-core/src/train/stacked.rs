//! `Stacked`'s backward: the layers' backward steps chained last layer first, each layer's
//! input adjoint the adjoint of the output of the layer below.

use crate::cells::Stacked;
use crate::train::Differentiable;

macro_rules! stacked_differentiable {
    (
        $first:ident $(, $name:ident . $idx:tt after $prev:ident)+ ;
        reversed $($rname:ident . $ridx:tt after $rprev:ident),+
    ) => {
        /// A stack is differentiable when its layers are: its residual holds each layer's
        /// residual and, above the first, the layer's input (the output of the layer below);
        /// each layer's constants get their own adjoint.
        impl<$first: Differentiable $(, $name: Differentiable<Input = $prev::Output>)+>
            Differentiable for Stacked<($first, $($name,)+)>
        {
            type Residual = ($first::Residual, $(($name::Residual, $name::Input),)+);

            #[allow(non_snake_case)]
            fn step_forward(
                &self,
                input: &Self::Input,
                state: &mut Self::State,
                constants: &Self::Constants,
            ) -> (Self::Output, Self::Residual) {
                let (y, $first) = (self.0).0.step_forward(input, &mut state.0, &constants.0);
                $(
                    let (y, $name) = {
                        let (output, residual) =
                            (self.0).$idx.step_forward(&y, &mut state.$idx, &constants.$idx);
                        (output, (residual, y))
                    };
                )+
                (y, ($first, $($name,)+))
            }

            fn step_backward(
                &self,
                input: &Self::Input,
                residual: &Self::Residual,
                d_output: &Self::Output,
                d_state: &mut Self::State,
                constants: &Self::Constants,
                d_constants: &mut Self::Constants,
                grads: &mut Self,
            ) -> Self::Input {
                let d_y = self.backward_above_first(
                    residual, d_output, d_state, constants, d_constants, grads,
                );
                (self.0).0.step_backward(
                    input,
                    &residual.0,
                    &d_y,
                    &mut d_state.0,
                    &constants.0,
                    &mut d_constants.0,
                    &mut (grads.0).0,
                )
            }

            fn step_backward_without_input(
                &self,
                input: &Self::Input,
                residual: &Self::Residual,
                d_output: &Self::Output,
                d_state: &mut Self::State,
                constants: &Self::Constants,
                d_constants: &mut Self::Constants,
                grads: &mut Self,
            ) {
                let d_y = self.backward_above_first(
                    residual, d_output, d_state, constants, d_constants, grads,
                );
                (self.0).0.step_backward_without_input(
                    input,
                    &residual.0,
                    &d_y,
                    &mut d_state.0,
                    &constants.0,
                    &mut d_constants.0,
                    &mut (grads.0).0,
                );
            }
        }

        impl<$first: Differentiable $(, $name: Differentiable<Input = $prev::Output>)+>
            Stacked<($first, $($name,)+)>
        {
            /// The backward steps of the layers above the first, last first: the adjoint of
            /// the first layer's output.
            fn backward_above_first(
                &self,
                residual: &<Self as Differentiable>::Residual,
                d_output: &<Self as crate::Cell>::Output,
                d_state: &mut <Self as crate::Cell>::State,
                constants: &<Self as crate::Cell>::Constants,
                d_constants: &mut <Self as crate::Cell>::Constants,
                grads: &mut Self,
            ) -> $first::Output {
                let d_y = d_output.clone();
                $(
                    let d_y: $rprev::Output = (self.0).$ridx.step_backward(
                        &residual.$ridx.1,
                        &residual.$ridx.0,
                        &d_y,
                        &mut d_state.$ridx,
                        &constants.$ridx,
                        &mut d_constants.$ridx,
                        &mut (grads.0).$ridx,
                    );
                )+
                d_y
            }
        }
    };
}

stacked_differentiable!(A, B.1 after A; reversed B.1 after A);
stacked_differentiable!(A, B.1 after A, C.2 after B; reversed C.2 after B, B.1 after A);
stacked_differentiable!(
    A, B.1 after A, C.2 after B, D.3 after C;
    reversed D.3 after C, C.2 after B, B.1 after A
);
stacked_differentiable!(
    A, B.1 after A, C.2 after B, D.3 after C, E.4 after D;
    reversed E.4 after D, D.3 after C, C.2 after B, B.1 after A
);
stacked_differentiable!(
    A, B.1 after A, C.2 after B, D.3 after C, E.4 after D, F.5 after E;
    reversed F.5 after E, E.4 after D, D.3 after C, C.2 after B, B.1 after A
);
