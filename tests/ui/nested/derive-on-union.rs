use rnn::prelude::*;

#[derive(Nested)]
union Bits {
    a: f32,
    b: u32,
}

fn main() {}
