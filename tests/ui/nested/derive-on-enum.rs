use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Nested)]
enum Features {
    Dense(SVector<f32, 4>),
    Sparse(SVector<f32, 2>),
}

fn main() {}
