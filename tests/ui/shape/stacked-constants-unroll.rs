use rnn::cells::{GruCell, Stacked};
use rnn::prelude::*;

fn main() {
    // Two layers, none with constants: `&((), ())`, one `()` per layer, as for `run`.
    let stack = Stacked((GruCell::<4, 3>::zeros(), GruCell::<3, 3>::zeros()));
    let _ = Rnn::new(stack).unroll(&[SVector::<f32, 4>::zeros(); 2], &());
}
