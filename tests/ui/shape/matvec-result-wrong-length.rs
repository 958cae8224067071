use rnn::prelude::*;

struct Project {
    w: SMatrix<f32, 3, 2>,
}

#[cell(inference)]
impl Project {
    fn step(&self, #[input] x: &SVector<f32, 2>, #[state] h: &mut SVector<f32, 4>) -> SVector<f32, 4> {
        // `w x` has 3 rows; the state has 4.
        *h = self.w.forward(x);
        *h
    }
}

fn main() {}
