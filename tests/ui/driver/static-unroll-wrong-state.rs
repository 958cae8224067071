use rnn::prelude::*;
use rnn::static_unroll;

#[cell]
fn accumulate(#[input] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
    *s += x;
    *s
}

fn main() {
    let xs = [SVector::from([1.0, 2.0]); 4];
    let _ = static_unroll(&Accumulate, &xs, SMatrix::<f32, 2, 2>::zeros(), &());
}
