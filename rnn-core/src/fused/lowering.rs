//! The batched kernel of a built-in cell as [`Rnn`](crate::Rnn) runs it: the fused layers'
//! forward over samples sorted by their number of valid steps, with its packed weights and
//! buffers in a [`Workspace`] the caller keeps, so that a call like the last allocates nothing.
//!
//! Nothing here is a stable interface: it is public only because the cells' hook
//! (`Cell::batched_kernel`) names it.

use alloc::vec::Vec;

use super::backward::{Gradients, Trace};
use super::packed::Pool;
use super::{forward_into, Gru, Layer, Lengths, Lstm, SimpleRnn};
use crate::error::ShapeError;

/// One lowered batch: `inputs` is `[B, T, I]` in processing order, the samples sorted by
/// `lengths` (their valid steps, the first of each sample's rows), longest first.
#[doc(hidden)]
#[derive(Debug)]
pub struct Job<'a> {
    /// `[B, T, I]`.
    pub inputs: &'a [f32],
    /// The valid steps of each sample, non-increasing.
    pub lengths: &'a [usize],
    /// The initial states, `[B, H]` each: `h`, then the LSTM's `c` (empty for the others).
    pub initial: [&'a [f32]; 2],
    /// Where the results go, and the buffers reused from the last call.
    pub work: &'a mut Workspace,
}

impl<'a> Job<'a> {
    /// The lengths when they differ; `None` when every sample runs every step, which spares
    /// the kernel the work of ragged lengths (zeroing past each length, in both directions).
    fn ragged(&self) -> Option<&'a [usize]> {
        (self.lengths.first() != self.lengths.last()).then_some(self.lengths)
    }
}

/// The buffers of a lowered batch: its results and what the kernel works in.
#[doc(hidden)]
#[derive(Default)]
pub struct Workspace {
    /// Every step's output, `[B, T, H]`: zeros past a sample's length.
    pub outputs: Vec<f32>,
    /// The final states, `[B, H]` each (`h`, then the LSTM's `c`).
    pub states: [Vec<f32>; 2],
    scratch: Vec<f32>,
    pool: Pool,
}

/// Its buffers' sizes, not their values.
impl core::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Workspace({} outputs)", self.outputs.len())
    }
}

/// A fused layer seen through what a lowered batch needs of it.
#[doc(hidden)]
pub trait BatchedKernel {
    /// `[I, H, number of states]`.
    fn sizes(&self) -> [usize; 3];

    /// Runs `job`; its results are in `job.work`.
    fn forward(&mut self, job: Job<'_>) -> Result<(), ShapeError>;

    /// Runs `job` as [`forward`](Self::forward) does (the same bits), recording in `trace` what
    /// [`backward`](Self::backward) needs; the results are in `trace` (`job.work` lends its
    /// buffers for the packed weights).
    fn forward_train(&mut self, job: Job<'_>, trace: &mut Trace) -> Result<(), ShapeError>;

    /// The backward of the run `trace` recorded from `inputs` (`[B, T, I]`, the job's): from
    /// the adjoints of every output (`[B, T, H]`) and of the final states (`[B, H]` each: `h`,
    /// then the LSTM's `c`, empty for the others), the gradients in `grads`.
    fn backward(
        &self,
        trace: &Trace,
        inputs_and_d_outputs: (&[f32], &[f32]),
        d_final: [&[f32]; 2],
        grads: &mut Gradients,
    ) -> Result<(), ShapeError>;

    /// Which biases the cell has: its `bias`, and its recurrent bias (the GRU's), whose
    /// gradients are the rows of the cell's `bias` tensor.
    fn biases(&self) -> [bool; 2];
}

/// `run` on `layer` with its step weights packed in buffers from `pool` (unless `batch`
/// samples run sample by sample), which get the buffers back afterwards.
fn packed<L, R, const I: usize, const G: usize, const H: usize>(
    layer: &mut L,
    batch: usize,
    pool: &mut Pool,
    run: impl FnOnce(&L) -> R,
) -> R
where
    L: Layer<I, G, H>,
{
    let path = layer.packed().path;
    if layer.packed().by_sample(batch).is_none() {
        let weights = layer.pack(path, pool);
        layer.packed_mut().set(weights);
    }
    let result = run(layer);
    if let Some(weights) = layer.packed_mut().take() {
        L::recycle(weights, pool);
    }
    result
}

/// [`BatchedKernel::forward`] for a layer with `S` states that are results: packs the weights
/// into the workspace's pool (unless the batch runs sample by sample), runs the layer's forward
/// with the lengths, and gives the buffers back.
fn lowered<L, const I: usize, const G: usize, const H: usize, const S: usize>(
    layer: &mut L,
    job: Job<'_>,
) -> Result<(), ShapeError>
where
    L: Layer<I, G, H>,
{
    let ragged = job.ragged();
    let Job {
        inputs,
        lengths,
        initial,
        work,
    } = job;
    const NAMES: [&str; 2] = ["initial h [B, H]", "initial c [B, H]"];
    let initial = core::array::from_fn(|s| (NAMES[s], Some(initial[s])));
    let Workspace {
        outputs,
        states: [h, c],
        scratch,
        pool,
    } = work;
    let mut states = [Some(h), Some(c)].into_iter().flatten();
    let states = core::array::from_fn(|_| states.next().expect("two states"));
    packed(layer, lengths.len(), pool, |layer| {
        forward_into::<L, I, G, H, S>(
            layer,
            (
                inputs,
                lengths.len(),
                ragged.map_or(Lengths::All, Lengths::Sorted),
            ),
            initial,
            (outputs, states, scratch),
            None,
        )
    })
}

impl<const I: usize, const H: usize> BatchedKernel for Lstm<'_, I, H> {
    fn sizes(&self) -> [usize; 3] {
        [I, H, 2]
    }

    fn forward(&mut self, job: Job<'_>) -> Result<(), ShapeError> {
        lowered::<_, I, 4, H, 2>(self, job)
    }

    fn forward_train(&mut self, job: Job<'_>, trace: &mut Trace) -> Result<(), ShapeError> {
        let ([h, c], ragged) = (job.initial, job.ragged());
        packed(self, job.lengths.len(), &mut job.work.pool, |layer| {
            let batch = job.lengths.len();
            layer.forward_train_into(job.inputs, batch, ragged, Some((h, c)), trace)
        })
    }

    fn backward(
        &self,
        trace: &Trace,
        (inputs, d_outputs): (&[f32], &[f32]),
        [h, c]: [&[f32]; 2],
        grads: &mut Gradients,
    ) -> Result<(), ShapeError> {
        self.backward_into(trace, inputs, d_outputs, Some((h, c)), grads)
    }

    fn biases(&self) -> [bool; 2] {
        [self.cell().bias.is_some(), false]
    }
}

/// The batched kernel of a fused layer with one state, `h` (the GRU, with `G = 3` gates,
/// and the SimpleRNN, with one), whose biases are `$biases` of its cell.
macro_rules! one_state_kernel {
    ($layer:ident, $gates:literal, |$cell:ident| $biases:expr) => {
        impl<const I: usize, const H: usize> BatchedKernel for $layer<'_, I, H> {
            fn sizes(&self) -> [usize; 3] {
                [I, H, 1]
            }

            fn forward(&mut self, job: Job<'_>) -> Result<(), ShapeError> {
                lowered::<_, I, $gates, H, 1>(self, job)
            }

            fn forward_train(&mut self, job: Job<'_>, trace: &mut Trace) -> Result<(), ShapeError> {
                let ragged = job.ragged();
                packed(self, job.lengths.len(), &mut job.work.pool, |layer| {
                    let batch = job.lengths.len();
                    let h = Some(job.initial[0]);
                    layer.forward_train_into(job.inputs, batch, ragged, h, trace)
                })
            }

            fn backward(
                &self,
                trace: &Trace,
                (inputs, d_outputs): (&[f32], &[f32]),
                [h, _]: [&[f32]; 2],
                grads: &mut Gradients,
            ) -> Result<(), ShapeError> {
                self.backward_into(trace, inputs, d_outputs, Some(h), grads)
            }

            fn biases(&self) -> [bool; 2] {
                let $cell = self.cell();
                $biases
            }
        }
    };
}

one_state_kernel!(Gru, 3, |cell| [
    cell.bias.is_some(),
    cell.recurrent_bias.is_some()
]);
one_state_kernel!(SimpleRnn, 1, |cell| [cell.bias.is_some(), false]);

/// A built-in cell's `Cell::batched_kernel`: calls `run` with `layer(cell)` when `cell` is the
/// `f32` cell `F` the layer runs (the batched kernels are `f32` only), and returns whether it
/// was.
#[doc(hidden)]
pub fn lower<'c, C: core::any::Any, F: core::any::Any, K: BatchedKernel>(
    cell: &'c C,
    layer: impl FnOnce(&'c F) -> K,
    run: &mut dyn FnMut(&mut dyn BatchedKernel),
) -> bool {
    let cell: &'c dyn core::any::Any = cell;
    match cell.downcast_ref::<F>() {
        Some(cell) => {
            run(&mut layer(cell));
            true
        }
        None => false,
    }
}
