//! Keras's `Embedding`: token ids to vectors, with `mask_zero` making token 0 padding.

use alloc::vec::Vec;

use nalgebra::{RealField, SVector};

use crate::error::{SequenceError, ShapeError};

/// A lookup table of `V` vectors of width `D` (Keras's `Embedding(V, D)`, weights `[V, D]`).
///
/// The rows live on the heap, so a large vocabulary never sits on the stack.
///
/// ```
/// use rnn::cells::Embedding;
///
/// // Weights of Keras's masking example: row v is (v's value, v's value).
/// let emb = Embedding::<3, 2>::from_f32_slice(&[0.37, 0.37, 1.0, 1.0, 2.0, 2.0])
///     .unwrap()
///     .mask_zero(true);
/// let xs = emb.forward(&[1, 2, 0]).unwrap();
/// assert_eq!((xs[1][0], xs[2][0]), (2.0, 0.37));
/// assert_eq!(emb.compute_mask(&[1, 2, 0]), [true, true, false]);
/// assert!(emb.forward(&[3]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, crate::Parameters)]
#[parameters(crate = crate)]
pub struct Embedding<const V: usize, const D: usize, T: RealField = f32> {
    /// Keras's `embeddings` `[V, D]`, initialised `uniform(±0.05)` as Keras does.
    #[parameters(rename = "embeddings", init = crate::init::Initializer::uniform(0.05))]
    rows: Vec<SVector<T, D>>,
    #[parameters(skip)]
    mask_zero: bool,
}

impl<const V: usize, const D: usize, T: RealField + Copy> Embedding<V, D, T> {
    /// An all-zero table.
    pub fn zeros() -> Self {
        Embedding {
            rows: alloc::vec![SVector::zeros(); V],
            mask_zero: false,
        }
    }

    /// Reads the table from a row-major `[V, D]` buffer (Keras's `get_weights()[0]`).
    pub fn from_f32_slice(weights: &[f32]) -> Result<Self, ShapeError> {
        ShapeError::check_len("embedding weights [V, D]", V * D, weights.len())?;
        let rows = (0..V)
            .map(|v| SVector::from_fn(|d, _| nalgebra::convert(f64::from(weights[v * D + d]))))
            .collect();
        Ok(Embedding {
            rows,
            mask_zero: false,
        })
    }

    /// Keras's `mask_zero`: token 0 is padding ([`compute_mask`](Embedding::compute_mask)
    /// marks it). Its row is still looked up, as in Keras.
    pub fn mask_zero(mut self, mask_zero: bool) -> Self {
        self.mask_zero = mask_zero;
        self
    }

    /// The vector of `token`, or `None` outside the vocabulary.
    pub fn lookup(&self, token: usize) -> Option<&SVector<T, D>> {
        self.rows.get(token)
    }

    /// Mutable access to the vector of `token`.
    pub fn lookup_mut(&mut self, token: usize) -> Option<&mut SVector<T, D>> {
        self.rows.get_mut(token)
    }

    /// The vectors of a sequence of tokens; an error naming the first token outside the
    /// vocabulary (and nothing computed).
    pub fn forward(&self, tokens: &[usize]) -> Result<Vec<SVector<T, D>>, SequenceError> {
        Self::check_tokens(tokens)?;
        Ok(tokens.iter().map(|&t| self.rows[t]).collect())
    }

    /// `Ok` when every token of the sequence is in the vocabulary; else an error naming the
    /// first one outside it (as sequence 0: a batch names its own with
    /// [`in_sequence`](SequenceError::in_sequence)).
    pub(crate) fn check_tokens(tokens: &[usize]) -> Result<(), SequenceError> {
        match tokens.iter().enumerate().find(|(_, &t)| t >= V) {
            Some((step, &found)) => Err(SequenceError::TokenOutOfRange {
                sequence: 0,
                step,
                vocabulary: V,
                found,
            }),
            None => Ok(()),
        }
    }

    /// The step mask of `tokens`: `false` at token 0 when `mask_zero`, else all `true`.
    pub fn compute_mask(&self, tokens: &[usize]) -> Vec<bool> {
        tokens
            .iter()
            .map(|&t| !(self.mask_zero && t == 0))
            .collect()
    }
}
