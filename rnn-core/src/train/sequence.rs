//! The sequence driver's backward: a forward that records a [`Tape`] and computes
//! [`Rnn::run_masked_from`]'s bits, and the backward that walks the tape last step first.

use alloc::vec::Vec;
use core::borrow::Borrow;

use super::differentiable::{add_parameters, set_to_zero, zeros_like, Differentiable};
use crate::cell::Cell;
use crate::drivers::constants::ConstantsOf;
use crate::drivers::dropout::{Dropout, DropoutError, DropoutMasks};
use crate::drivers::masked::schedule;
use crate::drivers::reset::ResetTo;
use crate::error::{SequenceError, ShapeError};
use crate::nested::{ops::Add, Nested};
use crate::{Direction, Mask, Padding, Resets, Rnn, Run, Sequence};

/// What [`Rnn::run_taped`] records for [`Rnn::backward`]: for each step in processing order,
/// the timestep it read and the cell's residual (none for a masked step), the run's
/// direction and padding, and the dropout masks it used.
///
/// With [`Rnn::dropout`] configured, the tape also counts the runs it recorded: each run
/// draws its masks from the seed and that count, so a fresh tape replays the same masks.
///
/// Keep one tape and pass it to every run: it is cleared, not reallocated, so a training loop
/// allocates its steps once.
#[derive(Clone, Debug)]
pub struct Tape<R> {
    steps: Vec<TapedStep<R>>,
    /// The processing steps (indices into `steps`) that reset the state first, in order.
    resets: Vec<usize>,
    direction: Direction,
    padding: Padding,
    /// The masks the run dropped with; `None` without dropout.
    dropout: Option<DropoutMasks>,
    /// How many runs with dropout this tape recorded: the next run's draw.
    draws: u64,
}

/// One step of a [`Tape`].
#[derive(Clone, Debug)]
struct TapedStep<R> {
    /// The timestep the step read (a masked step: the one it skipped).
    time: usize,
    /// The cell's residual; `None` when the step was masked (the cell was not called).
    residual: Option<R>,
}

impl<R> Tape<R> {
    /// Starts recording a run of `steps` steps over this tape's earlier one. The steps are
    /// kept, to be overwritten in place ([`set`](Self::set), or a residual refilled), so that
    /// a residual that owns memory reuses it (see `Differentiable::step_forward_into`).
    fn begin(
        &mut self,
        steps: usize,
        (direction, padding): (Direction, Padding),
        dropout: Option<DropoutMasks>,
    ) {
        self.steps.truncate(steps);
        self.steps.reserve(steps - self.steps.len());
        self.resets.clear();
        self.direction = direction;
        self.padding = padding;
        self.dropout = dropout;
    }

    /// Step `k` of a run being recorded over this tape's earlier one: overwritten when the
    /// tape has it, else added (the steps before it are the run's).
    fn set(&mut self, k: usize, time: usize, residual: Option<R>) {
        let step = TapedStep { time, residual };
        match self.steps.get_mut(k) {
            Some(old) => *old = step,
            None => self.steps.push(step),
        }
    }

    /// The bytes one recorded step holds: its residual, and which timestep it read. A run
    /// of `T` steps records `T · STEP_BYTES` (the inputs are the caller's, not copied), so
    /// this sizes a training run's activation memory.
    ///
    /// ```
    /// use rnn::train::{LstmResidual, Tape};
    ///
    /// // An LSTM of 64 units keeps 7 · 64 floats a step, and which step it was.
    /// assert!(Tape::<LstmResidual<64>>::STEP_BYTES >= 7 * 64 * 4);
    /// ```
    pub const STEP_BYTES: usize = core::mem::size_of::<TapedStep<R>>();

    /// An empty tape.
    pub const fn new() -> Self {
        Tape {
            steps: Vec::new(),
            resets: Vec::new(),
            direction: Direction::Forward,
            padding: Padding::CarryLastOutput,
            dropout: None,
            draws: 0,
        }
    }

    /// The number of steps recorded (the sequence's length, masked steps included).
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether no step is recorded.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// How many of the recorded steps reset the state first (see
    /// [`Resets`](crate::Resets)).
    pub fn resets(&self) -> usize {
        self.resets.len()
    }

    /// How many of the recorded steps called the cell.
    pub fn valid_steps(&self) -> usize {
        self.steps.iter().filter(|s| s.residual.is_some()).count()
    }

    /// The dropout masks the recorded run used at every step; `None` when it dropped nothing.
    pub fn dropout_masks(&self) -> Option<&DropoutMasks> {
        self.dropout.as_ref()
    }

    /// The masks of the next run with `dropout`, counted: runs after the first draw anew,
    /// as Keras's seed generator advances from call to call.
    pub(crate) fn draw(&mut self, dropout: &Dropout, sequence: usize) -> Option<DropoutMasks> {
        dropout.is_active().then(|| {
            self.draws += 1;
            dropout.masks(self.draws - 1, sequence)
        })
    }
}

impl<R> Default for Tape<R> {
    fn default() -> Self {
        Tape::new()
    }
}

/// What [`Rnn::backward`] returns: the gradient of the loss with respect to everything the
/// run read.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<C: Cell> {
    /// The parameters' gradients: a value shaped like the cell (see
    /// [`zeros_like`](super::zeros_like)).
    pub parameters: C,
    /// One adjoint per timestep, in time order as the inputs; zeros where a step was masked.
    pub inputs: Vec<C::Input>,
    /// The initial state's adjoint. It includes [`reset_state`](Gradients::reset_state)
    /// after [`Rnn::backward`], whose resets return to the run's initial state.
    pub initial_state: C::State,
    /// The adjoint of the state the run's [`Resets`](crate::Resets) returned to, summed over
    /// the steps that reset: zeros without resets. For [`Rnn::backward`] that state is the
    /// initial state, so this is also part of `initial_state`; for
    /// [`Stateful::backward_chunk`](crate::Stateful::backward_chunk) it is the stream's
    /// initial state, not the one the chunk started from.
    pub reset_state: C::State,
    /// The constants' adjoint (summed over the steps that read them).
    pub constants: C::Constants,
}

/// Training runs: a forward that records a [`Tape`], and its backward.
impl<C: Differentiable> Rnn<C> {
    /// Keras's `dropout`, `recurrent_dropout` and `seed` on `LSTM`, `GRU` and `SimpleRNN`:
    /// what training runs ([`run_taped`](Rnn::run_taped),
    /// [`run_batch_taped`](Rnn::run_batch_taped), the [`Layer`](crate::train::Layer) and so
    /// [`Model::fit`](crate::train::Model::fit)) drop, with one input mask and one recurrent
    /// mask per sequence, reused at every step, kept units scaled by `1/(1 − rate)`.
    /// Inference never drops: [`run`](Rnn::run) and the other inference drivers ignore it.
    ///
    /// A batch with dropout trains on the loop per sequence, not on the cell's batched kernel
    /// (see [`batched_kernel`](Rnn::batched_kernel)).
    ///
    /// A `#[cell]` says where its step drops, with [`ops::dropout`](crate::ops::dropout) and
    /// [`ops::recurrent_dropout`](crate::ops::recurrent_dropout): those calls drop at these
    /// rates, each with a mask of its own per sequence.
    ///
    /// An error when a rate is outside `[0, 1)`, or the cell has no dropout (the built-in
    /// recurrent cells have, see [`Differentiable::with_dropout`], and a `#[cell]` whose step
    /// calls those operations).
    ///
    /// ```
    /// use rnn::cells::GruCell;
    /// use rnn::train::Tape;
    /// use rnn::{Cell, Dropout, Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// let plain = Rnn::new(GruCell::<2, 3, f64>::keras_init(3));
    /// let dropped = plain.clone().dropout(Dropout { rate: 0.5, recurrent_rate: 0.5, seed: 1 }).unwrap();
    /// let xs = [[1.0, 0.5], [0.0, -1.0]].map(SVector::from);
    /// // Inference drops nothing.
    /// assert_eq!(dropped.run(&xs, &()), plain.run(&xs, &()));
    ///
    /// // Training drops; a fresh tape draws the same masks again.
    /// let s0 = plain.cell().initial_state(&());
    /// let train = |tape: &mut Tape<_>| dropped.run_taped(&xs, Mask::All, s0, &(), tape).unwrap();
    /// let (mut a, mut b) = (Tape::new(), Tape::new());
    /// assert_eq!(train(&mut a), train(&mut b));
    /// assert_ne!(train(&mut a), plain.run(&xs, &()));
    /// assert!(a.dropout_masks().is_some());
    /// ```
    pub fn dropout(mut self, dropout: Dropout) -> Result<Self, DropoutError> {
        dropout.check()?;
        let probe = dropout.masks(0, 0);
        if dropout.is_active() && !C::STEP_DROPOUT && self.cell().with_dropout(&probe).is_none() {
            return Err(DropoutError::Unsupported);
        }
        self.dropout = dropout;
        Ok(self)
    }

    /// [`run_masked_from`](Rnn::run_masked_from) (same outputs and state, bit for bit),
    /// recording in `tape` what [`backward`](Rnn::backward) needs. `tape` is cleared first and
    /// grows only when it has fewer steps of capacity than `inputs` has.
    ///
    /// With [`dropout`](Rnn::dropout), the run drops units with masks drawn from the seed and
    /// the number of runs `tape` recorded before; the outputs are then those of the cell
    /// with the masks folded into its kernels.
    ///
    /// An error, and nothing computed, when the mask does not fit the sequence.
    ///
    /// ```
    /// use rnn::cells::GruCell;
    /// use rnn::train::Tape;
    /// use rnn::{Cell, Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// let rnn = Rnn::new(GruCell::<2, 3, f64>::keras_init(3));
    /// let xs = [[1.0, 0.5], [0.0, -1.0], [0.0, 0.0]].map(SVector::from);
    /// let s0 = rnn.cell().initial_state(&());
    /// let mut tape = Tape::new();
    /// let run = rnn.run_taped(&xs, Mask::Length(2), s0, &(), &mut tape).unwrap();
    /// assert_eq!(run, rnn.run_masked_from(&xs, Mask::Length(2), s0, &()).unwrap());
    /// assert_eq!((tape.len(), tape.valid_steps()), (3, 2));
    ///
    /// // The loss: the first unit of the final state.
    /// let mut d_state = SVector::zeros();
    /// d_state[0] = 1.0;
    /// let d_outputs = vec![SVector::zeros(); xs.len()];
    /// let grads = rnn.backward(&tape, &xs, &d_outputs, d_state, &()).unwrap();
    /// assert_eq!(grads.inputs[2], SVector::<f64, 2>::zeros()); // a padded step reads nothing
    /// let loss = |x: SVector<f64, 2>| {
    ///     let xs = [x, xs[1], xs[2]];
    ///     rnn.run_masked_from(&xs, Mask::Length(2), s0, &()).unwrap().state[0]
    /// };
    /// let h = SVector::from([1e-6, 0.0]);
    /// let slope = (loss(xs[0] + h) - loss(xs[0] - h)) / 2e-6;
    /// assert!((grads.inputs[0][0] - slope).abs() < 1e-8);
    /// ```
    pub fn run_taped<'m, X: Borrow<C::Input>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        initial_state: C::State,
        constants: &impl ConstantsOf<C::Constants>,
        tape: &mut Tape<C::Residual>,
    ) -> Result<Run<C::Output, C::State>, SequenceError> {
        self.run_taped_with_resets(inputs, mask, Resets::None, initial_state, constants, tape)
    }

    /// [`run_with_resets`](Rnn::run_with_resets) (same outputs and state, bit for bit),
    /// recording in `tape` what [`backward`](Rnn::backward) needs, the resets included: the
    /// backward stops the state's adjoint at each reset step and adds it into the initial
    /// state's gradient (and into [`Gradients::reset_state`]), since that step read the
    /// initial state, not the state before it.
    ///
    /// An error, and nothing computed, when the mask or the flags do not fit the sequence.
    ///
    /// ```
    /// use rnn::cells::SimpleRnnCell;
    /// use rnn::train::Tape;
    /// use rnn::{Mask, Rnn};
    /// use nalgebra::SVector;
    ///
    /// let rnn = Rnn::new(SimpleRnnCell::<1, 2, f64>::keras_init(7));
    /// let xs = [0.5, -1.0, 2.0].map(|x| SVector::from([x]));
    /// let resets = [false, false, true];
    /// let mut tape = Tape::new();
    /// let s0 = SVector::zeros();
    /// rnn.run_taped_with_resets(&xs, Mask::All, &resets, s0, &(), &mut tape).unwrap();
    /// // The loss: the final state's sum. It reads only the last episode, the last step.
    /// let d_outputs = [SVector::zeros(); 3];
    /// let grads = rnn.backward(&tape, &xs, &d_outputs, SVector::repeat(1.0), &()).unwrap();
    /// let zero = SVector::<f64, 1>::zeros();
    /// assert_eq!((grads.inputs[0], grads.inputs[1]), (zero, zero));
    /// assert_ne!(grads.inputs[2], zero);
    /// assert_eq!(grads.initial_state, grads.reset_state);
    /// ```
    pub fn run_taped_with_resets<'m, 'r, X: Borrow<C::Input>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        resets: impl Into<Resets<'r>>,
        initial_state: C::State,
        constants: &impl ConstantsOf<C::Constants>,
        tape: &mut Tape<C::Residual>,
    ) -> Result<Run<C::Output, C::State>, SequenceError> {
        let constants: &C::Constants = constants.borrow();
        let (mask, resets) = (mask.into(), resets.into());
        mask.check(inputs.len())?;
        resets.check(inputs.len())?;
        let reset = ResetTo::new(resets, &initial_state);
        let mut state = initial_state;
        let mut outputs = Vec::new();
        let dropout = tape.draw(&self.dropout, 0);
        record_resetting(
            self.cell(),
            Recording {
                inputs,
                mask,
                direction: self.direction,
                padding: self.padding,
                constants,
                dropout,
            },
            (&mut state, &mut None, reset),
            tape,
            &mut outputs,
        );
        Ok(Run {
            outputs: Sequence::from(outputs),
            state,
        })
    }

    /// The backward of a [`run_taped`](Rnn::run_taped) run: given its `tape`, the same
    /// `inputs` and `constants`, the adjoint of every output (`d_outputs`, in the order of the
    /// run's outputs) and of the final state, the gradients of the parameters, inputs, initial
    /// state and constants.
    ///
    /// The steps run last to first. A masked step never called the cell, so it passes the
    /// state's adjoint through and adds no gradient; its output's adjoint follows the
    /// [`Padding`] its output followed: [`Padding::Zero`] output a constant, so the adjoint is
    /// dropped; [`Padding::CarryLastOutput`] copied the previous output, so the adjoint is
    /// added to that output's (never to the state's), and dropped before the first valid step,
    /// whose output was zeros.
    ///
    /// An error when `inputs` or `d_outputs` does not have one entry per recorded step. The
    /// inputs must be those of the taped run: the tape keeps no copy of them.
    pub fn backward<X: Borrow<C::Input>>(
        &self,
        tape: &Tape<C::Residual>,
        inputs: &[X],
        d_outputs: &[C::Output],
        d_final_state: C::State,
        constants: &impl ConstantsOf<C::Constants>,
    ) -> Result<Gradients<C>, ShapeError>
    where
        C: Clone,
    {
        let constants: &C::Constants = constants.borrow();
        let steps = tape.len();
        ShapeError::check_steps("inputs", steps, inputs.len())?;
        ShapeError::check_steps("output adjoints", steps, d_outputs.len())?;
        let mut gradients = Gradients {
            parameters: zeros_like(self.cell()),
            inputs: alloc::vec![C::Input::zeros(); steps],
            initial_state: d_final_state,
            reset_state: C::State::zeros(),
            constants: C::Constants::zeros(),
        };
        let d_reset = replay(
            self.cell(),
            tape,
            inputs,
            d_outputs,
            constants,
            Adjoints {
                state: &mut gradients.initial_state,
                constants: &mut gradients.constants,
                parameters: &mut gradients.parameters,
                inputs: Some(&mut gradients.inputs),
            },
        );
        if let Some(d_reset) = d_reset {
            gradients.initial_state.zip_apply(&d_reset, &Add);
            gradients.reset_state = d_reset;
        }
        Ok(gradients)
    }
}

/// What [`record_resetting`] runs: a sequence, its mask, the direction and padding, the constants.
pub(crate) struct Recording<'a, 'm, X, K> {
    pub(crate) inputs: &'a [X],
    pub(crate) mask: Mask<'m>,
    pub(crate) direction: Direction,
    pub(crate) padding: Padding,
    pub(crate) constants: &'a K,
    /// The masks to drop with, for a cell that has dropout.
    pub(crate) dropout: Option<DropoutMasks>,
}

/// The masked driver's loop (`masked_unroll_into`), step for step, keeping each step's
/// residual in `tape` (cleared first). `state` advances; `carried` is the output before the
/// first step (a stateful stream's last output, for [`Padding::CarryLastOutput`]) and is left
/// holding the last output. `outputs` is cleared and filled in the run's output order.
///
/// With resets, a flagged timestep first sets the state back to `reset`'s initial state and
/// forgets the carried output, as the masked driver's loop does; the tape notes the step, for
/// [`replay`] to stop the state's adjoint there.
///
/// The mask must have been checked against the inputs.
pub(crate) fn record_resetting<C: Differentiable, X: Borrow<C::Input>>(
    cell: &C,
    run: Recording<'_, '_, X, C::Constants>,
    (state, carried, reset): crate::drivers::masked::Carried<'_, '_, C>,
    tape: &mut Tape<C::Residual>,
    outputs: &mut Vec<C::Output>,
) {
    let Recording {
        inputs,
        mask,
        direction,
        padding,
        constants,
        dropout,
    } = run;
    let steps = inputs.len();
    let Dropping {
        copy,
        in_step,
        taped,
    } = Dropping::of(cell, dropout);
    tape.begin(steps, (direction, padding), taped);
    let cell = copy.as_ref().unwrap_or(cell);
    outputs.clear();
    outputs.reserve(steps);
    crate::vectorized(
        #[inline(always)]
        || {
            for k in 0..steps {
                let (time, valid) = schedule(direction, mask, steps, k);
                let fresh = ResetTo::before(reset.as_ref(), time, state);
                if fresh {
                    tape.resets.push(k);
                }
                let x = inputs[time].borrow();
                let masks = in_step.as_ref();
                let output = match (valid, tape.steps.get_mut(k)) {
                    (
                        true,
                        Some(TapedStep {
                            time: at,
                            residual: Some(residual),
                        }),
                    ) => {
                        *at = time;
                        cell.step_forward_into(x, state, constants, masks, residual)
                    }
                    (true, _) => {
                        let (output, residual) =
                            cell.step_forward_with_dropout(x, state, constants, masks);
                        tape.set(k, time, Some(residual));
                        output
                    }
                    (false, _) => {
                        let previous = outputs.last().or(carried.as_ref()).filter(|_| !fresh);
                        tape.set(k, time, None);
                        padding.masked_output(previous)
                    }
                };
                outputs.push(output);
            }
        },
    );
    if let Some(last) = outputs.last() {
        *carried = Some(last.clone());
    }
    if direction.aligned_to_time() {
        outputs.reverse();
    }
}

/// [`record_resetting`] of `N` sequences of one length, each with every step valid, no
/// resets and no dropout, in lockstep: one [`Differentiable::step_forward_block`] per step, so
/// that each of the cell's kernels is read once a step for the block. Each sequence's outputs,
/// final state and tape are the same bits as its own run's.
pub(crate) fn record_block<C: Differentiable, X: Borrow<C::Input>, const N: usize>(
    cell: &C,
    (inputs, constants, direction, padding): ([&[X]; N], [&C::Constants; N], Direction, Padding),
    states: &mut [C::State; N],
    tapes: [&mut Tape<C::Residual>; N],
    outputs: [&mut Vec<C::Output>; N],
) {
    let steps = inputs[0].len();
    let mut tapes = tapes;
    let mut outputs = outputs;
    for (tape, out) in tapes.iter_mut().zip(outputs.iter_mut()) {
        tape.begin(steps, (direction, padding), None);
        out.clear();
        out.reserve(steps);
    }
    crate::vectorized(
        #[inline(always)]
        || {
            for k in 0..steps {
                let (time, _) = schedule(direction, Mask::All, steps, k);
                let xs = inputs.map(|x| x[time].borrow());
                let kept = tapes.each_mut().map(|tape| match tape.steps.get_mut(k) {
                    Some(TapedStep {
                        time: at,
                        residual: Some(residual),
                    }) => {
                        *at = time;
                        Some(residual)
                    }
                    _ => None,
                });
                match all_some(kept) {
                    Ok(residuals) => {
                        let stepped =
                            cell.step_forward_block_into(xs, states, constants, residuals);
                        for (out, output) in outputs.iter_mut().zip(stepped) {
                            out.push(output);
                        }
                    }
                    Err(_) => {
                        let stepped = cell.step_forward_block(xs, states, constants);
                        for ((tape, out), (output, residual)) in
                            tapes.iter_mut().zip(outputs.iter_mut()).zip(stepped)
                        {
                            out.push(output);
                            tape.set(k, time, Some(residual));
                        }
                    }
                }
            }
        },
    );
    if direction.aligned_to_time() {
        for out in outputs {
            out.reverse();
        }
    }
}

/// Every item, when none is `None`; else the items as they were.
fn all_some<T, const N: usize>(items: [Option<T>; N]) -> Result<[T; N], [Option<T>; N]> {
    if items.iter().all(Option::is_some) {
        Ok(items.map(|item| item.expect("every item is `Some`")))
    } else {
        Err(items)
    }
}

/// How a training run applies its dropout masks, which stay the same at every step: folded
/// into a copy of the cell's kernels once (the built-in cells), or handed to every step of a
/// cell that drops units itself ([`Differentiable::STEP_DROPOUT`]).
pub(crate) struct Dropping<C> {
    /// The cell with the masks folded into its kernels.
    pub(crate) copy: Option<C>,
    /// The masks each step draws from.
    pub(crate) in_step: Option<DropoutMasks>,
    /// The masks the run drops with, one way or the other (what its tape keeps).
    pub(crate) taped: Option<DropoutMasks>,
}

impl<C: Differentiable> Dropping<C> {
    /// How `cell` drops with `masks` (nothing without them).
    pub(crate) fn of(cell: &C, masks: Option<DropoutMasks>) -> Self {
        let copy = masks.and_then(|masks| cell.with_dropout(&masks));
        let in_step = masks.filter(|_| C::STEP_DROPOUT && copy.is_none());
        let taped = masks.filter(|_| copy.is_some() || in_step.is_some());
        Dropping {
            copy,
            in_step,
            taped,
        }
    }
}

/// Where [`replay`] accumulates: the state's adjoint (in: after the last step; out: before
/// the first), and the constants', parameters' and inputs' adjoints, added into.
pub(crate) struct Adjoints<'a, C: Cell> {
    pub(crate) state: &'a mut C::State,
    pub(crate) constants: &'a mut C::Constants,
    pub(crate) parameters: &'a mut C,
    /// One per timestep; a valid step's entry is overwritten, a masked step's left as it is.
    /// `None` when nothing reads the inputs' adjoints: the steps then skip them.
    pub(crate) inputs: Option<&'a mut [C::Input]>,
}

/// The backward of a [`record_resetting`] run, last step first, into `adjoints`. The lengths of
/// `inputs`, `d_outputs` and `adjoints.inputs` must be the tape's. Returns the adjoint of the
/// state the run's resets returned to (`None` when no step reset): the state's adjoint at
/// each reset step goes there, not to the steps before it.
pub(crate) fn replay<C: Differentiable, X: Borrow<C::Input>>(
    cell: &C,
    tape: &Tape<C::Residual>,
    inputs: &[X],
    d_outputs: &[C::Output],
    constants: &C::Constants,
    adjoints: Adjoints<'_, C>,
) -> Option<C::State> {
    // With dropout, the run was the masked copy's: its backward goes into a gradient of the
    // copy, which the masks then turn into the cell's (`W' = M ⊙ W`, so `dW = M ⊙ dW'`).
    let dropped = tape.dropout.and_then(|masks| {
        let copy = cell.with_dropout(&masks)?;
        let mut gradient = cell.with_dropout(&masks)?;
        set_to_zero(&mut gradient);
        Some((copy, gradient, masks))
    });
    let Some((copy, mut gradient, masks)) = dropped else {
        return replay_steps(cell, tape, inputs, d_outputs, constants, adjoints);
    };
    let Adjoints {
        state,
        constants: d_constants,
        parameters,
        inputs: d_inputs,
    } = adjoints;
    let into_copy = Adjoints {
        state,
        constants: d_constants,
        parameters: &mut gradient,
        inputs: d_inputs,
    };
    let d_reset = replay_steps(&copy, tape, inputs, d_outputs, constants, into_copy);
    if let Some(gradient) = gradient.with_dropout(&masks) {
        add_parameters(parameters, &gradient, &mut Vec::new());
    }
    d_reset
}

/// [`replay`]'s loop: the steps' backward, last first, for the cell the run stepped.
fn replay_steps<C: Differentiable, X: Borrow<C::Input>>(
    cell: &C,
    tape: &Tape<C::Residual>,
    inputs: &[X],
    d_outputs: &[C::Output],
    constants: &C::Constants,
    adjoints: Adjoints<'_, C>,
) -> Option<C::State> {
    let steps = tape.len();
    let Adjoints {
        state: d_state,
        constants: d_constants,
        parameters,
        inputs: mut d_inputs,
    } = adjoints;
    // The adjoint of an output that a later, masked step copied (`CarryLastOutput`).
    let mut copied: Option<C::Output> = None;
    let mut d_reset = C::State::zeros();
    let mut resets = tape.resets.iter().rev().peekable();
    crate::vectorized(
        #[inline(always)]
        || {
            for (k, step) in tape.steps.iter().enumerate().rev() {
                let at = if tape.direction.aligned_to_time() {
                    steps - 1 - k
                } else {
                    k
                };
                let mut d_output = d_outputs[at].clone();
                if let Some(copied) = copied.take() {
                    d_output.zip_apply(&copied, &Add);
                }
                match &step.residual {
                    Some(residual) => match d_inputs.as_deref_mut() {
                        Some(d_inputs) => {
                            d_inputs[step.time] = cell.step_backward(
                                inputs[step.time].borrow(),
                                residual,
                                &d_output,
                                d_state,
                                constants,
                                d_constants,
                                parameters,
                            );
                        }
                        None => cell.step_backward_without_input(
                            inputs[step.time].borrow(),
                            residual,
                            &d_output,
                            d_state,
                            constants,
                            d_constants,
                            parameters,
                        ),
                    },
                    None if tape.padding == Padding::CarryLastOutput => {
                        copied = Some(d_output);
                    }
                    // A zero output (or one carried from before the run): its adjoint
                    // reaches nothing here.
                    None => {}
                }
                // The step read the reset state, not the one before it: the state's adjoint
                // goes to the reset state and stops, and so does a copied output's (the
                // step's padding output was zeros, not a copy).
                if resets.next_if_eq(&&k).is_some() {
                    d_reset.zip_apply(d_state, &Add);
                    *d_state = C::State::zeros();
                    copied = None;
                }
            }
        },
    );
    (!tape.resets.is_empty()).then_some(d_reset)
}
