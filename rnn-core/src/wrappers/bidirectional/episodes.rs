//! Resets in a [`Bidirectional`]: where episodes begin, and how the backward half, which reads
//! the steps last first, reads each episode from its initial state.

use alloc::vec::Vec;
use core::borrow::Borrow;
use core::ops::Range;

use super::{Bidirectional, Both};
use crate::cell::Cell;
use crate::drivers::direction::Direction;
use crate::drivers::mask::Mask;
use crate::drivers::masked::masked_unroll_into;
use crate::drivers::reset::{ResetTo, Resets};

/// How a [`Bidirectional`] run reads a sequence: its mask, and, when some step resets, the
/// flags and the initial states they return to.
pub(crate) struct Episodes<'r, 's, FS, BS> {
    pub(crate) mask: Mask<'r>,
    pub(crate) resets: Option<(Resets<'r>, &'s Both<FS, BS>)>,
    /// Which backward state the run leaves: a run's is the first episode's (the backward half
    /// ends at step 0); a stream's is the last episode's, which the next chunk continues.
    pub(crate) leaves: Leaves,
}

/// See [`Episodes::leaves`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leaves {
    FirstEpisode,
    LastEpisode,
}

impl<'r, 's, FS, BS> Episodes<'r, 's, FS, BS> {
    /// A run's, whose resets return to `initial` (needed only when some step resets).
    pub(crate) fn new(
        mask: Mask<'r>,
        resets: Resets<'r>,
        initial: Option<&'s Both<FS, BS>>,
    ) -> Self {
        Episodes {
            mask,
            resets: initial
                .filter(|_| resets.any())
                .map(|initial| (resets, initial)),
            leaves: Leaves::FirstEpisode,
        }
    }

    /// A run without resets.
    pub(crate) fn masked(mask: Mask<'r>) -> Self {
        Episodes {
            mask,
            resets: None,
            leaves: Leaves::FirstEpisode,
        }
    }
}

/// How the backward half splits a sequence of `steps` with `resets`: `(first, last)`, where
/// the second episode and the last one begin, when a step past step 0 resets; `None` when the
/// whole sequence is one episode. The steps before `first` continue from the state the half
/// holds; those from `first` on are read from the initial state, `last..` on their own since a
/// stream keeps their final state. Inference and training split alike.
pub(crate) fn later_episodes(resets: Resets<'_>, steps: usize) -> Option<(usize, usize)> {
    let first = (1..steps).find(|&t| resets.at(t))?;
    let last = (first + 1..steps)
        .rev()
        .find(|&t| resets.at(t))
        .unwrap_or(first);
    Some((first, last))
}

impl<F: Cell, B: Cell<Input = F::Input>, M> Bidirectional<F, B, M> {
    /// The backward half over a checked sequence with resets, into `outputs` (time order).
    ///
    /// The steps before the first reset past step 0 continue from `state` and `carried` (a
    /// stream's previous chunk; a run's initial state), unless step 0 resets. Every later
    /// episode is read from the initial state: the middle ones in one loop that returns to it
    /// before the last step of each, and the last one on its own, whose final state a stream
    /// keeps.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_episodes<X: Borrow<F::Input>>(
        &self,
        inputs: &[X],
        (mask, resets, leaves): (Mask<'_>, Resets<'_>, Leaves),
        initial: &B::State,
        state: &mut B::State,
        carried: &mut Option<B::Output>,
        constants: &B::Constants,
        outputs: &mut Vec<B::Output>,
    ) {
        let steps = inputs.len();
        if resets.at(0) {
            state.clone_from(initial);
            *carried = None;
        }
        let later = later_episodes(resets, steps);
        let (first, last) = later.unwrap_or((steps, steps));
        let run = |range: Range<usize>,
                   state: &mut B::State,
                   carried: &mut Option<B::Output>,
                   reset: Option<ResetTo<'_, B::State>>,
                   out: &mut Vec<B::Output>| {
            masked_unroll_into(
                &self.backward,
                &inputs[range.clone()],
                mask.range(range),
                Direction::Reversed,
                self.padding,
                (state, carried, reset),
                constants,
                out,
            )
        };
        run(0..first, state, carried, None, outputs);
        if later.is_none() {
            return;
        }
        let mut part = Vec::new();
        let (mut fresh, mut fresh_carried) = (initial.clone(), None);
        let ends = resets.episode_ends(steps);
        let reset = ResetTo::new(Resets::Steps(&ends[first..last]), initial);
        run(
            first..last,
            &mut fresh,
            &mut fresh_carried,
            reset,
            &mut part,
        );
        outputs.append(&mut part);
        let (mut fresh, mut fresh_carried) = (initial.clone(), None);
        run(last..steps, &mut fresh, &mut fresh_carried, None, &mut part);
        outputs.append(&mut part);
        if leaves == Leaves::LastEpisode {
            *state = fresh;
            *carried = fresh_carried;
        }
    }
}
