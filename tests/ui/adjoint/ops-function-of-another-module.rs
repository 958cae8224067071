use rnn::prelude::*;

/// A module of the user's own that happens to be named `ops`.
mod ops {
    use rnn::prelude::*;

    pub fn tanh(x: &SVector<f32, 2>) -> SVector<f32, 2> {
        x / (1.0 + x.norm())
    }
}

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Small {
    w: SMatrix<f32, 2, 2>,
}

#[cell]
impl Small {
    fn step(&self, #[input] x: &SVector<f32, 2>, #[state] h: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        *h = ops::tanh(&(self.w * x));
        *h
    }
}

fn main() {}
