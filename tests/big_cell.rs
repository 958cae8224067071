//! Seed 001's NestedCell at the seed's sizes (a 1.2 M-float kernel) builds, initialises,
//! saves, loads and runs inside a thread with a 2 MiB stack: no parameter size puts weights
//! on the stack. A static unroll's 512 KB result fits one too, in every direction.

#[path = "../examples/common/nested_cell.rs"]
mod nested_cell;

use nested_cell::{NestedCell, NestedInput, NestedState};
use rnn::parameters::{Parameters, Scheme};
use rnn::prelude::*;
use rnn::weight_file;

const STACK: usize = 2 << 20;

fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    on_stack(STACK, f)
}

fn on_stack<R: Send + 'static>(bytes: usize, f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .name(format!("{bytes}-byte stack"))
        .stack_size(bytes)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the work overflowed or panicked on a small stack")
}

fn input(t: usize) -> NestedInput {
    NestedInput {
        feature1: SVector::from_fn(|i, _| ((i + t) % 7) as f32 * 0.1),
        feature2: SMatrix::from_fn(|i, j| ((i * 3 + j + t) % 11) as f32 * 0.01),
    }
}

#[test]
fn nested_cell_builds_initialises_loads_and_runs_on_a_2_mib_stack() {
    let (state, summary, count) = on_small_stack(|| {
        let mut cell = NestedCell::zeros();
        cell.initialize(Scheme::Keras, 1);
        let bytes = weight_file::save(&cell).expect("save");
        let mut loaded = NestedCell::zeros();
        weight_file::load(&mut loaded, &bytes).expect("load");
        assert!(loaded == cell, "round trip");

        let xs: Vec<NestedInput> = (0..3).map(input).collect();
        let run = Rnn::new(loaded).run(&xs, &());
        (run.state, cell.summary().to_string(), cell.count_params())
    });
    assert_eq!(count, 32 * 10 + 64 * 32 * 20 * 30);
    assert!(
        summary.contains("kernel_2_3        [64, 32, 20, 30]  1,228,800"),
        "{summary}"
    );
    assert!(summary.contains("Total params: 1,229,120"), "{summary}");
    // Keras "uniform" weights in ±0.05, positive inputs: the states moved.
    assert!(state.state1.iter().all(|v| v.is_finite()));
    assert!(state.state2.iter().any(|&v| v != 0.0));
}

#[test]
fn nested_cell_computes_the_seeds_matmul_and_einsum() {
    on_small_stack(|| {
        let mut cell = NestedCell::new(5);
        // Check one step against the seed's formulas written out index by index.
        let x = input(2);
        let mut s = NestedState::zeros();
        let (y1, y23) = cell.step(&x, &mut s, &());
        let k1 = cell.kernel_1.as_slice();
        let k23 = cell.kernel_2_3.as_slice();
        for k in 0..10 {
            let expected: f32 = (0..32).map(|i| x.feature1[i] * k1[i * 10 + k]).sum();
            assert!((y1[k] - expected).abs() < 1e-5);
        }
        for (k, l) in [(0, 0), (3, 17), (19, 29)] {
            let mut expected = 0.0f32;
            for i in 0..64 {
                for j in 0..32 {
                    // kernel_2_3[i, j, k, l], row-major [64, 32, 20, 30].
                    expected += x.feature2[(i, j)] * k23[((i * 32 + j) * 20 + k) * 30 + l];
                }
            }
            assert!((y23[(k, l)] - expected).abs() < 1e-4, "({k}, {l})");
        }
        assert_eq!(s.state1, y1);
        // The weights are Keras's "uniform": RandomUniform(-0.05, 0.05).
        assert!(k23.iter().all(|w| w.abs() <= 0.05));
        cell.initialize(Scheme::Keras, 5);
        assert!(cell == NestedCell::new(5), "seeded init reproduces");
    });
}

/// `unroll::<4096>` of an LSTM with 32 units returns 4096 × 32 floats (512 KB). The result is
/// built where it is returned, so an optimized build needs about its size in stack, whatever
/// the direction, and a stateful chunk as much; an unoptimized one copies it a few times but
/// still fits Rust's default 2 MiB thread stack. Too much stack aborts the whole test binary.
#[test]
fn a_static_unroll_needs_about_its_result_in_stack_in_every_direction() {
    use rnn::cells::LstmCell;
    const T: usize = 4096;
    type Result = rnn::Unrolled<SVector<f32, 32>, (SVector<f32, 32>, SVector<f32, 32>), T>;
    let stack = if cfg!(debug_assertions) {
        STACK
    } else {
        std::mem::size_of::<Result>() + (64 << 10)
    };
    let cell = LstmCell::<32, 32>::keras_init(3);
    let xs: Box<[SVector<f32, 32>; T]> = (0..T)
        .map(|t| SVector::from_fn(|i, _| ((i + t) % 5) as f32 * 0.1))
        .collect::<Box<[_]>>()
        .try_into()
        .expect("T inputs");
    let xs = std::sync::Arc::new(xs);
    let expected = Rnn::new(cell.clone()).run(xs.iter(), &());
    for direction in [
        Direction::Forward,
        Direction::GoBackwards,
        Direction::Reversed,
    ] {
        let rnn = Rnn::new(cell.clone()).direction(direction);
        let (unrolled, streamed) = (rnn.clone(), rnn);
        let inputs = xs.clone();
        let (last, first, state) = on_stack(stack, move || {
            let run = unrolled.unroll(&inputs, &());
            (run.outputs[T - 1], run.outputs[0], run.state)
        });
        let inputs = xs.clone();
        let (chunk_last, chunk_first, chunk_state) = on_stack(stack, move || {
            let mut stream = streamed.stateful(());
            let ys = stream.feed_array(&inputs);
            (ys[T - 1], ys[0], stream.state().clone())
        });
        assert_eq!(
            (chunk_last, chunk_first, &chunk_state),
            (last, first, &state),
            "{direction:?}"
        );
        // Forward is the dynamic loop; backwards, the output of the last step read (input 0)
        // is the last in processing order, or sits at time 0 when aligned to time.
        let computed_last = match direction {
            Direction::Forward => {
                assert_eq!((last, &state), (expected.outputs[T - 1], &expected.state));
                let (cell, inputs) = (cell.clone(), xs.clone());
                let low_level = on_stack(stack, move || {
                    let run = rnn::static_unroll(&cell, &inputs, Nested::zeros(), &());
                    (run.0[T - 1], run.1)
                });
                assert_eq!(low_level, (last, state.clone()));
                last
            }
            Direction::GoBackwards => last,
            Direction::Reversed => first,
        };
        assert!(computed_last.iter().all(|v| v.is_finite() && *v != 0.0));
    }
}

/// The batch backward (whose 4.9 MB kernel gradient keeps each step's outer product and adds
/// them in blocks) against the sum of each sequence's own backward (which adds each at once):
/// sequences long enough for several blocks, every gradient within 1e-5.
#[test]
fn batch_gradients_of_the_large_kernel_are_the_sequences_sum() {
    use rnn::train::{BatchTape, Tape};
    const STEPS: usize = 66;
    let cell = NestedCell::new(3);
    let rnn = Rnn::new(cell);
    let xs: Vec<Vec<NestedInput>> = (0..2)
        .map(|b| (0..STEPS).map(|t| input(t + 5 * b)).collect())
        .collect();
    let d_outputs = vec![vec![Nested::zeros(); STEPS]; 2];
    let d_states: Vec<NestedState> = (0..2)
        .map(|b| NestedState {
            state1: SVector::from_fn(|i, _| 0.1 * (i + b) as f32),
            state2: SMatrix::from_fn(|i, j| 0.01 * ((i + 2 * j + b) % 5) as f32 - 0.02),
        })
        .collect();
    let batch = Batch::new(&xs);
    let mut tape = BatchTape::new();
    rnn.run_batch_taped(&batch, &(), &mut tape).unwrap();
    let grads = rnn
        .backward_batch(&tape, &batch, &d_outputs, &d_states, &())
        .unwrap()
        .parameters;

    let mut sum = vec![0.0f64; grads.count_params()];
    let mut one = Tape::new();
    for (b, x) in xs.iter().enumerate() {
        rnn.run_taped(x, Mask::All, Nested::zeros(), &(), &mut one)
            .unwrap();
        let g = rnn
            .backward(&one, x, &d_outputs[b], d_states[b].clone(), &())
            .unwrap()
            .parameters;
        let mut at = 0;
        g.for_each_parameter(|_, tensor| {
            tensor.read(&mut |v| {
                sum[at] += v;
                at += 1;
            })
        });
    }
    let mut batch_values = Vec::new();
    grads.for_each_parameter(|_, tensor| tensor.read(&mut |v| batch_values.push(v)));
    let scale = sum.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "the loss reaches the kernels");
    for (i, (b, s)) in batch_values.iter().zip(&sum).enumerate() {
        assert!(
            (b - s).abs() <= 1e-5 * scale,
            "parameter {i}: batch {b}, sum {s}"
        );
    }
}
