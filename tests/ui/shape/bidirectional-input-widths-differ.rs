use rnn::cells::{GruCell, LstmCell};
use rnn::prelude::*;
use rnn::Bidirectional;

fn main() {
    // Both halves read each step's input: the LSTM reads 5 features, the GRU 6.
    let bi = Bidirectional::new(LstmCell::<5, 4>::zeros(), GruCell::<6, 4>::zeros());
    let _ = bi.run(&[SVector::<f32, 5>::zeros(); 3], &());
}
