use rnn::prelude::*;

#[cell]
fn scale(
    #[input] x: &SVector<f32, 2>,
    #[state] s: &mut SVector<f32, 2>,
    #[constant] name: &String,
) -> SVector<f32, 2> {
    let _ = name;
    *s += x;
    *s
}

fn main() {}
