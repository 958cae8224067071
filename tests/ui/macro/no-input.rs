use rnn::prelude::*;

#[cell]
fn counter(#[state] n: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    n[0] += 1.0;
    *n
}

fn main() {}
