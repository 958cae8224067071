//! Size checks whose compile errors say, in words, which two sizes disagree.
//!
//! nalgebra checks every size at compile time, but reports a mistake through its own
//! constraint traits: `self.w * x` with a `3 × 2` matrix and a vector of length 4 says
//! "the trait bound `ShapeConstraint: DimEq<Const<2>, Const<4>>` is not satisfied", followed by
//! the impls of `DimEq`. The methods here compute the same thing, and their bounds are traits
//! of this module whose messages name both sizes:
//!
//! ```text
//! error[E0277]: a matrix with 2 columns cannot multiply a vector of length 4
//!   |
//!   |         *h = self.w.forward(x);
//!   |                             ^ a vector of length 4, where the matrix needs 2
//! ```
//!
//! ```
//! use rnn::shape::MatVec;
//! use nalgebra::{SMatrix, SVector};
//!
//! let w = SMatrix::<f32, 3, 2>::new(1.0, 0.0, 0.0, 1.0, 1.0, 1.0);
//! let y = w.forward(&SVector::from([2.0, 3.0]));
//! assert_eq!(y, SVector::from([2.0, 3.0, 5.0]));
//! ```
//!
//! ```compile_fail,E0277
//! use rnn::shape::MatVec;
//! use nalgebra::{SMatrix, SVector};
//!
//! let w = SMatrix::<f32, 3, 2>::zeros();
//! let y = w.forward(&SVector::from([1.0, 2.0, 3.0, 4.0])); // 2 columns, length 4
//! ```
//!
//! How: a size test `(): Columns<C, K, _>` holds only when `C == K`. A second, never-matching
//! impl keeps the compiler from deciding `K` from `C` before it has read the argument, so it
//! compares the two sizes and reports our message rather than a type mismatch. The price: the
//! argument's length must be known from the argument itself (`&SVector::<f32, 2>::zeros()`,
//! not `&SVector::zeros()`).

use core::str;

use nalgebra::{SMatrix, SVector, Scalar};

use crate::nested::RealScalar;

/// Marks the impl of a size test that holds (the two sizes are equal).
#[derive(Clone, Copy, Debug)]
pub enum Equal {}

/// Marks the impl of a size test that never applies; it exists so that the compiler reads
/// both sizes before choosing an impl.
#[derive(Clone, Copy, Debug)]
pub enum Unmatched {}

/// The size test of [`MatVec::forward`]: a matrix with `EXPECTED` columns applied to a vector
/// of length `FOUND`.
///
/// Holds for `()` when the two sizes are equal; then [`cast`](Self::cast) is the identity. The
/// third parameter is inferred; never name it.
#[diagnostic::on_unimplemented(
    message = "a matrix with {EXPECTED} columns cannot multiply a vector of length {FOUND}",
    label = "a vector of length {FOUND}, where the matrix needs {EXPECTED}"
)]
pub trait Columns<const EXPECTED: usize, const FOUND: usize, Proof> {
    /// The vector, seen at the size it is now known to have.
    fn cast<T: Scalar>(x: &SVector<T, FOUND>) -> &SVector<T, EXPECTED>;
}

// Both impls are left out of the error's list of impls: the message says it all.
#[diagnostic::do_not_recommend]
impl<const N: usize> Columns<N, N, Equal> for () {
    #[inline(always)]
    fn cast<T: Scalar>(x: &SVector<T, N>) -> &SVector<T, N> {
        x
    }
}

#[diagnostic::do_not_recommend]
impl<const EXPECTED: usize> Columns<EXPECTED, { usize::MAX }, Unmatched> for () {
    fn cast<T: Scalar>(_: &SVector<T, { usize::MAX }>) -> &SVector<T, EXPECTED> {
        unreachable!("no vector has usize::MAX rows")
    }
}

/// The size test of [`Dense::forward`](crate::cells::Dense::forward): a layer with
/// `EXPECTED` inputs given a vector of length `FOUND`. Like [`Columns`], it holds for `()`
/// when the sizes are equal; the third parameter is inferred.
#[diagnostic::on_unimplemented(
    message = "this layer takes {EXPECTED} inputs, but the vector has length {FOUND}",
    label = "a vector of length {FOUND}, where the layer takes {EXPECTED}"
)]
pub trait LayerInputs<const EXPECTED: usize, const FOUND: usize, Proof> {
    /// The vector, seen at the size it is now known to have.
    fn cast<T: Scalar>(x: &SVector<T, FOUND>) -> &SVector<T, EXPECTED>;
}

#[diagnostic::do_not_recommend]
impl<const N: usize> LayerInputs<N, N, Equal> for () {
    #[inline(always)]
    fn cast<T: Scalar>(x: &SVector<T, N>) -> &SVector<T, N> {
        x
    }
}

#[diagnostic::do_not_recommend]
impl<const EXPECTED: usize> LayerInputs<EXPECTED, { usize::MAX }, Unmatched> for () {
    fn cast<T: Scalar>(_: &SVector<T, { usize::MAX }>) -> &SVector<T, EXPECTED> {
        unreachable!("no vector has usize::MAX rows")
    }
}

/// `W x` for a static matrix, with a compile error in words when the sizes disagree.
///
/// Implemented for every `SMatrix<T, R, C>`: `forward` takes a vector of length `C` and
/// returns one of length `R`, as a bias-free `Dense` layer would.
pub trait MatVec<T, const R: usize, const C: usize> {
    /// The product of the matrix and `x`. A vector whose length is not `C` is a compile error
    /// that names both sizes.
    fn forward<const K: usize, P>(&self, x: &SVector<T, K>) -> SVector<T, R>
    where
        (): Columns<C, K, P>;
}

impl<T: RealScalar, const R: usize, const C: usize> MatVec<T, R, C> for SMatrix<T, R, C> {
    #[inline]
    fn forward<const K: usize, P>(&self, x: &SVector<T, K>) -> SVector<T, R>
    where
        (): Columns<C, K, P>,
    {
        self * <() as Columns<C, K, P>>::cast(x)
    }
}

/// A message written at compile time, for the size checks no trait bound can express (a
/// width that must be `gates × units`: stable Rust cannot write `[T; 4 * H]`).
///
/// Those checks are `const { .. }` assertions, evaluated when the function is instantiated; a
/// const panic prints a `&str` but cannot format a number, so the numbers are written into the
/// message first. Messages longer than 256 bytes are cut.
///
/// ```
/// use rnn::shape::ConstMessage;
///
/// const fn check<const G: usize, const H: usize, const GH: usize>() {
///     if GH != G * H {
///         panic!("{}", ConstMessage::new().text("width ").number(GH).text(", needs ").number(G * H).as_str())
///     }
/// }
/// const _: () = check::<4, 2, 8>();
/// assert_eq!(ConstMessage::new().text("width ").number(6).as_str(), "width 6");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ConstMessage {
    bytes: [u8; 256],
    len: usize,
}

impl ConstMessage {
    /// An empty message.
    pub const fn new() -> Self {
        ConstMessage {
            bytes: [0; 256],
            len: 0,
        }
    }

    /// The message followed by `text`.
    pub const fn text(mut self, text: &str) -> Self {
        let text = text.as_bytes();
        let mut i = 0;
        while i < text.len() && self.len < self.bytes.len() {
            self.bytes[self.len] = text[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    /// The message followed by `n` in decimal.
    pub const fn number(mut self, n: usize) -> Self {
        let mut digits = [0u8; 20];
        let (mut count, mut rest) = (0, n);
        loop {
            digits[count] = b'0' + (rest % 10) as u8;
            count += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        while count > 0 && self.len < self.bytes.len() {
            count -= 1;
            self.bytes[self.len] = digits[count];
            self.len += 1;
        }
        self
    }

    /// The message (up to the last whole character, if it was cut).
    pub const fn as_str(&self) -> &str {
        let (written, _) = self.bytes.split_at(self.len);
        match str::from_utf8(written) {
            Ok(s) => s,
            Err(e) => match str::from_utf8(written.split_at(e.valid_up_to()).0) {
                Ok(s) => s,
                Err(_) => "",
            },
        }
    }
}

impl Default for ConstMessage {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::MatVec;
    use nalgebra::{SMatrix, SVector};

    #[test]
    fn const_messages_write_numbers_and_cut_whole_characters() {
        use super::ConstMessage;
        let m = ConstMessage::new()
            .text("4 × ")
            .number(0)
            .text(" = ")
            .number(1234567);
        assert_eq!(m.as_str(), "4 × 0 = 1234567");
        let long = ConstMessage::new().text(&"a".repeat(255)).text("×");
        assert_eq!(long.as_str().len(), 255);
    }

    #[test]
    fn forward_is_the_matrix_product() {
        let w = SMatrix::<f64, 2, 3>::from_fn(|r, c| (r * 3 + c) as f64);
        let x = SVector::from([1.0, -1.0, 2.0]);
        assert_eq!(w.forward(&x), w * x);
    }

    #[test]
    fn forward_works_in_generic_code() {
        fn apply<const R: usize, const C: usize>(
            w: &SMatrix<f32, R, C>,
            x: &SVector<f32, C>,
        ) -> SVector<f32, R> {
            w.forward(x)
        }
        let w = SMatrix::<f32, 1, 2>::new(2.0, 3.0);
        assert_eq!(apply(&w, &SVector::from([1.0, 1.0]))[0], 5.0);
    }
}
