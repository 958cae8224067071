//! Joining and splitting vectors (`ops::concat`, `ops::split`): each the other's adjoint.

use nalgebra::SVector;

use crate::real::Real;

/// `ops::concat(a, b)`.
#[inline(always)]
pub fn concat<T: Real, const A: usize, const B: usize, const C: usize>(
    a: &SVector<T, A>,
    b: &SVector<T, B>,
) -> SVector<T, C> {
    crate::ops::concat(a, b)
}

/// The adjoints of `a` and `b` in `ops::concat(a, b)`: the adjoint, split.
#[inline(always)]
pub fn pull_concat<T: Real, const A: usize, const B: usize, const C: usize>(
    dy: &SVector<T, C>,
) -> (SVector<T, A>, SVector<T, B>) {
    crate::ops::split(dy)
}

/// `ops::split(v)`.
#[inline(always)]
pub fn split<T: Real, const A: usize, const B: usize, const C: usize>(
    v: &SVector<T, C>,
) -> (SVector<T, A>, SVector<T, B>) {
    crate::ops::split(v)
}

/// The adjoint of `v` in `ops::split(v)`: the parts' adjoints, joined.
#[inline(always)]
pub fn pull_split<T: Real, const A: usize, const B: usize, const C: usize>(
    dy: &(SVector<T, A>, SVector<T, B>),
) -> SVector<T, C> {
    crate::ops::concat(&dy.0, &dy.1)
}
