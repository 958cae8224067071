//! The tensors that hold values: scalars, nalgebra matrices and vectors, gate blocks,
//! stacked kernels, embedding tables.

use nalgebra::SMatrix;

use super::{
    Dtype, Init, Leaf, Parameters, Path, Shape, Tensor, Values, ValuesMut, Visitor, VisitorMut,
};
use crate::real::Real;
use crate::weights::Kernel;

fn to_f64<T: Real>(x: T) -> f64 {
    nalgebra::try_convert::<T, f64>(x).unwrap_or(f64::NAN)
}

fn from_f64<T: Real>(x: f64) -> T {
    nalgebra::convert::<f64, T>(x)
}

macro_rules! leaf_parameters {
    ([$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> Leaf for $ty {
            const LEN: usize = <Self as LeafLen>::LEN_;
            fn tensor(&self) -> Option<&dyn Tensor> {
                Some(self)
            }
            fn tensor_mut(&mut self) -> Option<&mut dyn Tensor> {
                Some(self)
            }
        }

        impl<$($generics)*> Parameters for $ty {
            fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
                f(path, self)
            }
            fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
                let init = init.unwrap_or_else(|| self.default_init());
                f(path, self, init)
            }
        }
    };
}

/// The compile-time length of a leaf type (a helper so the macro above stays generic).
trait LeafLen {
    const LEN_: usize;
}

macro_rules! scalar_leaf {
    ($($t:ty),*) => {$(
        impl LeafLen for $t {
            const LEN_: usize = 1;
        }
        impl Tensor for $t {
            fn shape(&self) -> Shape {
                Shape::SCALAR
            }
            fn dtype(&self) -> Dtype {
                Dtype::of::<$t>()
            }
            fn read(&self, f: &mut dyn FnMut(f64)) {
                f(f64::from(*self))
            }
            fn values(&self) -> Option<Values<'_>> {
                <$t as Real>::values(core::slice::from_ref(self))
            }
            fn values_mut(&mut self) -> Option<ValuesMut<'_>> {
                <$t as Real>::values_mut(core::slice::from_mut(self))
            }
            fn write(&mut self, f: &mut dyn FnMut() -> f64) {
                *self = f() as $t;
            }
            fn default_init(&self) -> Init {
                Init::bias(1)
            }
        }
        leaf_parameters!([] $t);
    )*};
}
scalar_leaf!(f32, f64);

impl<T: Real, const R: usize, const C: usize> LeafLen for SMatrix<T, R, C> {
    const LEN_: usize = R * C;
}

/// A matrix `W` of `W · x` maps `C` inputs to `R` outputs: it is reported as Keras reports a
/// kernel, `[in, out] = [C, R]`, whose row-major order is nalgebra's column-major storage. A
/// vector is `[R]`.
impl<T: Real, const R: usize, const C: usize> Tensor for SMatrix<T, R, C> {
    fn shape(&self) -> Shape {
        if C == 1 {
            Shape::new(&[R])
        } else {
            Shape::new(&[C, R])
        }
    }
    fn dtype(&self) -> Dtype {
        Dtype::of::<T>()
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        self.iter().for_each(|&v| f(to_f64(v)));
    }
    fn values(&self) -> Option<Values<'_>> {
        T::values(self.as_slice())
    }
    fn values_mut(&mut self) -> Option<ValuesMut<'_>> {
        T::values_mut(self.as_mut_slice())
    }
    fn write(&mut self, f: &mut dyn FnMut() -> f64) {
        self.iter_mut().for_each(|v| *v = from_f64(f()));
    }
    fn default_init(&self) -> Init {
        if C == 1 {
            Init::bias(R)
        } else {
            Init::kernel(C)
        }
    }
}
leaf_parameters!([T: Real, const R: usize, const C: usize] SMatrix<T, R, C>);

impl<T: Real, const R: usize, const C: usize, const G: usize> LeafLen for [SMatrix<T, R, C>; G] {
    const LEN_: usize = G * R * C;
}

impl<T: Real, const R: usize, const C: usize, const G: usize> Tensor for [SMatrix<T, R, C>; G] {
    fn shape(&self) -> Shape {
        if C == 1 {
            Shape::new(&[G * R])
        } else {
            Shape::new(&[G, C, R])
        }
    }
    fn dtype(&self) -> Dtype {
        Dtype::of::<T>()
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        for block in self {
            block.read(f);
        }
    }
    fn write(&mut self, f: &mut dyn FnMut() -> f64) {
        for block in self {
            block.write(f);
        }
    }
    fn default_init(&self) -> Init {
        Init::bias(R)
    }
}
leaf_parameters!([T: Real, const R: usize, const C: usize, const G: usize] [SMatrix<T, R, C>; G]);

impl<T: Real, const IN: usize, const G: usize, const H: usize> LeafLen for Kernel<T, IN, G, H> {
    const LEN_: usize = IN * G * H;
}

impl<T: Real, const IN: usize, const G: usize, const H: usize> Tensor for Kernel<T, IN, G, H> {
    fn shape(&self) -> Shape {
        Shape::new(&[IN, G * H])
    }
    fn dtype(&self) -> Dtype {
        Dtype::of::<T>()
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        for &v in self.as_slice() {
            f(to_f64(v));
        }
    }
    fn values(&self) -> Option<Values<'_>> {
        T::values(self.as_slice())
    }
    fn values_mut(&mut self) -> Option<ValuesMut<'_>> {
        T::values_mut(self.as_mut_slice())
    }
    fn write(&mut self, f: &mut dyn FnMut() -> f64) {
        for v in self.as_mut_slice() {
            *v = from_f64(f());
        }
    }
    fn default_init(&self) -> Init {
        Init::kernel(H)
    }
    fn defer_products(&mut self, on: bool) {
        self.defer_outer(on);
    }
}
leaf_parameters!([T: Real, const IN: usize, const G: usize, const H: usize] Kernel<T, IN, G, H>);

/// A table of rows (an embedding's `[V, D]`): `[n, R]` for vectors, `[n, C, R]` for matrices
/// (each in the `[in, out]` layout of a matrix).
#[cfg(feature = "alloc")]
impl<T: Real, const R: usize, const C: usize> Tensor for alloc::vec::Vec<SMatrix<T, R, C>> {
    fn shape(&self) -> Shape {
        if C == 1 {
            Shape::new(&[self.len(), R])
        } else {
            Shape::new(&[self.len(), C, R])
        }
    }
    fn dtype(&self) -> Dtype {
        Dtype::of::<T>()
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        for row in self {
            row.read(f);
        }
    }
    fn write(&mut self, f: &mut dyn FnMut() -> f64) {
        for row in self {
            row.write(f);
        }
    }
    fn default_init(&self) -> Init {
        Init::kernel(R * C)
    }
}

#[cfg(feature = "alloc")]
impl<T: Real, const R: usize, const C: usize> Parameters for alloc::vec::Vec<SMatrix<T, R, C>> {
    fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
        f(path, self)
    }
    fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
        let init = init.unwrap_or_else(|| self.default_init());
        f(path, self, init)
    }
}
