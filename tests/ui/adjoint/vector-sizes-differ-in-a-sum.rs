use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Mix {
    w: SMatrix<f32, 4, 3>,
}

#[cell]
impl Mix {
    fn step(&self, #[input] x: &SVector<f32, 3>, #[state] h: &mut SVector<f32, 3>) -> SVector<f32, 3> {
        // `self.w * x` has 4 rows; `h` has 3.
        let z = self.w * x + *h;
        *h = z;
        *h
    }
}

fn main() {}
