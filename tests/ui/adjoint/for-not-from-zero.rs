use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Small {
    w: SMatrix<f32, 2, 2>,
}

#[cell]
impl Small {
    fn step(&self, #[input] x: &SVector<f32, 2>, #[state] h: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        let mut z = *h;
        for _ in 1..3 {
            z = self.w * z;
        }
        *h = z + x;
        *h
    }
}

fn main() {}
