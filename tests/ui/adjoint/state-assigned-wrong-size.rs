use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Project {
    w: SMatrix<f32, 3, 4>,
}

#[cell]
impl Project {
    fn step(&self, #[input] x: &SVector<f32, 4>, #[state] h: &mut SVector<f32, 4>) -> SVector<f32, 4> {
        // `self.w * x` has 3 rows; `h` has 4.
        *h = self.w * x;
        *h
    }
}

fn main() {}
