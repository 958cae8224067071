//! The array boundary with `ndarray` (the `ndarray` feature): views in, owned arrays out.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use ndarray::{Array2, Array3, ArrayD, ArrayView2, ArrayView3, ArrayViewD, IxDyn};

use super::{ArrayBatch, ArrayMasks, ArrayRun, Flags, FlatArray};

impl<'a> ArrayBatch<'a> {
    /// The `[B, T, F]` array `inputs` (borrowed when it is row-major and contiguous, copied
    /// otherwise); every step valid, every sequence from its cell's initial state.
    ///
    /// ```
    /// use rnn::arrays::ArrayBatch;
    /// use rnn::cells::LstmCell;
    /// use rnn::ndarray::{Array2, Array3};
    /// use rnn::Rnn;
    ///
    /// let x = Array3::<f32>::from_elem((2, 4, 3), 0.5);
    /// let mask = Array2::from_shape_fn((2, 4), |(b, t)| t < 4 - b);
    /// let lstm = Rnn::new(LstmCell::<3, 8>::keras_init(0));
    /// let batch = ArrayBatch::from_ndarray(x.view()).mask_ndarray(mask.view());
    /// let run = lstm.run_arrays(&batch, &()).unwrap().into_ndarray();
    /// assert_eq!(run.outputs.dim(), (2, 4, 8));
    /// assert_eq!(run.last_outputs.dim(), (2, 8));
    /// let [h, c] = &run.states[..] else { panic!("an LSTM's [h, c]") };
    /// assert_eq!((h.shape(), c.shape()), (&[2, 8][..], &[2, 8][..]));
    /// ```
    pub fn from_ndarray(inputs: ArrayView3<'a, f32>) -> Self {
        let (b, t, f) = inputs.dim();
        ArrayBatch {
            inputs: row_major(inputs.into_dyn()),
            shape: [b, t, f],
            masks: ArrayMasks::All,
            resets: None,
            initial_states: None,
        }
    }

    /// A `[B, T]` mask (Keras's `mask`): `false` marks a padded step. A mask of another shape
    /// is an error at the run, naming both shapes.
    pub fn mask_ndarray(mut self, mask: ArrayView2<'a, bool>) -> Self {
        let (b, t) = mask.dim();
        self.masks = ArrayMasks::Steps(Flags(row_major(mask.into_dyn()), Some([b, t])));
        self
    }

    /// Per-step resets as a `[B, T]` array ([`resets`](ArrayBatch::resets)): `true` at
    /// `[b, t]` returns sequence `b` to its initial state before step `t`. Flags of another
    /// shape are an error at the run, naming both shapes.
    ///
    /// ```
    /// use rnn::arrays::ArrayBatch;
    /// use rnn::cells::GruCell;
    /// use rnn::ndarray::{Array2, Array3};
    /// use rnn::Rnn;
    ///
    /// let gru = Rnn::new(GruCell::<3, 4>::keras_init(0));
    /// let x = Array3::<f32>::from_elem((2, 4, 3), 0.5);
    /// let resets = Array2::from_shape_fn((2, 4), |(b, t)| b == 1 && t == 2);
    /// let batch = ArrayBatch::from_ndarray(x.view()).resets_ndarray(resets.view());
    /// let run = gru.run_arrays(&batch, &()).unwrap();
    /// let y = run.outputs();
    /// assert_eq!(y.shape(), [2, 4, 4]);
    /// let step = |b: usize, t: usize| &y.data()[(b * 4 + t) * 4..][..4];
    /// // Sequence 1 starts again at step 2: the same input, so the output of step 0.
    /// assert_eq!(step(1, 2), step(1, 0));
    /// assert_ne!(step(0, 2), step(0, 0));
    ///
    /// let wrong = resets.t(); // [4, 2]
    /// let batch = ArrayBatch::from_ndarray(x.view()).resets_ndarray(wrong);
    /// let err = gru.run_arrays(&batch, &()).unwrap_err();
    /// assert_eq!(err.to_string(), "resets: expected shape [2, 4], found [4, 2]");
    /// ```
    pub fn resets_ndarray(mut self, resets: ArrayView2<'a, bool>) -> Self {
        let (b, t) = resets.dim();
        self.resets = Some(Flags(row_major(resets.into_dyn()), Some([b, t])));
        self
    }
}

/// The values of `view` row-major: borrowed when its memory already is, else copied.
fn row_major<A: Clone>(view: ArrayViewD<'_, A>) -> Cow<'_, [A]> {
    match view.to_slice() {
        Some(values) => Cow::Borrowed(values),
        None => Cow::Owned(view.iter().cloned().collect()),
    }
}

impl FlatArray {
    /// A copy of `array`, row-major.
    pub fn from_ndarray(array: ArrayViewD<'_, f32>) -> Self {
        FlatArray {
            shape: array.shape().to_vec(),
            data: row_major(array).into_owned(),
        }
    }

    /// The array as an `ndarray` array of its shape.
    pub fn into_ndarray(self) -> ArrayD<f32> {
        // A `FlatArray` holds exactly its shape's values (checked where it is made), and its
        // `Vec` is no longer than `isize::MAX` values: ndarray's two conditions.
        ArrayD::from_shape_vec(IxDyn(&self.shape), self.data)
            .expect("a FlatArray holds its shape's values")
    }
}

/// An [`ArrayRun`] as `ndarray` arrays.
#[derive(Clone, Debug, PartialEq)]
pub struct NdArrayRun {
    /// Every step's output, `[B, T, ·]`.
    pub outputs: Array3<f32>,
    /// Each sequence's output at its last valid step, `[B, ·]`.
    pub last_outputs: Array2<f32>,
    /// The final states, in Keras's list order, each `[B, ·]`.
    pub states: Vec<ArrayD<f32>>,
}

impl ArrayRun {
    /// The run's arrays as `ndarray` arrays.
    pub fn into_ndarray(self) -> NdArrayRun {
        // Only a run makes an `ArrayRun`, with `[B, T, ·]` outputs and `[B, ·]` last outputs.
        NdArrayRun {
            outputs: self
                .outputs
                .into_ndarray()
                .into_dimensionality()
                .expect("outputs are [B, T, ·]"),
            last_outputs: self
                .last_outputs
                .into_ndarray()
                .into_dimensionality()
                .expect("last outputs are [B, ·]"),
            states: self
                .states
                .into_iter()
                .map(FlatArray::into_ndarray)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transposed_view_is_copied_row_major() {
        let a = ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]);
        assert!(matches!(row_major(a.view().into_dyn()), Cow::Borrowed(_)));
        let t = row_major(a.t().into_dyn());
        assert!(matches!(t, Cow::Owned(_)));
        assert_eq!(&t[..], [1.0, 3.0, 2.0, 4.0]);
    }
}
