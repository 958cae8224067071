use rnn::prelude::*;

#[cell(inference)]
fn accumulate(#[input] x: &SVector<f32, 3>, #[state] s: &mut SVector<f32, 3>) -> SVector<f32, 4> {
    *s += x;
    *s
}

fn main() {}
