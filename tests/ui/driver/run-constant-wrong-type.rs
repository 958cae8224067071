use rnn::prelude::*;

#[cell]
fn scale(
    #[input] x: &SVector<f32, 2>,
    #[state] s: &mut SVector<f32, 2>,
    #[constant] k: &f32,
) -> SVector<f32, 2> {
    *s += x * *k;
    *s
}

fn main() {
    let xs = vec![SVector::from([1.0, 2.0]); 5];
    let _ = Rnn::new(Scale).run(&xs, &SVector::<f32, 2>::from([2.0, 2.0]));
}
