use rnn::prelude::*;

#[cell]
struct Accumulate {
    w: SMatrix<f32, 2, 2>,
}

fn main() {}
