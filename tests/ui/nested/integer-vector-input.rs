use rnn::prelude::*;

#[cell(inference)]
fn accumulate(#[input] x: &SVector<i32, 2>, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
    *s += x.cast::<f32>();
    *s
}

fn main() {}
