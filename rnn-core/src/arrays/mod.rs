//! Keras's array layout at the boundary: a batch held as one row-major `[B, T, F]` array of
//! `f32` (from numpy, a CSV, an `ndarray`), with a `[B, T]` mask or `B` lengths, goes in; the
//! outputs come out as `[B, T, ·]` (Keras's `return_sequences=True`) and `[B, ·]` (each
//! sequence's last valid output, `return_sequences=False`), the final states as Keras's list
//! of `[B, ·]` arrays (`return_state=True`).
//!
//! Keras's state list is the flattening of the state's leaves: `[h, c]` for an LSTM,
//! `[h0, c0, h1]` for an LSTM under a GRU (Keras nests it `[[h0, c0], [h1]]`), `[h_f, c_f, h_b,
//! c_b]` for a Bidirectional. The same list, given back as initial states, starts a run from
//! them (an encoder's states starting a decoder).
//!
//! Episodes that begin inside a sequence are a `[B, T]` array of reset flags
//! ([`ArrayBatch::resets`]), Haiku's `should_reset` in this layout.
//!
//! A stateful stream takes its chunks as arrays too
//! ([`StatefulBatch::feed_arrays`](crate::StatefulBatch::feed_arrays)), and returns them in
//! the same layout.

mod error;
mod layers;
#[cfg(feature = "ndarray")]
mod ndarray;
mod run;
mod stream;

use alloc::borrow::Cow;
use alloc::vec;
use alloc::vec::Vec;

use crate::drivers::batch::{Batch, Batched};
use crate::drivers::direction::Direction;
use crate::drivers::mask::Mask;
use crate::drivers::masked::schedule;
use crate::drivers::reset::{BatchResets, Resets};
use crate::nested::Nested;

pub use error::ArrayError;
#[cfg(feature = "ndarray")]
pub use ndarray::NdArrayRun;

/// An owned row-major array of `f32` and its shape: an output or a state at the boundary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlatArray {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl FlatArray {
    /// The array of `shape` holding `data`, row-major; an error when `data` does not hold
    /// exactly the shape's values.
    ///
    /// ```
    /// use rnn::arrays::FlatArray;
    ///
    /// let h = FlatArray::new(vec![2, 3], vec![0.0; 6]).unwrap();
    /// assert_eq!((h.shape(), h.data().len()), (&[2, 3][..], 6));
    /// let err = FlatArray::new(vec![2, 3], vec![0.0; 5]).unwrap_err();
    /// assert_eq!(err.to_string(), "array: a [2, 3] array holds 6 values, found 5");
    /// ```
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self, ArrayError> {
        ArrayError::check_values("array", &shape, data.len())?;
        Ok(FlatArray { shape, data })
    }

    /// The shape (`[B, T, F]`, `[B, units]`, ...).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, row-major, as a `Vec`.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }
}

/// What a run over arrays returns, in Keras's layout: the outputs `[B, T, ·]`, the last
/// outputs `[B, ·]` and the final states.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArrayRun {
    outputs: FlatArray,
    last_outputs: FlatArray,
    states: Vec<FlatArray>,
}

impl ArrayRun {
    /// Every step's output, `[B, T, ·]` (Keras's `return_sequences=True`), as the layer's
    /// padding policy lays out the masked steps.
    pub fn outputs(&self) -> &FlatArray {
        &self.outputs
    }

    /// Each sequence's output at its last valid step, `[B, ·]` (Keras's
    /// `return_sequences=False`); zeros for a sequence with no valid step.
    pub fn last_outputs(&self) -> &FlatArray {
        &self.last_outputs
    }

    /// The final states, in Keras's list order (the state's leaves flattened), each
    /// `[B, ·]`; they start another run as its
    /// [`initial_states`](ArrayBatch::initial_states).
    pub fn states(&self) -> &[FlatArray] {
        &self.states
    }

    /// The outputs, last outputs and states.
    pub fn into_parts(self) -> (FlatArray, FlatArray, Vec<FlatArray>) {
        (self.outputs, self.last_outputs, self.states)
    }
}

/// A batch of sequences as Keras holds it: a row-major `[B, T, F]` array of `f32`, with a
/// `[B, T]` mask or `B` lengths, `[B, T]` reset flags, and the initial states as Keras's list of `[B, ·]` arrays;
/// the argument of [`Rnn::run_arrays`](crate::Rnn::run_arrays),
/// [`Bidirectional::run_arrays`](crate::Bidirectional::run_arrays) and, a chunk of a stream,
/// [`StatefulBatch::feed_arrays`](crate::StatefulBatch::feed_arrays).
///
/// Nothing is checked until a run, which returns an [`ArrayError`] naming the expected and
/// found shapes.
#[derive(Clone, Debug)]
pub struct ArrayBatch<'a> {
    inputs: Cow<'a, [f32]>,
    shape: [usize; 3],
    masks: ArrayMasks<'a>,
    resets: Option<Flags<'a>>,
    initial_states: Option<&'a [FlatArray]>,
}

/// `[B, T]` flags, row-major, with the shape they were given in (if any).
#[derive(Clone, Debug)]
struct Flags<'a>(Cow<'a, [bool]>, Option<[usize; 2]>);

impl Flags<'_> {
    /// One row per sequence, or an error naming `what` when the flags are not `[batch, steps]`.
    fn rows(
        &self,
        what: &'static str,
        [batch, steps]: [usize; 2],
    ) -> Result<Vec<&[bool]>, ArrayError> {
        if let Some(shape) = &self.1 {
            ArrayError::check_shape(what, &[batch, steps], shape)?;
        }
        ArrayError::check_values(what, &[batch, steps], self.0.len())?;
        Ok((0..batch)
            .map(|b| &self.0[b * steps..(b + 1) * steps])
            .collect())
    }
}

#[derive(Clone, Debug)]
enum ArrayMasks<'a> {
    All,
    Steps(Flags<'a>),
    Lengths(&'a [usize]),
}

impl<'a> ArrayBatch<'a> {
    /// The `[B, T, F]` array `inputs` of `shape`, row-major; every step valid, every sequence
    /// from its cell's initial state.
    pub fn new(inputs: &'a [f32], shape: [usize; 3]) -> Self {
        ArrayBatch {
            inputs: Cow::Borrowed(inputs),
            shape,
            masks: ArrayMasks::All,
            resets: None,
            initial_states: None,
        }
    }

    /// The `[B, T, F]` array `inputs` (another layer's outputs, say); an error naming its
    /// shape when it is not three-dimensional.
    ///
    /// ```
    /// use rnn::arrays::{ArrayBatch, FlatArray};
    ///
    /// let x = FlatArray::new(vec![2, 3, 4], vec![0.0; 24]).unwrap();
    /// assert_eq!(ArrayBatch::from_array(&x).unwrap().shape(), [2, 3, 4]);
    /// let flat = FlatArray::new(vec![6, 4], vec![0.0; 24]).unwrap();
    /// assert_eq!(
    ///     ArrayBatch::from_array(&flat).unwrap_err().to_string(),
    ///     "inputs: expected shape [B, T, F], found [6, 4]"
    /// );
    /// ```
    pub fn from_array(inputs: &'a FlatArray) -> Result<Self, ArrayError> {
        match *inputs.shape() {
            [b, t, f] => Ok(Self::new(inputs.data(), [b, t, f])),
            _ => Err(ArrayError::Rank {
                what: "inputs",
                expected: "[B, T, F]",
                found: inputs.shape().to_vec(),
            }),
        }
    }

    /// A `[B, T]` mask, row-major (Keras's `mask`): `false` marks a padded step.
    pub fn mask(mut self, mask: &'a [bool]) -> Self {
        self.masks = ArrayMasks::Steps(Flags(Cow::Borrowed(mask), None));
        self
    }

    /// Per-step resets as a `[B, T]` array, row-major (Haiku's `should_reset`; see
    /// [`Resets`]): `true` at `[b, t]` returns sequence `b` to its initial
    /// state before step `t`, so one sequence may hold several episodes. The run is
    /// [`Batch::resets`](crate::Batch::resets)'s on the same flags; a stream's chunk
    /// ([`StatefulBatch::feed_arrays`](crate::StatefulBatch::feed_arrays)) resets each stream
    /// to its initial state. Flags that are not `[B, T]` are an error at the run, naming
    /// both shapes.
    ///
    /// ```
    /// use rnn::arrays::ArrayBatch;
    /// use rnn::{cell, Rnn};
    /// use nalgebra::SVector;
    ///
    /// #[cell]
    /// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    ///     *s += x;
    ///     *s * 10.0
    /// }
    ///
    /// let x = [1.0f32; 6]; // [2, 3, 1]
    /// let resets = [false, true, false, false, false, true];
    /// let batch = ArrayBatch::new(&x, [2, 3, 1]).resets(&resets);
    /// let run = Rnn::new(Accumulate).run_arrays(&batch, &()).unwrap();
    /// assert_eq!(run.outputs().data(), [10.0, 10.0, 20.0, 10.0, 20.0, 10.0]);
    ///
    /// let short = ArrayBatch::new(&x, [2, 3, 1]).resets(&resets[..5]);
    /// let err = Rnn::new(Accumulate).run_arrays(&short, &()).unwrap_err();
    /// assert_eq!(err.to_string(), "resets: a [2, 3] array holds 6 values, found 5");
    /// ```
    pub fn resets(mut self, resets: &'a [bool]) -> Self {
        self.resets = Some(Flags(Cow::Borrowed(resets), None));
        self
    }

    /// One valid length per sequence (right padding).
    pub fn lengths(mut self, lengths: &'a [usize]) -> Self {
        self.masks = ArrayMasks::Lengths(lengths);
        self
    }

    /// The initial states as Keras's list of `[B, ·]` arrays (what
    /// [`ArrayRun::states`] returns).
    pub fn initial_states(mut self, states: &'a [FlatArray]) -> Self {
        self.initial_states = Some(states);
        self
    }

    /// The `[B, T, F]` shape.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// The batch as the drivers take it: one `Vec` of `I` per sequence, one mask each, and
    /// the initial states, or an error naming the array that does not fit.
    fn unpack<I: Nested, S: Nested>(&self) -> Result<Unpacked<'_, I, S>, ArrayError> {
        let [batch, steps, features] = self.shape;
        ArrayError::check_shape("inputs", &[batch, steps, I::SIZE], &self.shape)?;
        ArrayError::check_values("inputs", &self.shape, self.inputs.len())?;
        // Every index below is under `batch × steps × features`, the buffer's length.
        let sequences = (0..batch)
            .map(|b| {
                (0..steps)
                    .map(|t| {
                        let start = (b * steps + t) * features;
                        I::read_f32(&self.inputs[start..start + features])
                    })
                    .collect()
            })
            .collect();
        let masks = match &self.masks {
            ArrayMasks::All => vec![Mask::All; batch],
            ArrayMasks::Lengths(lengths) => {
                ArrayError::check_shape("lengths", &[batch], &[lengths.len()])?;
                lengths.iter().map(|&n| Mask::Length(n)).collect()
            }
            ArrayMasks::Steps(flags) => {
                let rows = flags.rows("mask", [batch, steps])?;
                rows.into_iter().map(Mask::Steps).collect()
            }
        };
        let resets = match &self.resets {
            None => Vec::new(),
            Some(flags) => {
                let rows = flags.rows("resets", [batch, steps])?;
                rows.into_iter().map(Resets::Steps).collect()
            }
        };
        let initial_states = match self.initial_states {
            None => None,
            Some(arrays) => Some(states_from_arrays::<S>(arrays, batch)?),
        };
        Ok(Unpacked {
            sequences,
            masks,
            resets,
            initial_states,
            steps,
        })
    }
}

/// An [`ArrayBatch`] unpacked into the drivers' values.
struct Unpacked<'a, I, S> {
    sequences: Vec<Vec<I>>,
    masks: Vec<Mask<'a>>,
    /// One per sequence; empty without resets.
    resets: Vec<Resets<'a>>,
    initial_states: Option<Vec<S>>,
    steps: usize,
}

impl<I, S> Unpacked<'_, I, S> {
    fn batch(&self) -> Batch<'_, Vec<I>, S> {
        let batch = (Batch::new(&self.sequences).masks(&self.masks)).resets(self.batch_resets());
        match &self.initial_states {
            Some(states) => batch.initial_states(states),
            None => batch,
        }
    }

    /// The resets as a batch takes them.
    fn batch_resets(&self) -> BatchResets<'_> {
        if self.resets.is_empty() {
            BatchResets::None
        } else {
            BatchResets::Each(&self.resets)
        }
    }

    /// The index in a sequence's outputs of its last valid step in `direction`'s processing
    /// order (the step Keras's `return_sequences=False` returns), or `None` with no valid step.
    fn last_valid(&self, b: usize, direction: Direction) -> Option<usize> {
        (0..self.steps).rev().find_map(|k| {
            let (t, valid) = schedule(direction, self.masks[b], self.steps, k);
            valid.then_some(if direction.aligned_to_time() { t } else { k })
        })
    }
}

/// The shapes of `S`'s leaves, in flattening order (Keras's state list).
fn leaf_shapes<S: Nested>() -> Vec<Vec<usize>> {
    let mut shapes = Vec::new();
    S::for_each_leaf_shape(&mut |shape| shapes.push(shape.to_vec()));
    shapes
}

/// One `S` per sequence from Keras's list of `[B, ·]` state arrays.
fn states_from_arrays<S: Nested>(arrays: &[FlatArray], batch: usize) -> Result<Vec<S>, ArrayError> {
    let leaves = leaf_shapes::<S>();
    ArrayError::check_shape(
        "initial states (list length)",
        &[leaves.len()],
        &[arrays.len()],
    )?;
    let mut sizes = Vec::with_capacity(leaves.len());
    for (leaf, array) in leaves.iter().zip(arrays) {
        let mut expected = vec![batch];
        expected.extend_from_slice(leaf);
        ArrayError::check_shape("initial state", &expected, array.shape())?;
        sizes.push(leaf.iter().product::<usize>());
    }
    // The shapes match, so array `j` holds `batch × sizes[j]` values.
    let mut flat = vec![0.0; S::SIZE];
    Ok((0..batch)
        .map(|b| {
            let mut at = 0;
            for (array, &size) in arrays.iter().zip(&sizes) {
                flat[at..at + size].copy_from_slice(&array.data()[b * size..(b + 1) * size]);
                at += size;
            }
            S::read_f32(&flat)
        })
        .collect())
}

/// Keras's list of `[B, ·]` state arrays from one `S` per sequence.
fn states_to_arrays<S: Nested>(states: &[S]) -> Vec<FlatArray> {
    let batch = states.len();
    let leaves = leaf_shapes::<S>();
    let mut arrays: Vec<FlatArray> = leaves
        .iter()
        .map(|leaf| {
            let mut shape = vec![batch];
            shape.extend_from_slice(leaf);
            let size: usize = leaf.iter().product();
            FlatArray {
                shape,
                data: Vec::with_capacity(batch * size),
            }
        })
        .collect();
    let mut flat = vec![0.0; S::SIZE];
    for state in states {
        state.write_f32(&mut flat);
        let mut rest = &flat[..];
        for array in &mut arrays {
            let (leaf, tail) = rest.split_at(array.shape[1..].iter().product());
            array.data.extend_from_slice(leaf);
            rest = tail;
        }
    }
    arrays
}

/// The `[B, T, O]` outputs and `[B, O]` last outputs, `last(b)` giving sequence `b`'s.
fn outputs_to_arrays<O: Nested>(
    outputs: &Batched<O>,
    steps: usize,
    last: impl Fn(usize) -> Option<O>,
) -> (FlatArray, FlatArray) {
    let batch = outputs.len();
    // Every sequence has `steps` outputs, so this is `[batch, steps, O::SIZE]`; its size was
    // counted before the run.
    let all = FlatArray {
        shape: vec![batch, steps, O::SIZE],
        data: outputs.to_flat_f32(),
    };
    let mut data = vec![0.0; batch * O::SIZE];
    for (b, row) in data
        .chunks_exact_mut(O::SIZE.max(1))
        .enumerate()
        .take(batch)
    {
        if let Some(y) = last(b) {
            y.write_f32(&mut row[..O::SIZE]);
        }
    }
    (
        all,
        FlatArray {
            shape: vec![batch, O::SIZE],
            data,
        },
    )
}
