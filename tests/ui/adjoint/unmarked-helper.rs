use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Small {
    w: SMatrix<f32, 2, 2>,
}

fn squash(v: &SVector<f32, 2>) -> SVector<f32, 2> {
    v / (1.0 + v.norm())
}

#[cell]
impl Small {
    fn step(&self, #[input] x: &SVector<f32, 2>, #[state] h: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        *h = squash(&(self.w * x));
        *h
    }
}

fn main() {}
