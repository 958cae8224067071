//! A model's tensors as one flat buffer in path order, and back.
//!
//! The [`Tensor`](crate::parameters::Tensor) interface hands values out one at a time; the
//! update rules want slices. The first walk records each tensor's end offset; later walks
//! check the model still has that layout and refill buffers whose capacity is already there,
//! so no step after the first allocates.

use alloc::vec::Vec;

use super::OptimizerError;
use crate::error::ShapeError;
use crate::parameters::{Dtype, Parameters, Values, ValuesMut};
use crate::real::Real;

/// Where each tensor ends in the flat buffers, in path order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Layout {
    ends: Vec<usize>,
}

impl Layout {
    /// The end offset of each tensor.
    pub(super) fn ends(&self) -> &[usize] {
        &self.ends
    }

    /// The number of scalars over all tensors.
    pub(super) fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Whether no walk has recorded the layout yet.
    pub(super) fn is_unset(&self) -> bool {
        self.ends.is_empty()
    }

    /// Records the layout of `model` (the first step, or a state being loaded).
    pub(super) fn record<T: Real, P: Parameters>(model: &P) -> Result<Self, OptimizerError> {
        let mut ends = Vec::new();
        let mut end = 0usize;
        let mut dtype_error = None;
        model.for_each_parameter(|_, tensor| {
            if tensor.dtype() != Dtype::of::<T>() && dtype_error.is_none() {
                dtype_error = Some(OptimizerError::Dtype {
                    expected: Dtype::of::<T>(),
                    found: tensor.dtype(),
                });
            }
            end = end.saturating_add(tensor.len());
            ends.push(end);
        });
        match dtype_error {
            Some(error) => Err(error),
            None => Ok(Layout { ends }),
        }
    }

    /// Copies the values of `model`, which must have this layout, into `out`.
    pub(super) fn gather<T: Real, P: Parameters>(
        &self,
        what: &'static str,
        model: &P,
        out: &mut Vec<T>,
    ) -> Result<(), OptimizerError> {
        out.clear();
        let mut index = 0usize;
        let mut error = None;
        model.for_each_parameter(|_, tensor| {
            if error.is_some() {
                return;
            }
            let start = self.start(index);
            match self.ends.get(index) {
                Some(&end) if end - start == tensor.len() => match tensor.values() {
                    Some(Values::F32(values)) => out.extend(
                        values
                            .iter()
                            .map(|&v| nalgebra::convert::<f64, T>(f64::from(v))),
                    ),
                    Some(Values::F64(values)) => {
                        out.extend(values.iter().map(|&v| nalgebra::convert::<f64, T>(v)))
                    }
                    None => tensor.read(&mut |v| out.push(nalgebra::convert::<f64, T>(v))),
                },
                Some(&end) => {
                    error = Some(ShapeError::check_len(what, end - start, tensor.len()));
                }
                None => {
                    error = Some(ShapeError::check_len(what, 0, tensor.len()));
                }
            }
            index += 1;
        });
        if let Some(Err(error)) = error {
            return Err(OptimizerError::Shape(error));
        }
        // Fewer tensors than recorded: the missing ones count as empty.
        ShapeError::check_len(what, self.len(), out.len()).map_err(OptimizerError::Shape)
    }

    /// Writes `values` (in this layout) back into `model`'s tensors.
    pub(super) fn scatter<T: Real, P: Parameters>(&self, values: &[T], model: &mut P) {
        let mut index = 0usize;
        model.for_each_parameter_mut(|_, tensor, _| {
            let (start, end) = (
                self.start(index),
                self.ends.get(index).copied().unwrap_or(0),
            );
            let slots = values.get(start..end).unwrap_or(&[]);
            let value = |v: &T| nalgebra::try_convert(*v).unwrap_or(f64::NAN);
            match tensor.values_mut() {
                Some(ValuesMut::F32(out)) if out.len() == slots.len() => {
                    for (o, v) in out.iter_mut().zip(slots) {
                        *o = value(v) as f32;
                    }
                }
                Some(ValuesMut::F64(out)) if out.len() == slots.len() => {
                    for (o, v) in out.iter_mut().zip(slots) {
                        *o = value(v);
                    }
                }
                _ => {
                    let mut slots = slots.iter();
                    tensor.write(&mut || slots.next().map_or(f64::NAN, value));
                }
            }
            index += 1;
        });
    }

    fn start(&self, index: usize) -> usize {
        match index.checked_sub(1) {
            Some(previous) => self.ends.get(previous).copied().unwrap_or(usize::MAX),
            None => 0,
        }
    }
}
