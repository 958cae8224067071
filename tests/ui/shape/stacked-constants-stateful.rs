use rnn::cells::{GruCell, Stacked};
use rnn::prelude::*;

fn main() {
    // A stream keeps the stack's constants: `((), ())`, one `()` per layer.
    let stack = Stacked((GruCell::<4, 3>::zeros(), GruCell::<3, 3>::zeros()));
    let _ = Rnn::new(stack).stateful(());
}
