//! `#[cell(inference)]`: a step the macro cannot differentiate compiles and runs as an
//! inference-only cell, with no backward generated.
use rnn::prelude::*;

struct Squash {
    w: SMatrix<f32, 2, 2>,
}

#[cell(inference)]
impl Squash {
    fn step(&self, #[input] x: &SVector<f32, 2>, #[state] h: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        *h = (self.w * x + *h).map(|v| v / (1.0 + v.abs()));
        *h
    }
}

fn main() {
    let run = Rnn::new(Squash { w: SMatrix::identity() }).run(&[SVector::repeat(1.0f32)], &());
    assert!(run.state[0] > 0.0);
}
