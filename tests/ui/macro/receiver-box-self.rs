use rnn::prelude::*;

struct Affine {
    w: SMatrix<f32, 2, 2>,
}

#[cell]
impl Affine {
    fn step(self: Box<Self>, #[input] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        *s += self.w * x;
        *s
    }
}

fn main() {}
