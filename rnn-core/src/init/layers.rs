//! Keras's per-layer initialiser arguments for the built-in layers.

use super::{rng, Initializer};
use crate::parameters::{Fill, Parameters, Scheme};

/// Keras's `kernel_initializer`, `recurrent_initializer` and `bias_initializer` (and the
/// LSTM's `unit_forget_bias`) of a recurrent layer: what
/// [`LstmCell::keras_init_with`](crate::cells::LstmCell::keras_init_with),
/// [`GruCell::keras_init_with`](crate::cells::GruCell::keras_init_with) and
/// [`SimpleRnnCell::keras_init_with`](crate::cells::SimpleRnnCell::keras_init_with) take.
/// Its [`Default`] is Keras's defaults.
///
/// ```
/// use rnn::cells::GruCell;
/// use rnn::init::{Initializer, RecurrentInitializers};
///
/// // Keras: GRU(8, recurrent_initializer="identity", bias_initializer=Constant(0.1))
/// let gru = GruCell::<4, 8>::keras_init_with(3, RecurrentInitializers {
///     recurrent_initializer: Initializer::Identity { gain: 1.0 },
///     bias_initializer: Initializer::Constant(0.1),
///     ..RecurrentInitializers::default()
/// });
/// assert_eq!(gru.recurrent_kernel.rows()[2][0][2], 1.0); // the identity in the first gate block
/// assert_eq!(gru.bias.unwrap()[0][0], 0.1);
/// // The defaults are Keras's defaults, drawn as keras_init draws them.
/// assert_eq!(
///     GruCell::<4, 8>::keras_init_with(3, RecurrentInitializers::default()),
///     GruCell::<4, 8>::keras_init(3)
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecurrentInitializers {
    /// The input kernel `[I, G·H]` (Keras's default: `glorot_uniform`).
    pub kernel_initializer: Initializer,
    /// The recurrent kernel `[H, G·H]` (Keras's default: `orthogonal`).
    pub recurrent_initializer: Initializer,
    /// The bias (Keras's default: `zeros`), drawn over the bias's Keras shape: a SimpleRNN's
    /// `[H]`, a GRU's `[2, 3H]` (`reset_after`) or `[3H]`, an LSTM's `[4H]`; with
    /// `unit_forget_bias`, an LSTM's as Keras builds it, `concat([init([H]), ones([H]),
    /// init([2H])])`, so that a fan-based initialiser counts each part's own fans.
    pub bias_initializer: Initializer,
    /// The LSTM's forget gate bias is then ones, whatever `bias_initializer` (Keras's default:
    /// `true`). The GRU and SimpleRNN have no forget gate and ignore it.
    pub unit_forget_bias: bool,
}

impl Default for RecurrentInitializers {
    fn default() -> Self {
        RecurrentInitializers {
            kernel_initializer: Initializer::GlorotUniform,
            recurrent_initializer: Initializer::Orthogonal { gain: 1.0 },
            bias_initializer: Initializer::Zeros,
            unit_forget_bias: true,
        }
    }
}

impl RecurrentInitializers {
    /// Fills `cell`'s `kernel`, `recurrent_kernel` and `bias` as these say, from `seed`
    /// (a cell without a forget gate: `unit_forget_bias` does not apply).
    pub(crate) fn initialized<P: Parameters>(&self, cell: P, seed: u64) -> P {
        self.initialized_with_bias(cell, seed, self.bias_initializer.into())
    }

    /// [`initialized`](Self::initialized) for an LSTM, whose bias Keras builds in three parts
    /// with `unit_forget_bias` ([`Fill::UnitForgetBias`]).
    pub(crate) fn initialized_lstm<P: Parameters>(&self, cell: P, seed: u64) -> P {
        let bias = match self.unit_forget_bias {
            true => Fill::UnitForgetBias(self.bias_initializer),
            false => self.bias_initializer.into(),
        };
        self.initialized_with_bias(cell, seed, bias)
    }

    fn initialized_with_bias<P: Parameters>(&self, cell: P, seed: u64, bias: Fill) -> P {
        keras_initialized(
            cell,
            seed,
            &[
                ("kernel", self.kernel_initializer.into()),
                ("recurrent_kernel", self.recurrent_initializer.into()),
                ("bias", bias),
            ],
        )
    }
}

/// Keras's `kernel_initializer` and `bias_initializer` of a `Dense` layer: what
/// [`Dense::keras_init_with`](crate::cells::Dense::keras_init_with) takes. Its [`Default`] is
/// Keras's defaults.
///
/// ```
/// use rnn::cells::Dense;
/// use rnn::init::{DenseInitializers, Initializer};
///
/// // Keras: Dense(3, kernel_initializer="he_uniform", bias_initializer="ones")
/// let dense = Dense::<4, 3>::keras_init_with(1, DenseInitializers {
///     kernel_initializer: Initializer::HeUniform,
///     bias_initializer: Initializer::Ones,
/// });
/// assert!(dense.kernel.as_slice().iter().all(|w| w.abs() <= (6.0f32 / 4.0).sqrt()));
/// assert_eq!(dense.bias.unwrap(), nalgebra::SVector::<f32, 3>::repeat(1.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DenseInitializers {
    /// The kernel `[I, U]` (Keras's default: `glorot_uniform`).
    pub kernel_initializer: Initializer,
    /// The bias (Keras's default: `zeros`).
    pub bias_initializer: Initializer,
}

impl Default for DenseInitializers {
    fn default() -> Self {
        DenseInitializers {
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
        }
    }
}

impl DenseInitializers {
    /// Fills `dense`'s `kernel` and `bias` as these say, from `seed`.
    pub(crate) fn initialized<P: Parameters>(&self, dense: P, seed: u64) -> P {
        keras_initialized(
            dense,
            seed,
            &[
                ("kernel", self.kernel_initializer.into()),
                ("bias", self.bias_initializer.into()),
            ],
        )
    }
}

/// `layer` initialised as Keras does, but for the tensors `overrides` names (the layer's own
/// paths, so none is unknown; an absent bias is skipped).
fn keras_initialized<P: Parameters>(mut layer: P, seed: u64, overrides: &[(&str, Fill)]) -> P {
    crate::parameters::initialize(&mut layer, Scheme::Keras, &mut rng(seed), overrides);
    layer
}
