//! Values that flow through a cell: inputs, states, constants and outputs.
//!
//! A [`Nested`] value is a tree whose leaves are scalars, nalgebra static vectors and
//! matrices; tuples, arrays and `#[derive(Nested)]` structs are its branches (Keras calls these
//! "nested structures", `tf.nest`). Everything a driver needs of a value is here: zeros for
//! initial states and padded steps, a leafwise operation for merging two directions, and a
//! row-major `f32` flattening for interop with numpy/PyTorch buffers. The size of every value is
//! a constant, so a mistake in it is a compile error, not a runtime one.

use core::fmt;

use nalgebra::{RealField, SMatrix};

use crate::error::ShapeError;

/// An elementwise binary operation on scalars, applied leaf by leaf by [`Nested::zip_apply`].
///
/// The operation is generic over the scalar so that one value of it serves every leaf type
/// (an `f32` vector and an `f64` matrix in the same struct).
pub trait ScalarOp {
    /// Combines `a` (from the value being updated) with `b` (from the other value).
    fn apply<T: RealField>(&self, a: T, b: T) -> T;
}

/// A value that can be an input, state, constant or output of a [`Cell`](crate::Cell).
///
/// Implemented for `f32`, `f64`, nalgebra's `SMatrix<T, R, C>` (and so `SVector<T, N>`) for any
/// `T: RealField`, `()`, tuples of up to eight nested values, arrays `[N; K]`, and any struct with
/// `#[derive(Nested)]`.
///
/// A scalar leaf is a concrete `f32` or `f64`; a cell generic over its scalar `T` holds a lone
/// scalar as `SVector<T, 1>` (a blanket impl for every `T: RealField` would collide with the
/// matrix impl).
///
/// Leaves flatten row-major, in declaration order: an `R × C` matrix writes row 0 first, as
/// numpy and PyTorch lay out a `[R, C]` tensor.
///
/// ```
/// use rnn::{Nested, ShapeOf};
/// use nalgebra::{SMatrix, SVector};
///
/// type State = (SVector<f32, 10>, SMatrix<f32, 20, 30>);
/// assert_eq!(<State as Nested>::SIZE, 10 + 600);
/// assert_eq!(ShapeOf::<State>::new().to_string(), "([10], [20, 30])");
///
/// let m = SMatrix::<f32, 2, 3>::new(1.0, 2.0, 3.0, 4.0, 5.0, 6.0);
/// let mut flat = [0.0; 6];
/// m.to_f32_slice(&mut flat).unwrap();
/// assert_eq!(flat, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]); // row-major
/// assert_eq!(SMatrix::<f32, 2, 3>::from_f32_slice(&flat).unwrap(), m);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot flow through a cell: it is not `Nested`",
    label = "not a `Nested` value",
    note = "inputs, states, constants and outputs must be scalars (f32, f64), nalgebra static \
            vectors/matrices, tuples or arrays of them, or structs with `#[derive(Nested)]`"
)]
pub trait Nested: Clone + core::fmt::Debug + PartialEq + 'static {
    /// Number of scalars in the value (the length of its flattening).
    const SIZE: usize;

    /// The value with every scalar zero (Keras's default initial state).
    fn zeros() -> Self;

    /// Calls `f` with the shape of each leaf, in flattening order: `[]` for a scalar, `[n]`
    /// for a vector, `[r, c]` for a matrix.
    fn for_each_leaf_shape(f: &mut dyn FnMut(&[usize]));

    /// Writes the value's structure and leaf shapes (what [`ShapeOf`] displays).
    fn fmt_shape(f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// `self[i] = op(self[i], other[i])` for every scalar `i`.
    fn zip_apply<O: ScalarOp>(&mut self, other: &Self, op: &O);

    /// Writes the scalars row-major into `out`, which holds exactly [`Self::SIZE`] values.
    ///
    /// This is the unchecked building block of [`Nested::to_f32_slice`]; it panics if `out`
    /// has another length. Call the checked method unless the length is known.
    fn write_f32(&self, out: &mut [f32]);

    /// Reads a value from exactly [`Self::SIZE`] row-major scalars; panics on another length.
    /// The unchecked building block of [`Nested::from_f32_slice`].
    fn read_f32(src: &[f32]) -> Self;

    /// Writes the value row-major into `out`, which must hold exactly [`Self::SIZE`] scalars.
    fn to_f32_slice(&self, out: &mut [f32]) -> Result<(), ShapeError> {
        ShapeError::check_len("output buffer", Self::SIZE, out.len())?;
        self.write_f32(out);
        Ok(())
    }

    /// Reads a value from exactly [`Self::SIZE`] row-major scalars.
    fn from_f32_slice(src: &[f32]) -> Result<Self, ShapeError> {
        ShapeError::check_len("input buffer", Self::SIZE, src.len())?;
        Ok(Self::read_f32(src))
    }
}

/// Displays the shape of a [`Nested`] type, as Keras prints `state_size` and `output_size`:
/// `[10]` for a vector, `[20, 30]` for a matrix, `([10], [20, 30])` for a tuple,
/// `NestedState { state1: [10], state2: [20, 30] }` for a derived struct.
pub struct ShapeOf<N: ?Sized>(core::marker::PhantomData<fn() -> N>);

impl<N: Nested> ShapeOf<N> {
    /// The shape of `N`.
    pub const fn new() -> Self {
        ShapeOf(core::marker::PhantomData)
    }

    /// Number of scalars in `N`.
    pub const fn size(&self) -> usize {
        N::SIZE
    }
}

impl<N: Nested> Default for ShapeOf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<N: Nested> fmt::Display for ShapeOf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        N::fmt_shape(f)
    }
}

impl<N: Nested> fmt::Debug for ShapeOf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        N::fmt_shape(f)
    }
}

fn to_f32<T: RealField>(x: &T) -> f32 {
    // RealField is a superset of f64; every real scalar nalgebra knows converts to it.
    nalgebra::try_convert::<T, f64>(x.clone()).unwrap_or(f64::NAN) as f32
}

fn from_f32<T: RealField>(x: f32) -> T {
    nalgebra::convert::<f64, T>(f64::from(x))
}

macro_rules! nested_scalar {
    ($($t:ty),*) => {$(
        impl Nested for $t {
            const SIZE: usize = 1;
            fn zeros() -> Self { 0.0 }
            fn for_each_leaf_shape(f: &mut dyn FnMut(&[usize])) { f(&[]) }
            fn fmt_shape(f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str("[]") }
            fn zip_apply<O: ScalarOp>(&mut self, other: &Self, op: &O) {
                *self = op.apply(*self, *other);
            }
            fn write_f32(&self, out: &mut [f32]) {
                assert_eq!(out.len(), 1, "write_f32: buffer length");
                out[0] = *self as f32;
            }
            fn read_f32(src: &[f32]) -> Self {
                assert_eq!(src.len(), 1, "read_f32: buffer length");
                src[0] as $t
            }
        }
    )*};
}
nested_scalar!(f32, f64);

/// The scalar of a [`Nested`] vector or matrix: any real number type (`f32`, `f64`).
///
/// Exactly nalgebra's `RealField`, under a name whose error says what went wrong when a cell
/// is given an integer vector.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the scalar of a cell's vectors and matrices: it is not a real number type",
    label = "a vector or matrix of `{Self}`",
    note = "vectors and matrices that flow through a cell hold `f32` or `f64`; `.cast::<f32>()` converts one"
)]
pub trait RealScalar: RealField {}

#[diagnostic::do_not_recommend]
impl<T: RealField> RealScalar for T {}

impl<T: RealScalar, const R: usize, const C: usize> Nested for SMatrix<T, R, C> {
    const SIZE: usize = R * C;

    fn zeros() -> Self {
        SMatrix::zeros()
    }

    fn for_each_leaf_shape(f: &mut dyn FnMut(&[usize])) {
        if C == 1 {
            f(&[R])
        } else {
            f(&[R, C])
        }
    }

    fn fmt_shape(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if C == 1 {
            write!(f, "[{R}]")
        } else {
            write!(f, "[{R}, {C}]")
        }
    }

    // Over the contiguous storage, not nalgebra's element iterators: a loop over slices is
    // one the compiler vectorizes (the adjoints a generated backward adds up go through here).
    #[inline(always)]
    fn zip_apply<O: ScalarOp>(&mut self, other: &Self, op: &O) {
        for (a, b) in self.as_mut_slice().iter_mut().zip(other.as_slice()) {
            *a = op.apply(a.clone(), b.clone());
        }
    }

    fn write_f32(&self, out: &mut [f32]) {
        assert_eq!(out.len(), R * C, "write_f32: buffer length");
        for r in 0..R {
            for c in 0..C {
                out[r * C + c] = to_f32(&self[(r, c)]);
            }
        }
    }

    fn read_f32(src: &[f32]) -> Self {
        assert_eq!(src.len(), R * C, "read_f32: buffer length");
        SMatrix::from_fn(|r, c| from_f32(src[r * C + c]))
    }
}

impl Nested for () {
    const SIZE: usize = 0;
    fn zeros() -> Self {}
    fn for_each_leaf_shape(_: &mut dyn FnMut(&[usize])) {}
    fn fmt_shape(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("()")
    }
    fn zip_apply<O: ScalarOp>(&mut self, _: &Self, _: &O) {}
    fn write_f32(&self, out: &mut [f32]) {
        assert!(out.is_empty(), "write_f32: buffer length");
    }
    fn read_f32(src: &[f32]) -> Self {
        assert!(src.is_empty(), "read_f32: buffer length");
    }
}

impl<N: Nested, const K: usize> Nested for [N; K] {
    const SIZE: usize = N::SIZE * K;

    fn zeros() -> Self {
        core::array::from_fn(|_| N::zeros())
    }

    fn for_each_leaf_shape(f: &mut dyn FnMut(&[usize])) {
        for _ in 0..K {
            N::for_each_leaf_shape(f);
        }
    }

    fn fmt_shape(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        N::fmt_shape(f)?;
        write!(f, "; {K}]")
    }

    fn zip_apply<O: ScalarOp>(&mut self, other: &Self, op: &O) {
        for (a, b) in self.iter_mut().zip(other) {
            a.zip_apply(b, op);
        }
    }

    fn write_f32(&self, out: &mut [f32]) {
        assert_eq!(out.len(), Self::SIZE, "write_f32: buffer length");
        for (item, chunk) in self.iter().zip(out.chunks_exact_mut(N::SIZE.max(1))) {
            item.write_f32(&mut chunk[..N::SIZE]);
        }
    }

    fn read_f32(src: &[f32]) -> Self {
        assert_eq!(src.len(), Self::SIZE, "read_f32: buffer length");
        core::array::from_fn(|k| N::read_f32(&src[k * N::SIZE..(k + 1) * N::SIZE]))
    }
}

macro_rules! nested_tuple {
    ($($name:ident . $idx:tt),+) => {
        impl<$($name: Nested),+> Nested for ($($name,)+) {
            const SIZE: usize = 0 $(+ $name::SIZE)+;

            fn zeros() -> Self {
                ($($name::zeros(),)+)
            }

            fn for_each_leaf_shape(f: &mut dyn FnMut(&[usize])) {
                $($name::for_each_leaf_shape(f);)+
            }

            fn fmt_shape(f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("(")?;
                let mut first = true;
                $(
                    if !first { f.write_str(", ")?; }
                    first = false;
                    $name::fmt_shape(f)?;
                )+
                let _ = first;
                f.write_str(")")
            }

            fn zip_apply<Op: ScalarOp>(&mut self, other: &Self, op: &Op) {
                $(self.$idx.zip_apply(&other.$idx, op);)+
            }

            #[allow(unused_assignments)]
            fn write_f32(&self, out: &mut [f32]) {
                assert_eq!(out.len(), Self::SIZE, "write_f32: buffer length");
                let mut at = 0;
                $(
                    self.$idx.write_f32(&mut out[at..at + $name::SIZE]);
                    at += $name::SIZE;
                )+
            }

            #[allow(unused_assignments)]
            fn read_f32(src: &[f32]) -> Self {
                assert_eq!(src.len(), Self::SIZE, "read_f32: buffer length");
                let mut at = 0;
                ($({
                    let leaf = $name::read_f32(&src[at..at + $name::SIZE]);
                    at += $name::SIZE;
                    leaf
                },)+)
            }
        }
    };
}
nested_tuple!(A.0);
nested_tuple!(A.0, B.1);
nested_tuple!(A.0, B.1, C.2);
nested_tuple!(A.0, B.1, C.2, D.3);
nested_tuple!(A.0, B.1, C.2, D.3, E.4);
nested_tuple!(A.0, B.1, C.2, D.3, E.4, F.5);
nested_tuple!(A.0, B.1, C.2, D.3, E.4, F.5, G.6);
nested_tuple!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7);

/// Leafwise operations used to merge values (Keras `Bidirectional` merge modes).
pub(crate) mod ops {
    use super::ScalarOp;
    use nalgebra::RealField;

    /// `a + b`.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Add;
    impl ScalarOp for Add {
        fn apply<T: RealField>(&self, a: T, b: T) -> T {
            a + b
        }
    }

    /// `a * b`.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Mul;
    impl ScalarOp for Mul {
        fn apply<T: RealField>(&self, a: T, b: T) -> T {
            a * b
        }
    }

    /// `(a + b) / 2`.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Average;
    impl ScalarOp for Average {
        fn apply<T: RealField>(&self, a: T, b: T) -> T {
            (a + b) * nalgebra::convert::<f64, T>(0.5)
        }
    }
}
