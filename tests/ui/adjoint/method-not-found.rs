use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Small {
    w: SMatrix<f32, 2, 2>,
}

#[cell]
impl Small {
    fn step(&self, #[input] x: &SVector<f32, 2>, #[state] h: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        // Vectors have no `squash`. Reported twice: the macro sees tokens, so it cannot tell a
        // method that does not exist from one without an adjoint, and says the latter beside
        // rustc's error.
        *h = (self.w * x).squash();
        *h
    }
}

fn main() {}
