use rnn::prelude::*;

struct Project {
    w: SMatrix<f32, 3, 2>,
}

#[cell(inference)]
impl Project {
    fn step(&self, #[input] x: &SVector<f32, 4>, #[state] h: &mut SVector<f32, 3>) -> SVector<f32, 3> {
        // `w` has 2 columns; `x` has 4 rows.
        *h += self.w.forward(x);
        *h
    }
}

fn main() {}
