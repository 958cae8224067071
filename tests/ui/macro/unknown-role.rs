use rnn::prelude::*;

#[cell]
fn accumulate(#[inputs] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
    *s += x;
    *s
}

fn main() {}
