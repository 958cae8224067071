//! The scalar types the built-in cells run on.

use nalgebra::RealField;

/// A real scalar the built-in cells and kernels support: `f32` (the default) or `f64`.
///
/// Sealed: the kernels have a tuned implementation for each. User cells that use no built-in
/// may be generic over any `nalgebra::RealField` instead.
pub trait Real: RealField + Copy + Default + private::Sealed {}

impl Real for f32 {}
impl Real for f64 {}

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}
