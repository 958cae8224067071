//! The scalar types the built-in cells run on.

use nalgebra::{ComplexField, RealField};

use crate::kernels::{self, Rounding};
use crate::parameters::{Values, ValuesMut};

/// A real scalar the built-in cells and kernels support: `f32` (the default) or `f64`.
///
/// It asks for no `Default`: a zero is `T::zero()`, and the test-only dual numbers, which the
/// built-ins also run on, have none.
///
/// Sealed: the kernels have a tuned implementation for each. User cells that use no built-in
/// may be generic over any `nalgebra::RealField` instead.
pub trait Real: RealField + Copy + private::Sealed {
    /// `e^x`: for `f32` the branch-free [`exp_f32_with`](kernels::exp_f32_with) (a loop of
    /// them vectorizes), for `f64` libm.
    fn exp_with<R: Rounding>(self) -> Self;
    /// The logistic sigmoid `1 / (1 + e^-x)`, from [`exp_with`](Real::exp_with).
    fn sigmoid_with<R: Rounding>(self) -> Self;
    /// `tanh(x)`: for `f32` the branch-free [`tanh_f32_with`](kernels::tanh_f32_with), for
    /// `f64` libm.
    fn tanh_with<R: Rounding>(self) -> Self;
    /// `self · a + b` with one rounding.
    fn fused_mul_add(self, a: Self, b: Self) -> Self;

    /// `values` as a tensor's view of them, in its element type (`None` for a scalar type
    /// that is neither `f32` nor `f64`).
    #[doc(hidden)]
    fn values(values: &[Self]) -> Option<Values<'_>>;

    /// [`values`](Real::values), writable.
    #[doc(hidden)]
    fn values_mut(values: &mut [Self]) -> Option<ValuesMut<'_>>;
}

impl Real for f32 {
    #[inline(always)]
    fn values(values: &[f32]) -> Option<Values<'_>> {
        Some(Values::F32(values))
    }

    #[inline(always)]
    fn values_mut(values: &mut [f32]) -> Option<ValuesMut<'_>> {
        Some(ValuesMut::F32(values))
    }

    #[inline(always)]
    fn exp_with<R: Rounding>(self) -> f32 {
        kernels::exp_f32_with::<R>(self)
    }

    #[inline(always)]
    fn sigmoid_with<R: Rounding>(self) -> f32 {
        kernels::sigmoid_f32_with::<R>(self)
    }

    #[inline(always)]
    fn tanh_with<R: Rounding>(self) -> f32 {
        kernels::tanh_f32_with::<R>(self)
    }

    #[inline(always)]
    fn fused_mul_add(self, a: f32, b: f32) -> f32 {
        // std's is the FMA instruction where the code is compiled for it (the kernels only
        // fuse there); without std, libm's exact software version.
        #[cfg(feature = "std")]
        {
            f32::mul_add(self, a, b)
        }
        #[cfg(not(feature = "std"))]
        {
            ComplexField::mul_add(self, a, b)
        }
    }
}

// f64 keeps libm: its users want the last bit more than the speed, and the parity fixtures
// in f64 are checked to 1e-12.
impl Real for f64 {
    #[inline(always)]
    fn values(values: &[f64]) -> Option<Values<'_>> {
        Some(Values::F64(values))
    }

    #[inline(always)]
    fn values_mut(values: &mut [f64]) -> Option<ValuesMut<'_>> {
        Some(ValuesMut::F64(values))
    }

    #[inline(always)]
    fn exp_with<R: Rounding>(self) -> f64 {
        ComplexField::exp(self)
    }

    #[inline(always)]
    fn sigmoid_with<R: Rounding>(self) -> f64 {
        1.0 / (1.0 + ComplexField::exp(-self))
    }

    #[inline(always)]
    fn tanh_with<R: Rounding>(self) -> f64 {
        ComplexField::tanh(self)
    }

    #[inline(always)]
    fn fused_mul_add(self, a: f64, b: f64) -> f64 {
        #[cfg(feature = "std")]
        {
            f64::mul_add(self, a, b)
        }
        #[cfg(not(feature = "std"))]
        {
            ComplexField::mul_add(self, a, b)
        }
    }
}

/// Forward-mode dual numbers, for the tests only: a built-in cell run on `Dual64` carries a
/// directional derivative through its step, the oracle its hand-derived backward is checked
/// against. The operations are `f64`'s, through nalgebra's `ComplexField`.
#[cfg(feature = "dual")]
#[doc(hidden)]
impl Real for num_dual::Dual64 {
    /// No view: a dual is not a tensor element type, so bulk operations take the value by
    /// value path.
    #[inline(always)]
    fn values(_: &[Self]) -> Option<Values<'_>> {
        None
    }

    #[inline(always)]
    fn values_mut(_: &mut [Self]) -> Option<ValuesMut<'_>> {
        None
    }

    #[inline(always)]
    fn exp_with<R: Rounding>(self) -> Self {
        ComplexField::exp(self)
    }

    #[inline(always)]
    fn sigmoid_with<R: Rounding>(self) -> Self {
        let one = Self::from(1.0);
        one / (one + ComplexField::exp(-self))
    }

    #[inline(always)]
    fn tanh_with<R: Rounding>(self) -> Self {
        ComplexField::tanh(self)
    }

    #[inline(always)]
    fn fused_mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    #[cfg(feature = "dual")]
    impl Sealed for num_dual::Dual64 {}
}
