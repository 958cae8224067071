use rnn::prelude::*;

// Three mistakes in one step: each is reported, in one compile.
#[cell]
fn accumulate(#[input] x: SVector<f32, 2>, #[state] s: &SVector<f32, 2>, #[constnt] k: &f32) {
    let _ = (x, s, k);
}

fn main() {}
