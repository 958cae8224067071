use rnn::prelude::*;

#[cell(inference)]
fn lstm_like(
    #[input] x: &SVector<f32, 3>,
    #[state] h: &mut SVector<f32, 3>,
    #[state] c: &mut SMatrix<f32, 3, 2>,
) -> SVector<f32, 3> {
    *h += x;
    // The output is declared a vector; `c` is a 3×2 matrix.
    *c
}

fn main() {}
