use rnn::prelude::*;

#[derive(Clone, Debug, PartialEq)]
struct Features {
    dense: SVector<f32, 2>,
}

#[cell(inference)]
fn accumulate(#[input] x: &Features, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
    *s += x.dense;
    *s
}

fn main() {}
