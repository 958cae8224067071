use rnn::prelude::*;

#[cell]
fn count(#[input] x: &SVector<i32, 2>, #[state] n: &mut SVector<i32, 2>) -> SVector<i32, 2> {
    *n = *n + x;
    *n
}

fn main() {}
