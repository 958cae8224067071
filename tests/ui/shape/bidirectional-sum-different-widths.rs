use rnn::cells::{GruCell, LstmCell};
use rnn::prelude::*;
use rnn::{Bidirectional, Sum};

fn main() {
    // Sum adds the two directions' outputs leaf by leaf: 4 units forward, 3 backward.
    let bi = Bidirectional::new(LstmCell::<5, 4>::zeros(), GruCell::<5, 3>::zeros()).merge_mode(Sum);
    let xs = [SVector::<f32, 5>::zeros(); 3];
    let _ = bi.run(&xs, &());
}
