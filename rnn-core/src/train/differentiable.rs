//! The contract of a cell whose step can be differentiated, and the gradient value it fills.

use crate::cell::Cell;
use crate::drivers::dropout::DropoutMasks;
use crate::parameters::{Parameters, Values, ValuesMut};

/// A cell whose step can be differentiated: a forward that keeps what the backward needs,
/// and the backward (the vector-Jacobian product of one step, JAX's `custom_vjp` shape).
///
/// The gradients of the parameters are a value of the cell's own type (the same paths as its
/// [`Parameters`]), so that optimizers, clipping and checkpoints walk one structure; start one
/// with [`zeros_like`]. A driver keeps one residual per step and calls the backward steps
/// last to first.
///
/// ```
/// use rnn::cells::LstmCell;
/// use rnn::train::{zeros_like, Differentiable};
/// use rnn::{Cell, Nested};
/// use nalgebra::SVector;
///
/// let cell = LstmCell::<2, 3, f64>::keras_init(1);
/// let x = SVector::from([0.5, -1.0]);
/// // The loss: the sum of the step's output.
/// let loss = |x: &SVector<f64, 2>| cell.step(x, &mut cell.initial_state(&()), &()).sum();
///
/// let mut state = cell.initial_state(&());
/// let (y, residual) = cell.step_forward(&x, &mut state, &());
/// assert_eq!(y.sum(), loss(&x)); // the step's own bits
/// let mut d_state = Nested::zeros(); // the new state does not reach the loss
/// let mut grads = zeros_like(&cell);
/// let dx = cell.step_backward(
///     &x, &residual, &SVector::repeat(1.0), &mut d_state, &(), &mut (), &mut grads,
/// );
///
/// let h = 1e-6;
/// let slope = (loss(&(x + SVector::from([h, 0.0]))) - loss(&(x - SVector::from([h, 0.0])))) / (2.0 * h);
/// assert!((dx[0] - slope).abs() < 1e-8);
/// ```
pub trait Differentiable: Cell + Parameters {
    /// What one step's backward needs (post-activation gates, the state before the step, ...),
    /// typed, one per step.
    type Residual: Clone + core::fmt::Debug;

    /// The step, also returning its residual; its output and new state are exactly
    /// [`step`](Cell::step)'s bits.
    fn step_forward(
        &self,
        input: &Self::Input,
        state: &mut Self::State,
        constants: &Self::Constants,
    ) -> (Self::Output, Self::Residual);

    /// Whether [`step_forward_block`](Differentiable::step_forward_block) shares work across
    /// its block (a `#[cell]` step's kernel products); without, batches step sample by
    /// sample.
    const STEP_BLOCK: bool = false;

    /// [`step_forward`](Differentiable::step_forward) for a block of `N` independent samples
    /// (of a batch): the same outputs, states and residuals, bit for bit, as `N` calls, which
    /// this default makes. A `#[cell]` step applies each kernel once for the block, so that a
    /// weight too large for the caches is read once for all its samples.
    #[inline(always)]
    fn step_forward_block<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        states: &mut [Self::State; N],
        constants: [&Self::Constants; N],
    ) -> [(Self::Output, Self::Residual); N]
    where
        Self: Sized,
    {
        let mut states = states.iter_mut();
        core::array::from_fn(|n| {
            let state = states.next().expect("N states");
            self.step_forward(inputs[n], state, constants[n])
        })
    }

    /// [`step_forward_with_dropout`](Differentiable::step_forward_with_dropout) writing its
    /// residual over `residual`, an earlier step's: the same output, state and residual. A
    /// residual that owns memory (a `#[cell]` step's backward closure) reuses it, so that a
    /// training loop that keeps its tapes allocates nothing per step; the default assigns.
    #[inline(always)]
    fn step_forward_into(
        &self,
        input: &Self::Input,
        state: &mut Self::State,
        constants: &Self::Constants,
        masks: Option<&DropoutMasks>,
        residual: &mut Self::Residual,
    ) -> Self::Output {
        let (output, new) = self.step_forward_with_dropout(input, state, constants, masks);
        *residual = new;
        output
    }

    /// [`step_forward_block`](Differentiable::step_forward_block) writing each sample's
    /// residual over `residuals`, as [`step_forward_into`](Differentiable::step_forward_into)
    /// does; the default assigns.
    #[inline(always)]
    fn step_forward_block_into<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        states: &mut [Self::State; N],
        constants: [&Self::Constants; N],
        residuals: [&mut Self::Residual; N],
    ) -> [Self::Output; N]
    where
        Self: Sized,
    {
        let mut residuals = residuals.into_iter();
        self.step_forward_block(inputs, states, constants)
            .map(|(output, new)| {
                if let Some(residual) = residuals.next() {
                    *residual = new;
                }
                output
            })
    }

    /// Whether the step drops units itself: a `#[cell]` step that calls
    /// [`ops::dropout`](crate::ops::dropout) or [`ops::recurrent_dropout`](crate::ops::recurrent_dropout).
    /// Training runs with [`Rnn::dropout`](crate::Rnn::dropout) then step through
    /// [`step_forward_with_dropout`](Differentiable::step_forward_with_dropout).
    const STEP_DROPOUT: bool = false;

    /// [`step_forward`](Differentiable::step_forward) in a training run: with `masks`, the
    /// step's dropout calls drop the units the masks say (the same at every step of a
    /// sequence), and the residual keeps what its backward needs to drop their adjoints
    /// alike. Without, the step's bits. The default ignores the masks.
    fn step_forward_with_dropout(
        &self,
        input: &Self::Input,
        state: &mut Self::State,
        constants: &Self::Constants,
        masks: Option<&DropoutMasks>,
    ) -> (Self::Output, Self::Residual) {
        let _ = masks;
        self.step_forward(input, state, constants)
    }

    /// The adjoint of one step.
    ///
    /// Given the step's `input`, its `residual`, the adjoint of its output and, in `d_state`,
    /// the adjoint of the state after the step: replaces `d_state` by the adjoint of the state
    /// before the step, adds the parameters' gradients into `grads` (a value shaped like
    /// `self`, as [`zeros_like`] makes it: a parameter `grads` lacks, such as a bias that is
    /// `None` there, gets no gradient) and the constants' adjoint into `d_constants`, and
    /// returns the input's adjoint.
    #[allow(clippy::too_many_arguments)]
    fn step_backward(
        &self,
        input: &Self::Input,
        residual: &Self::Residual,
        d_output: &Self::Output,
        d_state: &mut Self::State,
        constants: &Self::Constants,
        d_constants: &mut Self::Constants,
        grads: &mut Self,
    ) -> Self::Input;

    /// [`step_backward`](Differentiable::step_backward) for an input whose adjoint nothing
    /// reads (a batch of data: PyTorch's `requires_grad=False`): the same parameters',
    /// state's and constants' adjoints, and no input adjoint.
    ///
    /// The default runs `step_backward` and drops the input's adjoint. A cell whose input
    /// adjoint costs a product (the built-ins' `W·dz`, a `#[cell]` step's products of the
    /// input with its weights) skips that work here.
    #[allow(clippy::too_many_arguments)]
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
        let _ = self.step_backward(
            input,
            residual,
            d_output,
            d_state,
            constants,
            d_constants,
            grads,
        );
    }

    /// This cell with Keras's dropout `masks` folded into its kernels: each row of a gate's
    /// kernel scaled by that gate's mask on the input unit (or state unit, for the recurrent
    /// kernel) the row reads, so that a step of the copy is a step on dropped inputs and
    /// states. Applied to a gradient of the copy, it gives the gradient of the cell.
    ///
    /// The built-in recurrent cells implement it; the default, `None`, says the cell has no
    /// dropout, and [`Rnn::dropout`](crate::Rnn::dropout) then refuses to configure one.
    fn with_dropout(&self, masks: &DropoutMasks) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = masks;
        None
    }
}

/// A gradient value for `parameters`: a copy with every parameter tensor zeroed (JAX's
/// `zeros_like` on a pytree). The configuration (activations, flags) is kept, so the copy
/// is also the cell it is the gradient of, in shape.
///
/// ```
/// use rnn::cells::GruCell;
/// use rnn::parameters::Parameters;
/// use rnn::train::zeros_like;
///
/// let gru = GruCell::<3, 4>::keras_init(7);
/// let grads = zeros_like(&gru);
/// assert_eq!(grads.count_params(), gru.count_params());
/// grads.for_each_parameter(|_, tensor| tensor.read(&mut |v| assert_eq!(v, 0.0)));
/// ```
pub fn zeros_like<P: Parameters + Clone>(parameters: &P) -> P {
    let mut zeros = parameters.clone();
    set_to_zero(&mut zeros);
    zeros
}

/// Every parameter of `gradient` set to zero, in place: a gradient value reused from one
/// batch to the next, as [`Layer::backward`](super::Layer::backward) adds into it.
///
/// ```
/// use rnn::cells::Dense;
/// use rnn::parameters::Parameters;
/// use rnn::train::{set_to_zero, zeros_like};
///
/// let dense = Dense::<3, 2>::keras_init(1);
/// let mut grads = dense.clone();
/// set_to_zero(&mut grads);
/// assert_eq!(grads.kernel, zeros_like(&dense).kernel);
/// assert_eq!(grads.count_params(), dense.count_params());
/// ```
pub fn set_to_zero<P: Parameters>(gradient: &mut P) {
    gradient.for_each_parameter_mut(|_, tensor, _| match tensor.values_mut() {
        Some(ValuesMut::F32(values)) => values.fill(0.0),
        Some(ValuesMut::F64(values)) => values.fill(0.0),
        None => tensor.write(&mut || 0.0),
    });
}

/// Turns on (`true`) or off the deferred products of every tensor of `gradient` (see
/// [`Tensor::defer_products`](crate::parameters::Tensor::defer_products)): on while a
/// backward adds many steps into it, off before it is read.
pub(crate) fn defer_products<P: Parameters>(gradient: &mut P, on: bool) {
    gradient.for_each_parameter_mut(|_, tensor, _| tensor.defer_products(on));
}

/// `sum += term`, tensor by tensor in path order, through `scratch` (`term`'s values, flat).
/// The scalars are added in `f64` and rounded once to the tensor's type: for `f32` that is
/// the `f32` sum's own bits (`f64` has more than twice `f32`'s precision, so the double
/// rounding is harmless).
pub(crate) fn add_parameters<P: Parameters>(
    sum: &mut P,
    term: &P,
    scratch: &mut alloc::vec::Vec<f64>,
) {
    scratch.clear();
    term.for_each_parameter(|_, tensor| match tensor.values() {
        Some(Values::F32(values)) => scratch.extend(values.iter().map(|&v| f64::from(v))),
        Some(Values::F64(values)) => scratch.extend_from_slice(values),
        None => tensor.read(&mut |v| scratch.push(v)),
    });
    // Each tensor's values added to its stretch of `scratch`; past `term`'s values (a tensor
    // `term` lacks), the sum keeps its own.
    let mut at = 0;
    sum.for_each_parameter_mut(|_, tensor, _| {
        let terms = scratch.get(at..).unwrap_or(&[]);
        match tensor.values_mut() {
            Some(ValuesMut::F32(values)) => {
                for (v, t) in values.iter_mut().zip(terms) {
                    *v = (f64::from(*v) + t) as f32;
                }
                at += values.len();
            }
            Some(ValuesMut::F64(values)) => {
                for (v, t) in values.iter_mut().zip(terms) {
                    *v += t;
                }
                at += values.len();
            }
            None => {
                let len = tensor.len();
                if at < scratch.len() {
                    // Read into `scratch` (term + value), then written back from it.
                    let start = at;
                    tensor.read(&mut |v| {
                        match scratch.get_mut(at) {
                            Some(term) => *term += v,
                            None => scratch.push(v),
                        }
                        at += 1;
                    });
                    let mut sums = scratch.get(start..at).unwrap_or(&[]).iter();
                    tensor.write(&mut || sums.next().copied().unwrap_or(0.0));
                } else {
                    at += len;
                }
            }
        }
    });
}
