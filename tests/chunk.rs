//! Consecutive steps of one sequence run as a chunk (`Cell::step_chunk`, which the drivers use
//! for every whole chunk of steps of a cell that `runs_in_chunks`) compute exactly what the
//! steps one by one compute: for the built-in cells, which project a chunk's inputs first, and
//! for a `#[cell]` with the default, through every driver, at lengths that leave steps over
//! after the chunks. The smallest cells run plain steps in the drivers; the others, chunks.

use rnn::cells::{GruCell, LstmCell, SimpleRnnCell};
use rnn::prelude::*;
use rnn::{vectorized, Direction, Mask};

fn bits<N: Nested>(value: &N) -> Vec<u32> {
    let mut flat = vec![0.0; N::SIZE];
    value.to_f32_slice(&mut flat).unwrap();
    flat.iter().map(|x| x.to_bits()).collect()
}

fn all_bits<N: Nested>(values: &[N]) -> Vec<Vec<u32>> {
    values.iter().map(bits).collect()
}

fn inputs<const I: usize>(steps: usize, seed: usize) -> Vec<SVector<f32, I>> {
    (0..steps)
        .map(|t| {
            SVector::from_fn(|i, _| {
                ((t * 31 + i * 7 + seed * 13) as f32 * 0.37).sin() * 1.5 + 0.1 * i as f32
            })
        })
        .collect()
}

/// A custom cell with a state of two parts and nothing overridden: the drivers step it one
/// step at a time (`runs_in_chunks` is `false` by default), and a direct call of
/// `step_chunk` runs the default.
struct Leaky {
    w: rnn::weights::Weights<f32, 3, 4>,
}

#[cell(inference)]
impl Leaky {
    fn step(
        &self,
        #[input] x: &SVector<f32, 3>,
        #[state] h: &mut SVector<f32, 4>,
        #[state] n: &mut SVector<f32, 1>,
    ) -> SVector<f32, 4> {
        let [z] = self.w.apply(x);
        *h = *h * 0.5 + z.map(f32::tanh);
        n[0] += 1.0;
        *h * n[0]
    }
}

/// The steps one by one, as a hand-written loop does: the reference every driver must match.
fn stepped<C: Cell>(cell: &C, xs: &[C::Input], mut state: C::State) -> (Vec<C::Output>, C::State) {
    let ys = vectorized(|| {
        xs.iter()
            .map(|x| cell.step(x, &mut state, &Nested::zeros()))
            .collect()
    });
    (ys, state)
}

/// `Rnn::unroll` at a length fixed at compile time, against the steps.
macro_rules! check_unroll {
    ($cell:expr, $xs:expr, $($len:literal),*) => {$(
        {
            let xs: &[_; $len] = $xs[..$len].try_into().unwrap();
            let (ys, state) = stepped($cell, xs, Nested::zeros());
            let rnn = Rnn::new($cell);
            let fixed = rnn.unroll(xs, &());
            assert_eq!(all_bits(&fixed.outputs), all_bits(&ys), "unroll, {} steps", $len);
            assert_eq!(bits(&fixed.state), bits(&state), "unroll, {} steps", $len);
            let mut stream = rnn.clone().stateful(());
            assert_eq!(all_bits(&stream.feed_array(xs)), all_bits(&ys), "feed_array, {} steps", $len);
            assert_eq!(bits(stream.state()), bits(&state), "feed_array, {} steps", $len);
            // Backwards: the steps over the reversed sequence.
            let reversed: Vec<_> = xs.iter().rev().cloned().collect();
            let (ys, state) = stepped($cell, &reversed, Nested::zeros());
            let back = rnn.clone().direction(Direction::GoBackwards).unroll(xs, &());
            assert_eq!(all_bits(&back.outputs), all_bits(&ys), "backwards unroll, {} steps", $len);
            assert_eq!(bits(&back.state), bits(&state), "backwards unroll, {} steps", $len);
        }
    )*};
}

const LENGTHS: [usize; 7] = [0, 1, 7, 8, 9, 16, 19];

/// Every dynamic driver over `LENGTHS`, against the steps one by one.
fn check_dynamic<C>(cell: &C, xs: &[C::Input])
where
    C: Cell<Constants = ()> + Clone,
    C::Input: Clone,
{
    for &len in &LENGTHS {
        let xs = &xs[..len];
        let (ys, state) = stepped(cell, xs, Nested::zeros());
        let (ys, state) = (all_bits(&ys), bits(&state));
        let rnn = Rnn::new(cell.clone());

        let run = rnn.run(xs, &());
        assert_eq!(all_bits(&run.outputs), ys, "run, {len} steps");
        assert_eq!(bits(&run.state), state, "run, {len} steps");
        // An iterator of owned inputs, which the driver gathers a chunk of at a time.
        let run = rnn.run(xs.iter().cloned(), &());
        assert_eq!(all_bits(&run.outputs), ys, "run on values, {len} steps");

        for mask in [Mask::All, Mask::Length(len)] {
            let run = rnn.run_masked(xs, mask, &()).unwrap();
            assert_eq!(all_bits(&run.outputs), ys, "run_masked, {len} steps");
            assert_eq!(bits(&run.state), state, "run_masked, {len} steps");
        }

        // A stream fed in two pieces (the first one not a whole number of chunks).
        let mut stream = rnn.clone().stateful(());
        let cut = len.min(11);
        let mut fed = all_bits(&stream.feed(&xs[..cut]));
        fed.extend(all_bits(&stream.feed(&xs[cut..])));
        assert_eq!(fed, ys, "feed, {len} steps");
        assert_eq!(bits(stream.state()), state, "feed, {len} steps");

        // Backwards: the steps over the reversed sequence.
        let reversed: Vec<_> = xs.iter().rev().cloned().collect();
        let (back_ys, back_state) = stepped(cell, &reversed, Nested::zeros());
        let back = rnn.clone().go_backwards(true).run(xs, &());
        assert_eq!(
            all_bits(&back.outputs),
            all_bits(&back_ys),
            "backwards, {len} steps"
        );
        assert_eq!(
            bits(&back.state),
            bits(&back_state),
            "backwards, {len} steps"
        );
    }

    // A mask with holes and resets inside what would be chunks: the steps between them.
    let xs = &xs[..19];
    let mask: Vec<bool> = (0..19).map(|t| t != 3 && t != 12).collect();
    let resets: Vec<bool> = (0..19).map(|t| t == 10 || t == 17).collect();
    let rnn = Rnn::new(cell.clone());
    let run = rnn
        .run_with_resets(xs, &mask, &resets, Nested::zeros(), &())
        .unwrap();
    let mut state: C::State = Nested::zeros();
    let mut ys = Vec::new();
    for t in 0..19 {
        if resets[t] {
            state = Nested::zeros();
        }
        if mask[t] {
            let (y, s) = stepped(cell, &xs[t..=t], state);
            state = s;
            ys.push(bits(&y[0]));
        }
    }
    let valid: Vec<_> = run
        .outputs
        .iter()
        .zip(&mask)
        .filter(|(_, &m)| m)
        .map(|(y, _)| bits(y))
        .collect();
    assert_eq!(valid, ys, "run_with_resets");
    assert_eq!(bits(&run.state), bits(&state), "run_with_resets");

    // The method itself, called directly.
    let mut state: C::State = Nested::zeros();
    let chunk: [&C::Input; 8] = core::array::from_fn(|t| &xs[t]);
    let ys = vectorized(|| cell.step_chunk(chunk, &mut state, &()));
    let (expected, expected_state) = stepped(cell, &xs[..8], Nested::zeros());
    assert_eq!(all_bits(&ys), all_bits(&expected), "step_chunk");
    assert_eq!(bits(&state), bits(&expected_state), "step_chunk");
}

#[test]
fn lstm_chunks_equal_its_steps_bit_for_bit() {
    let cell = LstmCell::<5, 7>::keras_init(3);
    let xs = inputs::<5>(19, 1);
    check_dynamic(&cell, &xs);
    check_unroll!(&cell, xs, 0, 1, 7, 8, 9, 16, 19);
    let wide = LstmCell::<24, 40>::pytorch_init(4);
    assert!(wide.runs_in_chunks() && !cell.runs_in_chunks());
    let xs = inputs::<24>(19, 2);
    check_dynamic(&wide, &xs);
    check_unroll!(&wide, xs, 9, 19);
    // The widest cell whose step sums the output gate's product and sigmoid last.
    let narrow = LstmCell::<6, 16>::keras_init(6);
    assert!(narrow.runs_in_chunks());
    let xs = inputs::<6>(19, 4);
    check_dynamic(&narrow, &xs);
    check_unroll!(&narrow, xs, 9, 19);
    // No bias: the sums start from zero.
    let unbiased = LstmCell::<5, 7>::keras_init(5).with_use_bias(false);
    check_dynamic(&unbiased, &inputs::<5>(19, 3));
}

#[test]
fn gru_chunks_equal_its_steps_bit_for_bit_in_both_variants() {
    let after = GruCell::<6, 9>::pytorch_init(7);
    assert!(after.reset_after);
    let xs = inputs::<6>(19, 4);
    check_dynamic(&after, &xs);
    check_unroll!(&after, xs, 0, 1, 7, 8, 9, 19);
    let before = GruCell {
        reset_after: false,
        recurrent_bias: None,
        ..GruCell::<6, 9>::pytorch_init(8)
    };
    check_dynamic(&before, &xs);
    check_unroll!(&before, xs, 0, 1, 7, 8, 9, 19);
    let wide = GruCell::<48, 48>::keras_init(9);
    assert!(wide.runs_in_chunks() && !after.runs_in_chunks());
    let xs = inputs::<48>(19, 5);
    check_dynamic(&wide, &xs);
    check_unroll!(&wide, xs, 19);
    let wide_before = GruCell {
        reset_after: false,
        recurrent_bias: None,
        ..GruCell::<48, 48>::pytorch_init(10)
    };
    check_dynamic(&wide_before, &xs);
}

/// Every built-in cell chunks but the smallest (kernels under 3 KB), whose steps are bound by
/// the chain from state to state; a cell just over the line runs its chunks through every
/// driver.
#[test]
fn all_but_the_smallest_built_in_cells_chunk() {
    assert!(!LstmCell::<8, 8>::zeros().runs_in_chunks());
    assert!(LstmCell::<10, 10>::zeros().runs_in_chunks());
    assert!(!GruCell::<8, 8>::zeros().runs_in_chunks());
    assert!(!SimpleRnnCell::<16, 16>::zeros().runs_in_chunks());
    assert!(SimpleRnnCell::<24, 24>::zeros().runs_in_chunks());
    let cell = GruCell::<12, 12>::keras_init(13);
    assert!(cell.runs_in_chunks());
    let xs = inputs::<12>(19, 9);
    check_dynamic(&cell, &xs);
    check_unroll!(&cell, xs, 0, 7, 8, 9, 19);
}

#[test]
fn simple_rnn_chunks_equal_its_steps_bit_for_bit() {
    let cell = SimpleRnnCell::<4, 10>::keras_init(11);
    let xs = inputs::<4>(19, 6);
    check_dynamic(&cell, &xs);
    check_unroll!(&cell, xs, 0, 1, 7, 8, 9, 19);
    let wide = SimpleRnnCell::<64, 96>::keras_init(12);
    assert!(wide.runs_in_chunks() && !cell.runs_in_chunks());
    let xs = inputs::<64>(19, 8);
    check_dynamic(&wide, &xs);
    check_unroll!(&wide, xs, 19);
}

#[test]
fn a_custom_cell_steps_in_the_drivers_and_its_default_chunk_equals_its_steps() {
    let cell = Leaky {
        w: rnn::weights::Weights::from_fn(|r, c| ((r * 4 + c) as f32 * 0.7).cos() * 0.4),
    };
    assert!(!cell.runs_in_chunks());
    let xs = inputs::<3>(19, 7);
    check_dynamic(&&cell, &xs);
    check_unroll!(&cell, xs, 0, 1, 7, 8, 9, 19);
}
