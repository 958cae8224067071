//! The Keras RNN guide's `NestedCell` (section 7) at the guide's sizes: nested
//! inputs `feature1 [32]`, `feature2 [64, 32]`; nested states `[10]`, `[20, 30]`; weights
//! `kernel_1 [32, 10]` and `kernel_2_3 [64, 32, 20, 30]` (1.2 M floats, 4.9 MB), both
//! initialised with Keras's `"uniform"` (`RandomUniform(-0.05, 0.05)`).
//!
//! Shared by `examples/seed_nested_cell.rs` and `tests/big_cell.rs` (`#[path]` includes it).
#![allow(dead_code)]

use rnn::init::Initializer;
use rnn::parameters::{Parameters, Scheme};
use rnn::prelude::*;
use rnn::weights::Weights;

pub const UNIT_1: usize = 10;
pub const UNIT_2: usize = 20;
pub const UNIT_3: usize = 30;
pub const INPUT_1: usize = 32;
pub const INPUT_2: usize = 64;
pub const INPUT_3: usize = 32;

/// `NestedInput = namedtuple('NestedInput', ['feature1', 'feature2'])`.
#[derive(Clone, Debug, PartialEq, Nested)]
pub struct NestedInput {
    pub feature1: SVector<f32, INPUT_1>,
    pub feature2: SMatrix<f32, INPUT_2, INPUT_3>,
}

/// `NestedState = namedtuple('NestedState', ['state1', 'state2'])`.
#[derive(Clone, Debug, PartialEq, Nested)]
pub struct NestedState {
    pub state1: SVector<f32, UNIT_1>,
    pub state2: SMatrix<f32, UNIT_2, UNIT_3>,
}

/// The seed's cell. Its weights live on the heap (`Weights`), so it builds, loads and runs on
/// a 2 MiB thread stack.
#[derive(Clone, Debug, PartialEq, Parameters)]
pub struct NestedCell {
    /// `[32, 10]`.
    #[parameters(init = Initializer::uniform(0.05))]
    pub kernel_1: Weights<f32, INPUT_1, UNIT_1>,
    /// Keras's `[64, 32, 20, 30]`, stored as the `[2048, 600]` matrix that the einsum
    /// `'bij,ijkl->bkl'` multiplies by (the same row-major data), reported as Keras's shape.
    #[parameters(shape = [INPUT_2, INPUT_3, UNIT_2, UNIT_3], init = Initializer::uniform(0.05))]
    pub kernel_2_3: Weights<f32, 2048, 600>,
}

impl NestedCell {
    /// Zero weights.
    pub fn zeros() -> Self {
        NestedCell {
            kernel_1: Weights::zeros(),
            kernel_2_3: Weights::zeros(),
        }
    }

    /// Keras's initialisation (`"uniform"`), reproducible from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut cell = Self::zeros();
        cell.initialize(Scheme::Keras, seed);
        cell
    }
}

#[cell]
impl NestedCell {
    fn step(
        &self,
        #[input] inputs: &NestedInput,
        #[state] states: &mut NestedState,
    ) -> (SVector<f32, UNIT_1>, SMatrix<f32, UNIT_2, UNIT_3>) {
        // output_1 = tf.matmul(input_1, self.kernel_1)
        let [output_1] = self.kernel_1.apply(&inputs.feature1);
        // output_2_3 = tf.einsum('bij,ijkl->bkl', input_2, self.kernel_2_3): `feature2`
        // flattened row-major, as the einsum reads it (the column-major scalars of its
        // transpose), times the [2048, 600] kernel.
        let input_2 =
            SVector::<f32, 2048>::from_column_slice(inputs.feature2.transpose().as_slice());
        let [flat] = self.kernel_2_3.apply(&input_2);
        // [600] row-major as [20, 30].
        let output_2_3 =
            SMatrix::<f32, UNIT_3, UNIT_2>::from_column_slice(flat.as_slice()).transpose();
        states.state1 += output_1;
        states.state2 += output_2_3;
        (output_1, output_2_3)
    }

    /// The same step for a block of `N` sequences (what `rnn::block_unroll` calls): each weight
    /// of the 4.9 MB `kernel_2_3` is read once for the block instead of once per sequence,
    /// and the results are bit-identical to `N` steps.
    #[inline(always)]
    fn step_block<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        states: &mut [Self::State; N],
        _: [&(); N],
    ) -> [Self::Output; N] {
        // Plain loops, not `array::from_fn` closures: a closure the compiler leaves out of
        // line runs outside the driver's AVX2 copy (measured: 5% of the step in them).
        let mut inputs_2 = [SVector::<f32, 2048>::zeros(); N];
        for (flat, input) in inputs_2.iter_mut().zip(inputs) {
            row_major(&input.feature2, flat.as_mut_slice());
        }
        let mut flat = [[SVector::<f32, 600>::zeros()]; N];
        self.kernel_2_3
            .accumulate_block(inputs_2.each_ref(), &mut flat);
        let mut outputs = [(SVector::zeros(), SMatrix::zeros()); N];
        for (((output, input), state), [flat]) in outputs
            .iter_mut()
            .zip(inputs)
            .zip(states.iter_mut())
            .zip(&flat)
        {
            let [output_1] = self.kernel_1.apply(&input.feature1);
            let output_2_3 =
                SMatrix::<f32, UNIT_3, UNIT_2>::from_column_slice(flat.as_slice()).transpose();
            state.state1 += output_1;
            state.state2 += output_2_3;
            *output = (output_1, output_2_3);
        }
        outputs
    }
}

/// `m`'s elements in row-major order (what Keras's reshape of a `[rows, cols]` tensor reads),
/// into `out`; nalgebra stores `m` column by column.
#[inline(always)]
fn row_major<const R: usize, const C: usize>(m: &SMatrix<f32, R, C>, out: &mut [f32]) {
    for (c, column) in m.as_slice().chunks_exact(R).enumerate() {
        for (r, &v) in column.iter().enumerate() {
            out[r * C + c] = v;
        }
    }
}
