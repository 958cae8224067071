use rnn::cells::{GruCell, Stacked};
use rnn::prelude::*;

/// The memory rows, weighted by how much each matches the state and input.
#[cell]
fn attend(
    #[input] x: &SVector<f32, 3>,
    #[state] s: &mut SVector<f32, 3>,
    #[constant] memory: &SMatrix<f32, 2, 3>,
) -> SVector<f32, 3> {
    let weights = rnn::ops::softmax(&(memory * (*s + x)));
    *s = memory.transpose() * weights;
    *s
}

fn main() {
    let stack = Stacked((GruCell::<4, 3>::zeros(), Attend));
    let memory = SMatrix::<f32, 2, 3>::zeros();
    // The layers' constants go first layer first: `&((), memory)`.
    let _ = Rnn::new(stack).run_masked(&[SVector::<f32, 4>::zeros(); 2], Mask::All, &(memory, ()));
}
