//! The layers Keras puts around a recurrent one, on arrays: `Embedding` before it (token ids
//! `[B, T]` in, `[B, T, D]` out) and `Dense` after it (on the last axis, as Keras 3 applies
//! it to `[B, units]` and `[B, T, units]` alike), so that a model's arrays pass from layer to
//! layer without a loop.

use alloc::vec::Vec;

use nalgebra::SVector;

use super::{ArrayError, FlatArray};
use crate::cells::{Dense, Embedding};

impl<const V: usize, const D: usize> Embedding<V, D, f32> {
    /// Keras's `Embedding` on a row-major `[B, T]` array of token ids: the `[B, T, D]` array
    /// of their vectors, which an [`ArrayBatch`](super::ArrayBatch) reads. An id outside the
    /// vocabulary is an error naming its sequence and step, and nothing is computed.
    ///
    /// ```
    /// use rnn::arrays::{ArrayBatch, ArrayError};
    /// use rnn::cells::{Embedding, LstmCell};
    /// use rnn::Rnn;
    ///
    /// let embedding = Embedding::<100, 8>::from_f32_slice(&[0.5; 800]).unwrap();
    /// let tokens = [3, 14, 15, 92, 65, 35]; // two sequences of three tokens
    /// let x = embedding.forward_array(&tokens, [2, 3]).unwrap();
    /// assert_eq!(x.shape(), [2, 3, 8]);
    /// let run = Rnn::new(LstmCell::<8, 4>::keras_init(0))
    ///     .run_arrays(&ArrayBatch::from_array(&x).unwrap(), &())
    ///     .unwrap();
    /// assert_eq!(run.last_outputs().shape(), [2, 4]);
    ///
    /// let err = embedding.forward_array(&[3, 14, 150], [1, 3]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "sequence 0, step 2: token 150 is outside the vocabulary of 100"
    /// );
    /// ```
    pub fn forward_array(
        &self,
        tokens: &[usize],
        [batch, steps]: [usize; 2],
    ) -> Result<FlatArray, ArrayError> {
        ArrayError::check_values("tokens", &[batch, steps], tokens.len())?;
        let values = ArrayError::count("embedded tokens", &[batch, steps, D])?;
        // Row by row (`max(1)`: no row when `steps` is 0, as there are no tokens then).
        for (b, row) in tokens.chunks(steps.max(1)).enumerate() {
            Self::check_tokens(row).map_err(|e| e.in_sequence(b))?;
        }
        let mut data = Vec::with_capacity(values);
        for &token in tokens {
            let row = self.lookup(token).expect("checked against the vocabulary");
            data.extend_from_slice(row.as_slice());
        }
        FlatArray::new(alloc::vec![batch, steps, D], data)
    }
}

impl<const I: usize, const U: usize> Dense<I, U, f32> {
    /// Keras's `Dense` on an array whose last axis has the layer's `I` inputs: `[B, I]` (a
    /// recurrent layer's last outputs) or `[B, T, I]` (every step's, as Keras 3 applies a
    /// `Dense` to a sequence), giving the same shape with `U` on the last axis. An error
    /// naming the expected and found shapes when the last axis is not `I`.
    ///
    /// ```
    /// use rnn::arrays::FlatArray;
    /// use rnn::cells::Dense;
    /// use rnn::ops::Activation;
    ///
    /// let dense = Dense::<4, 3>::keras_init(0).with_activation(Activation::Softmax);
    /// let h = FlatArray::new(vec![2, 4], vec![0.25; 8]).unwrap();
    /// let p = dense.forward_array(&h).unwrap();
    /// assert_eq!(p.shape(), [2, 3]);
    /// assert!((p.data()[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
    ///
    /// let wrong = FlatArray::new(vec![2, 5], vec![0.25; 10]).unwrap();
    /// let err = dense.forward_array(&wrong).unwrap_err();
    /// assert_eq!(err.to_string(), "dense inputs: expected shape [2, 4], found [2, 5]");
    /// ```
    pub fn forward_array(&self, inputs: &FlatArray) -> Result<FlatArray, ArrayError> {
        let found = inputs.shape();
        let (last, leading) = found.split_last().unwrap_or((&0, &[]));
        if found.is_empty() || *last != I {
            let mut expected = leading.to_vec();
            expected.push(I);
            return Err(ArrayError::Shape {
                what: "dense inputs",
                expected,
                found: found.to_vec(),
            });
        }
        let rows = ArrayError::count("dense inputs", leading)?;
        let mut shape = leading.to_vec();
        shape.push(U);
        let mut data = Vec::with_capacity(ArrayError::count("dense outputs", &shape)?);
        for row in 0..rows {
            // In bounds: the array holds `rows · I` values (a `FlatArray` holds its shape's).
            let x = &inputs.data()[row * I..][..I];
            let y = self.forward(&SVector::<f32, I>::from_column_slice(x));
            data.extend_from_slice(y.as_slice());
        }
        FlatArray::new(shape, data)
    }
}
