//! Bidirectional: merge modes, time alignment of the backward half, initial and final states.

use proptest::prelude::*;
use rnn::prelude::*;
use rnn::{Ave, Bidirectional, Both, Concat, Direction, Mask, MergeFn, Mul, NoMerge, Padding, Sum};

/// An Elman cell `h' = tanh(W x + U h + b)` of any width over a 3-wide input.
struct Elman<const H: usize> {
    w: SMatrix<f32, H, 3>,
    u: SMatrix<f32, H, H>,
    b: SVector<f32, H>,
}

#[cell(inference)]
impl<const H: usize> Elman<H> {
    fn step(
        &self,
        #[input] x: &SVector<f32, 3>,
        #[state] h: &mut SVector<f32, H>,
    ) -> SVector<f32, H> {
        *h = (self.w * x + self.u * *h + self.b).map(f32::tanh);
        *h
    }
}

fn elman<const H: usize>(seed: f32) -> Elman<H> {
    let mut k = seed;
    let mut next = move || {
        k += 0.618;
        (k * 7.3).sin()
    };
    Elman {
        w: SMatrix::from_fn(|_, _| next()),
        u: SMatrix::from_fn(|_, _| next() * 0.5),
        b: SVector::from_fn(|_, _| next() * 0.1),
    }
}

fn inputs(n: usize) -> Vec<SVector<f32, 3>> {
    (0..n)
        .map(|t| SVector::from_fn(|i, _| ((t * 3 + i) as f32 * 0.37).cos()))
        .collect()
}

const NONE: Both<&(), &()> = Both::new(&(), &());

#[test]
fn concat_of_a_10_and_a_6_wide_output_is_a_16_wide_vector() {
    let (f, b) = (elman::<10>(0.0), elman::<6>(1.0));
    let xs = inputs(5);
    let run = Bidirectional::new(&f, &b).run(&xs, NONE);
    let ys: &[SVector<f32, 16>] = &run.outputs;
    let forward = Rnn::new(&f).run(&xs, &());
    let backward = Rnn::new(&b).direction(Direction::Reversed).run(&xs, &());
    for (t, y) in ys.iter().enumerate() {
        assert_eq!(y.fixed_rows::<10>(0), forward.outputs[t]);
        assert_eq!(y.fixed_rows::<6>(10), backward.outputs[t]);
    }
    // The same bits as Keras lays them out: [forward; backward] per step.
    assert_eq!(run.outputs.to_flat_f32().len(), 5 * 16);
    assert_eq!(run.state, Both::new(forward.state, backward.state));
    // Concat is the default merge mode; the explicit one is the same.
    let explicit = Bidirectional::new(&f, &b)
        .merge_mode(Concat)
        .run::<SVector<f32, 16>, _>(&xs, NONE);
    assert_eq!(explicit.outputs.into_vec(), run.outputs.into_vec());
}

#[test]
fn sum_mul_ave_combine_step_by_step() {
    let (f, b) = (elman::<4>(0.0), elman::<4>(2.0));
    let xs = inputs(4);
    let forward = Rnn::new(&f).run(&xs, &()).outputs;
    let backward = Rnn::new(&b)
        .direction(Direction::Reversed)
        .run(&xs, &())
        .outputs;
    let bi = Bidirectional::new(&f, &b);
    let sum = bi.clone().merge_mode(Sum).run(&xs, NONE);
    let mul = bi.clone().merge_mode(Mul).run(&xs, NONE);
    let ave = bi.clone().merge_mode(Ave).run(&xs, NONE);
    let max = bi
        .merge_mode(MergeFn(|f: &SVector<f32, 4>, b: &SVector<f32, 4>| f.sup(b)))
        .run(&xs, NONE);
    for t in 0..4 {
        let (y, z): (SVector<f32, 4>, SVector<f32, 4>) = (forward[t], backward[t]);
        assert_eq!(sum.outputs[t], y + z);
        assert_eq!(mul.outputs[t], y.component_mul(&z));
        assert_eq!(ave.outputs[t], (y + z) * 0.5);
        assert_eq!(max.outputs[t], y.sup(&z));
    }
}

#[test]
fn merge_on_the_canonical_cell_gives_exact_numbers() {
    #[cell]
    fn accumulate(
        #[input] x: &SVector<f32, 1>,
        #[state] s: &mut SVector<f32, 1>,
    ) -> SVector<f32, 1> {
        *s += x;
        *s * 10.0
    }
    let xs = [1.0, 2.0, 3.0].map(|x| SVector::from([x]));
    let bi = Bidirectional::new(Accumulate, Accumulate);
    // forward 10 30 60; backward (time-aligned) 60 50 30.
    let flat = |o: &[SVector<f32, 1>]| o.iter().map(|y| y[0]).collect::<Vec<_>>();
    assert_eq!(
        flat(&bi.clone().merge_mode(Sum).run(&xs, NONE).outputs),
        [70.0, 80.0, 90.0]
    );
    assert_eq!(
        flat(&bi.clone().merge_mode(Mul).run(&xs, NONE).outputs),
        [600.0, 1500.0, 1800.0]
    );
    assert_eq!(
        flat(&bi.clone().merge_mode(Ave).run(&xs, NONE).outputs),
        [35.0, 40.0, 45.0]
    );
    let concat = bi.run(&xs, NONE);
    let concat: Vec<[f32; 2]> = concat
        .outputs
        .iter()
        .map(|y: &SVector<f32, 2>| [y[0], y[1]])
        .collect();
    assert_eq!(concat, [[10.0, 60.0], [30.0, 50.0], [60.0, 30.0]]);
}

#[test]
fn no_merge_returns_both_sequences_and_each_direction_has_its_initial_state() {
    let (f, b) = (elman::<3>(0.5), elman::<5>(1.5));
    let xs = inputs(6);
    let mask = [false, true, true, false, true, false];
    let h0 = Both::new(SVector::from([0.1, -0.2, 0.3]), SVector::from([0.5; 5]));
    let bi = Bidirectional::new(&f, &b)
        .merge_mode(NoMerge)
        .padding(Padding::Zero);
    let run = bi.run_masked_from(&xs, &mask, h0, NONE).unwrap();
    let (forward, backward) = run.outputs.unzip();
    let f_ref = Rnn::new(&f)
        .padding(Padding::Zero)
        .run_masked_from(&xs, &mask, h0.forward, &())
        .unwrap();
    let b_ref = Rnn::new(&b)
        .padding(Padding::Zero)
        .direction(Direction::Reversed)
        .run_masked_from(&xs, &mask, h0.backward, &())
        .unwrap();
    assert_eq!(forward, f_ref.outputs);
    assert_eq!(backward, b_ref.outputs);
    assert_eq!(run.state, Both::new(f_ref.state, b_ref.state));
    // Zero padding: the masked steps are zero in both halves.
    assert_eq!(forward[3], SVector::<f32, 3>::zeros());
    assert_eq!(backward[5], SVector::<f32, 5>::zeros());
    // The initial states were used: the backward half starts from 0.5, not zeros.
    let from_zero = bi.run_masked(&xs, &mask, NONE).unwrap();
    assert_ne!(from_zero.state.backward, run.state.backward);
}

#[test]
fn constants_reach_each_direction() {
    struct Scaled;
    #[cell]
    impl Scaled {
        fn step(&self, #[input] x: &f32, #[state] s: &mut f32, #[constant] k: &f32) -> f32 {
            *s += x * k;
            *s
        }
    }
    let bi = Bidirectional::new(Scaled, Scaled).merge_mode(NoMerge);
    let run = bi.run(&[1.0, 2.0], Both::new(&1.0, &10.0));
    assert_eq!(run.outputs.into_vec(), [(1.0, 30.0), (3.0, 20.0)]);
    assert_eq!(run.state, Both::new(3.0, 30.0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The backward half is the go_backwards run of the backward cell, re-aligned to time:
    /// Keras's Bidirectional reverses the backward layer's outputs.
    #[test]
    fn backward_half_is_the_go_backwards_run_realigned(
        seed in -3.0f32..3.0,
        n in 0usize..20,
        mask_bits in any::<u32>(),
        carry in any::<bool>(),
    ) {
        let (f, b) = (elman::<2>(seed), elman::<3>(seed + 1.0));
        let xs = inputs(n);
        let mask: Vec<bool> = (0..n).map(|t| mask_bits >> t & 1 == 1).collect();
        let padding = if carry { Padding::CarryLastOutput } else { Padding::Zero };
        let run = Bidirectional::new(&f, &b)
            .merge_mode(NoMerge)
            .padding(padding)
            .run_masked(&xs, &mask, NONE)
            .unwrap();
        let (_, backward) = run.outputs.unzip();
        let go_backwards = Rnn::new(&b)
            .padding(padding)
            .go_backwards(true)
            .run_masked(&xs, &mask, &())
            .unwrap();
        let mut realigned = go_backwards.outputs.into_vec();
        realigned.reverse();
        prop_assert_eq!(backward.into_vec(), realigned);
        prop_assert_eq!(run.state.backward, go_backwards.state);
    }

    /// With right padding, the same holds for lengths and their prefix masks.
    #[test]
    fn lengths_and_prefix_masks_agree(seed in -3.0f32..3.0, n in 0usize..12, len in 0usize..12) {
        let len = len.min(n);
        let (f, b) = (elman::<2>(seed), elman::<2>(-seed));
        let xs = inputs(n);
        let prefix: Vec<bool> = (0..n).map(|t| t < len).collect();
        let bi = Bidirectional::new(&f, &b).merge_mode(Sum);
        let by_length = bi.run_masked(&xs, Mask::Length(len), NONE).unwrap();
        let by_mask = bi.run_masked(&xs, &prefix, NONE).unwrap();
        prop_assert_eq!(by_length, by_mask);
    }
}
