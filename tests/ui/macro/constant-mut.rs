use rnn::prelude::*;

#[cell]
fn scale(
    #[input] x: &SVector<f32, 2>,
    #[state] s: &mut SVector<f32, 2>,
    #[constant] k: &mut f32,
) -> SVector<f32, 2> {
    *s += x * *k;
    *s
}

fn main() {}
