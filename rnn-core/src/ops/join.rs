//! Joining and splitting vectors, with the sizes checked when the program is compiled.

use nalgebra::{SVector, Scalar};

/// `[a; b]`: `a`'s elements, then `b`'s. The result's length `C` is usually inferred from
/// where it goes (the input of a `Dense<C, _>`, say); a `C` other than `A + B` does not
/// compile.
///
/// ```
/// use rnn::ops::concat;
/// use rnn::prelude::*;
///
/// let hz: SVector<f32, 5> = concat(&SVector::from([1.0, 2.0]), &SVector::from([3.0, 4.0, 5.0]));
/// assert_eq!(hz, SVector::from([1.0, 2.0, 3.0, 4.0, 5.0]));
/// ```
///
/// ```compile_fail,E0080
/// use rnn::ops::concat;
/// use rnn::prelude::*;
///
/// let hz: SVector<f32, 4> = concat(&SVector::from([1.0, 2.0]), &SVector::from([3.0, 4.0, 5.0]));
/// ```
#[inline(always)]
pub fn concat<T: Scalar + Copy, const A: usize, const B: usize, const C: usize>(
    a: &SVector<T, A>,
    b: &SVector<T, B>,
) -> SVector<T, C> {
    const {
        assert!(
            A + B == C,
            "concat: the result's length is not the sum of the parts'"
        )
    };
    SVector::from_fn(|i, _| if i < A { a[i] } else { b[i - A] })
}

/// The first `A` elements and the remaining `B`: the inverse of [`concat`](fn@concat). A split whose
/// parts do not add up to `C` does not compile.
///
/// ```
/// use rnn::ops::split;
/// use rnn::prelude::*;
///
/// let (h, z): (SVector<f32, 2>, SVector<f32, 3>) = split(&SVector::from([1.0, 2.0, 3.0, 4.0, 5.0]));
/// assert_eq!((h[1], z[0]), (2.0, 3.0));
/// ```
#[inline(always)]
pub fn split<T: Scalar + Copy, const A: usize, const B: usize, const C: usize>(
    v: &SVector<T, C>,
) -> (SVector<T, A>, SVector<T, B>) {
    const {
        assert!(
            A + B == C,
            "split: the parts' lengths do not add up to the vector's"
        )
    };
    (
        SVector::from_fn(|i, _| v[i]),
        SVector::from_fn(|i, _| v[A + i]),
    )
}
