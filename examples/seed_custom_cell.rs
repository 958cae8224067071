//! A custom GRU cell that tracks a second output at every timestep, with a constant.
//!
//! The Keras original (`CustomMultiTimeStepGRUCell`) re-projects the GRU's state from
//! `[h; z_enc]` with a dense layer at each step, `z_enc` being an encoder's latent passed as
//! a `constant`, and emits a second per-step output from another dense layer on the input.
//! Keras prints the shapes of the three results: every output, every extra output, and the
//! last hidden state:
//!
//! ```text
//! (4, 3, 10)
//! (4, 3, 15)
//! (4, 10)
//! ```

#[path = "common/custom_cell.rs"]
mod custom_cell;

use custom_cell::{CustomMultiTimeStepGruCell, ARBITRARY, FEATURES, HIDDEN, LATENT};
use rnn::prelude::*;

/// Standard normal values from a fixed seed, like the seed's `tf.random.normal`.
fn normal<const N: usize>(rng: &mut u64) -> SVector<f32, N> {
    SVector::from_fn(|_, _| {
        // Box–Muller over a 64-bit LCG: enough for demo data.
        let mut uniform = || {
            *rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((*rng >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (u1, u2) = (uniform(), uniform());
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    })
}

fn main() {
    let (batch, timesteps) = (4, 3);
    let rnn = Rnn::new(CustomMultiTimeStepGruCell::keras_init());

    let mut seed = 42;
    let mut outputs = Vec::new();
    let mut special_outputs = Vec::new();
    let mut last_hidden = Vec::new();
    for _ in 0..batch {
        let inputs: Vec<SVector<f32, FEATURES>> =
            (0..timesteps).map(|_| normal(&mut seed)).collect();
        let z_enc: SVector<f32, LATENT> = normal(&mut seed);
        let h_t = SVector::zeros();
        let run = rnn.run_from(&inputs, h_t, &z_enc);
        let (ys, extras) = run.outputs.unzip();
        outputs.push(ys);
        special_outputs.push(extras);
        last_hidden.push(run.state);
    }

    let width = |n: usize| n;
    println!(
        "({}, {}, {})",
        outputs.len(),
        outputs[0].len(),
        width(HIDDEN)
    );
    println!(
        "({}, {}, {})",
        special_outputs.len(),
        special_outputs[0].len(),
        width(ARBITRARY)
    );
    println!("({}, {})", last_hidden.len(), last_hidden[0].len());
}
