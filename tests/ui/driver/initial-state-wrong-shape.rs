use rnn::prelude::*;

#[cell]
fn accumulate(#[input] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
    *s += x;
    *s
}

fn main() {
    let xs = vec![SVector::from([1.0, 2.0]); 5];
    let _ = Rnn::new(Accumulate).run_from(&xs, SVector::<f32, 3>::zeros(), &());
}
