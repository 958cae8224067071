use rnn::nalgebra::DVector;
use rnn::prelude::*;

#[cell(inference)]
fn accumulate(#[input] x: &SVector<f32, 2>, #[state] s: &mut DVector<f32>) -> SVector<f32, 2> {
    *s += x;
    *x
}

fn main() {}
