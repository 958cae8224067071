use rnn::prelude::*;

mod util {
    use rnn::prelude::*;

    pub fn squash(v: &SVector<f32, 2>) -> SVector<f32, 2> {
        v / (1.0 + v.norm())
    }
}

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Small {
    w: SMatrix<f32, 2, 2>,
}

#[cell]
impl Small {
    fn step(&self, #[input] x: &SVector<f32, 2>, #[state] h: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        *h = util::squash(&(self.w * x));
        *h
    }
}

fn main() {}
