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
use core::ops::Range;

use nalgebra::RealField;

use super::differentiable::{zeros_like, Differentiable};
use super::sequence::{record_resetting, replay, Adjoints, Recording, Tape};
use crate::cell::Cell;
use crate::drivers::reset::ResetTo;
use crate::error::{SequenceError, ShapeError};
use crate::nested::{ops, Nested};
use crate::wrappers::bidirectional::episodes::{later_episodes, Episodes, Leaves};
use crate::{
    Ave, BiRun, Bidirectional, Both, BothConstants, BothConstantsOf, Concat, Concatenated,
    Direction,
};
use crate::{Mask, Merge, Mul, NoMerge, Resets, Run, ScalarOp, Sequence, Sum};

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
/// Keep one and pass it to every run: its tapes are refilled, not reallocated (a run with
/// resets also records the backward half's episodes apart, in buffers of that run).
#[derive(Clone, Debug)]
pub struct BidirectionalTape<F: Differentiable, B: Differentiable> {
    forward: Tape<F::Residual>,
    /// The backward half, or, when a step past the first resets, its first episode (the
    /// steps before `split.0`), which continues from the state the half held.
    backward: Tape<B::Residual>,
    /// With such a reset: the episodes from `split.0` to `split.1`, read from the initial
    /// state, resetting between them.
    backward_middle: Tape<B::Residual>,
    /// With such a reset: the last episode, from `split.1` on, whose final state a stream keeps.
    backward_last: Tape<B::Residual>,
    /// Where the backward half's episodes split ([`later_episodes`]).
    split: Option<(usize, usize)>,
    /// Which backward state the run left: a run's (first episode), a stream's (last).
    leaves: Leaves,
    forward_outputs: Vec<F::Output>,
    backward_outputs: Vec<B::Output>,
}

impl<F: Differentiable, B: Differentiable> BidirectionalTape<F, B> {
    /// An empty tape.
    pub const fn new() -> Self {
        BidirectionalTape {
            forward: Tape::new(),
            backward: Tape::new(),
            backward_middle: Tape::new(),
            backward_last: Tape::new(),
            split: None,
            leaves: Leaves::FirstEpisode,
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
    /// The adjoints of both initial states. In a run with resets, they include
    /// `reset_state`: every episode started from the initial states.
    pub initial_state: Both<F::State, B::State>,
    /// The adjoints of the states the resets returned to, zeros when no step reset: in a run,
    /// the initial states (their share of `initial_state`); in a stream's chunk, the stream's
    /// initial states, which the chunk did not start from.
    pub reset_state: Both<F::State, B::State>,
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
        self.run_taped_with_resets(inputs, mask, Resets::None, initial_state, constants, tape)
    }

    /// [`run_with_resets`](Bidirectional::run_with_resets) (same outputs and states, bit for
    /// bit), recording in `tape` what [`backward`](Bidirectional::backward) needs, the resets
    /// included: each direction's state adjoint stops where that direction returned to its
    /// initial state, and is added into that initial state's gradient (and into
    /// [`BidirectionalGradients::reset_state`]), as
    /// [`Rnn::run_taped_with_resets`](crate::Rnn::run_taped_with_resets) does for one cell.
    ///
    /// An error, and nothing computed, when the mask or the flags do not fit the sequence.
    ///
    /// ```
    /// use rnn::cells::SimpleRnnCell;
    /// use rnn::train::BidirectionalTape;
    /// use rnn::{Bidirectional, Both, Mask, Sum};
    /// use nalgebra::SVector;
    ///
    /// let cell = |seed| SimpleRnnCell::<1, 2, f64>::keras_init(seed);
    /// let bi = Bidirectional::new(cell(1), cell(2)).merge_mode(Sum);
    /// let xs = [0.5, -1.0, 2.0, 1.0].map(|x| SVector::from([x]));
    /// let resets = [false, false, true, false]; // episodes 0..2 and 2..4
    /// let s0 = Both::new(SVector::zeros(), SVector::zeros());
    /// let mut tape = BidirectionalTape::new();
    /// let run = bi.run_taped_with_resets(&xs, Mask::All, &resets, s0, &(), &mut tape).unwrap();
    /// assert_eq!(run, bi.run_with_resets(&xs, Mask::All, &resets, s0, &()).unwrap());
    ///
    /// // The loss: the first merged output. It reads the first episode only.
    /// let mut d_outputs = [SVector::zeros(); 4];
    /// d_outputs[0] = SVector::repeat(1.0);
    /// let d_states = Both::new(SVector::zeros(), SVector::zeros());
    /// let grads = bi.backward(&tape, &xs, &d_outputs, d_states, &()).unwrap();
    /// let zero = SVector::<f64, 1>::zeros();
    /// assert_ne!(grads.inputs[1], zero); // the backward half read step 1 before step 0
    /// assert_eq!((grads.inputs[2], grads.inputs[3]), (zero, zero));
    /// ```
    pub fn run_taped_with_resets<'m, 'r, 'k, X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        resets: impl Into<Resets<'r>>,
        initial_state: Both<F::State, B::State>,
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
        tape: &mut BidirectionalTape<F, B>,
    ) -> Result<BiRun<M::Output, F, B>, SequenceError>
    where
        M: Merge<F::Output, B::Output>,
        F::Constants: 'k,
        B::Constants: 'k,
    {
        let (mask, resets) = (mask.into(), resets.into());
        mask.check(inputs.len())?;
        resets.check(inputs.len())?;
        let mut state = initial_state;
        let initial = resets.any().then(|| state.clone());
        let episodes = Episodes::new(mask, resets, initial.as_ref());
        let carried = &mut Both::default();
        let outputs = self.record(
            inputs,
            episodes,
            (&mut state, carried),
            constants.into(),
            tape,
        );
        Ok(Run { outputs, state })
    }

    /// Both directions over a checked sequence from `state` and `carried` (each direction's
    /// output before the first step), with the episodes' resets, recorded in `tape`; `state`
    /// and `carried` are left as inference ([`Bidirectional::run_checked`]) leaves them.
    pub(crate) fn record<X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        episodes: Episodes<'_, '_, F::State, B::State>,
        (state, carried): Carried<'_, F, B>,
        constants: BothConstants<'_, F, B>,
        tape: &mut BidirectionalTape<F, B>,
    ) -> Sequence<M::Output>
    where
        M: Merge<F::Output, B::Output>,
    {
        let mask = episodes.mask;
        let reset =
            (episodes.resets).and_then(|(resets, initial)| ResetTo::new(resets, &initial.forward));
        record_resetting(
            &self.forward,
            self.recording(inputs, mask, Direction::Forward, constants.forward),
            (&mut state.forward, &mut carried.forward, reset),
            &mut tape.forward,
            &mut tape.forward_outputs,
        );
        self.record_backward(
            inputs,
            episodes,
            (&mut state.backward, &mut carried.backward),
            constants.backward,
            tape,
        );
        tape.forward_outputs
            .iter()
            .zip(&tape.backward_outputs)
            .map(|(f, b)| self.merge.merge(f, b))
            .collect()
    }

    /// What [`record`](Self::record) runs a half over: a checked piece of the sequence.
    fn recording<'a, 'm, X, K>(
        &self,
        inputs: &'a [X],
        mask: Mask<'m>,
        direction: Direction,
        constants: &'a K,
    ) -> Recording<'a, 'm, X, K> {
        Recording {
            inputs,
            mask,
            direction,
            padding: self.padding,
            constants,
            dropout: None,
        }
    }

    /// The backward half of [`record`](Self::record), split into episodes as
    /// [`Bidirectional::run_checked`] splits it ([`later_episodes`]): the first continues from
    /// `state` (returning to the initial state first when step 0 resets), the middle ones and
    /// the last are read from the initial state, each taped with the resets of
    /// [`Rnn::run_taped_with_resets`](crate::Rnn::run_taped_with_resets).
    fn record_backward<X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        Episodes {
            mask,
            resets,
            leaves,
        }: Episodes<'_, '_, F::State, B::State>,
        (state, carried): (&mut B::State, &mut Option<B::Output>),
        constants: &B::Constants,
        tape: &mut BidirectionalTape<F, B>,
    ) {
        let steps = inputs.len();
        tape.leaves = leaves;
        tape.split = resets.and_then(|(resets, _)| later_episodes(resets, steps));
        let (first, last) = tape.split.unwrap_or((steps, steps));
        let piece = |range: Range<usize>,
                     run: crate::drivers::masked::Carried<'_, '_, B>,
                     taped: &mut Tape<B::Residual>,
                     outputs: &mut Vec<B::Output>| {
            let steps = &inputs[range.clone()];
            let recording =
                self.recording(steps, mask.range(range), Direction::Reversed, constants);
            record_resetting(&self.backward, recording, run, taped, outputs);
        };
        // The first episode continues from `state`; a reset at step 0 comes before the first
        // step it reads, its last in time.
        let at_start: Vec<bool> = match resets {
            Some((resets, _)) if resets.at(0) => (0..first).map(|t| t + 1 == first).collect(),
            _ => Vec::new(),
        };
        let reset = resets
            .and_then(|(_, initial)| ResetTo::new(Resets::Steps(&at_start), &initial.backward));
        let (taped, outputs) = (&mut tape.backward, &mut tape.backward_outputs);
        piece(0..first, (state, carried, reset), taped, outputs);
        let Some((resets, initial)) = resets.filter(|_| tape.split.is_some()) else {
            return;
        };
        // The others are read from the initial state: the middle ones resetting at the end of
        // each (in time), the last on its own.
        let initial = &initial.backward;
        let mut part = Vec::new();
        let ends = resets.episode_ends(steps);
        let (mut fresh, mut fresh_carried) = (initial.clone(), None);
        let reset = ResetTo::new(Resets::Steps(&ends[first..last]), initial);
        let run = (&mut fresh, &mut fresh_carried, reset);
        piece(first..last, run, &mut tape.backward_middle, &mut part);
        tape.backward_outputs.append(&mut part);
        let (mut fresh, mut fresh_carried) = (initial.clone(), None);
        let run = (&mut fresh, &mut fresh_carried, None);
        piece(last..steps, run, &mut tape.backward_last, &mut part);
        tape.backward_outputs.append(&mut part);
        if leaves == Leaves::LastEpisode {
            *state = fresh;
            *carried = fresh_carried;
        }
    }

    /// The backward of a [`run_taped`](Bidirectional::run_taped) or
    /// [`run_taped_with_resets`](Bidirectional::run_taped_with_resets) run: given its `tape`,
    /// the same `inputs` and `constants`, the adjoint of every merged output (time order) and
    /// of both final states, the gradients of both halves' parameters, the inputs (the two
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
            reset_state: Both::new(F::State::zeros(), B::State::zeros()),
            constants: Both::new(F::Constants::zeros(), B::Constants::zeros()),
        };
        let d_reset = replay(
            &self.forward,
            &tape.forward,
            inputs,
            &d_forward,
            constants.forward,
            Adjoints {
                state: &mut gradients.initial_state.forward,
                constants: &mut gradients.constants.forward,
                parameters: &mut gradients.parameters.forward,
                inputs: Some(&mut gradients.inputs),
            },
        );
        // A run's resets return to its initial states; a stream's to the stream's, which
        // are not the chunk's start.
        let run = tape.leaves == Leaves::FirstEpisode;
        let g = &mut gradients;
        add_reset(
            d_reset,
            run,
            &mut g.initial_state.forward,
            &mut g.reset_state.forward,
        );
        let mut d_inputs = alloc::vec![F::Input::zeros(); steps];
        let d_reset = self.replay_backward(
            tape,
            inputs,
            &d_backward,
            constants.backward,
            &mut gradients,
            &mut d_inputs,
        );
        let g = &mut gradients;
        add_reset(
            d_reset,
            run,
            &mut g.initial_state.backward,
            &mut g.reset_state.backward,
        );
        for (sum, d) in gradients.inputs.iter_mut().zip(&d_inputs) {
            sum.zip_apply(d, &ops::Add);
        }
        Ok(gradients)
    }

    /// The backward half's part of [`backward`](Self::backward): its pieces last first, each
    /// walked back by [`replay`]; `gradients.initial_state.backward` holds the final state's
    /// adjoint and is left holding the start's. Returns the adjoint of the initial state the
    /// pieces read from after a reset (`None` when none did).
    fn replay_backward<X: Borrow<F::Input>>(
        &self,
        tape: &BidirectionalTape<F, B>,
        inputs: &[X],
        d_outputs: &[B::Output],
        constants: &B::Constants,
        gradients: &mut BidirectionalGradients<F, B, M>,
        d_inputs: &mut [F::Input],
    ) -> Option<B::State>
    where
        B: Clone,
    {
        let steps = tape.len();
        let (first, last) = tape.split.unwrap_or((steps, steps));
        let mut d_reset: Option<B::State> = None;
        let mut add = |d: &B::State| match &mut d_reset {
            Some(sum) => sum.zip_apply(d, &ops::Add),
            None => d_reset = Some(d.clone()),
        };
        // A stream keeps the last episode's state, a run the first's: the final state's
        // adjoint goes to that piece.
        let d_final = core::mem::replace(&mut gradients.initial_state.backward, B::State::zeros());
        let keeps_last = tape.split.is_some() && tape.leaves == Leaves::LastEpisode;
        let pieces = [
            (&tape.backward_last, last..steps, keeps_last),
            (&tape.backward_middle, first..last, false),
        ];
        let later = if tape.split.is_some() {
            &pieces[..]
        } else {
            &[]
        };
        for (piece, range, keeps) in later.iter().cloned() {
            let mut d_state = if keeps {
                d_final.clone()
            } else {
                B::State::zeros()
            };
            let returned = replay(
                &self.backward,
                piece,
                &inputs[range.clone()],
                &d_outputs[range.clone()],
                constants,
                Adjoints {
                    state: &mut d_state,
                    constants: &mut gradients.constants.backward,
                    parameters: &mut gradients.parameters.backward,
                    inputs: Some(&mut d_inputs[range]),
                },
            );
            // Both pieces start from the initial state.
            add(&d_state);
            if let Some(d) = returned {
                add(&d);
            }
        }
        gradients.initial_state.backward = if keeps_last {
            B::State::zeros()
        } else {
            d_final
        };
        let returned = replay(
            &self.backward,
            &tape.backward,
            &inputs[..first],
            &d_outputs[..first],
            constants,
            Adjoints {
                state: &mut gradients.initial_state.backward,
                constants: &mut gradients.constants.backward,
                parameters: &mut gradients.parameters.backward,
                inputs: Some(&mut d_inputs[..first]),
            },
        );
        if let Some(d) = returned {
            add(&d);
        }
        d_reset
    }
}

/// A half's reset adjoint `d_reset` (`None` when no step reset): the gradient of the state its
/// resets return to, and, in a run (whose resets return to its initial state), added into
/// that initial state's gradient too.
fn add_reset<S: Nested>(d_reset: Option<S>, run: bool, initial: &mut S, reset: &mut S) {
    if let Some(d_reset) = d_reset {
        if run {
            initial.zip_apply(&d_reset, &ops::Add);
        }
        *reset = d_reset;
    }
}
