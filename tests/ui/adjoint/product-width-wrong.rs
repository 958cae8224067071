use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Project {
    w: SMatrix<f32, 3, 2>,
}

#[cell]
impl Project {
    fn step(&self, #[input] x: &SVector<f32, 4>, #[state] h: &mut SVector<f32, 3>) -> SVector<f32, 3> {
        // `w` has 2 columns; `x` has 4 rows. Reported once, on the user's product: the
        // generated one takes `x` at `w`'s inner size.
        *h = self.w * x + *h;
        *h
    }
}

fn main() {}
