//! Products with the cell's parameters (`Dense::forward`, `MatVec::forward` of an `SMatrix`,
//! `Kernel::apply`) and a sub-cell's step: each pull adds the parameters' gradients into the
//! matching part of the gradient value and returns the input's adjoint.

use nalgebra::{SMatrix, SVector};

use crate::cells::Dense;
use crate::drivers::dropout::DropoutMasks;
use crate::real::Real;
use crate::train::cells::{activation_adjoint, add_kernel_gradient, kernel_input_adjoint};
use crate::train::Differentiable;
use crate::weights::Kernel;

/// `layer.forward(&x)`: a layer applied to a vector.
#[diagnostic::on_unimplemented(
    message = "`{Self}.forward(..)` of `{X}` has no adjoint",
    note = "the generated backward differentiates `Dense::forward` and `MatVec::forward` of an `SMatrix` on a vector of the layer's input size; mark the cell `#[cell(inference)]` to generate no backward"
)]
pub trait Forward<X>: Sized {
    /// The layer's output.
    type Output;
    /// What the user's `forward` computes, bit for bit.
    fn forward(&self, x: &X) -> Self::Output;
    /// Adds the layer's gradients into `grads` and returns `x`'s adjoint, from the input, the
    /// output and the output's adjoint.
    fn pull(&self, grads: &mut Self, x: &X, y: &Self::Output, dy: &Self::Output) -> X;
    /// [`pull`](Forward::pull) without `x`'s adjoint, for an `x` whose adjoint nothing reads.
    fn pull_parameters(&self, grads: &mut Self, x: &X, y: &Self::Output, dy: &Self::Output);
}

// The impls take a vector of any length `K`: the user's own call, in the step `#[cell]` leaves
// as written, is where a length that is not the layer's is a compile error (one, in words), so
// that the generated forward and pull add none of their own. `K` is the layer's input size in
// any program that compiles (`at_input_size` asserts it at compile time).

impl<const I: usize, const U: usize, const K: usize, T: Real> Forward<SVector<T, K>>
    for Dense<I, U, T>
{
    type Output = SVector<T, U>;
    #[inline(always)]
    fn forward(&self, x: &SVector<T, K>) -> SVector<T, U> {
        Dense::forward(self, &at_input_size::<T, K, I>(x))
    }
    #[inline(always)]
    fn pull(
        &self,
        grads: &mut Self,
        x: &SVector<T, K>,
        y: &SVector<T, U>,
        dy: &SVector<T, U>,
    ) -> SVector<T, K> {
        let dz = dense_gradients(self, grads, x, y, dy);
        at_input_size::<T, I, K>(&kernel_input_adjoint(&self.kernel, &dz))
    }
    #[inline(always)]
    fn pull_parameters(
        &self,
        grads: &mut Self,
        x: &SVector<T, K>,
        y: &SVector<T, U>,
        dy: &SVector<T, U>,
    ) {
        dense_gradients(self, grads, x, y, dy);
    }
}

/// Adds a `Dense` layer's gradients into `grads`; returns the adjoint of its product.
#[inline(always)]
fn dense_gradients<const I: usize, const U: usize, const K: usize, T: Real>(
    layer: &Dense<I, U, T>,
    grads: &mut Dense<I, U, T>,
    x: &SVector<T, K>,
    y: &SVector<T, U>,
    dy: &SVector<T, U>,
) -> [SVector<T, U>; 1] {
    let dz = [activation_adjoint(layer.activation, y, dy)];
    if let Some(bias) = &mut grads.bias {
        *bias += dz[0];
    }
    add_kernel_gradient(&mut grads.kernel, &at_input_size::<T, K, I>(x), &dz);
    dz
}

impl<T: Real, const R: usize, const C: usize, const K: usize> Forward<SVector<T, K>>
    for SMatrix<T, R, C>
{
    type Output = SVector<T, R>;
    #[inline(always)]
    fn forward(&self, x: &SVector<T, K>) -> SVector<T, R> {
        crate::shape::MatVec::forward(self, &at_input_size::<T, K, C>(x))
    }
    #[inline(always)]
    fn pull(
        &self,
        grads: &mut Self,
        x: &SVector<T, K>,
        _: &SVector<T, R>,
        dy: &SVector<T, R>,
    ) -> SVector<T, K> {
        *grads += dy * at_input_size::<T, K, C>(x).transpose();
        at_input_size::<T, C, K>(&self.tr_mul(dy))
    }
    #[inline(always)]
    fn pull_parameters(
        &self,
        grads: &mut Self,
        x: &SVector<T, K>,
        _: &SVector<T, R>,
        dy: &SVector<T, R>,
    ) {
        *grads += dy * at_input_size::<T, K, C>(x).transpose();
    }
}

/// `x`, a vector of length `K`, as the vector of length `N` it is: `K == N` in every program
/// that compiles (the user's call of the same product checks it), and the assertion makes any
/// other instance a compile error, never a run-time one.
#[inline(always)]
fn at_input_size<T: Real, const K: usize, const N: usize>(x: &SVector<T, K>) -> SVector<T, N> {
    const { assert!(K == N, "the user's call checks the vector's length") };
    SVector::from_fn(|i, _| x[i])
}

/// `kernel.apply(&x)`: `x · W_g` for every gate of a stacked kernel.
#[diagnostic::on_unimplemented(
    message = "`{Self}.apply(..)` of `{X}` has no adjoint",
    note = "the generated backward differentiates `Kernel::apply` on a vector of the kernel's input size; mark the cell `#[cell(inference)]` to generate no backward"
)]
pub trait Apply<X>: Sized {
    /// One vector per gate.
    type Output;
    /// What the user's `apply` computes, bit for bit.
    fn apply(&self, x: &X) -> Self::Output;
    /// [`apply`](Apply::apply) of each of a block's samples, each weight read once for the
    /// block; the same bits.
    fn apply_block<const N: usize>(&self, xs: [&X; N]) -> [Self::Output; N];
    /// Adds the kernel's gradient into `grads` and returns `x`'s adjoint.
    fn pull(&self, grads: &mut Self, x: &X, dy: &Self::Output) -> X;
    /// [`pull`](Apply::pull) without `x`'s adjoint, for an `x` whose adjoint nothing reads.
    fn pull_parameters(&self, grads: &mut Self, x: &X, dy: &Self::Output);
}

impl<T: Real, const IN: usize, const G: usize, const H: usize, const K: usize> Apply<SVector<T, K>>
    for Kernel<T, IN, G, H>
{
    type Output = [SVector<T, H>; G];
    #[inline(always)]
    fn apply(&self, x: &SVector<T, K>) -> [SVector<T, H>; G] {
        Kernel::apply(self, &at_input_size::<T, K, IN>(x))
    }
    #[inline(always)]
    fn apply_block<const N: usize>(&self, xs: [&SVector<T, K>; N]) -> [[SVector<T, H>; G]; N] {
        let xs = xs.map(at_input_size::<T, K, IN>);
        let mut out = [[SVector::zeros(); G]; N];
        self.accumulate_block(xs.each_ref(), &mut out);
        out
    }
    #[inline(always)]
    fn pull(&self, grads: &mut Self, x: &SVector<T, K>, dy: &[SVector<T, H>; G]) -> SVector<T, K> {
        let x = at_input_size::<T, K, IN>(x);
        add_kernel_gradient(grads, &x, dy);
        at_input_size::<T, IN, K>(&kernel_input_adjoint(self, dy))
    }
    #[inline(always)]
    fn pull_parameters(&self, grads: &mut Self, x: &SVector<T, K>, dy: &[SVector<T, H>; G]) {
        add_kernel_gradient(grads, &at_input_size::<T, K, IN>(x), dy);
    }
}

/// A sub-cell's `step`, through its [`Differentiable`] forward: the same bits, and its
/// residual; `masks` for the dropout calls of a sub-cell that has them.
#[inline(always)]
pub fn step<C: Differentiable>(
    cell: &C,
    input: &C::Input,
    state: &mut C::State,
    constants: &C::Constants,
    masks: Option<&DropoutMasks>,
) -> (C::Output, C::Residual) {
    cell.step_forward_with_dropout(input, state, constants, masks)
}

/// The sub-cell's backward: `d_state` holds the adjoint of its state after the step and is
/// left holding the adjoint before it; returns the adjoints of its input and constants.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn pull_step<C: Differentiable>(
    cell: &C,
    grads: &mut C,
    input: &C::Input,
    residual: &C::Residual,
    dy: &C::Output,
    d_state: &mut C::State,
    constants: &C::Constants,
) -> (C::Input, C::Constants) {
    let mut d_constants = crate::Nested::zeros();
    let dx = cell.step_backward(
        input,
        residual,
        dy,
        d_state,
        constants,
        &mut d_constants,
        grads,
    );
    (dx, d_constants)
}

/// [`pull_step`] without the input's adjoint, for an input whose adjoint nothing reads:
/// returns the adjoint of the constants.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn pull_step_without_input<C: Differentiable>(
    cell: &C,
    grads: &mut C,
    input: &C::Input,
    residual: &C::Residual,
    dy: &C::Output,
    d_state: &mut C::State,
    constants: &C::Constants,
) -> C::Constants {
    let mut d_constants = crate::Nested::zeros();
    cell.step_backward_without_input(
        input,
        residual,
        dy,
        d_state,
        constants,
        &mut d_constants,
        grads,
    );
    d_constants
}
