//! The size-checked helpers build and compute what nalgebra computes.
use rnn::prelude::*;

struct Dense<const I: usize, const H: usize> {
    w: SMatrix<f32, H, I>,
    b: SVector<f32, H>,
}

#[cell]
impl<const I: usize, const H: usize> Dense<I, H> {
    fn step(&self, #[input] x: &SVector<f32, I>, #[state] h: &mut SVector<f32, H>) -> SVector<f32, H> {
        *h = self.w.forward(x) + self.b + *h;
        *h
    }
}

fn main() {
    let cell = Dense::<2, 3> { w: SMatrix::from_element(1.0), b: SVector::from_element(0.5) };
    let xs = vec![SVector::from([1.0, 2.0]); 2];
    let run = Rnn::new(cell).run(&xs, &());
    assert_eq!(run.state, SVector::from([7.0, 7.0, 7.0]));
    let w = SMatrix::<f64, 1, 2>::new(2.0, 3.0);
    assert_eq!(w.forward(&SVector::<f64, 2>::zeros())[0], 0.0);
}
