use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Accumulate {
    w: SMatrix<f32, 3, 3>,
}

#[cell]
impl Accumulate {
    fn step(&self, #[input] x: &SVector<f32, 3>, #[state] s: &mut SVector<f32, 3>) -> SVector<f32, 4> {
        *s = self.w * x + *s;
        // The output is declared of length 4; `s` has 3.
        *s
    }
}

fn main() {}
