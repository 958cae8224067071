use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Project {
    w: SMatrix<f32, 3, 2>,
}

#[cell]
impl Project {
    fn step(&self, #[input] x: &SVector<f32, 4>, #[state] h: &mut SVector<f32, 3>) -> SVector<f32, 3> {
        // `w` has 2 columns; `x` has 4 rows. Reported twice: the generated product keeps the
        // inner sizes equal, since a constant operand's size is inferred from them.
        *h = self.w * x + *h;
        *h
    }
}

fn main() {}
