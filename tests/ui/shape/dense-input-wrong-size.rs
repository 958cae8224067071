use rnn::cells::Dense;
use rnn::prelude::*;

struct Decoder {
    proj: Dense<18, 10>,
}

#[cell(inference)]
impl Decoder {
    fn step(&self, #[input] x: &SVector<f32, 12>, #[state] h: &mut SVector<f32, 10>) -> SVector<f32, 10> {
        // `proj` takes 18 inputs; `x` has 12.
        *h = self.proj.forward(x);
        *h
    }
}

fn main() {}
