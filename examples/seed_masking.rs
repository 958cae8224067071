//! `tf.nn.dynamic_rnn` against Keras masking, ported.
//!
//! A GRU (units 1, linear activations, kernel ones, recurrent kernel zeros, bias ones,
//! `reset_after=False`) reads two embedded token sequences three ways: with no mask (padding
//! read as data), with the Keras mask from `Masking(0.37)` (padded steps carry the last output),
//! and as tf.nn.dynamic_rnn with `sequence_length = [3, 4]` (padded steps output zero).
//!
//! ```text
//! cargo run --example seed_masking
//! ```

use rnn::cells::Embedding;
use rnn::cells::GruCell;
use rnn::ops::Activation;
use rnn::prelude::*;
use rnn::{Batch, BatchMasks, Mask, Masking, Padding, SequenceError};

fn row(ys: &[SVector<f32, 1>]) -> String {
    ys.iter()
        .map(|y| format!("{:>10}", y[0]))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> Result<(), SequenceError> {
    let tokens: [[usize; 5]; 2] = [[1, 2, 1, 0, 0], [0, 1, 2, 1, 0]];
    let lengths = [3, 4];
    let embedding = Embedding::<3, 2>::from_f32_slice(&[0.37, 0.37, 1.0, 1.0, 2.0, 2.0])
        .expect("3 x 2 weights");
    let masking = Masking::new(0.37);
    // GRU(1, activation=None, recurrent_activation=None, kernel_initializer='ones',
    // recurrent_initializer='zeros', bias_initializer='ones', reset_after=False).
    let gru = GruCell::<2, 1>::from_keras(&[1.0; 6], &[0.0; 3], Some(&[1.0; 3]))
        .expect("Keras GRU(1) weights for 2 inputs")
        .with_activation(Activation::Linear)
        .with_recurrent_activation(Activation::Linear);

    let embedded: Vec<Vec<SVector<f32, 2>>> = tokens
        .iter()
        .map(|t| embedding.forward(t))
        .collect::<Result<_, _>>()?;
    // Keras's Masking layer both computes the mask and zeroes the masked steps.
    let masks: Vec<Vec<bool>> = embedded.iter().map(|x| masking.compute_mask(x)).collect();
    let masked: Vec<Vec<SVector<f32, 2>>> = embedded.iter().map(|x| masking.apply(x)).collect();
    let keras_masks: Vec<Mask> = masks.iter().map(Mask::from).collect();

    let rnn = Rnn::new(&gru);
    // m1: rnn(emb(x)): padding read as data.
    let m1 = rnn.run_batch(&Batch::new(&embedded), &())?;
    // m2: rnn(mask(emb(x))): masked steps skipped, the last output carried.
    let m2 = rnn.run_batch(&Batch::new(&masked).masks(&keras_masks), &())?;
    // old: tf.nn.dynamic_rnn(cell, mask(emb(x)), sequence_length=[3, 4]): zeros past the end.
    let old = Rnn::new(&gru).padding(Padding::Zero).run_batch(
        &Batch::new(&masked).batch_masks(BatchMasks::Lengths(&lengths)),
        &(),
    )?;

    for (b, tokens) in tokens.iter().enumerate() {
        println!("sequence {b}: tokens {tokens:?}");
        println!("  no mask         {}", row(&m1.outputs[b]));
        println!("  Keras mask      {}", row(&m2.outputs[b]));
        println!("  dynamic_rnn len {}", row(&old.outputs[b]));
    }
    Ok(())
}
