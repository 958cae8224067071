use rnn::prelude::*;

// One mistake in the derive, and the type used as a state: the derive's message only.
#[derive(Clone, Debug, PartialEq, Nested)]
#[nested(flatten)]
struct Memory {
    slots: SVector<f32, 4>,
}

#[cell]
fn remember(#[input] x: &SVector<f32, 4>, #[state] m: &mut Memory) -> SVector<f32, 4> {
    m.slots += x;
    m.slots
}

fn main() {
    let _ = Rnn::new(Remember).run(&[SVector::<f32, 4>::zeros()], &());
}
