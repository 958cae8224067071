use rnn::prelude::*;

struct Accumulate;

#[cell]
impl Accumulate {
    fn step<const N: usize>(&self, #[input] x: &SVector<f32, N>, #[state] s: &mut SVector<f32, N>) -> SVector<f32, N> {
        *s += x;
        *s
    }
}

fn main() {}
