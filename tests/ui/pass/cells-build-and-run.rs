//! Every form of `#[cell]` builds (not only checks) and runs.
use rnn::prelude::*;

#[cell]
fn accumulate(#[input] x: &SVector<f32, 2>, #[state] s: &mut SVector<f32, 2>) -> SVector<f32, 2> {
    *s += x;
    *s * 10.0
}

struct Affine {
    w: SMatrix<f32, 3, 2>,
}

#[cell]
impl Affine {
    fn step(
        &self,
        #[input] x: &SVector<f32, 2>,
        #[state] h: &mut SVector<f32, 3>,
        #[state] c: &mut f32,
        #[constant] k: &f32,
    ) -> (SVector<f32, 3>, f32) {
        *h += self.w * x * *k;
        *c += 1.0;
        (*h, *c)
    }
}

#[derive(Clone, Debug, PartialEq, Nested)]
struct Pair<T: rnn::nalgebra::RealField, const N: usize> {
    a: SVector<T, N>,
    b: [T; 2],
}

#[cell]
fn pairwise<const N: usize>(#[input] x: &Pair<f64, N>, #[state] s: &mut SVector<f64, N>) -> f64 {
    *s += &x.a;
    s.sum() + x.b[0] + x.b[1]
}

fn main() {
    let xs = [SVector::from([1.0, 2.0]); 3];
    let run = Rnn::new(Accumulate).run(&xs, &());
    assert_eq!(run.state, SVector::from([3.0, 6.0]));
    let fixed = Rnn::new(Accumulate).unroll(&xs, &());
    assert_eq!(fixed.outputs[2], run.outputs[2]);

    let affine = Affine { w: SMatrix::from_element(1.0) };
    let run = Rnn::new(affine).run(&xs, &2.0);
    assert_eq!(run.state.c, 3.0);
    assert_eq!(run.state.h, SVector::from([18.0, 18.0, 18.0]));

    let p = Pair::<f64, 2> { a: SVector::from([1.0, 1.0]), b: [0.5, 0.5] };
    let run = Rnn::new(Pairwise::<2>).unroll(&[p.clone(), p], &());
    assert_eq!(run.outputs, [3.0, 5.0]);
}
