use rnn::prelude::*;
use rnn::train::Tape;

/// No `#[derive(Parameters)]`: the cell runs, but has no backward to train with.
struct Plain {
    w: SMatrix<f32, 2, 2>,
}

#[cell]
impl Plain {
    fn step(&self, #[input] x: &SVector<f32, 2>, #[state] h: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        *h = self.w * x + *h;
        *h
    }
}

fn main() {
    let rnn = Rnn::new(Plain { w: SMatrix::identity() });
    let mut tape = Tape::new();
    let xs = [SVector::<f32, 2>::zeros()];
    let _ = rnn.run_taped(&xs, Mask::All, SVector::zeros(), &(), &mut tape);
}
