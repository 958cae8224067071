//! The batch and array boundary against Keras 3 (TensorFlow backend):
//! `tests/fixtures/boundary/*.json`, written by `tools/fixtures_boundary.py`.
//! - Bidirectional(LSTM(3), backward_layer=GRU(3)) over a batch with lengths, each merge mode;
//! - a stacked LSTM(4)→GRU(3) over a `[B, T, F]` array with a `[B, T]` mask.

mod common;

use common::{flat, max_abs_diff, Fixture};
use rnn::cells::{GruCell, LstmCell};
use rnn::prelude::*;
use rnn::{Ave, Bidirectional, Concat, Merge, Mul, NoMerge, Padding, Sum};

const TOLERANCE: f64 = 1e-5;

fn check(name: &str, err: f64) {
    println!("{name:<40} max abs err {err:.2e}");
    assert!(
        err <= TOLERANCE,
        "{name}: max abs error {err:e} > {TOLERANCE:e}"
    );
}

fn lstm<const I: usize, const H: usize>(fx: &Fixture, prefix: &str) -> LstmCell<I, H> {
    let w = |n: &str| fx.weight(&format!("{prefix}{n}"));
    LstmCell::from_keras(&w("kernel"), &w("recurrent_kernel"), Some(&w("bias"))).unwrap()
}

fn gru<const I: usize, const H: usize>(fx: &Fixture, prefix: &str) -> GruCell<I, H> {
    let w = |n: &str| fx.weight(&format!("{prefix}{n}"));
    GruCell::from_keras(&w("kernel"), &w("recurrent_kernel"), Some(&w("bias"))).unwrap()
}

/// The fixture's `[B, T, F]` inputs, one `Vec` of steps per sequence.
fn sequences<const F: usize>(fx: &Fixture) -> Vec<Vec<SVector<f32, F>>> {
    let [batch, steps, _] = fx.inputs.shape[..] else {
        panic!("inputs are [B, T, F]")
    };
    (0..batch)
        .map(|b| {
            (0..steps)
                .map(|t| SVector::from_iterator(fx.inputs.step(b, t).iter().map(|&x| x as f32)))
                .collect()
        })
        .collect()
}

/// `Bidirectional::run_batch` with the fixture's lengths: every merged output of every
/// sequence, and Keras's final states `[h_f, c_f, h_b]`.
fn bidirectional_batch<M>(mode: &str, merge: M)
where
    M: Merge<SVector<f32, 3>, SVector<f32, 3>> + Sync,
    M::Output: Nested + Send,
{
    let name = format!("boundary_bidirectional_{mode}");
    let fx = Fixture::load(&format!("boundary/{name}.json"));
    // Keras's Bidirectional zeroes both halves' outputs at masked steps.
    let bi = Bidirectional::new(lstm::<2, 3>(&fx, "forward/"), gru::<2, 3>(&fx, "backward/"))
        .merge_mode(merge)
        .padding(Padding::Zero);
    let lengths: Vec<usize> = serde_json::from_value(fx.extra["lengths"].clone()).unwrap();
    let xs = sequences::<2>(&fx);
    let run = bi
        .run_batch(&rnn::Batch::new(&xs).lengths(&lengths), &())
        .unwrap();
    let mut worst = max_abs_diff(
        &run.outputs.to_flat_f32(),
        &fx.outputs.as_ref().unwrap().data,
    );
    for (b, state) in run.states.iter().enumerate() {
        let ours = [flat(&state.forward), flat(&state.backward)].concat();
        worst = worst.max(max_abs_diff(&ours, &fx.final_state_of(b)));
    }
    check(&name, worst);
}

#[test]
fn bidirectional_batch_with_lengths_concat() {
    bidirectional_batch("concat", Concat);
}

#[test]
fn bidirectional_batch_with_lengths_sum() {
    bidirectional_batch("sum", Sum);
}

#[test]
fn bidirectional_batch_with_lengths_mul() {
    bidirectional_batch("mul", Mul);
}

#[test]
fn bidirectional_batch_with_lengths_ave() {
    bidirectional_batch("ave", Ave);
}

/// `merge_mode=None`: Keras's two arrays, concatenated on the last axis in the fixture, are
/// the pairs' flattening.
#[test]
fn bidirectional_batch_with_lengths_none() {
    bidirectional_batch("none", NoMerge);
}
