//! Keras's `Bidirectional`: a forward and a backward cell over the same sequence, their
//! outputs merged step by step.
//!
//! The backward cell reads the sequence last step first ([`Direction::Reversed`]); its outputs
//! are aligned to the original time axis, so step `t` merges the forward output that has read
//! `x[0..=t]` with the backward output that has read `x[t..]`. With right padding, the backward
//! cell's first step is the last valid one (tf.reverse_sequence) and its padded outputs follow
//! the padding policy. Both final states are returned.
//!
//! Per-step resets ([`Resets`](crate::Resets)) mark where episodes begin in time; each
//! direction reads each episode from its initial state, so a run with resets equals the
//! episodes run one by one. The backward cell, reading last step first, returns to its initial
//! state before the last step of each episode (where the next step begins one).

#[cfg(feature = "alloc")]
pub(crate) mod episodes;
mod merge;
#[cfg(feature = "alloc")]
mod stateful;

#[cfg(feature = "alloc")]
use alloc::vec::Vec;
#[cfg(feature = "alloc")]
use core::borrow::Borrow;

use crate::cell::Cell;
#[cfg(feature = "alloc")]
use crate::drivers::batch::{for_each_pair_mut, Batch, BatchRun};
use crate::drivers::constants::BothConstantsOf;
#[cfg(feature = "alloc")]
use crate::drivers::direction::Direction;
#[cfg(feature = "alloc")]
use crate::drivers::mask::Mask;
use crate::drivers::mask::Padding;
#[cfg(feature = "alloc")]
use crate::drivers::masked::masked_unroll_into;
#[cfg(feature = "alloc")]
use crate::drivers::reset::{ResetTo, Resets};
use crate::nested::{Nested, ScalarOp};
#[cfg(feature = "alloc")]
use crate::{Run, Sequence, SequenceError};
#[cfg(feature = "alloc")]
use episodes::Episodes;

pub use merge::{Ave, Concat, Concatenated, Merge, MergeFn, Mul, NoMerge, Sum};
#[cfg(feature = "alloc")]
pub use stateful::BidirectionalStateful;

/// A value for each direction: initial states, constants and final states of a
/// [`Bidirectional`] run.
///
/// Constants convert from one value shared by both directions: `&()` when neither cell has
/// constants, `&k` when both read the same `k`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Both<F, B> {
    /// The forward direction's value.
    pub forward: F,
    /// The backward direction's value.
    pub backward: B,
}

impl<F, B> Both<F, B> {
    /// Pairs `forward` with `backward`.
    pub const fn new(forward: F, backward: B) -> Self {
        Both { forward, backward }
    }
}

/// The same value for both directions (Keras passes one `constants` list to both halves).
impl<K: Clone> From<K> for Both<K, K> {
    fn from(shared: K) -> Self {
        Both::new(shared.clone(), shared)
    }
}

/// A pair of a forward and a backward value is `Nested` when both are, flattening forward
/// first: a Bidirectional's states are Keras's list `[forward states..., backward states...]`,
/// and a concatenation is the two outputs laid end to end.
macro_rules! nested_pair {
    ($($pair:ident),*) => {$(
        impl<F: Nested, B: Nested> Nested for $pair<F, B> {
            const SIZE: usize = F::SIZE + B::SIZE;

            fn zeros() -> Self {
                $pair { forward: F::zeros(), backward: B::zeros() }
            }

            fn for_each_leaf_shape(f: &mut dyn FnMut(&[usize])) {
                F::for_each_leaf_shape(f);
                B::for_each_leaf_shape(f);
            }

            fn fmt_shape(f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($pair), " { forward: "))?;
                F::fmt_shape(f)?;
                f.write_str(", backward: ")?;
                B::fmt_shape(f)?;
                f.write_str(" }")
            }

            fn zip_apply<O: ScalarOp>(&mut self, other: &Self, op: &O) {
                self.forward.zip_apply(&other.forward, op);
                self.backward.zip_apply(&other.backward, op);
            }

            fn write_f32(&self, out: &mut [f32]) {
                let (forward, backward) = out.split_at_mut(F::SIZE);
                self.forward.write_f32(forward);
                self.backward.write_f32(backward);
            }

            fn read_f32(src: &[f32]) -> Self {
                let (forward, backward) = src.split_at(F::SIZE);
                $pair { forward: F::read_f32(forward), backward: B::read_f32(backward) }
            }
        }
    )*};
}
nested_pair!(Both, Concatenated);

/// What a [`Bidirectional`] run returns: the merged outputs `Y` of every step and both final
/// states (`run.state.forward`, `run.state.backward`).
#[cfg(feature = "alloc")]
pub type BiRun<Y, F, B> = Run<Y, Both<<F as Cell>::State, <B as Cell>::State>>;

/// What [`Bidirectional::run_batch`] returns: every merged output `Y` of every sequence, and
/// both final states of each (`run.states[b].forward`, `run.states[b].backward`).
#[cfg(feature = "alloc")]
pub type BiBatchRun<Y, F, B> = BatchRun<Y, Both<<F as Cell>::State, <B as Cell>::State>>;

/// The constants of a [`Bidirectional`] run, one reference per direction.
pub type BothConstants<'k, F, B> = Both<&'k <F as Cell>::Constants, &'k <B as Cell>::Constants>;

/// Keras's `Bidirectional(layer, backward_layer=..., merge_mode=...)`: two cells of any types
/// reading the same inputs, one forward and one backward, merged step by step.
///
/// ```
/// use rnn::{cell, Bidirectional, Mask, NoMerge};
/// use nalgebra::SVector;
///
/// /// `s' = s + x`, `y = 10 s'`.
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let xs = [1.0, 2.0, 0.0, 0.0].map(|x| SVector::from([x]));
/// let bi = Bidirectional::new(Accumulate, Accumulate).merge_mode(NoMerge);
/// let run = bi.run_masked(&xs, Mask::Length(2), &()).unwrap();
/// let (forward, backward) = run.outputs.unzip();
/// assert_eq!(forward.iter().map(|y| y[0]).collect::<Vec<_>>(), [10.0, 30.0, 30.0, 30.0]);
/// assert_eq!(backward.iter().map(|y| y[0]).collect::<Vec<_>>(), [30.0, 20.0, 0.0, 0.0]);
/// assert_eq!((run.state.forward[0], run.state.backward[0]), (3.0, 3.0));
///
/// // Concat (the default): a 1- and a 1-wide output give 2 values, forward first.
/// let run = Bidirectional::new(Accumulate, Accumulate).run(&xs[..2], &());
/// assert_eq!(run.outputs[0].len(), 2);
/// let y: SVector<f32, 2> = run.outputs[0].into();
/// assert_eq!(y, SVector::from([10.0, 30.0]));
/// ```
///
/// Constants go to each direction as `Both::new(&forward_k, &backward_k)`, or as one `&k` when
/// both read the same value; [`run_batch`](Bidirectional::run_batch) runs a batch and
/// [`stateful`](Bidirectional::stateful) a stream.
#[derive(Clone, Debug, Default, crate::Parameters)]
#[parameters(crate = crate)]
pub struct Bidirectional<F, B, M = Concat> {
    pub(crate) forward: F,
    pub(crate) backward: B,
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    #[parameters(skip)]
    pub(crate) merge: M,
    #[parameters(skip)]
    pub(crate) padding: Padding,
}

/// A cell that can be the backward half of a [`Bidirectional`] whose forward half is `Forward`:
/// it reads the same input.
///
/// Holds exactly when `Self::Input` is `Forward::Input`; its own trait so that two cells of
/// different input widths say so in words.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the backward cell of `{Forward}`: the two directions read different inputs",
    label = "the backward cell's input is not the forward cell's input",
    note = "both halves of a Bidirectional read the same input at each step: give them the same input width"
)]
pub trait ReadsSameInput<Forward: Cell>: Cell<Input = Forward::Input> {}

#[diagnostic::do_not_recommend]
impl<F: Cell, B: Cell<Input = F::Input>> ReadsSameInput<F> for B {}

impl<F: Cell, B: ReadsSameInput<F>> Bidirectional<F, B, Concat> {
    /// `forward` reads the sequence first step first, `backward` last step first; outputs are
    /// concatenated (change it with [`merge_mode`](Bidirectional::merge_mode)).
    pub fn new(forward: F, backward: B) -> Self {
        Bidirectional {
            forward,
            backward,
            merge: Concat,
            padding: Padding::default(),
        }
    }
}

impl<F: Cell, B: ReadsSameInput<F>, M> Bidirectional<F, B, M> {
    /// How the two outputs of a step are combined: [`Concat`], [`Sum`], [`Mul`], [`Ave`],
    /// [`NoMerge`] or a [`MergeFn`]. A merge that does not fit the two outputs (a sum of
    /// different widths) does not compile, with the merge's own message.
    pub fn merge_mode<M2>(self, merge: M2) -> Bidirectional<F, B, M2>
    where
        M2: Merge<F::Output, B::Output>,
    {
        Bidirectional {
            forward: self.forward,
            backward: self.backward,
            merge,
            padding: self.padding,
        }
    }

    /// What each direction outputs at a masked step (default: [`Padding::CarryLastOutput`]).
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// The forward cell.
    pub fn forward_cell(&self) -> &F {
        &self.forward
    }

    /// The backward cell.
    pub fn backward_cell(&self) -> &B {
        &self.backward
    }

    /// The initial states of both directions (each cell's own, from its constants).
    pub fn initial_state<'k>(
        &self,
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
    ) -> Both<F::State, B::State>
    where
        F::Constants: 'k,
        B::Constants: 'k,
    {
        let constants = constants.into();
        Both::new(
            self.forward.initial_state(constants.forward),
            self.backward.initial_state(constants.backward),
        )
    }
}

/// Runs over one sequence or a batch.
///
/// The merge's bound is on each method rather than on this block, so that a merge that does
/// not fit the two outputs is reported in its own words where it is used.
#[cfg(feature = "alloc")]
impl<F: Cell, B: ReadsSameInput<F>, M> Bidirectional<F, B, M> {
    /// Runs both directions over every step of `inputs` from their cells' initial states.
    /// `constants` is `&()` when neither cell has constants, `&k` when both read `k`, else
    /// `Both::new(&forward_k, &backward_k)`.
    pub fn run<'k, X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
    ) -> BiRun<M::Output, F, B>
    where
        M: Merge<F::Output, B::Output>,
        F::Constants: 'k,
        B::Constants: 'k,
    {
        let constants = constants.into();
        let mut state = self.initial_state(constants);
        let outputs = self.run_checked(
            inputs,
            Episodes::masked(Mask::All),
            &mut state,
            &mut Both::default(),
            constants,
        );
        Run { outputs, state }
    }

    /// Runs both directions over `inputs` with `mask`, from their cells' initial states.
    pub fn run_masked<'m, 'k, X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
    ) -> Result<BiRun<M::Output, F, B>, SequenceError>
    where
        M: Merge<F::Output, B::Output>,
        F::Constants: 'k,
        B::Constants: 'k,
    {
        let constants = constants.into();
        let initial = self.initial_state(constants);
        self.run_masked_from(inputs, mask, initial, constants)
    }

    /// Runs both directions over `inputs` with `mask`, each from its given initial state
    /// (Keras's `initial_state=[forward states..., backward states...]`).
    pub fn run_masked_from<'m, 'k, X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        initial_state: Both<F::State, B::State>,
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
    ) -> Result<BiRun<M::Output, F, B>, SequenceError>
    where
        M: Merge<F::Output, B::Output>,
        F::Constants: 'k,
        B::Constants: 'k,
    {
        self.run_with_resets(inputs, mask, Resets::None, initial_state, constants)
    }

    /// Runs both directions over `inputs` with `mask` and per-step resets (Haiku's
    /// `hk.ResetCore`; see [`Resets`]), each from its given initial state. `resets[t]` says
    /// that an episode begins at step `t`: the forward cell returns to its initial state
    /// before step `t`, the backward cell, which reads the episodes last step first, before
    /// step `t - 1`. So the run equals its episodes (the pieces between resets) run one by one
    /// from the initial states: each step's output, the forward state of the last episode and
    /// the backward state of the first. An error, and nothing computed, when the mask or the
    /// flags do not fit the sequence.
    ///
    /// ```
    /// use rnn::{cell, Bidirectional, Both, Mask, NoMerge};
    /// use nalgebra::SVector;
    ///
    /// /// `s' = s + x`, `y = 10 s'`.
    /// #[cell]
    /// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    ///     *s += x;
    ///     *s * 10.0
    /// }
    ///
    /// // Two episodes: steps 0..2 and 2..4.
    /// let xs = [1.0, 2.0, 3.0, 4.0].map(|x| SVector::from([x]));
    /// let bi = Bidirectional::new(Accumulate, Accumulate).merge_mode(NoMerge);
    /// let initial = Both::new(SVector::zeros(), SVector::zeros());
    /// let resets = [false, false, true, false];
    /// let run = bi.run_with_resets(&xs, Mask::All, &resets, initial, &()).unwrap();
    /// let (forward, backward) = run.outputs.unzip();
    /// assert_eq!(forward.iter().map(|y| y[0]).collect::<Vec<_>>(), [10.0, 30.0, 30.0, 70.0]);
    /// assert_eq!(backward.iter().map(|y| y[0]).collect::<Vec<_>>(), [30.0, 20.0, 70.0, 40.0]);
    /// assert_eq!((run.state.forward[0], run.state.backward[0]), (7.0, 3.0));
    /// ```
    pub fn run_with_resets<'m, 'r, 'k, X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        mask: impl Into<Mask<'m>>,
        resets: impl Into<Resets<'r>>,
        initial_state: Both<F::State, B::State>,
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
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
        let outputs = self.run_checked(
            inputs,
            Episodes::new(mask, resets, initial.as_ref()),
            &mut state,
            &mut Both::default(),
            constants.into(),
        );
        Ok(Run { outputs, state })
    }

    /// Runs every sequence of `batch` (with its length or mask, resets and initial state; the
    /// initial states are `Both` values) and returns every merged output and both final states
    /// of each sequence, as [`Rnn::run_batch`](crate::Rnn::run_batch) does for one cell.
    /// Sequences run in parallel with the `std` feature, each giving the bits of
    /// [`run_with_resets`](Bidirectional::run_with_resets) on it. An error, and nothing
    /// computed, when a per-sequence argument does not match the batch size or a mask or a
    /// row of resets does not fit its sequence.
    ///
    /// `constants` are shared by every sequence (as in [`run`](Bidirectional::run)).
    ///
    /// ```
    /// use rnn::cells::GruCell;
    /// use rnn::{Batch, Bidirectional, Sum};
    /// use nalgebra::SVector;
    ///
    /// let bi = Bidirectional::new(GruCell::<2, 3>::keras_init(1), GruCell::<2, 3>::keras_init(2));
    /// let sequences = vec![vec![SVector::from([1.0, -1.0]); 4]; 3];
    /// let run = bi.run_batch(&Batch::new(&sequences).lengths(&[4, 2, 0]), &()).unwrap();
    /// assert_eq!(run.outputs.shape(), [3, 4, 6]); // concatenated: 3 + 3 units
    /// assert_eq!(run.outputs[1][0].len(), 6);
    /// assert_eq!(run.states[2].forward, SVector::<f32, 3>::zeros()); // no valid step
    ///
    /// let summed = bi.merge_mode(Sum).run_batch(&Batch::new(&sequences), &()).unwrap();
    /// assert_eq!(summed.outputs.shape(), [3, 4, 3]);
    /// ```
    pub fn run_batch<'k, Q, X>(
        &self,
        batch: &Batch<'_, Q, Both<F::State, B::State>>,
        constants: impl BothConstantsOf<&'k F::Constants, &'k B::Constants>,
    ) -> Result<BiBatchRun<M::Output, F, B>, SequenceError>
    where
        Q: AsRef<[X]> + Sync,
        X: Borrow<F::Input> + Sync,
        F: Sync,
        B: Sync,
        M: Merge<F::Output, B::Output> + Sync,
        F::State: Send + Sync,
        B::State: Send + Sync,
        F::Constants: Sync + 'k,
        B::Constants: Sync + 'k,
        M::Output: Send,
    {
        let constants = constants.into();
        batch.check()?;
        let mut run = BatchRun::default();
        run.sequences(batch.len());
        run.states
            .extend((0..batch.len()).map(|b| match batch.initial_states {
                Some(states) => states[b].clone(),
                None => self.initial_state(constants),
            }));
        for_each_pair_mut(&mut run.outputs.0, &mut run.states, |b, outputs, state| {
            let inputs = batch.sequences[b].as_ref();
            let (mask, resets) = (batch.masks.get(b), batch.resets.get(b));
            let initial = resets.any().then(|| state.clone());
            let episodes = Episodes::new(mask, resets, initial.as_ref());
            *outputs = self.run_checked(inputs, episodes, state, &mut Both::default(), constants);
        });
        Ok(run)
    }

    /// Both directions over a checked sequence, from `state` (left holding the final states).
    /// `carried` holds each direction's output before the first step, for
    /// [`Padding::CarryLastOutput`] across the chunks of a stream, and is left holding the
    /// last output each produced. With resets, each episode is read from `initial`, but the
    /// first continues from `state` unless step 0 resets (a stream's chunk continues the
    /// episode the previous chunk ended in).
    pub(crate) fn run_checked<X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        Episodes {
            mask,
            resets,
            leaves,
        }: Episodes<'_, '_, F::State, B::State>,
        state: &mut Both<F::State, B::State>,
        carried: &mut Both<Option<F::Output>, Option<B::Output>>,
        constants: BothConstants<'_, F, B>,
    ) -> Sequence<M::Output>
    where
        M: Merge<F::Output, B::Output>,
    {
        let mut forward = Vec::new();
        let reset = resets.and_then(|(resets, initial)| ResetTo::new(resets, &initial.forward));
        masked_unroll_into(
            &self.forward,
            inputs,
            mask,
            Direction::Forward,
            self.padding,
            (&mut state.forward, &mut carried.forward, reset),
            constants.forward,
            &mut forward,
        );
        let mut backward = Vec::new();
        match resets {
            Some((resets, initial)) => self.backward_episodes(
                inputs,
                (mask, resets, leaves),
                &initial.backward,
                &mut state.backward,
                &mut carried.backward,
                constants.backward,
                &mut backward,
            ),
            None => masked_unroll_into(
                &self.backward,
                inputs,
                mask,
                Direction::Reversed,
                self.padding,
                (&mut state.backward, &mut carried.backward, None),
                constants.backward,
                &mut backward,
            ),
        }
        forward
            .iter()
            .zip(backward.iter())
            .map(|(f, b)| self.merge.merge(f, b))
            .collect()
    }
}
