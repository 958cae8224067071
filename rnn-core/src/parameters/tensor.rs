//! One parameter tensor, whatever its storage.

use super::{Dtype, Fill, Init, Shape};
use crate::error::ShapeError;
use crate::init::InitRng;
#[cfg(doc)]
use {super::Parameters, crate::init::Initializer};

/// One parameter tensor, whatever its storage: its shape, dtype and values in row-major
/// order. What [`Parameters`] visits hand out.
///
/// Values cross this interface as `f64`, which holds every `f32` exactly: an `f32` cell
/// reads and writes its own bits. [`dyn Tensor`](trait@Tensor) adds checked `f32` slice
/// copies.
pub trait Tensor {
    /// The shape reported, in Keras's layout (`[in, out]` for a 2-D weight).
    fn shape(&self) -> Shape;

    /// The element type: [`Dtype::F32`] or [`Dtype::F64`].
    fn dtype(&self) -> Dtype;

    /// Calls `f` with every value, row-major.
    fn read(&self, f: &mut dyn FnMut(f64));

    /// Sets every value, row-major, to what `f` returns (called [`Shape::len`] times).
    fn write(&mut self, f: &mut dyn FnMut() -> f64);

    /// Fills the tensor, in [`write`](Tensor::write)'s order. An [`Initializer`] sees its
    /// [`shape`](Tensor::shape), from which the fan-based ones count their fans as Keras does
    /// ([`Fans`](crate::init::Fans)).
    fn fill(&mut self, fill: Fill, rng: &mut InitRng) {
        let shape = self.shape();
        match fill {
            Fill::Initializer(init) => init.write(rng, shape.dims(), &mut |next| self.write(next)),
            Fill::UnitForgetBias(init) => {
                init.write_unit_forget_bias(rng, shape.len(), &mut |next| self.write(next))
            }
        }
    }

    /// The initialisation used when no `#[parameters(init = …)]` applies: a kernel or
    /// matrix of `H` columns [`Init::kernel(H)`](Init::kernel), a vector or gate-block bias of
    /// `H` units [`Init::bias(H)`](Init::bias).
    fn default_init(&self) -> Init;

    /// The values in place, row-major, when the storage holds them in that order (a kernel,
    /// a vector, a scalar); `None` otherwise. Bulk operations (zeroing a gradient, summing
    /// two, an optimizer's step) go through it rather than through a call per value.
    fn values(&self) -> Option<Values<'_>> {
        None
    }

    /// [`values`](Tensor::values), writable.
    fn values_mut(&mut self) -> Option<ValuesMut<'_>> {
        None
    }

    /// For a gradient a backward over many steps adds into: with `true`, a large kernel keeps
    /// the terms its products add and adds them in blocks, each in one sweep over its values
    /// (the same sums); with `false`, it adds what it kept, so that its values can be read.
    /// The backward drivers call it; the default, for storage without such products, does
    /// nothing.
    #[doc(hidden)]
    fn defer_products(&mut self, on: bool) {
        let _ = on;
    }
}

/// A tensor's values in place, row-major, in its element type (see [`Tensor::values`]).
#[derive(Debug)]
pub enum Values<'a> {
    /// `f32` values.
    F32(&'a [f32]),
    /// `f64` values.
    F64(&'a [f64]),
}

/// A tensor's values in place, writable (see [`Tensor::values_mut`]).
#[derive(Debug)]
pub enum ValuesMut<'a> {
    /// `f32` values.
    F32(&'a mut [f32]),
    /// `f64` values.
    F64(&'a mut [f64]),
}

impl dyn Tensor + '_ {
    /// The number of values.
    pub fn len(&self) -> usize {
        self.shape().len()
    }

    /// Whether the tensor holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the values, row-major, into `out`, which must hold `len()` values.
    pub fn copy_to_f32(&self, out: &mut [f32]) -> Result<(), ShapeError> {
        ShapeError::check_len("parameter buffer", self.len(), out.len())?;
        if let Some(Values::F32(values)) = self.values() {
            out.copy_from_slice(values);
            return Ok(());
        }
        let mut slots = out.iter_mut();
        self.read(&mut |v| {
            if let Some(slot) = slots.next() {
                *slot = v as f32;
            }
        });
        Ok(())
    }

    /// Sets the values, row-major, from `src`, which must hold `len()` values.
    pub fn copy_from_f32(&mut self, src: &[f32]) -> Result<(), ShapeError> {
        ShapeError::check_len("parameter buffer", self.len(), src.len())?;
        if let Some(ValuesMut::F32(values)) = self.values_mut() {
            values.copy_from_slice(src);
            return Ok(());
        }
        let mut values = src.iter();
        self.write(&mut || values.next().map_or(0.0, |&v| f64::from(v)));
        Ok(())
    }

    /// The values, row-major, as `f32`.
    #[cfg(feature = "alloc")]
    pub fn to_f32_vec(&self) -> alloc::vec::Vec<f32> {
        let mut out = alloc::vec::Vec::with_capacity(self.len());
        self.read(&mut |v| out.push(v as f32));
        out
    }
}

/// A leaf or an `Option` of one: what `#[parameters(shape = …)]` and `row_of` need, a tensor
/// whose length is known when the program is compiled.
pub trait Leaf {
    /// The number of values.
    const LEN: usize;
    /// The tensor (`None` for an absent optional one).
    fn tensor(&self) -> Option<&dyn Tensor>;
    /// The tensor, mutable.
    fn tensor_mut(&mut self) -> Option<&mut dyn Tensor>;
}

impl<L: Leaf> Leaf for Option<L> {
    const LEN: usize = L::LEN;
    fn tensor(&self) -> Option<&dyn Tensor> {
        self.as_ref().and_then(L::tensor)
    }
    fn tensor_mut(&mut self) -> Option<&mut dyn Tensor> {
        self.as_mut().and_then(L::tensor_mut)
    }
}
