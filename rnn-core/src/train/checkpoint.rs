//! Checkpoints: a model and its optimizer's state in one of the crate's weight files, so that
//! training resumes with the same bits as if it had never stopped.

use alloc::vec::Vec;

use crate::init::InitRng;
use crate::parameters::{Dtype, Fill, Init, Parameters, Path, Shape, Tensor, Visitor, VisitorMut};

/// The optimizer's state as tensors: the step count and the rule's buffers back to back.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct OptimizerState {
    /// Steps taken (exact in an `f64` up to 2^53).
    pub(crate) iterations: Flat<f64>,
    /// [`Optimizer::state_buffer`](super::optim::Optimizer::state_buffer).
    pub(crate) state: Flat<f32>,
}

/// A model and its optimizer's state, saved under `model/…` and `optimizer/…`.
pub(crate) struct Checkpoint<'m, L> {
    pub(crate) model: &'m mut L,
    pub(crate) optimizer: &'m mut OptimizerState,
}

impl<L: Parameters> Parameters for Checkpoint<'_, L> {
    fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
        self.model.visit(&path.join("model"), f);
        let optimizer = path.join("optimizer");
        f(&optimizer.join("iterations"), &self.optimizer.iterations);
        f(&optimizer.join("state"), &self.optimizer.state);
    }

    fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
        self.model.visit_mut(&path.join("model"), init, f);
        let optimizer = path.join("optimizer");
        let init = Init::bias(1);
        f(
            &optimizer.join("iterations"),
            &mut self.optimizer.iterations,
            init,
        );
        f(&optimizer.join("state"), &mut self.optimizer.state, init);
    }
}

/// A one-dimensional tensor whose length is known when it is read: what loading a checkpoint
/// sizes from the model's.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Flat<T>(pub(crate) Vec<T>);

macro_rules! flat_tensor {
    ($t:ty, $dtype:expr) => {
        impl Tensor for Flat<$t> {
            fn shape(&self) -> Shape {
                Shape::new(&[self.0.len()])
            }
            fn dtype(&self) -> Dtype {
                $dtype
            }
            fn read(&self, f: &mut dyn FnMut(f64)) {
                self.0.iter().for_each(|&v| f(f64::from(v)));
            }
            fn write(&mut self, f: &mut dyn FnMut() -> f64) {
                self.0.iter_mut().for_each(|v| *v = f() as $t);
            }
            fn fill(&mut self, _: Fill, _: &mut InitRng) {
                self.0.iter_mut().for_each(|v| *v = 0.0);
            }
            fn default_init(&self) -> Init {
                Init::bias(1)
            }
        }
    };
}
flat_tensor!(f32, Dtype::F32);
flat_tensor!(f64, Dtype::F64);
