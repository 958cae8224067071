use rnn::cells::{GruCell, Stacked};
use rnn::prelude::*;

fn main() {
    // The free drivers take the cell's constants as `Rnn::run` does: `&((), ())` here.
    let stack = Stacked((GruCell::<4, 3>::zeros(), GruCell::<3, 3>::zeros()));
    let xs = [SVector::<f32, 4>::zeros(); 2];
    let _ = rnn::dynamic_unroll(&stack, &xs, Nested::zeros(), &());
}
