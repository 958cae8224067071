use rnn::prelude::*;

struct Accumulate;

#[cell]
impl Accumulate {
    fn step(#[input] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        *s += x;
        *s
    }
}

fn main() {}
