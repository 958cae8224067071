use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Gate {
    w: SMatrix<f32, 3, 3>,
}

#[cell]
impl Gate {
    fn step(&self, #[input] x: &SVector<f32, 2>, #[state] h: &mut SVector<f32, 3>) -> SVector<f32, 3> {
        // `h` has 3 rows; `x` has 2.
        *h = (self.w * *h).component_mul(x);
        *h
    }
}

fn main() {}
