//! The Keras RNN guide, section 7: an RNN over nested inputs and states with the guide's custom
//! `NestedCell`, at the seed's sizes (batch 64, 50 timesteps, inputs `[32]` and `[64, 32]`,
//! states `[10]` and `[20, 30]`, a 1.2 M-float kernel). Prints the model summary and the
//! shapes of `rnn(NestedInput(feature1=inp_1, feature2=inp_2))`, the last step's outputs.
//!
//! ```sh
//! cargo run --release --example seed_nested_cell
//! ```

#[path = "common/nested_cell.rs"]
mod nested_cell;

use std::time::Instant;

use nested_cell::{NestedCell, NestedInput, INPUT_1, INPUT_2, INPUT_3, UNIT_1, UNIT_2, UNIT_3};
use rnn::prelude::*;

const BATCH_SIZE: usize = 64;
const TIMESTEP: usize = 50;

/// `np.random.random`: uniform [0, 1) from a 64-bit xorshift (the values do not matter, the
/// shapes do).
struct Random(u64);

impl Random {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn main() {
    let cell = NestedCell::new(0);
    print!("{}", cell.summary());

    // input_1_data: (64, 50, 32), input_2_data: (64, 50, 64, 32).
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let batch: Vec<Vec<NestedInput>> = (0..BATCH_SIZE)
        .map(|_| {
            (0..TIMESTEP)
                .map(|_| NestedInput {
                    feature1: SVector::from_fn(|_, _| random.next()),
                    feature2: SMatrix::from_fn(|_, _| random.next()),
                })
                .collect()
        })
        .collect();

    // rnn = tf.keras.layers.RNN(cell); outputs = rnn(NestedInput(...)): the last step's
    // outputs of every sequence, the batch spread over the cores.
    let rnn = Rnn::new(cell);
    let start = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let outputs: Vec<(SVector<f32, UNIT_1>, SMatrix<f32, UNIT_2, UNIT_3>)> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(BATCH_SIZE.div_ceil(threads))
                .map(|chunk| {
                    let rnn = &rnn;
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|xs| rnn.run(xs, &()).last_output().cloned().expect("T > 0"))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("worker"))
                .collect()
        });
    let elapsed = start.elapsed();

    let (output_1, output_2_3): (Vec<_>, Vec<_>) = outputs.into_iter().unzip();
    println!("inputs: ((None, {TIMESTEP}, {INPUT_1}), (None, {TIMESTEP}, {INPUT_2}, {INPUT_3}))");
    println!(
        "outputs: (({}, {UNIT_1}), ({}, {UNIT_2}, {UNIT_3}))",
        output_1.len(),
        output_2_3.len()
    );
    println!(
        "{BATCH_SIZE} sequences × {TIMESTEP} steps in {:.2} s ({:.1} µs per sample-step, {threads} threads)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / (BATCH_SIZE * TIMESTEP) as f64
    );
}
