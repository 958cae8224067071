//! Per-step resets (Haiku's `hk.ResetCore`): a flag per timestep that returns the sequence's
//! state to its initial state before that step, so that one sequence can hold several
//! episodes back to back.
//!
//! A reset is an argument beside the [`Mask`](crate::Mask), not a wrapper cell: Haiku's
//! `ResetCore` reads the flags as part of each step's input, but the state it resets to is the
//! driver's (the run's initial state, or a stream's), so here the driver reads the flags and
//! the cell stays the cell. Where a mask says which steps are data, resets say where episodes
//! begin; the two combine freely.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;

use crate::error::SequenceError;

/// Which timesteps of one sequence begin a new episode: before such a step runs, the state is
/// set back to the run's initial state (Haiku's `hk.ResetCore`:
/// `state = where(should_reset, initial_state, state)`, then the step).
///
/// The output carried over padded steps by
/// [`Padding::CarryLastOutput`](crate::Padding::CarryLastOutput) is forgotten too, so a run
/// with resets equals the pieces between its resets run one by one from the initial state.
/// A reset applies whether or not its step is masked, and in the order the run reads its
/// steps (a flag belongs to its timestep, also when the run goes backwards). In training, the
/// state's adjoint stops at a reset step and is added into the initial state's gradient.
///
/// ```
/// use rnn::{cell, Mask, Resets, Rnn};
/// use nalgebra::SVector;
///
/// /// `s' = s + x`, `y = 10 s'`.
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// // Two episodes in one sequence: the second starts at step 2.
/// let xs = [1.0, 2.0, 3.0, 4.0].map(|x| SVector::from([x]));
/// let resets = [false, false, true, false];
/// let s0 = SVector::from([100.0]);
/// let run = Rnn::new(Accumulate).run_with_resets(&xs, Mask::All, &resets, s0, &()).unwrap();
/// let ys: Vec<f32> = run.outputs.iter().map(|y| y[0]).collect();
/// assert_eq!(ys, [1010.0, 1030.0, 1030.0, 1070.0]);
/// assert_eq!(run.state[0], 107.0);
/// assert_eq!(Resets::from(&resets).at(2), true);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Resets<'a> {
    /// No step resets.
    #[default]
    None,
    /// Step `t` resets when `resets[t]` is `true`.
    Steps(&'a [bool]),
}

impl Resets<'_> {
    /// Whether the state is reset before timestep `t`. No step beyond a [`Resets::Steps`]
    /// slice resets.
    #[inline]
    pub fn at(&self, t: usize) -> bool {
        match *self {
            Resets::None => false,
            Resets::Steps(flags) => flags.get(t).copied().unwrap_or(false),
        }
    }

    /// `Ok` when the flags fit a sequence of `steps` timesteps: none, or exactly one per step.
    pub fn check(&self, steps: usize) -> Result<(), SequenceError> {
        match *self {
            Resets::Steps(flags) if flags.len() != steps => Err(SequenceError::ResetsLength {
                sequence: 0,
                expected: steps,
                found: flags.len(),
            }),
            _ => Ok(()),
        }
    }

    /// The flags of a run over the same `steps` that reads them last first, for the same
    /// episodes: step `t` resets when step `t + 1` begins an episode, so that each episode
    /// is read from the initial state (a Bidirectional's backward half).
    #[cfg(feature = "alloc")]
    pub(crate) fn episode_ends(&self, steps: usize) -> Vec<bool> {
        (1..=steps).map(|next| self.at(next)).collect()
    }

    /// Whether some step resets.
    pub fn any(&self) -> bool {
        match *self {
            Resets::None => false,
            Resets::Steps(flags) => flags.contains(&true),
        }
    }
}

impl<'a> From<&'a [bool]> for Resets<'a> {
    fn from(flags: &'a [bool]) -> Self {
        Resets::Steps(flags)
    }
}

impl<'a, const N: usize> From<&'a [bool; N]> for Resets<'a> {
    fn from(flags: &'a [bool; N]) -> Self {
        Resets::Steps(flags)
    }
}

#[cfg(feature = "alloc")]
impl<'a> From<&'a Vec<bool>> for Resets<'a> {
    fn from(flags: &'a Vec<bool>) -> Self {
        Resets::Steps(flags)
    }
}

/// The resets of a batch: none, or one row of flags per sequence (`resets[b][t]`, the
/// `should_reset` array Haiku's `ResetCore` reads, sequence-major).
///
/// Converted from `&[Vec<bool>]` (or `&Vec<Vec<bool>>`) and from `&[Resets]`.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchResets<'a> {
    /// No step of any sequence resets.
    #[default]
    None,
    /// `flags[b][t]` for step `t` of sequence `b`.
    Rows(&'a [Vec<bool>]),
    /// `resets[b]` for sequence `b`.
    Each(&'a [Resets<'a>]),
}

#[cfg(feature = "alloc")]
impl<'a> BatchResets<'a> {
    /// The resets of sequence `b` (the count must have been checked).
    pub(crate) fn get(&self, b: usize) -> Resets<'a> {
        match *self {
            BatchResets::None => Resets::None,
            BatchResets::Rows(rows) => Resets::Steps(&rows[b]),
            BatchResets::Each(resets) => resets[b],
        }
    }

    /// Whether no step of any sequence resets (the batched kernels, which do not reset,
    /// may run the batch).
    #[cfg(feature = "std")]
    pub(crate) fn is_none(&self) -> bool {
        match *self {
            BatchResets::None => true,
            BatchResets::Rows(rows) => !rows.iter().any(|row| row.contains(&true)),
            BatchResets::Each(resets) => !resets.iter().any(Resets::any),
        }
    }

    /// `Ok` when there is one row per sequence and each fits its sequence's length.
    pub fn check(&self, steps: impl ExactSizeIterator<Item = usize>) -> Result<(), SequenceError> {
        let found = match *self {
            BatchResets::None => return Ok(()),
            BatchResets::Rows(rows) => rows.len(),
            BatchResets::Each(resets) => resets.len(),
        };
        SequenceError::check_batch("resets", steps.len(), found)?;
        for (b, t) in steps.enumerate() {
            self.get(b).check(t).map_err(|e| e.in_sequence(b))?;
        }
        Ok(())
    }
}

#[cfg(feature = "alloc")]
impl<'a> From<&'a [Vec<bool>]> for BatchResets<'a> {
    fn from(rows: &'a [Vec<bool>]) -> Self {
        BatchResets::Rows(rows)
    }
}

#[cfg(feature = "alloc")]
impl<'a> From<&'a Vec<Vec<bool>>> for BatchResets<'a> {
    fn from(rows: &'a Vec<Vec<bool>>) -> Self {
        BatchResets::Rows(rows)
    }
}

#[cfg(feature = "alloc")]
impl<'a> From<&'a [Resets<'a>]> for BatchResets<'a> {
    fn from(resets: &'a [Resets<'a>]) -> Self {
        BatchResets::Each(resets)
    }
}

/// Where a run's resets return to: the flags, and a copy of the state they restore.
pub(crate) struct ResetTo<'a, S> {
    resets: Resets<'a>,
    initial: S,
}

impl<'a, S: Clone> ResetTo<'a, S> {
    /// The resets to `initial`; `None` (and no copy) when no step resets.
    pub(crate) fn new(resets: Resets<'a>, initial: &S) -> Option<Self> {
        resets.any().then(|| ResetTo {
            resets,
            initial: initial.clone(),
        })
    }

    /// Whether timestep `t` is flagged (never, without resets).
    #[inline]
    pub(crate) fn at(reset: Option<&Self>, t: usize) -> bool {
        reset.is_some_and(|reset| reset.resets.at(t))
    }

    /// Resets `state` when timestep `t` is flagged; returns whether it did.
    #[inline]
    pub(crate) fn before(reset: Option<&Self>, t: usize, state: &mut S) -> bool {
        match reset {
            Some(reset) if reset.resets.at(t) => {
                state.clone_from(&reset.initial);
                true
            }
            _ => false,
        }
    }
}
