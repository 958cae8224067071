//! Random shapes against the plain per-sequence loop (`Rnn::run_from` on each sample):
//!
//! - the fused layers (LSTM, GRU in both variants, SimpleRNN) agree within 1e-5, relative
//!   where values are large (their GEMMs sum in another order);
//! - the batch drivers (`run_batch`, `run_batch_into`, a stateful batch fed in two chunks)
//!   agree bit for bit, with lengths and step masks of any pattern, both padding policies and
//!   every direction.
//!
//! Batches of 0 to 70 samples, 0 to 40 steps, cells from 1 × 1 to 70 × 33. The sizes of a
//! cell are const generics: each case picks one of a handful spanning 1..70.

#[path = "common/isa.rs"]
mod isa;

use proptest::prelude::*;
use rnn::cells::{GruCell, LstmCell, LstmState, SimpleRnnCell};
use rnn::fused;
use rnn::ops::Activation;
use rnn::prelude::*;
use rnn::{BatchMasks, BatchRun, Batched};

/// A value generator (splitmix64), so a case's values follow from its seed.
struct Values(u64);

impl Values {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[-scale, scale)`.
    fn float(&mut self, scale: f32) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }

    fn floats(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.float(scale)).collect()
    }

    /// Uniform in `0..=n`.
    fn up_to(&mut self, n: usize) -> usize {
        (self.next() % (n as u64 + 1)) as usize
    }

    /// `true` with probability `p`.
    fn coin(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// One case: a batch of `batch` sequences of up to `steps` steps, cell sizes number `size` of
/// [`on_sizes`], everything else drawn from `seed`.
#[derive(Clone, Copy, Debug)]
struct Case {
    size: usize,
    batch: usize,
    steps: usize,
    seed: u64,
}

fn cases() -> impl Strategy<Value = Case> {
    (0..4usize, 0..=70usize, 0..=40usize, any::<u64>()).prop_map(|(size, batch, steps, seed)| {
        Case {
            size,
            batch,
            steps,
            seed,
        }
    })
}

/// Runs `check::<I, H>` on the case's sizes, `(I, H)` one of: one input and one unit; a narrow
/// input into 70 units; odd sizes; 70 inputs into 33 units.
macro_rules! on_sizes {
    ($check:ident, $case:expr) => {
        match $case.size {
            0 => $check::<1, 1>($case),
            1 => $check::<3, 70>($case),
            2 => $check::<17, 5>($case),
            _ => $check::<70, 33>($case),
        }
    };
}

// ---- the fused layers ----------------------------------------------------------------------

/// Agreement within 1e-5, relative to the reference where it is above 1 in magnitude.
fn assert_close(what: &str, fused: &[f32], reference: &[f32]) {
    assert_eq!(fused.len(), reference.len(), "{what}: length");
    for (i, (&a, &b)) in fused.iter().zip(reference).enumerate() {
        let tolerance = 1e-5 * b.abs().max(1.0);
        assert!(
            (a - b).abs() <= tolerance,
            "{what}[{i}]: fused {a} against {b} per sequence"
        );
    }
}

fn sample<const I: usize>(inputs: &[f32], b: usize, steps: usize) -> Vec<SVector<f32, I>> {
    (0..steps)
        .map(|t| SVector::from_column_slice(&inputs[(b * steps + t) * I..][..I]))
        .collect()
}

fn flat<N: Nested>(values: impl IntoIterator<Item = N>) -> Vec<f32> {
    let mut out = Vec::new();
    for value in values {
        let at = out.len();
        out.resize(at + N::SIZE, 0.0);
        value.write_f32(&mut out[at..]);
    }
    out
}

/// A one-state cell (GRU, SimpleRNN) run per sequence: every output, then the final states.
fn per_sequence<C, const I: usize, const H: usize>(
    cell: &C,
    inputs: &[f32],
    (batch, steps): (usize, usize),
    h0: Option<&[f32]>,
) -> (Vec<f32>, Vec<f32>)
where
    C: Cell<Input = SVector<f32, I>, State = SVector<f32, H>, Output = SVector<f32, H>>,
    C: Cell<Constants = ()>,
{
    let rnn = Rnn::new(cell);
    let (mut outputs, mut states) = (vec![], vec![]);
    for b in 0..batch {
        let xs = sample::<I>(inputs, b, steps);
        let run = match h0 {
            Some(h0) => rnn.run_from(&xs, SVector::from_column_slice(&h0[b * H..][..H]), &()),
            None => rnn.run(&xs, &()),
        };
        outputs.extend(flat(run.outputs.iter().copied()));
        states.extend(run.state.iter());
    }
    (outputs, states)
}

fn check_fused<const I: usize, const H: usize>(case: Case) {
    let Case {
        batch, steps, seed, ..
    } = case;
    let mut v = Values(seed);
    // Mostly the usual scale; sometimes inputs that saturate the gates, or tiny ones.
    let scale = [1.5, 1.5, 8.0, 0.01][v.up_to(3)];
    let inputs = v.floats(batch * steps * I, scale);
    let h0 = v.floats(batch * H, 1.0);
    let c0 = v.floats(batch * H, 2.0);
    let given = v.coin(0.5);
    let at = format!("{case:?} I={I} H={H} scale={scale} initial={given}");
    let h0_given = given.then_some(&h0[..]);

    let lstm = LstmCell::<I, H>::pytorch_init(v.next());
    let run = fused::Lstm::new(&lstm)
        .forward(&inputs, batch, given.then_some((&h0[..], &c0[..])))
        .unwrap();
    let rnn = Rnn::new(&lstm);
    let (mut outputs, mut h, mut c) = (vec![], vec![], vec![]);
    for b in 0..batch {
        let xs = sample::<I>(&inputs, b, steps);
        let reference = if given {
            let start = LstmState {
                h: SVector::from_column_slice(&h0[b * H..][..H]),
                c: SVector::from_column_slice(&c0[b * H..][..H]),
            };
            rnn.run_from(&xs, start, &())
        } else {
            rnn.run(&xs, &())
        };
        outputs.extend(flat(reference.outputs.iter().copied()));
        h.extend(reference.state.h.iter());
        c.extend(reference.state.c.iter());
    }
    assert_close(&format!("LSTM {at} outputs"), &run.outputs, &outputs);
    assert_close(&format!("LSTM {at} h"), &run.h, &h);
    assert_close(&format!("LSTM {at} c"), &run.c, &c);

    let after = GruCell::<I, H>::pytorch_init(v.next());
    let mut before = GruCell::<I, H>::keras_init(v.next());
    before.reset_after = false;
    for gru in [after, before] {
        let run = fused::Gru::new(&gru)
            .forward(&inputs, batch, h0_given)
            .unwrap();
        let (outputs, h) = per_sequence(&gru, &inputs, (batch, steps), h0_given);
        let label = format!("GRU reset_after={} {at}", gru.reset_after);
        assert_close(&format!("{label} outputs"), &run.outputs, &outputs);
        assert_close(&format!("{label} h"), &run.h, &h);
    }

    // With ReLU, the general epilogue, and values that grow without bound: the relative
    // tolerance.
    let activation = [Activation::Tanh, Activation::Relu][v.up_to(1)];
    {
        let srnn = SimpleRnnCell::<I, H>::pytorch_init(v.next()).with_activation(activation);
        let run = fused::SimpleRnn::new(&srnn)
            .forward(&inputs, batch, h0_given)
            .unwrap();
        let (outputs, h) = per_sequence(&srnn, &inputs, (batch, steps), h0_given);
        let label = format!("SimpleRNN {activation:?} {at}");
        assert_close(&format!("{label} outputs"), &run.outputs, &outputs);
        assert_close(&format!("{label} h"), &run.h, &h);
    }
}

// ---- the batch drivers ---------------------------------------------------------------------

/// Whether step `t` is valid under `mask` (the mask fits its sequence).
fn valid(mask: Mask<'_>, t: usize) -> bool {
    match mask {
        Mask::All => true,
        Mask::Length(n) => t < n,
        Mask::Steps(steps) => steps[t],
    }
}

/// The plain per-sequence loop: the valid steps, in the order the direction reads them, run
/// by `Rnn::run_from`; then laid out with the padding outputs, as DESIGN.md's semantics say.
/// Returns the outputs and the final state.
fn reference<C: Cell<Constants = ()>>(
    cell: &C,
    xs: &[C::Input],
    mask: Mask<'_>,
    (direction, padding): (Direction, Padding),
    start: C::State,
) -> (Vec<C::Output>, C::State) {
    let n = xs.len();
    // Processing step k reads input t; is it valid?
    let order: Vec<(usize, bool)> = match (direction, mask) {
        (Direction::Forward, _) => (0..n).map(|t| (t, valid(mask, t))).collect(),
        // tf.reverse_sequence: the valid prefix backwards, the padding stays at the end.
        (Direction::GoBackwards, Mask::Length(len)) => (0..len)
            .rev()
            .map(|t| (t, true))
            .chain((len..n).map(|t| (t, false)))
            .collect(),
        _ => (0..n).rev().map(|t| (t, valid(mask, t))).collect(),
    };
    let read: Vec<C::Input> = order
        .iter()
        .filter(|(_, v)| *v)
        .map(|&(t, _)| xs[t].clone())
        .collect();
    let run = Rnn::new(cell).run_from(&read, start, &());
    let mut ys = run.outputs.iter();
    let mut outputs: Vec<C::Output> = Vec::with_capacity(n);
    for &(_, v) in &order {
        let y = match (v, padding, outputs.last()) {
            (true, ..) => ys.next().unwrap().clone(),
            (false, Padding::CarryLastOutput, Some(last)) => last.clone(),
            (false, ..) => C::Output::zeros(),
        };
        outputs.push(y);
    }
    assert!(ys.next().is_none());
    if direction == Direction::Reversed {
        outputs.reverse();
    }
    (outputs, run.state)
}

fn bits<N: Nested>(values: impl IntoIterator<Item = N>) -> Vec<u32> {
    flat(values).iter().map(|x| x.to_bits()).collect()
}

/// How a case masks its batch.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Masking {
    None,
    Lengths,
    Each,
}

/// A case's batch: ragged sequences, their masks (as lengths and as one mask each) and initial
/// states.
struct Drawn<X, S> {
    sequences: Vec<Vec<X>>,
    lengths: Vec<usize>,
    /// The step patterns the masks borrow.
    patterns: Vec<Vec<bool>>,
    /// Per sequence: all, a length, or a step pattern (an index into `patterns`).
    kinds: Vec<u8>,
    states: Vec<S>,
}

impl<X, S: Clone> Drawn<X, S> {
    /// Sequence `b`'s mask under `masking` (`masks` from [`Drawn::masks`]).
    fn mask<'m>(&self, b: usize, masking: Masking, masks: &[Mask<'m>]) -> Mask<'m> {
        match masking {
            Masking::None => Mask::All,
            Masking::Lengths => Mask::Length(self.lengths[b]),
            Masking::Each => masks[b],
        }
    }

    /// Sequence `b`'s initial state: given, or the cell's.
    fn start<C: Cell<State = S, Constants = ()>>(&self, b: usize, cell: &C, given: bool) -> S {
        match given {
            true => self.states[b].clone(),
            false => cell.initial_state(&()),
        }
    }

    fn masks(&self) -> Vec<Mask<'_>> {
        self.kinds
            .iter()
            .enumerate()
            .map(|(b, kind)| match kind {
                0 => Mask::All,
                1 => Mask::Length(self.lengths[b]),
                _ => Mask::Steps(&self.patterns[b]),
            })
            .collect()
    }
}

fn draw<C: Cell>(
    v: &mut Values,
    (batch, steps): (usize, usize),
    input: impl Fn(&mut Values) -> C::Input,
    state: impl Fn(&mut Values) -> C::State,
) -> Drawn<C::Input, C::State> {
    let sequences: Vec<Vec<C::Input>> = (0..batch)
        .map(|_| {
            // Mostly full length (an equal-length batch), else ragged.
            let n = if v.coin(0.5) { steps } else { v.up_to(steps) };
            (0..n).map(|_| input(v)).collect()
        })
        .collect();
    let lengths = sequences.iter().map(|s| v.up_to(s.len())).collect();
    // Left padding, right padding, holes, none valid, all valid.
    let patterns = sequences
        .iter()
        .map(|s| {
            let p = [0.0, 0.3, 0.7, 1.0][v.up_to(3)];
            (0..s.len()).map(|_| v.coin(p)).collect()
        })
        .collect();
    let kinds = (0..batch).map(|_| v.up_to(2) as u8).collect();
    let states = (0..batch).map(|_| state(v)).collect();
    Drawn {
        sequences,
        lengths,
        patterns,
        kinds,
        states,
    }
}

/// How a case runs its batch: how it masks it, whether it gives initial states, and the
/// `Rnn`'s padding policy and direction.
#[derive(Clone, Copy, Debug)]
struct Mode {
    masking: Masking,
    given: bool,
    padding: Padding,
    direction: Direction,
}

const MASKINGS: [Masking; 3] = [Masking::None, Masking::Lengths, Masking::Each];
const PADDINGS: [Padding; 2] = [Padding::CarryLastOutput, Padding::Zero];
const DIRECTIONS: [Direction; 3] = [
    Direction::Forward,
    Direction::GoBackwards,
    Direction::Reversed,
];

impl Mode {
    fn draw(v: &mut Values) -> Mode {
        Mode {
            masking: MASKINGS[v.up_to(2)],
            given: v.coin(0.5),
            padding: PADDINGS[v.up_to(1)],
            direction: DIRECTIONS[v.up_to(2)],
        }
    }

    /// Every mode.
    fn all() -> impl Iterator<Item = Mode> {
        MASKINGS.into_iter().flat_map(|masking| {
            [false, true].into_iter().flat_map(move |given| {
                PADDINGS.into_iter().flat_map(move |padding| {
                    DIRECTIONS.into_iter().map(move |direction| Mode {
                        masking,
                        given,
                        padding,
                        direction,
                    })
                })
            })
        })
    }
}

/// The drivers on `drawn` in `mode`, against [`reference`] on each sequence, bit for bit:
/// `run_batch`, `run_batch_into` buffers that held another batch, and (forward) a stateful
/// batch.
fn check_drivers<C>(
    cell: &C,
    drawn: &Drawn<C::Input, C::State>,
    mode: Mode,
    v: &mut Values,
    at: &str,
) where
    C: Cell<Constants = ()> + Sync,
    C::State: Send + Sync + PartialEq,
    C::Output: Send + Sync,
    C::Input: Sync,
{
    let Mode {
        masking,
        given,
        padding,
        direction,
    } = mode;
    let at = format!("{at} {mode:?}");
    let masks = drawn.masks();
    let mut batch = Batch::new(&drawn.sequences[..]);
    batch = match masking {
        Masking::None => batch,
        Masking::Lengths => batch.lengths(&drawn.lengths),
        Masking::Each => batch.masks(&masks),
    };
    if given {
        batch = batch.initial_states(&drawn.states);
    }
    let rnn = Rnn::new(cell)
        .padding(padding)
        .direction(direction)
        .batched_kernel(false);
    let run = rnn.run_batch(&batch, &()).unwrap();
    assert_eq!(run.outputs.len(), drawn.sequences.len(), "{at}");
    let mut references = Vec::new();
    for (b, xs) in drawn.sequences.iter().enumerate() {
        let mask = drawn.mask(b, masking, &masks);
        let (ys, state) = reference(
            cell,
            xs,
            mask,
            (direction, padding),
            drawn.start(b, cell, given),
        );
        let (ys, state) = (bits(ys), bits([state]));
        assert_eq!(
            bits(run.outputs[b].iter().cloned()),
            ys,
            "{at}: outputs of sequence {b}"
        );
        assert_eq!(
            bits([run.states[b].clone()]),
            state,
            "{at}: state of sequence {b}"
        );
        references.push((ys, state));
    }
    check_batched_kernel(cell, &batch, mode, &references, &at);
    // Buffers that held the sequences in reverse order.
    let reversed: Vec<Vec<C::Input>> = drawn.sequences.iter().rev().cloned().collect();
    let mut out: BatchRun<C::Output, C::State> =
        rnn.run_batch(&Batch::new(&reversed[..]), &()).unwrap();
    rnn.run_batch_into(&batch, &(), &mut out).unwrap();
    assert!(out == run, "{at}: run_batch_into");
    if direction == Direction::Forward {
        check_stateful(cell, drawn, mode, &references, v, &at);
    }
}

/// The batch on the cell's batched kernel, where it applies (every sequence's valid steps
/// consecutive), against the per-sequence `references` within 1e-5; and into buffers that held
/// that batch, the same bits again.
fn check_batched_kernel<C, Q>(
    cell: &C,
    batch: &Batch<'_, Q, C::State>,
    Mode {
        masking,
        padding,
        direction,
        ..
    }: Mode,
    references: &[(Vec<u32>, Vec<u32>)],
    at: &str,
) where
    C: Cell<Constants = ()> + Sync,
    C::State: Send + Sync + PartialEq,
    C::Output: Send + Sync,
    C::Input: Sync,
    Q: AsRef<[C::Input]> + Sync,
{
    let rnn = Rnn::new(cell).padding(padding).direction(direction);
    if !rnn.runs_on_batched_kernel(batch) {
        // Only a step mask with holes (or an empty batch) keeps the loop.
        assert!(
            masking == Masking::Each || batch.is_empty(),
            "{at}: the batched kernel should apply"
        );
        return;
    }
    let run = rnn.run_batch(batch, &()).unwrap();
    let close = |got: Vec<u32>, want: &[u32], what: &str| {
        assert_eq!(got.len(), want.len(), "{at}: {what}");
        for (g, w) in got.iter().zip(want) {
            let (g, w) = (f32::from_bits(*g), f32::from_bits(*w));
            assert!((g - w).abs() <= 1e-5, "{at}: {what}: {g} vs {w}");
        }
    };
    for (b, (ys, state)) in references.iter().enumerate() {
        assert_eq!(
            run.outputs[b].len() * C::Output::SIZE,
            ys.len(),
            "{at}: steps of {b}"
        );
        close(
            bits(run.outputs[b].iter().cloned()),
            ys,
            &format!("outputs of {b}"),
        );
        close(
            bits([run.states[b].clone()]),
            state,
            &format!("state of {b}"),
        );
    }
    let mut again = run.clone();
    rnn.run_batch_into(batch, &(), &mut again).unwrap();
    assert!(again == run, "{at}: run_batch_into on the kernel");
}

/// A stateful batch fed the sequences in two chunks, cut at a random step, computes the
/// forward `references` (outputs and state bits per sequence): the states and the carried
/// output continue across the cut.
fn check_stateful<C>(
    cell: &C,
    drawn: &Drawn<C::Input, C::State>,
    Mode {
        masking,
        given,
        padding,
        ..
    }: Mode,
    references: &[(Vec<u32>, Vec<u32>)],
    v: &mut Values,
    at: &str,
) where
    C: Cell<Constants = ()> + Sync,
    C::State: Send + Sync + PartialEq,
    C::Output: Send + Sync,
    C::Input: Sync,
{
    let masks = drawn.masks();
    let batch = drawn.sequences.len();
    let longest = drawn.sequences.iter().map(Vec::len).max().unwrap_or(0);
    let cut = v.up_to(longest);
    let halves = |b: usize| drawn.sequences[b].split_at(cut.min(drawn.sequences[b].len()));
    let (first, second): (Vec<_>, Vec<_>) = (0..batch).map(halves).unzip();
    // Each sequence's masks for the two chunks.
    let split = |b: usize| -> [Mask<'_>; 2] {
        let k = first[b].len();
        match drawn.mask(b, masking, &masks) {
            Mask::All => [Mask::All; 2],
            Mask::Length(n) => [Mask::Length(n.min(k)), Mask::Length(n.saturating_sub(k))],
            Mask::Steps(steps) => [Mask::Steps(&steps[..k]), Mask::Steps(&steps[k..])],
        }
    };
    let chunk_masks: [Vec<Mask<'_>>; 2] = [0, 1].map(|i| (0..batch).map(|b| split(b)[i]).collect());
    let mut streams = Rnn::new(cell)
        .padding(padding)
        .stateful_batch(vec![(); batch]);
    if given {
        streams = streams.with_initial_states(drawn.states.clone()).unwrap();
    }
    let mut out = Batched(Vec::new());
    streams
        .feed_into(&first, BatchMasks::Each(&chunk_masks[0]), &mut out)
        .unwrap();
    let mut outputs: Vec<Vec<C::Output>> = out.iter().map(|s| s.to_vec()).collect();
    streams
        .feed_into(&second, BatchMasks::Each(&chunk_masks[1]), &mut out)
        .unwrap();
    for (b, (state, (ys, final_state))) in streams.states().zip(references).enumerate() {
        outputs[b].extend(out[b].iter().cloned());
        let at = format!("{at} stateful cut={cut}, sequence {b}");
        assert_eq!(&bits(outputs[b].iter().cloned()), ys, "{at}: outputs");
        assert_eq!(&bits([state.clone()]), final_state, "{at}: state");
    }
}

fn check_batch_drivers<const I: usize, const H: usize>(case: Case) {
    let mut v = Values(case.seed);
    let (mode, cell) = (Mode::draw(&mut v), v.up_to(3));
    on_a_cell::<I, H>(case, cell, &mut v, &[mode]);
}

/// The drivers on cell number `cell` (an LSTM, a GRU with `reset_after`, one without, a
/// SimpleRNN; one per case: the drivers are generic, the cells only supply the steps), in
/// each of `modes`.
fn on_a_cell<const I: usize, const H: usize>(
    case: Case,
    cell: usize,
    v: &mut Values,
    modes: &[Mode],
) {
    let Case { batch, steps, .. } = case;
    let at = format!("{case:?} I={I} H={H}");
    let input = |v: &mut Values| SVector::<f32, I>::from_fn(|_, _| v.float(1.5));
    let hidden = |v: &mut Values| SVector::<f32, H>::from_fn(|_, _| v.float(1.0));
    match cell {
        0 => {
            let cell = LstmCell::<I, H>::pytorch_init(v.next());
            let state = |v: &mut Values| LstmState {
                h: hidden(v),
                c: hidden(v),
            };
            let drawn = draw::<LstmCell<I, H>>(v, (batch, steps), input, state);
            for &mode in modes {
                check_drivers(&cell, &drawn, mode, v, &format!("LSTM {at}"));
            }
        }
        which @ (1 | 2) => {
            let mut cell = GruCell::<I, H>::keras_init(v.next());
            cell.reset_after = which == 1;
            let drawn = draw::<GruCell<I, H>>(v, (batch, steps), input, hidden);
            let at = format!("GRU reset_after={} {at}", cell.reset_after);
            for &mode in modes {
                check_drivers(&cell, &drawn, mode, v, &at);
            }
        }
        _ => {
            let cell = SimpleRnnCell::<I, H>::pytorch_init(v.next());
            let drawn = draw::<SimpleRnnCell<I, H>>(v, (batch, steps), input, hidden);
            for &mode in modes {
                check_drivers(&cell, &drawn, mode, v, &format!("SimpleRNN {at}"));
            }
        }
    }
}

/// Every mode (masking, initial states, padding, direction) on each cell, at one small
/// ragged batch: the random cases below draw one mode each.
#[test]
fn batch_drivers_equal_the_per_sequence_loop_in_every_mode() {
    let modes: Vec<Mode> = Mode::all().collect();
    for cell in 0..4 {
        let case = Case {
            size: 2,
            batch: 9,
            steps: 7,
            seed: cell as u64,
        };
        on_a_cell::<17, 5>(case, cell, &mut Values(case.seed), &modes);
    }
}

/// Few cases by default: one runs up to 70 × 40 steps of a 3 × 70 cell eight times over, in
/// a debug build, and `cargo test --workspace` must stay fast. `PROPTEST_CASES=500` runs a
/// longer sweep.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    ProptestConfig::with_cases(cases.unwrap_or(12))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fused_layers_equal_the_cell_run_per_sequence(case in cases()) {
        on_sizes!(check_fused, case);
    }

    #[test]
    fn batch_drivers_equal_the_per_sequence_loop_bit_for_bit(case in cases()) {
        on_sizes!(check_batch_drivers, case);
    }
}

/// This suite on every instruction set the CPU has (the narrower ones in children, see
/// `common/isa.rs`); `--nocapture` shows which ran.
#[test]
fn every_dispatched_path_runs_this_suite() {
    isa::assert_every_path_ran("every_dispatched_path_runs_this_suite");
}
