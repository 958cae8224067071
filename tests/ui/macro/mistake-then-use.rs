use rnn::prelude::*;

// The step has one mistake; the code that runs the cell still compiles, so the mistake is the
// only error.
#[cell]
fn accumulate(#[input] x: &SVector<f32, 2>, #[state] s: SVector<f32, 2>) -> SVector<f32, 2> {
    s + x
}

fn main() {
    let xs = [SVector::from([1.0, 2.0]); 3];
    let run = Rnn::new(Accumulate).run(&xs, &());
    let y: SVector<f32, 2> = run.outputs[0];
    let _ = (y, Accumulate.state_size());
}
