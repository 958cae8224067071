//! A batch of a built-in cell lowered to its batched kernel, as Keras runs an `LSTM` on cuDNN
//! when its arguments allow: one GEMM per step over the whole batch instead of one loop per
//! sequence, with the semantics of the masked driver.
//!
//! It applies when each sequence's valid steps are one run of consecutive timesteps (no mask,
//! a length, or a step mask with padding only before and after), in any [`Direction`]. Then,
//! in the order the driver processes steps, a sequence is `lead` padded steps (whose outputs
//! are zeros: nothing came before them), its `valid` steps, and the trailing padding (whose
//! outputs follow the [`Padding`] policy). The kernel runs the valid steps of every sequence,
//! longest first, so each step's GEMM covers just the sequences still running; the outputs are
//! then laid out as the masked driver lays them out.

use alloc::vec::Vec;
use core::borrow::Borrow;

use rayon::prelude::*;

use super::batch::{Batch, BatchConstants, BatchRun};
use super::direction::Direction;
use super::mask::{Mask, Padding};
use crate::cell::Cell;
use crate::fused::{Job, Workspace};
use crate::nested::Nested;

/// Where a sequence's valid steps are, in processing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    /// Padded steps processed before the first valid one.
    pub(crate) lead: usize,
    /// Valid steps, processed one after the other.
    pub(crate) valid: usize,
    /// The timestep the first valid step reads.
    first: usize,
    /// Whether the valid steps read their timesteps last first.
    backwards: bool,
}

impl Span {
    /// The span of a sequence of `steps` timesteps under `mask`, read in `direction` (as
    /// [`schedule`](super::masked::schedule) orders it), or `None` when its valid steps are not
    /// one run of consecutive timesteps.
    fn of(mask: Mask<'_>, steps: usize, direction: Direction) -> Option<Span> {
        // The valid timesteps `start .. start + valid`.
        let (start, valid) = match mask {
            Mask::All => (0, steps),
            Mask::Length(n) => (0, n),
            Mask::Steps(mask) => {
                let start = mask.iter().position(|&v| v).unwrap_or(0);
                let valid = mask[start..].iter().take_while(|&&v| v).count();
                if mask[start + valid..].iter().any(|&v| v) {
                    return None;
                }
                (start, valid)
            }
        };
        let last = (start + valid).saturating_sub(1);
        Some(match (direction, mask) {
            (Direction::Forward, _) => Span {
                lead: start,
                valid,
                first: start,
                backwards: false,
            },
            // tf.reverse_sequence: the valid prefix backwards, then the padding.
            (Direction::GoBackwards, Mask::Length(_)) => Span {
                lead: 0,
                valid,
                first: last,
                backwards: true,
            },
            // The whole time axis backwards: the padding after the valid steps comes first.
            (Direction::GoBackwards | Direction::Reversed, _) => Span {
                lead: steps - start - valid,
                valid,
                first: last,
                backwards: true,
            },
        })
    }

    /// The timestep the `k`-th valid step reads.
    pub(crate) fn timestep(&self, k: usize) -> usize {
        if self.backwards {
            self.first - k
        } else {
            self.first + k
        }
    }
}

/// A batch laid out for its kernel: each sequence's span, the order the kernel runs the
/// sequences in (longest run first), and the gathered inputs and initial states. Kept between
/// calls so that a call like the last allocates nothing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Gathered {
    pub(crate) spans: Vec<Span>,
    /// The sequences, longest run first.
    pub(crate) order: Vec<usize>,
    /// Each sequence's place in `order`.
    pub(crate) rank: Vec<usize>,
    /// The valid steps of each sequence, in `order`.
    pub(crate) lengths: Vec<usize>,
    /// `[B, T, I]`, in `order`, zeros past a sequence's valid steps.
    pub(crate) inputs: Vec<f32>,
    /// `[B, H]` each, in `order`: `h`, then the LSTM's `c`.
    pub(crate) initial: [Vec<f32>; 2],
    /// One state or output, flat.
    value: Vec<f32>,
}

/// What a lowered batch keeps between calls: the kernel's workspace and the gathered batch.
/// Not a result: any two compare equal, and a clone starts empty.
#[derive(Default)]
pub(crate) struct Lowered {
    work: Workspace,
    batch: Gathered,
}

impl Clone for Lowered {
    fn clone(&self) -> Self {
        Lowered::default()
    }
}

impl PartialEq for Lowered {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl core::fmt::Debug for Lowered {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Lowered")
    }
}

/// Runs `batch` (checked) on `cell`'s batched kernel into `out`, as the masked driver would run
/// each sequence in `direction` with `padding`; `false`, with `out` untouched, when the cell has
/// no kernel or the batch does not fit one (a mask with holes, sizes it cannot hold).
pub(crate) fn run_lowered<C, Q, X>(
    cell: &C,
    config: (Direction, Padding),
    batch: &Batch<'_, Q, C::State>,
    constants: BatchConstants<'_, C::Constants>,
    out: &mut BatchRun<C::Output, C::State>,
) -> bool
where
    C: Cell,
    C::Output: Send,
    Q: AsRef<[X]> + Sync,
    X: Borrow<C::Input> + Sync,
{
    let mut lowered = core::mem::take(&mut out.lowered);
    let mut ran = false;
    cell.batched_kernel(&mut |kernel| {
        let Lowered {
            work,
            batch: gathered,
        } = &mut lowered;
        ran = gathered.gather(cell, kernel.sizes(), config.0, batch, constants)
            && kernel.forward(gathered.job(work)).is_ok();
        if ran {
            let states = [&work.states[0][..], &work.states[1][..]];
            gathered.scatter((&work.outputs, states), out, batch.sequences, config);
        }
    });
    out.lowered = lowered;
    ran
}

/// Whether [`run_lowered`] would run `batch` on `cell`'s batched kernel (sizes that no
/// memory holds aside).
pub(crate) fn applies<C, Q, X>(
    cell: &C,
    direction: Direction,
    batch: &Batch<'_, Q, C::State>,
) -> bool
where
    C: Cell,
    Q: AsRef<[X]>,
{
    let mut fits = false;
    let has_kernel = cell.batched_kernel(&mut |kernel| fits = sizes_fit::<C>(kernel.sizes()));
    has_kernel
        && fits
        && !batch.sequences.is_empty()
        && batch.resets.is_none()
        && (0..batch.len()).all(|b| {
            Span::of(
                batch.masks.get(b),
                batch.sequences[b].as_ref().len(),
                direction,
            )
            .is_some()
        })
}

/// Whether a kernel of `[I, H, states]` runs `C`'s values.
fn sizes_fit<C: Cell>([features, hidden, states]: [usize; 3]) -> bool {
    features > 0
        && hidden > 0
        && C::Input::SIZE == features
        && C::Output::SIZE == hidden
        && Some(C::State::SIZE) == hidden.checked_mul(states)
}

impl Gathered {
    /// Lays `batch` (checked) out for a kernel of `sizes` running `cell`'s values in
    /// `direction`: `false` when it does not fit one (a mask with holes, sizes no memory
    /// holds).
    pub(crate) fn gather<C, Q, X>(
        &mut self,
        cell: &C,
        sizes: [usize; 3],
        direction: Direction,
        batch: &Batch<'_, Q, C::State>,
        constants: BatchConstants<'_, C::Constants>,
    ) -> bool
    where
        C: Cell,
        Q: AsRef<[X]> + Sync,
        X: Borrow<C::Input> + Sync,
    {
        let (sequences, initial_states) = (batch.sequences, batch.initial_states);
        let [features, hidden, _] = sizes;
        // The kernels do not reset states mid-sequence: a batch with resets takes the loop.
        if !sizes_fit::<C>(sizes) || sequences.is_empty() || !batch.resets.is_none() {
            return false;
        }
        // Every sequence's span, or the generic loop.
        self.spans.clear();
        for (b, q) in sequences.iter().enumerate() {
            match Span::of(batch.masks.get(b), q.as_ref().len(), direction) {
                Some(span) => self.spans.push(span),
                None => return false,
            }
        }
        let spans = &self.spans;
        self.order.clear();
        self.order.extend(0..sequences.len());
        self.order
            .sort_unstable_by_key(|&b| (core::cmp::Reverse(spans[b].valid), b));
        self.rank.clear();
        self.rank.resize(sequences.len(), 0);
        for (j, &b) in self.order.iter().enumerate() {
            self.rank[b] = j;
        }
        self.lengths.clear();
        self.lengths
            .extend(self.order.iter().map(|&b| spans[b].valid));
        let longest = self.longest();
        // The gathered buffers: `[B, T, I]` inputs, `[B, H]` initial states. A batch whose
        // padded inputs no `usize` counts or no memory holds runs the generic loop, which
        // needs no padded copy.
        let batch_len = sequences.len();
        let Some(len) = batch_len
            .checked_mul(longest)
            .and_then(|n| n.checked_mul(features))
        else {
            return false;
        };
        if reserve(&mut self.inputs, len).is_err()
            || reserve(&mut self.value, C::State::SIZE).is_err()
        {
            return false;
        }
        let Some(states_len) = batch_len.checked_mul(hidden) else {
            return false;
        };
        for initial in &mut self.initial {
            if reserve(initial, states_len).is_err() {
                return false;
            }
        }
        // Only each sample's valid rows are written, and only those are read (the kernel's
        // products cover the samples still running): the padding keeps whatever it held,
        // rather than being zeroed on every call.
        self.inputs.resize(len, 0.0);
        self.inputs
            .par_chunks_exact_mut((longest * features).max(1))
            .zip(self.order.par_iter())
            .with_min_len(sequences_per_task(longest * features))
            .for_each(|(rows, &b)| {
                let (span, inputs) = (spans[b], sequences[b].as_ref());
                for (k, row) in rows.chunks_exact_mut(features).take(span.valid).enumerate() {
                    inputs[span.timestep(k)].borrow().write_f32(row);
                }
            });
        for initial in &mut self.initial {
            initial.clear();
        }
        let value = &mut self.value;
        value.resize(C::State::SIZE, 0.0);
        for &b in &self.order {
            match initial_states {
                Some(states) => states[b].write_f32(value),
                None => cell.initial_state(constants.get(b)).write_f32(value),
            }
            for (initial, state) in self.initial.iter_mut().zip(value.chunks_exact(hidden)) {
                initial.extend_from_slice(state);
            }
        }
        true
    }

    /// The most valid steps of a sequence: the kernel's `T`.
    pub(crate) fn longest(&self) -> usize {
        self.lengths.first().copied().unwrap_or(0)
    }

    /// The kernel's job on the gathered batch, its results into `work`.
    pub(crate) fn job<'a>(&'a self, work: &'a mut Workspace) -> Job<'a> {
        Job {
            inputs: &self.inputs,
            lengths: &self.lengths,
            initial: [&self.initial[0], &self.initial[1]],
            work,
        }
    }

    /// Lays the kernel's results (`[B, T, H]` outputs, `[B, H]` final states, the second
    /// empty but for the LSTM) out as the masked driver does: each sequence's outputs in
    /// processing order (zeros for the leading padding, the valid steps' outputs, then the
    /// padding's), reversed for [`Direction::Reversed`], and its final state.
    pub(crate) fn scatter<O: Nested + Send, S: Nested, Q: AsRef<[X]> + Sync, X>(
        &mut self,
        (outputs, states): (&[f32], [&[f32]; 2]),
        out: &mut BatchRun<O, S>,
        sequences: &[Q],
        (direction, padding): (Direction, Padding),
    ) {
        let (longest, hidden) = (self.longest(), O::SIZE);
        let (rank, spans) = (&self.rank, &self.spans);
        out.sequences(sequences.len())
            .par_iter_mut()
            .enumerate()
            .with_min_len(sequences_per_task(longest * hidden))
            .for_each(|(b, sequence)| {
                let (j, span, steps) = (rank[b], spans[b], sequences[b].as_ref().len());
                let rows = &outputs[j * longest * hidden..][..span.valid * hidden];
                let sequence = &mut sequence.0;
                sequence.clear();
                sequence.extend((0..span.lead).map(|_| O::zeros()));
                sequence.extend(rows.chunks_exact(hidden).map(O::read_f32));
                let last = match padding {
                    Padding::CarryLastOutput if span.valid > 0 => sequence.last().cloned(),
                    _ => None,
                };
                let tail = steps - span.lead - span.valid;
                sequence.extend((0..tail).map(|_| last.clone().unwrap_or_else(O::zeros)));
                if direction.aligned_to_time() {
                    sequence.reverse();
                }
            });
        out.states.clear();
        for &j in &self.rank {
            self.value.clear();
            for state in states.iter().filter(|s| !s.is_empty()) {
                self.value
                    .extend_from_slice(&state[j * hidden..(j + 1) * hidden]);
            }
            out.states.push(S::read_f32(&self.value));
        }
    }
}

/// The fewest sequences of `values` each that a parallel copy hands one thread: enough that
/// the copy outweighs waking the thread, so a small batch's copies run on the caller's.
pub(crate) fn sequences_per_task(values: usize) -> usize {
    const VALUES_PER_TASK: usize = 1 << 15;
    VALUES_PER_TASK.div_ceil(values.max(1))
}

/// Grows `buffer` to hold `len` values, or the allocator's refusal.
fn reserve(buffer: &mut Vec<f32>, len: usize) -> Result<(), alloc::collections::TryReserveError> {
    buffer.try_reserve_exact(len.saturating_sub(buffer.len()))
}
