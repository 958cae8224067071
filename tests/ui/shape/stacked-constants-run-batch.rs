use rnn::cells::{GruCell, Stacked};
use rnn::prelude::*;

fn main() {
    // A batch's constants are the cell's, shared (`&((), ())`) or one per sequence.
    let stack = Stacked((GruCell::<4, 3>::zeros(), GruCell::<3, 3>::zeros()));
    let sequences = [[SVector::<f32, 4>::zeros(); 2]; 3];
    let _ = Rnn::new(stack).run_batch(&Batch::new(&sequences), &());
}
