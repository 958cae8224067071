//! A block of samples run in lockstep (`Cell::step_block`, `block_unroll`) computes exactly
//! what one run per sample computes: with the default `step_block`, and with a cell that
//! overrides it (written next to its `step` in the `#[cell]` impl) to share weight reads.

#[path = "common/isa.rs"]
mod isa;

use rnn::cells::{GruCell, LstmCell};
use rnn::kernels;
use rnn::prelude::*;
use rnn::weights::Weights;
use rnn::{block_unroll, block_unroll_into, ShapeError, ShapeErrorKind};

fn bits<N: Nested>(value: &N) -> Vec<u32> {
    let mut flat = vec![0.0; N::SIZE];
    value.to_f32_slice(&mut flat).unwrap();
    flat.iter().map(|x| x.to_bits()).collect()
}

fn inputs<const I: usize>(t_len: usize, seed: usize) -> Vec<SVector<f32, I>> {
    (0..t_len)
        .map(|t| SVector::from_fn(|i, _| (((t * 31 + i * 7 + seed * 13) % 23) as f32 - 11.0) * 0.1))
        .collect()
}

/// A dense recurrence with a weight product big enough to be worth sharing, and its block
/// step over `Weights::accumulate_block`.
struct Wide {
    w: Weights<f32, 40, 24>,
    u: Weights<f32, 24, 24>,
}

#[cell(inference)]
impl Wide {
    fn step(
        &self,
        #[input] x: &SVector<f32, 40>,
        #[state] h: &mut SVector<f32, 24>,
    ) -> SVector<f32, 24> {
        let mut z = [*h * 0.5];
        self.w.accumulate(x, &mut z);
        self.u.accumulate(h, &mut z);
        let [mut z] = z;
        kernels::tanh::<f32, 24>(z.as_mut_slice().try_into().unwrap());
        *h = z;
        z
    }

    #[inline(always)]
    fn step_block<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        states: &mut [Self::State; N],
        _: [&(); N],
    ) -> [Self::Output; N] {
        let mut z: [[SVector<f32, 24>; 1]; N] = core::array::from_fn(|n| [states[n] * 0.5]);
        self.w.accumulate_block(inputs, &mut z);
        let hs: [SVector<f32, 24>; N] = *states;
        self.u
            .accumulate_block(core::array::from_fn(|n| &hs[n]), &mut z);
        core::array::from_fn(|n| {
            let [mut z] = z[n];
            kernels::tanh::<f32, 24>(z.as_mut_slice().try_into().unwrap());
            states[n] = z;
            z
        })
    }
}

fn wide() -> Wide {
    Wide {
        w: Weights::from_fn(|r, c| ((r * 24 + c) as f32 * 0.37).sin() * 0.3),
        u: Weights::from_fn(|r, c| ((r * 24 + c) as f32 * 0.11).cos() * 0.2),
    }
}

#[test]
fn an_overridden_block_step_equals_one_run_per_sample_bit_for_bit() {
    let cell = wide();
    let seqs: [Vec<SVector<f32, 40>>; 4] = core::array::from_fn(|n| inputs(9, n));
    let starts: [SVector<f32, 24>; 4] = core::array::from_fn(|n| SVector::repeat(n as f32 * 0.1));
    let (outputs, states) = block_unroll(
        &cell,
        core::array::from_fn(|n| &seqs[n][..]),
        starts,
        [&(); 4],
    )
    .unwrap();
    let rnn = Rnn::new(&cell);
    for n in 0..4 {
        let run = rnn.run_from(&seqs[n], starts[n], &());
        assert_eq!(outputs[n].len(), 9);
        for (a, b) in outputs[n].iter().zip(run.outputs.iter()) {
            assert_eq!(bits(a), bits(b));
        }
        assert_eq!(bits(&states[n]), bits(&run.state));
    }
}

#[test]
fn the_default_block_step_runs_any_cell() {
    let lstm = LstmCell::<5, 3>::keras_init(1);
    let seqs: [Vec<SVector<f32, 5>>; 3] = core::array::from_fn(|n| inputs(6, n + 7));
    let (outputs, states) = block_unroll(
        &lstm,
        core::array::from_fn(|n| &seqs[n][..]),
        core::array::from_fn(|_| Nested::zeros()),
        [&(); 3],
    )
    .unwrap();
    for n in 0..3 {
        let run = Rnn::new(&lstm).run(&seqs[n], &());
        assert_eq!(outputs[n].0, run.outputs.0);
        assert_eq!(states[n], run.state);
    }
}

#[test]
fn block_unroll_into_continues_the_states_and_reuses_the_buffers() {
    let cell = wide();
    let seqs: [Vec<SVector<f32, 40>>; 4] = core::array::from_fn(|n| inputs(9, n + 3));
    let rnn = Rnn::new(&cell);
    let mut states: [SVector<f32, 24>; 4] = [SVector::zeros(); 4];
    let mut outputs: [rnn::Sequence<SVector<f32, 24>>; 4] =
        core::array::from_fn(|_| rnn::Sequence(Vec::new()));
    // Chunks of 5 then 4 steps through the same buffers: the states carry on, and each
    // chunk's outputs are those of one run over the whole sequences, nothing of the longer
    // chunk left behind.
    let whole: Vec<_> = seqs.iter().map(|s| rnn.run(s, &())).collect();
    for (start, end) in [(0, 5), (5, 9)] {
        block_unroll_into(
            &cell,
            core::array::from_fn(|n| &seqs[n][start..end]),
            &mut states,
            [&(); 4],
            &mut outputs,
        )
        .unwrap();
        for n in 0..4 {
            assert_eq!(outputs[n].len(), end - start);
            for (a, b) in outputs[n].iter().zip(&whole[n].outputs[start..end]) {
                assert_eq!(bits(a), bits(b));
            }
        }
    }
    for n in 0..4 {
        assert_eq!(bits(&states[n]), bits(&whole[n].state));
    }
    // Lengths that differ: an error, and neither the states nor the outputs change.
    let (before_states, before_outputs) = (states, outputs.clone());
    let ragged: [&[SVector<f32, 40>]; 4] =
        [&seqs[0][..3], &seqs[1][..3], &seqs[2][..2], &seqs[3][..3]];
    assert!(block_unroll_into(&cell, ragged, &mut states, [&(); 4], &mut outputs).is_err());
    assert_eq!(states, before_states);
    assert_eq!(outputs, before_outputs);
}

#[test]
fn block_sequences_of_different_lengths_are_an_error() {
    let gru = GruCell::<5, 3>::zeros();
    let (a, b) = (inputs::<5>(4, 0), inputs::<5>(3, 1));
    let err = block_unroll(&gru, [&a[..], &b[..]], [SVector::zeros(); 2], [&(); 2]).unwrap_err();
    assert_eq!(
        err,
        ShapeError {
            what: "block_unroll: every sequence's length",
            expected: 4,
            found: 3,
            kind: ShapeErrorKind::Steps,
        }
    );
    assert_eq!(
        err.to_string(),
        "block_unroll: every sequence's length: expected 4 steps, found 3"
    );
    let (outputs, _) =
        block_unroll(&gru, [&a[..0], &b[..0]], [SVector::zeros(); 2], [&(); 2]).unwrap();
    assert!(outputs.iter().all(|o| o.is_empty()));
}

/// The block kernel against single-sample products, over odd sizes (every tail width) and
/// more rows than a row tile.
#[test]
fn block_kernel_equals_single_sample_kernel_bit_for_bit() {
    fn check<const IN: usize, const G: usize, const H: usize, const N: usize>() {
        let rows: [[[f32; H]; G]; IN] = core::array::from_fn(|j| {
            core::array::from_fn(|g| {
                core::array::from_fn(|k| ((j * 7 + g * 5 + k) as f32 * 0.13).sin())
            })
        });
        let xs: [[f32; IN]; N] =
            core::array::from_fn(|n| core::array::from_fn(|j| ((n * 3 + j) as f32 * 0.29).cos()));
        let start: [SVector<f32, H>; G] = core::array::from_fn(|g| SVector::repeat(g as f32));
        let mut block = [start; N];
        kernels::accumulate_rows_block(&rows, core::array::from_fn(|n| &xs[n]), &mut block);
        for n in 0..N {
            let mut single = start;
            kernels::accumulate_rows(&rows, &xs[n], &mut single);
            for g in 0..G {
                assert_eq!(
                    bits(&block[n][g]),
                    bits(&single[g]),
                    "IN={IN} G={G} H={H} N={N}"
                );
            }
        }
    }
    check::<3, 1, 1, 1>();
    check::<5, 3, 7, 2>();
    check::<70, 4, 13, 4>();
    check::<129, 1, 33, 8>();
    // Blocks of 8 samples (on AVX-512, 8 samples by 16 columns at once): every column width
    // (16, 8, 1) and the sums carried from one row tile to the next.
    check::<9, 2, 12, 8>();
    check::<70, 3, 23, 16>();
}

/// This suite on every instruction set the CPU has (the narrower ones in children, see
/// `common/isa.rs`); `--nocapture` shows which ran.
#[test]
fn every_dispatched_path_runs_this_suite() {
    isa::assert_every_path_ran("every_dispatched_path_runs_this_suite");
}

/// Every product kernel against the product in `f64`, at output widths covering every path
/// of the column blocking (the one-pass narrow path, 64- and 32-column blocks, every tail),
/// from 1 to 257 columns. (Widths 64–127 once lost columns: a blocking that did not cover
/// them.)
#[test]
fn product_kernels_equal_the_f64_product_at_every_width() {
    fn check<const IN: usize, const G: usize, const H: usize>() {
        let rows: [[[f32; H]; G]; IN] = core::array::from_fn(|j| {
            core::array::from_fn(|g| {
                core::array::from_fn(|k| ((j * 7 + g * 5 + k) as f32 * 0.13).sin())
            })
        });
        let x: [f32; IN] = core::array::from_fn(|j| (j as f32 * 0.29).cos());
        let start: [SVector<f32, H>; G] = core::array::from_fn(|g| SVector::repeat(g as f32));
        let exact = |g: usize, k: usize| {
            let sum: f64 = (0..IN).map(|j| x[j] as f64 * rows[j][g][k] as f64).sum();
            g as f64 + sum
        };
        let mut all = start;
        kernels::accumulate_rows(&rows, &x, &mut all);
        let mut block = [start; 3];
        kernels::accumulate_rows_block(&rows, [&x; 3], &mut block);
        for g in 0..G {
            let mut gate = start[g];
            kernels::accumulate_gate(&rows, g, &x, &mut gate);
            for k in 0..H {
                let e = exact(g, k);
                for (what, got) in [
                    ("rows", all[g][k]),
                    ("gate", gate[k]),
                    ("block", block[2][g][k]),
                ] {
                    assert!(
                        (got as f64 - e).abs() <= 1e-5 * (1.0 + e.abs()),
                        "{what}: IN={IN} G={G} H={H}: column {} is {got}, expected {e}",
                        g * H + k
                    );
                }
            }
        }
    }
    macro_rules! widths {
        ($($h:literal)*) => { $( check::<9, 1, $h>(); )* };
    }
    widths!(1 2 3 5 8 10 15 16 17 30 31 32 33 47 63 64 65 80 95 96 97 100 127 128 129 150 191 192 200 255 256 257);
    check::<70, 4, 16>(); // LSTM H = 16: 64 columns, more rows than a row tile
    check::<32, 3, 32>(); // GRU H = 32: 96 columns
    check::<3, 4, 30>(); // 120 columns
    check::<5, 3, 43>(); // 129 columns
}

#[path = "../examples/common/nested_cell.rs"]
mod nested_cell;

/// Seed 001's NestedCell (4.9 MB of weights) has a block step: bit-identical to its step.
#[test]
fn the_seed_nested_cell_block_step_equals_its_step() {
    use nested_cell::{NestedCell, NestedInput, NestedState};
    let cell = NestedCell::new(3);
    let seqs: [Vec<NestedInput>; 2] = core::array::from_fn(|n| {
        (0..2)
            .map(|t| NestedInput {
                feature1: SVector::from_fn(|i, _| ((i + t + n) as f32 * 0.3).sin()),
                feature2: SMatrix::from_fn(|i, j| ((i * 32 + j + t * 7 + n) as f32 * 0.01).cos()),
            })
            .collect()
    });
    let start = || NestedState::zeros();
    let (outputs, states) = block_unroll(
        &cell,
        [&seqs[0][..], &seqs[1][..]],
        [start(), start()],
        [&(); 2],
    )
    .unwrap();
    for n in 0..2 {
        let run = Rnn::new(&cell).run(&seqs[n], &());
        for (a, b) in outputs[n].iter().zip(run.outputs.iter()) {
            assert_eq!(bits(a), bits(b));
        }
        assert_eq!(bits(&states[n]), bits(&run.state));
    }
}
