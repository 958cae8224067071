use rnn::cells::{GruCell, LstmCell, Stacked};
use rnn::prelude::*;

fn main() {
    // The LSTM outputs 4 units; the GRU reads 5.
    let stack = Stacked((LstmCell::<5, 4>::zeros(), GruCell::<5, 3>::zeros()));
    let _ = Rnn::new(stack).run(&[SVector::<f32, 5>::zeros(); 2], &((), ()));
}
