use rnn::prelude::*;

struct Counter {
    steps: f32,
}

#[cell]
impl Counter {
    fn step(&mut self, #[input] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        self.steps += 1.0;
        *s += x;
        *s
    }
}

fn main() {}
