use rnn::prelude::*;

#[cell]
fn accumulate(#[input] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
    *s += x;
    *s
}

fn main() {
    let xs = [SVector::from([1.0, 2.0, 3.0]); 3];
    let _ = Rnn::new(Accumulate).unroll(&xs, &());
}
