use rnn::prelude::*;

struct Affine {
    w: SMatrix<f32, 2, 2>,
}

// The step takes `&mut self`; the code that runs the cell still compiles, so the mistake is the
// only error.
#[cell]
impl Affine {
    fn step(&mut self, #[input] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
        *s += self.w * x;
        *s
    }
}

fn main() {
    let cell = Affine { w: SMatrix::identity() };
    let run = Rnn::new(cell).unroll(&[SVector::from([1.0, 2.0]); 3], &());
    let y: SVector<f32, 2> = run.outputs[2];
    let _ = y;
}
