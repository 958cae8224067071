use rnn::prelude::*;

#[cell]
fn accumulate(
    #[input] x: &SVector<f32, 2>,
    #[state]
    #[constant]
    s: &mut SVector<f32, 2>,
) -> SVector<f32, 2> {
    *s += x;
    *s
}

fn main() {}
