use rnn::cells::{GruCell, SimpleRnnCell, Stacked};
use rnn::prelude::*;

fn main() {
    // Three layers, none with constants: `&((), (), ())`, one `()` per layer.
    let stack = Stacked((
        GruCell::<4, 3>::zeros(),
        GruCell::<3, 3>::zeros(),
        SimpleRnnCell::<3, 2>::zeros(),
    ));
    let _ = Rnn::new(stack).run(&[SVector::<f32, 4>::zeros(); 2], &((), ()));
}
