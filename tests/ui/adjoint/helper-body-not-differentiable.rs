use rnn::prelude::*;

/// The helper's body follows a step's rules: a closure over elements has no adjoint.
#[rnn::differentiable]
fn squash(v: &SVector<f32, 2>) -> SVector<f32, 2> {
    v.map(|x| x / (1.0 + x.abs()))
}

fn main() {}
