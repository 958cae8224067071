use rnn::cells::{GruCell, Stacked};
use rnn::prelude::*;

fn main() {
    // Both stacks read the same constants: `((), ())`, one `()` per layer, kept by the stream.
    let stack = || Stacked((GruCell::<4, 3>::zeros(), GruCell::<3, 3>::zeros()));
    let _ = Bidirectional::new(stack(), stack()).stateful(());
}
