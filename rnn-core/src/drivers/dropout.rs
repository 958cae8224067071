//! Keras's `dropout` and `recurrent_dropout` on a recurrent layer: the rates and seed an
//! [`Rnn`](crate::Rnn) is configured with, and the masks one sequence of a training run draws.
//!
//! Keras's dropout on a recurrent cell is variational: a sequence draws its masks once, at its
//! first step, and every step reuses them; a kept unit is scaled by `1/(1 − rate)` (inverted
//! dropout), so inference, which drops nothing, needs no rescaling. With a recurrent rate,
//! Keras 3 draws one mask per gate (its `implementation=1`), for the inputs as for the state;
//! without one, a single input mask serves every gate. Only `h` is dropped where a gate reads
//! the state through its recurrent kernel: an LSTM's `c`, and the `h` a GRU interpolates with,
//! are not.
//!
//! A cell applies the masks by scaling its kernels' rows: `(x ⊙ m_g) · W_g = x · (m_g ⊙ W_g)`,
//! so a dropped step is the cell's own step on a copy whose kernels are masked, and the
//! gradient of the masked kernels, masked again, is the gradient of the cell's.

use core::fmt;

/// The dropout rates and seed of a recurrent layer in training: Keras's `dropout`,
/// `recurrent_dropout` and `seed` arguments of `LSTM`, `GRU` and `SimpleRNN`.
///
/// Training runs draw each sequence's masks from the seed, the number of runs the tape
/// recorded before, and the sequence's index in its batch: the same seed gives the same masks
/// on any number of threads. Inference ([`Rnn::run`](crate::Rnn::run) and the other
/// inference drivers) never reads it.
///
/// ```
/// use rnn::cells::LstmCell;
/// use rnn::{Dropout, Rnn};
///
/// // Keras's `LSTM(4, dropout=0.2, recurrent_dropout=0.1, seed=7)`.
/// let rnn = Rnn::new(LstmCell::<3, 4>::keras_init(1))
///     .dropout(Dropout { rate: 0.2, recurrent_rate: 0.1, seed: 7 })
///     .unwrap();
/// assert_eq!(rnn.dropout_config().rate, 0.2);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Dropout {
    /// The fraction of the input's units dropped (Keras's `dropout`), in `[0, 1)`.
    pub rate: f64,
    /// The fraction of the state's units dropped where the recurrent kernel reads them
    /// (Keras's `recurrent_dropout`), in `[0, 1)`.
    pub recurrent_rate: f64,
    /// Where the masks' random stream starts (Keras's `seed`).
    pub seed: u64,
}

impl Dropout {
    /// Whether a training run drops anything.
    pub fn is_active(&self) -> bool {
        self.rate > 0.0 || self.recurrent_rate > 0.0
    }

    /// The rates checked: each in `[0, 1)`.
    #[cfg(feature = "alloc")]
    pub(crate) fn check(&self) -> Result<(), DropoutError> {
        for (which, found) in [("rate", self.rate), ("recurrent_rate", self.recurrent_rate)] {
            // `!(..)` so that NaN is refused too.
            if !(0.0..1.0).contains(&found) {
                return Err(DropoutError::Rate { which, found });
            }
        }
        Ok(())
    }

    /// The masks of sequence `sequence` in the training run numbered `draw`.
    #[cfg(feature = "alloc")]
    pub(crate) fn masks(&self, draw: u64, sequence: usize) -> DropoutMasks {
        DropoutMasks {
            rate: self.rate,
            recurrent_rate: self.recurrent_rate,
            key: mix(mix(mix(self.seed) ^ draw) ^ sequence as u64),
        }
    }
}

/// Why a [`Dropout`] configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DropoutError {
    /// A rate outside `[0, 1)` (a rate of 1 would drop everything, and Keras then drops
    /// nothing).
    Rate {
        /// `"rate"` or `"recurrent_rate"`.
        which: &'static str,
        /// The rate given.
        found: f64,
    },
    /// The cell does not say where its step reads its input and state, so it cannot drop
    /// them: dropout is for the built-in recurrent cells, and for a `#[cell]` whose step
    /// says where it drops (see [`ops::dropout`](crate::ops::dropout)).
    Unsupported,
}

impl fmt::Display for DropoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropoutError::Rate { which, found } => {
                write!(
                    f,
                    "dropout {which}: expected a rate in [0, 1), found {found}"
                )
            }
            DropoutError::Unsupported => f.write_str(
                "dropout: expected a cell that supports dropout (LstmCell, GruCell, \
                 SimpleRnnCell, or a `#[cell]` whose step calls `ops::dropout` or \
                 `ops::recurrent_dropout`), found one that does not",
            ),
        }
    }
}

impl core::error::Error for DropoutError {}

/// The masks one sequence of a training run uses at every step: for each gate, which input
/// units and which state units it reads, each kept one scaled by `1/(1 − rate)`.
///
/// The masks are drawn unit by unit from a key (a counter-based stream), so they take no
/// memory and read the same on any thread.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutMasks {
    rate: f64,
    recurrent_rate: f64,
    key: u64,
}

#[cfg(feature = "alloc")]
impl DropoutMasks {
    /// Whether gate `gate` reads input unit `unit`. Without a recurrent rate, every gate shares
    /// gate 0's mask (Keras draws one input mask then).
    pub fn input_kept(&self, gate: usize, unit: usize) -> bool {
        let gate = if self.recurrent_rate > 0.0 { gate } else { 0 };
        kept(self.key, 0, gate, unit, self.rate)
    }

    /// Whether gate `gate` reads state unit `unit` through its recurrent kernel.
    pub fn recurrent_kept(&self, gate: usize, unit: usize) -> bool {
        kept(self.key, 1, gate, unit, self.recurrent_rate)
    }

    /// Gate `gate`'s mask on input unit `unit`: `1/(1 − rate)` when kept, `0` when dropped
    /// (computed in `T`, as Keras computes its mask in the layer's dtype).
    pub fn input_scale<T: nalgebra::RealField>(&self, gate: usize, unit: usize) -> T {
        scale(self.input_kept(gate, unit), self.rate)
    }

    /// Gate `gate`'s mask on state unit `unit`.
    pub fn recurrent_scale<T: nalgebra::RealField>(&self, gate: usize, unit: usize) -> T {
        scale(self.recurrent_kept(gate, unit), self.recurrent_rate)
    }

    /// The rates the masks drop at: input, recurrent.
    pub fn rates(&self) -> (f64, f64) {
        (self.rate, self.recurrent_rate)
    }

    /// The mask of a custom step's dropout call `site` on unit `unit`: `1/(1 − rate)` or `0`,
    /// at the recurrent rate for [`ops::recurrent_dropout`](crate::ops::recurrent_dropout),
    /// else at the input rate. Drawn apart from the built-in cells' masks (`which = 2`).
    pub(crate) fn site_scale<T: nalgebra::RealField>(
        &self,
        site: usize,
        recurrent: bool,
        unit: usize,
    ) -> T {
        let rate = if recurrent {
            self.recurrent_rate
        } else {
            self.rate
        };
        scale(kept(self.key, 2, site, unit, rate), rate)
    }

    /// The masks a sub-cell stepped at `site` of a custom step draws from: its own stream, so
    /// that its dropout calls do not repeat its parent's.
    pub(crate) fn sub_cell(&self, site: usize) -> DropoutMasks {
        DropoutMasks {
            key: mix(mix(self.key ^ 3) ^ site as u64),
            ..*self
        }
    }
}

/// `1/(1 − rate)` or `0`.
#[cfg(feature = "alloc")]
fn scale<T: nalgebra::RealField>(kept: bool, rate: f64) -> T {
    if kept {
        T::one() / (T::one() - nalgebra::convert::<f64, T>(rate))
    } else {
        T::zero()
    }
}

/// Whether a unit is kept: a uniform draw in `[0, 1)` at or above the rate (TensorFlow's
/// convention), the draw hashed from the sequence's key and the unit's coordinates.
#[cfg(feature = "alloc")]
fn kept(key: u64, which: u64, gate: usize, unit: usize, rate: f64) -> bool {
    if rate <= 0.0 {
        return true;
    }
    let bits = mix(mix(mix(key ^ which) ^ gate as u64) ^ unit as u64);
    // The top 53 bits: every value a multiple of 2⁻⁵³, exact in `f64`.
    let uniform = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    uniform >= rate
}

/// SplitMix64's step and finaliser: a bijection of `u64` whose outputs pass statistical tests
/// for consecutive inputs, so hashing coordinates gives independent-looking draws.
#[cfg(feature = "alloc")]
fn mix(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_outside_zero_one_are_refused() {
        for (rate, recurrent_rate) in [(1.0, 0.0), (-0.1, 0.0), (0.0, f64::NAN), (0.5, 1.5)] {
            let d = Dropout {
                rate,
                recurrent_rate,
                seed: 0,
            };
            assert!(matches!(d.check(), Err(DropoutError::Rate { .. })), "{d:?}");
        }
        let ok = Dropout {
            rate: 0.0,
            recurrent_rate: 0.99,
            seed: 0,
        };
        assert_eq!(ok.check(), Ok(()));
    }

    #[test]
    fn the_stream_is_pinned() {
        // SplitMix64's reference outputs for seed 0 (state advanced by the golden gamma).
        assert_eq!(mix(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(mix(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }
}
