use rnn::prelude::*;

fn accumulate(x: &SVector<f32, 2>, s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
    *s += x;
    *s
}

fn main() {
    let xs = vec![SVector::from([1.0, 2.0]); 5];
    // Forgot `#[cell]`: the function is not a cell.
    let _ = Rnn::new(accumulate).run(&xs, &());
}
