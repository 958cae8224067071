//! `Embedding`'s backward: each looked-up row receives its output's adjoint.

use nalgebra::{RealField, SVector};

use crate::cells::Embedding;
use crate::error::ShapeError;
use crate::train::BackwardError;

impl<const V: usize, const D: usize, T: RealField + Copy> Embedding<V, D, T> {
    /// The backward of [`forward`](Embedding::forward)`(tokens)`: adds `d_outputs[t]` into the
    /// row of `tokens[t]` in `grads` (a token seen twice gets both adjoints; rows not looked
    /// up get none), as the dense form of Keras's sparse embedding gradient. A token is not a
    /// real number, so there is no input adjoint; `mask_zero` changes nothing here (Keras
    /// looks up token 0's row too, and what reads it decides whether it matters).
    ///
    /// An error, and `grads` unchanged, when `d_outputs` does not have one adjoint per token
    /// or a token is outside the vocabulary.
    ///
    /// ```
    /// use rnn::cells::Embedding;
    /// use rnn::train::zeros_like;
    /// use nalgebra::SVector;
    ///
    /// let embedding = Embedding::<3, 2, f64>::zeros();
    /// let mut grads = zeros_like(&embedding);
    /// let d = [[1.0, 2.0], [0.5, 0.5], [3.0, 0.0]].map(SVector::from);
    /// embedding.backward(&[2, 0, 2], &d, &mut grads).unwrap();
    /// assert_eq!(grads.lookup(2), Some(&SVector::from([4.0, 2.0])));
    /// assert_eq!(grads.lookup(1), Some(&SVector::zeros()));
    /// ```
    pub fn backward(
        &self,
        tokens: &[usize],
        d_outputs: &[SVector<T, D>],
        grads: &mut Self,
    ) -> Result<(), BackwardError> {
        ShapeError::check_steps("output adjoints", tokens.len(), d_outputs.len())?;
        Self::check_tokens(tokens)?;
        for (&token, d) in tokens.iter().zip(d_outputs) {
            if let Some(row) = grads.lookup_mut(token) {
                *row += d;
            }
        }
        Ok(())
    }
}
