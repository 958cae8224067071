use rnn::cells::{GruCell, Stacked};
use rnn::prelude::*;

fn main() {
    // Both stacks read the same constants: `&((), ())`, one `()` per layer.
    let stack = || Stacked((GruCell::<4, 3>::zeros(), GruCell::<3, 3>::zeros()));
    let layer = Bidirectional::new(stack(), stack());
    let _ = layer.run(&[SVector::<f32, 4>::zeros(); 2], &());
}
