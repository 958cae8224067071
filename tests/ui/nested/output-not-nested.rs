use rnn::prelude::*;

#[cell(inference)]
fn accumulate(#[input] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) -> (SVector<f32, 2>, usize) {
    *s += x;
    (*s, 1)
}

fn main() {}
