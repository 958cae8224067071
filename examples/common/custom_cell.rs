//! A custom decoder cell (`CustomMultiTimeStepGRUCell`) at its original sizes: a GRU whose state is
//! re-projected from `[h; z_enc]` by a dense layer at each step, `z_enc` a constant, plus a
//! second per-step output from another dense layer on the input.
//!
//! Shared by `examples/seed_custom_cell.rs` and the benchmarks' workloads (`#[path]`
//! includes it), so the figures are for the cell the example runs.
#![allow(dead_code)]

use rnn::cells::{Dense, GruCell};
use rnn::prelude::*;

pub const FEATURES: usize = 12;
pub const LATENT: usize = 8;
pub const HIDDEN: usize = 10;
pub const ARBITRARY: usize = 15;

/// The seed's cell: `gru`, the projection `dense_proj` of `[h; z_enc]`, and `other_output`.
/// Its weights are its `Parameters`, so `#[cell]`'s generated backward trains it.
#[derive(Clone, Debug, PartialEq, Parameters)]
pub struct CustomMultiTimeStepGruCell {
    pub gru: GruCell<FEATURES, HIDDEN>,
    pub dense_proj: Dense<{ HIDDEN + LATENT }, HIDDEN>,
    pub other_output: Dense<FEATURES, ARBITRARY>,
}

#[cell]
impl CustomMultiTimeStepGruCell {
    fn step(
        &self,
        #[input] x: &SVector<f32, FEATURES>,
        #[state] h: &mut SVector<f32, HIDDEN>,
        #[constant] z_enc: &SVector<f32, LATENT>,
    ) -> (SVector<f32, HIDDEN>, SVector<f32, ARBITRARY>) {
        // Combine the state with z_enc and project back to the GRU's state size.
        let combined: SVector<f32, { HIDDEN + LATENT }> = rnn::ops::concat(h, z_enc);
        let mut special_state = self.dense_proj.forward(&combined);
        // A built-in cell is a cell like any other.
        let output = self.gru.step(x, &mut special_state, &());
        *h = special_state;
        (output, self.other_output.forward(x))
    }
}

impl CustomMultiTimeStepGruCell {
    /// The cell with Keras's default initialisation, from fixed seeds.
    pub fn keras_init() -> Self {
        CustomMultiTimeStepGruCell {
            gru: GruCell::keras_init(1),
            dense_proj: Dense::keras_init(2),
            other_output: Dense::keras_init(3),
        }
    }
}
