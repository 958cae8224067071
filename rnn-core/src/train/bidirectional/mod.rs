//! `Bidirectional`'s backward: the merged outputs' adjoints split between the two directions
//! by the merge's own adjoint, each direction's tape walked back, the inputs' adjoints summed;
//! over one sequence here, over a batch in [`batch`].

mod batch;
mod stateful;

pub use batch::{BidirectionalBatchGradients, BidirectionalBatchTape};

/// Both directions' states and last outputs, carried from step to step.
type Carried<'s, F, B> = (
    &'s mut Both<<F as Cell>::State, <B as Cell>::State>,
    &'s mut Both<Option<<F as Cell>::Output>, Option<<B as Cell>::Output>>,
);

use alloc::vec::Vec;
use core::borrow::Borrow;

use nalgebra::RealField;

use super::differentiable::{zeros_like, Differentiable};
use super::sequence::{record, replay, Adjoints, Recording, Tape};
use crate::cell::Cell;
use crate::error::{SequenceError, ShapeError};
use crate::nested::{ops, Nested};
use crate::{
    Ave, BiRun, Bidirectional, Both, BothConstants, BothConstantsOf, Concat, Concatenated,
    Direction,
};
use crate::{Mask, Merge, Mul, NoMerge, Run, ScalarOp, Sequence, Sum};

/// A merge whose adjoint is known: given the two outputs a step merged and the adjoint of the
/// merged output, the adjoints of the two outputs.
///
/// [`Concat`] splits the adjoint, [`Sum`] copies it to both, [`Ave`] halves it, [`Mul`] scales
/// each by the other output, [`NoMerge`] hands each its own. A [`MergeFn`](crate::MergeFn) has
/// none: a `Bidirectional` merged by a function cannot be differentiated, which is a compile
/// error rather than a wrong gradient.
pub trait MergeAdjoint<F, B>: Merge<F, B> {
    /// The adjoints of `forward` and `backward` in `merge(forward, backward)`, given the
    /// merged output's adjoint `d_merged`.
    fn merge_adjoint(&self, forward: &F, backward: &B, d_merged: &Self::Output) -> (F, B);
}

impl<F: Clone, B: Clone> MergeAdjoint<F, B> for Concat {
    fn merge_adjoint(&self, _: &F, _: &B, d_merged: &Concatenated<F, B>) -> (F, B) {
        (d_merged.forward.clone(), d_merged.backward.clone())
    }
}

impl<O: Nested> MergeAdjoint<O, O> for Sum {
    fn merge_adjoint(&self, _: &O, _: &O, d_merged: &O) -> (O, O) {
        (d_merged.clone(), d_merged.clone())
    }
}

impl<O: Nested> MergeAdjoint<O, O> for Ave {
    fn merge_adjoint(&self, _: &O, _: &O, d_merged: &O) -> (O, O) {
        let mut half = d_merged.clone();
        half.zip_apply(d_merged, &Half);
        (half.clone(), half)
    }
}

impl<O: Nested> MergeAdjoint<O, O> for Mul {
    fn merge_adjoint(&self, forward: &O, backward: &O, d_merged: &O) -> (O, O) {
        let (mut d_forward, mut d_backward) = (d_merged.clone(), d_merged.clone());
        d_forward.zip_apply(backward, &ops::Mul);
        d_backward.zip_apply(forward, &ops::Mul);
        (d_forward, d_backward)
    }
}

impl<F: Clone, B: Clone> MergeAdjoint<F, B> for NoMerge {
    fn merge_adjoint(&self, _: &F, _: &B, d_merged: &(F, B)) -> (F, B) {
        d_merged.clone()
    }
}

/// `a / 2` (the second operand unused): the adjoint of an average, exactly.
struct Half;

impl ScalarOp for Half {
    fn apply<T: RealField>(&self, a: T, _: T) -> T {
        a * nalgebra::convert::<f64, T>(0.5)
    }
}

/// What [`Bidirectional::run_taped`] records for [`Bidirectional::backward`]: each
/// direction's [`Tape`] and unmerged outputs (a product's adjoint needs the other factor).
///
/// Keep one and pass it to every run: it is refilled, not reallocated.
#[derive(Clone, Debug)]
pub struct BidirectionalTape<F: Differentiable, B: Differentiable> {
    forward: Tape<F::Residual>,
    backward: Tape<B::Residual>,
    forward_outputs: Vec<F::Output>,
    backward_outputs: Vec<B::Output>,
}

impl<F: Differentiable, B: Differentiable> BidirectionalTape<F, B> {
    /// An empty tape.
    pub const fn new() -> Self {
        BidirectionalTape {
            forward: Tape::new(),
            backward: Tape::new(),
            forward_outputs: Vec::new(),
            backward_outputs: Vec::new(),
        }
    }

    /// The number of steps recorded.
    pub fn len(&self) -> usize {
        self.forward.len()
    }

    /// Whether no step is recorded.
    pub fn is_empty(&self) -> bool {
        self.forward.is_empty()
    }
}

impl<F: Differentiable, B: Differentiable> Default for BidirectionalTape<F, B> {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`Bidirectional::backward`] returns: the gradient of the loss with respect to
/// everything the run read.
#[derive(Clone, Debug)]
pub struct BidirectionalGradients<F: Cell, B: Cell, M> {
    /// Both halves' parameter gradients: a value shaped like the layer.
    pub parameters: Bidirectional<F, B, M>,
    /// One adjoint per timestep (both directions' summed); zeros where a step was masked.
    pub inputs: Vec<F::Input>,
    /// The adjoints of both initial states.
    pub initial_state: Both<F::State, B::State>,
    /// The adjoints of both directions' constants.
    pub constants: Both<F::Constants, B::Constants>,
}

/// Training runs: a forward that records both directions, and its backward.
impl<F, B, M> Bidirectional<F, B, M>
where
    F: Differentiable,
    B: Differentiable<Input = F::Input>,
{
    /// [`run_masked_from`](Bidirectional::run_masked_from) (same outputs and states, bit for
    /// bit), recording in `tape` what [`backward`](Bidirectional::backward) needs.
    ///
    /// An error, and nothing computed, when the mask does not fit the sequence.
    ///
    /// ```
    /// use rnn::cells::{GruCell, LstmCell};
    /// use rnn::train::BidirectionalTape;
    /// use rnn::{Bidirectional, Both, Cell, Mask, Sum};
    /// use nalgebra::SVector;
    ///
    /// let bi = Bidirectional::new(LstmCell::<2, 3, f64>::keras_init(1), GruCell::keras_init(2))
    ///     .merge_mode(Sum);
    /// let xs = [[1.0, 0.5], [0.0, -1.0], [2.0, 0.0]].map(SVector::from);
    /// let s0 = Both::new(bi.forward_cell().initial_state(&()), SVector::zeros());
    /// let k = &();
    /// let mut tape = BidirectionalTape::new();
    /// let run = bi.run_taped(&xs, Mask::Length(2), s0.clone(), k, &mut tape).unwrap();
    /// assert_eq!(run, bi.run_masked_from(&xs, Mask::Length(2), s0, k).unwrap());
    ///
    /// // The loss: the first unit of the first merged output.
    /// let mut d_outputs = vec![SVector::<f64, 3>::zeros(); 3];
    /// d_outputs[0][0] = 1.0;
    /// let d_states = Both::new(rnn::Nested::zeros(), SVector::zeros());
    /// let grads = bi.backward(&tape, &xs, &d_outputs, d_states, k).unwrap();
    /// // The backward direction read x[1] before it output at step 0; the forward did not.
    /// assert_ne!(grads.inputs[1], SVector::<f64, 2>::zeros());
    /// assert_eq!(grads.inputs[2], SVector::<f64, 2>::zeros()); // padding
    /// ```
    pub fn run_taped<'m, 'k, X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        initial_state: Both<F::State, B::State>,
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
        tape: &mut BidirectionalTape<F, B>,
    ) -> Result<BiRun<M::Output, F, B>, SequenceError>
    where
        M: Merge<F::Output, B::Output>,
        F::Constants: 'k,
        B::Constants: 'k,
    {
        let mask = mask.into();
        mask.check(inputs.len())?;
        let mut state = initial_state;
        let carried = &mut Both::default();
        let outputs = self.record(inputs, mask, (&mut state, carried), constants.into(), tape);
        Ok(Run { outputs, state })
    }

    /// Both directions over a checked sequence from `state` and `carried` (each direction's
    /// output before the first step), recorded in `tape`; `state` and `carried` are left as
    /// inference leaves them.
    pub(crate) fn record<X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        mask: Mask<'_>,
        (state, carried): Carried<'_, F, B>,
        constants: BothConstants<'_, F, B>,
        tape: &mut BidirectionalTape<F, B>,
    ) -> Sequence<M::Output>
    where
        M: Merge<F::Output, B::Output>,
    {
        record(
            &self.forward,
            Recording {
                inputs,
                mask,
                direction: Direction::Forward,
                padding: self.padding,
                constants: constants.forward,
                dropout: None,
            },
            (&mut state.forward, &mut carried.forward),
            &mut tape.forward,
            &mut tape.forward_outputs,
        );
        record(
            &self.backward,
            Recording {
                inputs,
                mask,
                direction: Direction::Reversed,
                padding: self.padding,
                constants: constants.backward,
                dropout: None,
            },
            (&mut state.backward, &mut carried.backward),
            &mut tape.backward,
            &mut tape.backward_outputs,
        );
        tape.forward_outputs
            .iter()
            .zip(&tape.backward_outputs)
            .map(|(f, b)| self.merge.merge(f, b))
            .collect()
    }

    /// The backward of a [`run_taped`](Bidirectional::run_taped) run: given its `tape`, the
    /// same `inputs` and `constants`, the adjoint of every merged output (time order) and of
    /// both final states, the gradients of both halves' parameters, the inputs (the two
    /// directions' adjoints summed), both initial states and both constants.
    ///
    /// Each step's adjoint is split by the merge ([`MergeAdjoint`]); each direction's tape is
    /// then walked back as [`Rnn::backward`](crate::Rnn::backward) walks one.
    ///
    /// An error when `inputs` or `d_outputs` does not have one entry per recorded step.
    pub fn backward<'k, X: Borrow<F::Input>>(
        &self,
        tape: &BidirectionalTape<F, B>,
        inputs: &[X],
        d_outputs: &[M::Output],
        d_final_state: Both<F::State, B::State>,
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
    ) -> Result<BidirectionalGradients<F, B, M>, ShapeError>
    where
        M: MergeAdjoint<F::Output, B::Output> + Clone,
        F: Clone,
        B: Clone,
        F::Constants: 'k,
        B::Constants: 'k,
    {
        let constants = constants.into();
        let steps = tape.len();
        ShapeError::check_steps("inputs", steps, inputs.len())?;
        ShapeError::check_steps("output adjoints", steps, d_outputs.len())?;
        let (d_forward, d_backward): (Vec<F::Output>, Vec<B::Output>) = d_outputs
            .iter()
            .zip(tape.forward_outputs.iter().zip(&tape.backward_outputs))
            .map(|(dy, (f, b))| self.merge.merge_adjoint(f, b, dy))
            .unzip();
        let mut gradients = BidirectionalGradients {
            parameters: zeros_like(self),
            inputs: alloc::vec![F::Input::zeros(); steps],
            initial_state: d_final_state,
            constants: Both::new(F::Constants::zeros(), B::Constants::zeros()),
        };
        replay(
            &self.forward,
            &tape.forward,
            inputs,
            &d_forward,
            constants.forward,
            Adjoints {
                state: &mut gradients.initial_state.forward,
                constants: &mut gradients.constants.forward,
                parameters: &mut gradients.parameters.forward,
                inputs: &mut gradients.inputs,
            },
        );
        let mut d_inputs = alloc::vec![F::Input::zeros(); steps];
        replay(
            &self.backward,
            &tape.backward,
            inputs,
            &d_backward,
            constants.backward,
            Adjoints {
                state: &mut gradients.initial_state.backward,
                constants: &mut gradients.constants.backward,
                parameters: &mut gradients.parameters.backward,
                inputs: &mut d_inputs,
            },
        );
        for (sum, d) in gradients.inputs.iter_mut().zip(&d_inputs) {
            sum.zip_apply(d, &ops::Add);
        }
        Ok(gradients)
    }
}
