//! The scalar types the built-in cells run on.

use nalgebra::{ComplexField, RealField};

/// A real scalar the built-in cells and kernels support: `f32` (the default) or `f64`.
///
/// Sealed: the kernels have a tuned implementation for each. User cells that use no built-in
/// may be generic over any `nalgebra::RealField` instead.
pub trait Real: RealField + Copy + Default + private::Sealed {
    /// `e^x` of every element, in place: for `f32` the branch-free approximation
    /// [`exp_f32`](crate::kernels::exp_f32) (the loop vectorizes), for `f64` libm.
    fn exp_slice(xs: &mut [Self]);
    /// The logistic sigmoid `1 / (1 + e^-x)` of every element, in place.
    fn sigmoid_slice(xs: &mut [Self]);
    /// `tanh(x)` of every element, in place.
    fn tanh_slice(xs: &mut [Self]);
}

impl Real for f32 {
    #[inline(always)]
    fn exp_slice(xs: &mut [f32]) {
        for x in xs {
            *x = crate::kernels::exp_f32(*x);
        }
    }

    #[inline(always)]
    fn sigmoid_slice(xs: &mut [f32]) {
        for x in xs {
            *x = crate::kernels::sigmoid_f32(*x);
        }
    }

    #[inline(always)]
    fn tanh_slice(xs: &mut [f32]) {
        for x in xs {
            *x = crate::kernels::tanh_f32(*x);
        }
    }
}

// f64 keeps libm: its users want the last bit more than the speed, and the parity fixtures
// in f64 are checked to 1e-12.
impl Real for f64 {
    #[inline(always)]
    fn exp_slice(xs: &mut [f64]) {
        for x in xs {
            *x = ComplexField::exp(*x);
        }
    }

    #[inline(always)]
    fn sigmoid_slice(xs: &mut [f64]) {
        for x in xs {
            *x = 1.0 / (1.0 + ComplexField::exp(-*x));
        }
    }

    #[inline(always)]
    fn tanh_slice(xs: &mut [f64]) {
        for x in xs {
            *x = ComplexField::tanh(*x);
        }
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}
