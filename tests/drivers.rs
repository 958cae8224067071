//! The drivers: dynamic loop, static unroll and stateful stepper compute the same bits.

#[path = "common/isa.rs"]
mod isa;

use proptest::prelude::*;
use rnn::prelude::*;

/// `s' = s + x`, `y = 10 s'`: DESIGN.md's canonical cell.
#[cell]
fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
    *s += x;
    *s * 10.0
}

fn v1(x: f32) -> SVector<f32, 1> {
    SVector::from([x])
}

#[test]
fn dynamic_run_returns_every_output_the_last_and_the_state() {
    let run = Rnn::new(Accumulate).run([v1(1.0), v1(2.0)], &());
    assert_eq!(
        run.outputs.iter().map(|y| y[0]).collect::<Vec<_>>(),
        [10.0, 30.0]
    );
    assert_eq!(run.last_output().map(|y| y[0]), Some(30.0));
    assert_eq!(run.state[0], 3.0);
}

#[test]
fn zero_length_run_returns_the_initial_state() {
    let rnn = Rnn::new(Accumulate);
    let run = rnn.run_from(std::iter::empty::<SVector<f32, 1>>(), v1(7.0), &());
    assert!(run.outputs.is_empty());
    assert_eq!(run.last_output(), None);
    assert_eq!(run.state[0], 7.0);
    let fixed = rnn.unroll_from(&[], v1(7.0), &());
    assert_eq!(fixed.outputs.len(), 0);
    assert_eq!(fixed.state[0], 7.0);
}

#[test]
fn dynamic_run_takes_an_iterator_of_owned_inputs() {
    let run = Rnn::new(Accumulate).run((1..=4).map(|i| v1(i as f32)), &());
    assert_eq!(run.state[0], 10.0);
    assert_eq!(run.outputs.len(), 4);
}

/// A cell with a constant and an initial state computed from it.
struct Offset;

#[cell]
impl Offset {
    fn step(&self, #[input] x: &f32, #[state] s: &mut f32, #[constant] k: &f32) -> f32 {
        *s += x * k;
        *s
    }
}

#[test]
fn constants_reach_every_step_and_initial_state_is_given_or_zero() {
    let rnn = Rnn::new(Offset);
    assert_eq!(rnn.run([1.0, 2.0], &3.0).state, 9.0);
    assert_eq!(rnn.run_from([1.0, 2.0], 1.0, &3.0).state, 10.0);
    assert_eq!(rnn.unroll_from(&[1.0, 2.0], 1.0, &3.0).outputs, [4.0, 10.0]);
}

#[test]
fn several_outputs_unzip_into_one_sequence_each() {
    #[cell(inference)]
    fn two(#[input] x: &f32, #[state] s: &mut f32) -> (f32, SVector<f32, 2>) {
        *s += x;
        (*s, SVector::from([*x, -*x]))
    }
    let (sums, pairs) = Rnn::new(Two).run([1.0, 2.0, 3.0], &()).outputs.unzip();
    assert_eq!(sums.into_vec(), [1.0, 3.0, 6.0]);
    assert_eq!(pairs[2], SVector::from([3.0, -3.0]));
    assert_eq!(pairs.to_flat_f32(), [1.0, -1.0, 2.0, -2.0, 3.0, -3.0]);
}

#[test]
fn stateful_chunks_equal_one_run_and_reset_returns_to_the_start() {
    let xs: Vec<_> = (0..7).map(|i| v1(i as f32 * 0.5 - 1.0)).collect();
    let whole = Rnn::new(Accumulate).run(&xs, &());
    let mut stream = Rnn::new(Accumulate).stateful(());
    let mut outputs = stream.feed(&xs[..3]).into_vec();
    outputs.extend(stream.feed(&xs[3..]));
    assert_eq!(outputs, whole.outputs.into_vec());
    assert_eq!(*stream.state(), whole.state);
    stream.reset();
    assert_eq!(*stream.state(), v1(0.0));

    let mut from_two = Rnn::new(Accumulate)
        .stateful(())
        .with_initial_state(v1(2.0));
    assert_eq!(from_two.step(&v1(1.0))[0], 30.0);
    from_two.reset();
    assert_eq!(from_two.state()[0], 2.0);
    let chunk = from_two.feed_array(&[v1(1.0), v1(1.0)]);
    assert_eq!(chunk[1][0], 40.0);
}

/// Also the test of the static unroll's `unsafe` (every output written once, into
/// uninitialized storage): `cargo +nightly miri test --test drivers static_and_chunked`.
#[test]
fn static_and_chunked_runs_equal_the_dynamic_loop_in_every_direction() {
    use rnn::{Direction, Mask, Padding};
    let xs: [SVector<f32, 1>; 4] = [1.0, 2.0, 5.0, 7.0].map(v1);
    for direction in [
        Direction::Forward,
        Direction::GoBackwards,
        Direction::Reversed,
    ] {
        let rnn = || {
            Rnn::new(Accumulate)
                .direction(direction)
                .padding(Padding::CarryLastOutput)
        };
        let dynamic = rnn().run(xs, &());
        let fixed = rnn().unroll(&xs, &());
        assert_eq!(fixed.outputs[..], dynamic.outputs[..], "{direction:?}");
        assert_eq!(fixed.state, dynamic.state, "{direction:?}");
        let empty: [SVector<f32, 1>; 0] = [];
        assert_eq!(rnn().unroll(&empty, &()).state, v1(0.0), "{direction:?}");
        // The stateful stepper: an array chunk, then a fully masked chunk, whose outputs
        // carry the last output of the array chunk in processing order.
        let (mut by_array, mut by_slice) = (rnn().stateful(()), rnn().stateful(()));
        let a = by_array.feed_array(&xs);
        let b = by_slice.feed(xs);
        assert_eq!(a[..], b[..], "{direction:?}");
        let padded = [v1(9.0); 2];
        let none = Mask::Steps(&[false, false]);
        assert_eq!(
            by_array.feed_masked(&padded, none).unwrap(),
            by_slice.feed_masked(&padded, none).unwrap(),
            "{direction:?}"
        );
        assert_eq!(by_array.state(), by_slice.state());
    }
}

/// An Elman cell with arbitrary weights: the "random cell" of the property tests.
struct Elman<const I: usize, const H: usize> {
    w: SMatrix<f32, H, I>,
    u: SMatrix<f32, H, H>,
    b: SVector<f32, H>,
}

#[cell(inference)]
impl<const I: usize, const H: usize> Elman<I, H> {
    fn step(
        &self,
        #[input] x: &SVector<f32, I>,
        #[state] h: &mut SVector<f32, H>,
    ) -> (SVector<f32, H>, f32) {
        *h = (self.w * x + self.u * *h + self.b).map(f32::tanh);
        (*h, h.sum())
    }
}

fn elman(weights: &[f32]) -> Elman<3, 4> {
    let mut it = weights.iter().copied().cycle();
    Elman {
        w: SMatrix::from_fn(|_, _| it.next().unwrap()),
        u: SMatrix::from_fn(|_, _| it.next().unwrap()),
        b: SVector::from_fn(|_, _| it.next().unwrap()),
    }
}

fn bits<N: Nested>(value: &N) -> Vec<u32> {
    let mut flat = vec![0.0; N::SIZE];
    value.to_f32_slice(&mut flat).unwrap();
    flat.iter().map(|x| x.to_bits()).collect()
}

/// Static unroll at `T` against the dynamic loop over the same inputs, bit for bit.
fn static_equals_dynamic<const T: usize>(cell: &Elman<3, 4>, xs: &[f32], h0: SVector<f32, 4>) {
    let inputs: [SVector<f32, 3>; T] =
        std::array::from_fn(|t| SVector::from_fn(|i, _| xs[(t * 3 + i) % xs.len()]));
    let rnn = Rnn::new(cell);
    let fixed = rnn.unroll_from(&inputs, h0, &());
    let run = rnn.run_from(&inputs, h0, &());
    assert_eq!(run.outputs.len(), T);
    for (a, b) in fixed.outputs.iter().zip(run.outputs.iter()) {
        assert_eq!(bits(a), bits(b));
    }
    assert_eq!(bits(&fixed.state), bits(&run.state));
    // Streaming one step at a time is the same loop again.
    let mut stream = Rnn::new(cell).stateful(()).with_initial_state(h0);
    for (x, y) in inputs.iter().zip(fixed.outputs.iter()) {
        assert_eq!(bits(&stream.step(x)), bits(y));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn static_unroll_and_dynamic_loop_agree_bit_for_bit(
        weights in prop::collection::vec(-1.5f32..1.5, 40),
        xs in prop::collection::vec(-3.0f32..3.0, 1..64),
        h0 in prop::array::uniform4(-1.0f32..1.0),
    ) {
        let cell = elman(&weights);
        let h0 = SVector::from(h0);
        static_equals_dynamic::<0>(&cell, &xs, h0);
        static_equals_dynamic::<1>(&cell, &xs, h0);
        static_equals_dynamic::<2>(&cell, &xs, h0);
        static_equals_dynamic::<3>(&cell, &xs, h0);
        static_equals_dynamic::<7>(&cell, &xs, h0);
        static_equals_dynamic::<16>(&cell, &xs, h0);
        static_equals_dynamic::<33>(&cell, &xs, h0);
    }

    #[test]
    fn two_chunks_equal_one_run(
        weights in prop::collection::vec(-1.5f32..1.5, 40),
        xs in prop::collection::vec(prop::array::uniform3(-3.0f32..3.0), 0..40),
        split in 0usize..40,
    ) {
        let cell = elman(&weights);
        let xs: Vec<SVector<f32, 3>> = xs.into_iter().map(SVector::from).collect();
        let split = split.min(xs.len());
        let whole = Rnn::new(&cell).run(&xs, &());
        let mut stream = Rnn::new(&cell).stateful(());
        let mut outputs = stream.feed(&xs[..split]).into_vec();
        outputs.extend(stream.feed(&xs[split..]));
        prop_assert_eq!(outputs, whole.outputs.into_vec());
        prop_assert_eq!(stream.state(), &whole.state);
    }
}

/// The built-in cells' kernels choose their rounding (fused multiply-adds where the CPU has
/// FMA) themselves, so a direct call of `step` outside any driver (compiled without FMA),
/// inside `vectorized`, the dynamic loop and the static unroll all give the same bits.
#[test]
fn built_in_cells_give_the_same_bits_in_and_outside_the_drivers() {
    use rnn::cells::{GruCell, LstmCell, SimpleRnnCell};

    fn check<C: Cell<Constants = ()>>(cell: &C)
    where
        C::Input: Nested,
    {
        let inputs: [C::Input; 9] = std::array::from_fn(|t| {
            let v: Vec<f32> = (0..C::Input::SIZE)
                .map(|i| ((t * 7 + i * 3) % 11) as f32 * 0.4 - 2.0)
                .collect();
            C::Input::from_f32_slice(&v).unwrap()
        });
        let mut state = cell.initial_state(&());
        let direct: Vec<Vec<u32>> = inputs
            .iter()
            .map(|x| bits(&cell.step(x, &mut state, &())))
            .collect();
        let mut state2 = cell.initial_state(&());
        let inside: Vec<Vec<u32>> = rnn::vectorized(|| {
            inputs
                .iter()
                .map(|x| bits(&cell.step(x, &mut state2, &())))
                .collect()
        });
        let run = Rnn::new(cell).run(&inputs, &());
        let fixed = Rnn::new(cell).unroll(&inputs, &());
        let dynamic: Vec<Vec<u32>> = run.outputs.iter().map(bits).collect();
        let unrolled: Vec<Vec<u32>> = fixed.outputs.iter().map(bits).collect();
        assert_eq!(direct, dynamic);
        assert_eq!(inside, dynamic);
        assert_eq!(unrolled, dynamic);
        assert_eq!(bits(&state), bits(&run.state));
        assert_eq!(bits(&fixed.state), bits(&run.state));
        // The static unroll's outputs start on a cache line (no store straddles two).
        assert_eq!(fixed.outputs.as_ptr() as usize % 64, 0);
    }
    check(&LstmCell::<5, 33>::keras_init(1));
    check(&GruCell::<5, 7>::keras_init(2));
    let mut reset_before = GruCell::<5, 16>::keras_init(3);
    reset_before.reset_after = false;
    check(&reset_before);
    check(&SimpleRnnCell::<5, 65>::keras_init(4));
}

/// This suite on every instruction set the CPU has (the narrower ones in children, see
/// `common/isa.rs`); `--nocapture` shows which ran.
#[test]
fn every_dispatched_path_runs_this_suite() {
    isa::assert_every_path_ran("every_dispatched_path_runs_this_suite");
}
