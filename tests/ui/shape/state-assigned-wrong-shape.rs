use rnn::prelude::*;

struct Project {
    w: SMatrix<f32, 3, 4>,
}

#[cell(inference)]
impl Project {
    fn step(&self, #[input] x: &SVector<f32, 4>, #[state] h: &mut SVector<f32, 4>) -> SVector<f32, 4> {
        *h = self.w * x;
        *h
    }
}

fn main() {}
