use rnn::prelude::*;

#[cell]
fn accumulate(
    #[input] (a, b): &(f32, f32),
    #[state] s: &mut SVector<f32, 2>,
) -> SVector<f32, 2> {
    s[0] += a;
    s[1] += b;
    *s
}

fn main() {}
