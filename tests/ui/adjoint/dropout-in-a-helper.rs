use rnn::prelude::*;

#[rnn::differentiable]
fn noisy(v: &SVector<f32, 2>) -> SVector<f32, 2> {
    rnn::ops::dropout(v) * 2.0
}

fn main() {}
