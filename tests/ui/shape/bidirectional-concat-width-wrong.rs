use rnn::cells::{GruCell, LstmCell};
use rnn::prelude::*;
use rnn::Bidirectional;

fn main() {
    // Concat gives 4 + 3 = 7 values per step; a 6-wide vector is asked for.
    let bi = Bidirectional::new(LstmCell::<5, 4>::zeros(), GruCell::<5, 3>::zeros());
    let run = bi.run(&[SVector::<f32, 5>::zeros(); 3], &());
    let _: SVector<f32, 6> = run.outputs[0].to_vector();
}
