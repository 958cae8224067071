use rnn::cells::GruCell;
use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Parameters)]
struct Wrapper {
    gru: GruCell<3, 2>,
}

#[cell]
impl Wrapper {
    fn step(&self, #[input] x: &SVector<f32, 4>, #[state] h: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        // The GRU takes 3 inputs; `x` has 4.
        self.gru.step(x, h, &())
    }
}

fn main() {}
