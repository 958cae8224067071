use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Nested)]
struct Features {
    dense: SVector<f32, 4>,
    ids: Vec<u32>,
}

fn main() {}
