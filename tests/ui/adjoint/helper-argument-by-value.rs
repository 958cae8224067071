use rnn::prelude::*;

/// A differentiable helper takes its arguments by reference.
#[rnn::differentiable]
fn halve(v: SVector<f32, 2>) -> SVector<f32, 2> {
    v * 0.5
}

fn main() {}
