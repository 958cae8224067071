use rnn::prelude::*;

struct Accumulate;

#[cell]
impl Cell for Accumulate {
    type Input = SVector<f32, 2>;
    type State = SVector<f32, 2>;
    type Constants = ();
    type Output = SVector<f32, 2>;

    fn step(&self, x: &Self::Input, s: &mut Self::State, _: &()) -> Self::Output {
        *s += x;
        *s
    }
}

fn main() {}
