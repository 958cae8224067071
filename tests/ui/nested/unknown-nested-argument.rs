use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq, Nested)]
#[nested(flatten)]
struct Features {
    dense: SVector<f32, 4>,
}

fn main() {}
