use rnn::prelude::*;

struct Project<const I: usize, const H: usize> {
    w: SMatrix<f32, H, I>,
}

#[cell(inference)]
impl<const I: usize, const H: usize> Project<I, H> {
    fn step(&self, #[input] x: &SVector<f32, H>, #[state] h: &mut SVector<f32, H>) -> SVector<f32, H> {
        // The input is declared `H` long, but `w` takes `I`: caught without choosing sizes.
        *h = self.w.forward(x);
        *h
    }
}

fn main() {}
