use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Scaled {
    w: SMatrix<f32, 2, 2>,
    #[parameters(skip)]
    scale: Option<f32>,
}

#[cell]
impl Scaled {
    fn step(&self, #[input] x: &SVector<f32, 2>, #[state] h: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        *h = match self.scale {
            Some(k) => self.w * x * k,
            None => self.w * x,
        };
        *h
    }
}

fn main() {}
