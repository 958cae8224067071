//! Arithmetic on scalars, vectors and matrices: `+`, `-`, unary `-`, `*` (scalar and matrix
//! products), `/` by a scalar, `component_mul`, `dot`, `sum`, `transpose` and the reshape of
//! `from_column_slice(x.as_slice())`. Each forward is the nalgebra (or scalar) expression the
//! user wrote, so its bits are the step's.

use nalgebra::SMatrix;

use crate::real::Real;

/// `a + b` and `a - b` of two values of one type (scalars, or matrices of one shape).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no adjoint for `+` and `-`",
    label = "the generated backward differentiates this",
    note = "the backward `#[cell]` generates works on real scalars (`f32`, `f64`, a `T: rnn::Real`) and their static vectors and matrices, both operands of one type; mark the cell `#[cell(inference)]` to generate no backward"
)]
pub trait Summable: Sized + Clone {
    /// `self + rhs`.
    fn add(&self, rhs: &Self) -> Self;
    /// `self - rhs`.
    fn sub(&self, rhs: &Self) -> Self;
}

impl<T: Real> Summable for T {
    #[inline(always)]
    fn add(&self, rhs: &Self) -> Self {
        *self + *rhs
    }
    #[inline(always)]
    fn sub(&self, rhs: &Self) -> Self {
        *self - *rhs
    }
}

impl<T: Real, const R: usize, const C: usize> Summable for SMatrix<T, R, C> {
    #[inline(always)]
    fn add(&self, rhs: &Self) -> Self {
        self + rhs
    }
    #[inline(always)]
    fn sub(&self, rhs: &Self) -> Self {
        self - rhs
    }
}

/// The adjoints of `a` and `b` in `a + b`.
#[inline(always)]
pub fn pull_add<Y: Clone>(dy: &Y) -> (Y, Y) {
    (dy.clone(), dy.clone())
}

/// The adjoints of `a` and `b` in `a - b`.
#[inline(always)]
pub fn pull_sub<Y: Negate>(dy: &Y) -> (Y, Y) {
    (dy.clone(), dy.neg())
}

/// Unary `-`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no adjoint for unary `-`",
    label = "the generated backward differentiates this",
    note = "the backward `#[cell]` generates works on real scalars (`f32`, `f64`, a `T: rnn::Real`) and their static vectors and matrices; mark the cell `#[cell(inference)]` to generate no backward"
)]
pub trait Negate: Sized + Clone {
    /// `-self`.
    fn neg(&self) -> Self;
}

impl<T: Real> Negate for T {
    #[inline(always)]
    fn neg(&self) -> Self {
        -*self
    }
}

impl<T: Real, const R: usize, const C: usize> Negate for SMatrix<T, R, C> {
    #[inline(always)]
    fn neg(&self) -> Self {
        -self
    }
}

/// The adjoint of `a` in `-a`.
#[inline(always)]
pub fn pull_neg<Y: Negate>(dy: &Y) -> Y {
    dy.neg()
}

/// `a * b`: scalar × scalar, scalar × matrix, matrix × scalar, matrix × matrix (a
/// matrix-vector product is the last with one column).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no adjoint for `*` by `{Rhs}`",
    label = "the generated backward differentiates this",
    note = "the backward `#[cell]` generates works on real scalars (`f32`, `f64`, a `T: rnn::Real`) and their static vectors and matrices: scalar or matrix products; mark the cell `#[cell(inference)]` to generate no backward"
)]
pub trait Product<Rhs>: Sized {
    /// The product's type.
    type Output;
    /// `self * rhs`.
    fn mul(&self, rhs: &Rhs) -> Self::Output;
    /// The adjoints of `self` and `rhs`, from the product's adjoint.
    fn pull(&self, rhs: &Rhs, dy: &Self::Output) -> (Self, Rhs);
}

impl<T: Real> Product<T> for T {
    type Output = T;
    #[inline(always)]
    fn mul(&self, rhs: &T) -> T {
        *self * *rhs
    }
    #[inline(always)]
    fn pull(&self, rhs: &T, dy: &T) -> (T, T) {
        (*dy * *rhs, *dy * *self)
    }
}

impl<T: Real, const R: usize, const C: usize> Product<SMatrix<T, R, C>> for T {
    type Output = SMatrix<T, R, C>;
    #[inline(always)]
    fn mul(&self, rhs: &SMatrix<T, R, C>) -> SMatrix<T, R, C> {
        rhs * *self
    }
    #[inline(always)]
    fn pull(&self, rhs: &SMatrix<T, R, C>, dy: &SMatrix<T, R, C>) -> (T, SMatrix<T, R, C>) {
        (dy.dot(rhs), dy * *self)
    }
}

impl<T: Real, const R: usize, const C: usize> Product<T> for SMatrix<T, R, C> {
    type Output = SMatrix<T, R, C>;
    #[inline(always)]
    fn mul(&self, rhs: &T) -> SMatrix<T, R, C> {
        self * *rhs
    }
    #[inline(always)]
    fn pull(&self, rhs: &T, dy: &SMatrix<T, R, C>) -> (SMatrix<T, R, C>, T) {
        (dy * *rhs, dy.dot(self))
    }
}

impl<T: Real, const R: usize, const K: usize, const C: usize> Product<SMatrix<T, K, C>>
    for SMatrix<T, R, K>
{
    type Output = SMatrix<T, R, C>;
    #[inline(always)]
    fn mul(&self, rhs: &SMatrix<T, K, C>) -> SMatrix<T, R, C> {
        self * rhs
    }
    #[inline(always)]
    fn pull(
        &self,
        rhs: &SMatrix<T, K, C>,
        dy: &SMatrix<T, R, C>,
    ) -> (SMatrix<T, R, K>, SMatrix<T, K, C>) {
        (dy * rhs.transpose(), self.transpose() * dy)
    }
}

/// The type a product takes its right operand at: a matrix at the left one's column count
/// (whatever rows it has: the user's own product checks them, and is then the one error a
/// mismatch reports), anything else as it is.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no adjoint for `*` by `{Rhs}`",
    label = "the generated backward differentiates this",
    note = "the backward `#[cell]` generates works on real scalars (`f32`, `f64`, a `T: rnn::Real`) and their static vectors and matrices: scalar or matrix products; mark the cell `#[cell(inference)]` to generate no backward"
)]
pub trait ProductRhs<Rhs> {
    /// The right operand's type in the product.
    type Rhs;
}

impl<T: Real> ProductRhs<T> for T {
    type Rhs = T;
}

impl<T: Real, const R: usize, const C: usize> ProductRhs<SMatrix<T, R, C>> for T {
    type Rhs = SMatrix<T, R, C>;
}

impl<T: Real, const R: usize, const C: usize> ProductRhs<T> for SMatrix<T, R, C> {
    type Rhs = T;
}

impl<T: Real, const R: usize, const K: usize, const K2: usize, const C: usize>
    ProductRhs<SMatrix<T, K2, C>> for SMatrix<T, R, K>
{
    type Rhs = SMatrix<T, K, C>;
}

/// The witness of the type `lhs * rhs` takes `rhs` at (see [`ProductRhs`]).
#[inline(always)]
pub fn product_rhs<L: ProductRhs<R>, R>(_: &L, _: &R) -> super::Witness<L::Rhs> {
    super::witness_of()
}

/// `a / b` with `b` a scalar.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no adjoint for `/` by `{Rhs}`",
    label = "the generated backward differentiates this",
    note = "the backward `#[cell]` generates works on real scalars (`f32`, `f64`, a `T: rnn::Real`) and their static vectors and matrices: division by a scalar; mark the cell `#[cell(inference)]` to generate no backward"
)]
pub trait Quotient<Rhs>: Sized {
    /// `self / rhs`.
    fn div(&self, rhs: &Rhs) -> Self;
    /// The adjoints of `self` and `rhs`, from the quotient's adjoint.
    fn pull(&self, rhs: &Rhs, dy: &Self) -> (Self, Rhs);
}

impl<T: Real> Quotient<T> for T {
    #[inline(always)]
    fn div(&self, rhs: &T) -> T {
        *self / *rhs
    }
    #[inline(always)]
    fn pull(&self, rhs: &T, dy: &T) -> (T, T) {
        (*dy / *rhs, -*dy * *self / (*rhs * *rhs))
    }
}

impl<T: Real, const R: usize, const C: usize> Quotient<T> for SMatrix<T, R, C> {
    #[inline(always)]
    fn div(&self, rhs: &T) -> Self {
        self / *rhs
    }
    #[inline(always)]
    fn pull(&self, rhs: &T, dy: &Self) -> (Self, T) {
        (dy / *rhs, -dy.dot(self) / (*rhs * *rhs))
    }
}

/// `a.component_mul(&b)`, elementwise.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no adjoint for `component_mul`",
    label = "the generated backward differentiates this",
    note = "the backward `#[cell]` generates works on real scalars (`f32`, `f64`, a `T: rnn::Real`) and their static vectors and matrices; mark the cell `#[cell(inference)]` to generate no backward"
)]
pub trait Hadamard: Sized {
    /// `self ⊙ rhs`.
    fn component_mul(&self, rhs: &Self) -> Self;
    /// The adjoints of `self` and `rhs`: `dy ⊙ rhs`, `dy ⊙ self`.
    fn pull(&self, rhs: &Self, dy: &Self) -> (Self, Self);
}

impl<T: Real, const R: usize, const C: usize> Hadamard for SMatrix<T, R, C> {
    #[inline(always)]
    fn component_mul(&self, rhs: &Self) -> Self {
        self.component_mul(rhs)
    }
    #[inline(always)]
    fn pull(&self, rhs: &Self, dy: &Self) -> (Self, Self) {
        (dy.component_mul(rhs), dy.component_mul(self))
    }
}

/// `a.dot(&b)`.
#[inline(always)]
pub fn dot<T: Real, const R: usize, const C: usize>(
    a: &SMatrix<T, R, C>,
    b: &SMatrix<T, R, C>,
) -> T {
    a.dot(b)
}

/// The adjoints of `a` and `b` in `a.dot(&b)`.
#[inline(always)]
pub fn pull_dot<T: Real, const R: usize, const C: usize>(
    a: &SMatrix<T, R, C>,
    b: &SMatrix<T, R, C>,
    dy: &T,
) -> (SMatrix<T, R, C>, SMatrix<T, R, C>) {
    (b * *dy, a * *dy)
}

/// `a.sum()`.
#[inline(always)]
pub fn sum<T: Real, const R: usize, const C: usize>(a: &SMatrix<T, R, C>) -> T {
    a.sum()
}

/// The adjoint of `a` in `a.sum()`: `dy` everywhere.
#[inline(always)]
pub fn pull_sum<T: Real, const R: usize, const C: usize>(dy: &T) -> SMatrix<T, R, C> {
    SMatrix::repeat(*dy)
}

/// `a.transpose()`.
#[inline(always)]
pub fn transpose<T: Real, const R: usize, const C: usize>(
    a: &SMatrix<T, R, C>,
) -> SMatrix<T, C, R> {
    a.transpose()
}

/// The adjoint of `a` in `a.transpose()`.
#[inline(always)]
pub fn pull_transpose<T: Real, const R: usize, const C: usize>(
    dy: &SMatrix<T, C, R>,
) -> SMatrix<T, R, C> {
    dy.transpose()
}

/// `Out::from_column_slice(a.as_slice())`: the same scalars in column-major order, under
/// another shape of the same size. Its adjoint is the same reshape back.
#[inline(always)]
pub fn reshape<T: Real, const R: usize, const C: usize, const R2: usize, const C2: usize>(
    a: &SMatrix<T, R, C>,
) -> SMatrix<T, R2, C2> {
    SMatrix::from_column_slice(a.as_slice())
}
