use rnn::prelude::*;
use rnn::weights::Kernel;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Gates {
    kernel: Kernel<f32, 4, 2, 3>,
}

#[cell]
impl Gates {
    fn step(&self, #[input] x: &SVector<f32, 5>, #[state] h: &mut SVector<f32, 3>) -> SVector<f32, 3> {
        // The kernel reads 4 inputs; `x` has 5.
        let [a, b] = self.kernel.apply(x);
        *h = a + b;
        *h
    }
}

fn main() {}
