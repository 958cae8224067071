//! How many inputs and outputs a weight tensor connects: Keras's `compute_fans`.

/// The number of input and output units of a weight tensor, as Keras counts them
/// (`keras.initializers.compute_fans`), from its shape in Keras's layout:
///
/// | shape | `fan_in` | `fan_out` |
/// |---|---|---|
/// | `[]` (a scalar) | 1 | 1 |
/// | `[n]` (a bias) | `n` | `n` |
/// | `[in, out]` (a kernel: an LSTM's `[I, 4H]`, its recurrent `[H, 4H]`) | `in` | `out` |
/// | `[k…, in, out]` (a stack of kernels) | `in · Πk` | `out · Πk` |
///
/// So an LSTM's recurrent kernel `[H, 4H]` has `fan_out = 4H`, the width of all four gates,
/// as in Keras.
///
/// ```
/// use rnn::init::Fans;
///
/// assert_eq!(Fans::of(&[5, 16]), Fans { fan_in: 5, fan_out: 16 });
/// assert_eq!(Fans::of(&[12]), Fans { fan_in: 12, fan_out: 12 });
/// assert_eq!(Fans::of(&[3, 2, 4, 8]), Fans { fan_in: 24, fan_out: 48 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fans {
    /// The number of inputs each output sums over.
    pub fan_in: usize,
    /// The number of outputs each input feeds.
    pub fan_out: usize,
}

impl Fans {
    /// The fans of a tensor of shape `dims`. A product too large for a `usize` saturates (no
    /// such tensor exists; its initialiser's scale is then about zero, not wrapped).
    pub fn of(dims: &[usize]) -> Fans {
        match *dims {
            [] => Fans {
                fan_in: 1,
                fan_out: 1,
            },
            [n] => Fans {
                fan_in: n,
                fan_out: n,
            },
            [ref kernels @ .., fan_in, fan_out] => {
                let receptive_field = kernels.iter().fold(1usize, |n, &d| n.saturating_mul(d));
                Fans {
                    fan_in: fan_in.saturating_mul(receptive_field),
                    fan_out: fan_out.saturating_mul(receptive_field),
                }
            }
        }
    }
}
