use rnn::prelude::*;

#[cell]
fn accumulate(#[input] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) {
    *s += x;
}

fn main() {}
