//! Weight initialisers: Keras's set, by the names Keras gives them (`glorot_uniform`,
//! `he_normal`, `orthogonal`, …) and with Keras's fan conventions ([`Fans`]), and PyTorch's
//! `uniform(±1/√H)`; all reproducible from a seed.
//!
//! Any tensor takes any initialiser: a custom cell's field with `#[parameters(init = …)]`
//! (see [`parameters`](crate::parameters)), any tensor of a model by its path with
//! [`Parameters::initialize_overriding`](crate::Parameters::initialize_overriding), and the
//! built-in layers with Keras's `kernel_initializer`, `recurrent_initializer` and
//! `bias_initializer` ([`RecurrentInitializers`], [`DenseInitializers`]).
//!
//! ```
//! use rnn::cells::LstmCell;
//! use rnn::init::{Initializer, RecurrentInitializers};
//!
//! // Keras: LSTM(16, kernel_initializer="he_normal", recurrent_initializer=Orthogonal(gain=0.5))
//! let lstm = LstmCell::<8, 16>::keras_init_with(7, RecurrentInitializers {
//!     kernel_initializer: Initializer::from_keras_name("he_normal").unwrap(),
//!     recurrent_initializer: Initializer::Orthogonal { gain: 0.5 },
//!     ..RecurrentInitializers::default()
//! });
//! assert_eq!(lstm.bias.unwrap()[1], nalgebra::SVector::<f32, 16>::repeat(1.0)); // unit_forget_bias
//! ```
//!
//! The generator is ChaCha8 (`rand_chacha`): the same seed gives the same weights on every
//! platform and in every release of this crate. The values are not Keras's or PyTorch's own
//! draws (those come from their generators); the distributions are theirs.

mod fans;
mod layers;
mod name;
mod orthogonal;
mod sample;

pub use fans::Fans;
pub use layers::{DenseInitializers, RecurrentInitializers};
pub use name::UnknownInitializer;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::ShapeError;
use crate::real::Real;

/// The seeded random generator every initialiser draws from: ChaCha8, whose stream is the
/// same on every platform. Opaque, so that the generator behind it is not part of the API.
#[derive(Clone, Debug)]
pub struct InitRng(ChaCha8Rng);

/// A generator from a seed.
pub fn rng(seed: u64) -> InitRng {
    InitRng(ChaCha8Rng::seed_from_u64(seed))
}

/// How a weight tensor is filled: Keras's initialisers (`keras.initializers`), with their
/// arguments. The fan-based ones count fans from the tensor's shape in Keras's layout, as
/// [`Fans`] says; `Orthogonal` and `Identity` see it as a matrix
/// `[product of all dimensions but the last, last]` (a vector `[n]` as one row `[1, n]`, where
/// Keras refuses it).
///
/// [`from_keras_name`](Initializer::from_keras_name) gives each by its Keras name, with
/// Keras's default arguments.
///
/// ```
/// use rnn::init::{rng, Initializer};
///
/// // Keras's Dense(3) kernel on 4 inputs: glorot_uniform over [4, 3], limit √(6 / 7).
/// let mut kernel = [0.0f32; 12];
/// Initializer::GlorotUniform.fill(&mut rng(1), &[4, 3], &mut kernel).unwrap();
/// assert!(kernel.iter().all(|w| w.abs() <= (6.0f32 / 7.0).sqrt()));
/// // The same seed, the same bits.
/// let mut again = [0.0f32; 12];
/// Initializer::GlorotUniform.fill(&mut rng(1), &[4, 3], &mut again).unwrap();
/// assert_eq!(kernel, again);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Initializer {
    /// All zeros (Keras's default bias).
    Zeros,
    /// All ones.
    Ones,
    /// Every value `c` (Keras's `Constant(value)`).
    Constant(f64),
    /// `uniform[minval, maxval)` (Keras's default: `±0.05`; its `"uniform"`). Bounds that are
    /// equal, swapped or not finite are not an error: they give what Keras's
    /// `minval + (maxval − minval) · u` gives (a constant, or NaN).
    RandomUniform {
        /// The lower bound.
        minval: f64,
        /// The upper bound.
        maxval: f64,
    },
    /// `normal(mean, stddev)` (Keras's default: `0, 0.05`).
    RandomNormal {
        /// The mean.
        mean: f64,
        /// The standard deviation.
        stddev: f64,
    },
    /// `normal(mean, stddev)` with the draws beyond two standard deviations redrawn (Keras's
    /// default: `0, 0.05`). The values' own standard deviation is `0.88 · stddev`.
    TruncatedNormal {
        /// The mean.
        mean: f64,
        /// The standard deviation before truncation.
        stddev: f64,
    },
    /// Keras's `VarianceScaling`: zero-mean draws whose variance is `scale / n`, `n` the fan
    /// [`mode`](FanMode) picks. The glorot, lecun and he initialisers are its instances.
    VarianceScaling {
        /// The variance times `n`.
        scale: f64,
        /// Which fan `n` is.
        mode: FanMode,
        /// The distribution drawn from.
        distribution: Distribution,
    },
    /// `uniform(±√(6 / (fan_in + fan_out)))` (Keras's default kernel).
    GlorotUniform,
    /// Truncated normal of standard deviation `√(2 / (fan_in + fan_out))`.
    GlorotNormal,
    /// `uniform(±√(3 / fan_in))`.
    LecunUniform,
    /// Truncated normal of standard deviation `√(1 / fan_in)`.
    LecunNormal,
    /// `uniform(±√(6 / fan_in))`.
    HeUniform,
    /// Truncated normal of standard deviation `√(2 / fan_in)`.
    HeNormal,
    /// `gain ·` a (semi-)orthogonal matrix: orthonormal rows when the matrix is wide, columns
    /// when it is tall (Keras's default recurrent kernel has `gain` 1). Drawn as Keras draws it:
    /// the QR decomposition of a standard normal matrix, signs fixed by R's diagonal. Needs the
    /// `alloc` feature; without it, `GlorotUniform` is used.
    Orthogonal {
        /// The factor applied to the orthogonal matrix.
        gain: f64,
    },
    /// `gain ·` the identity matrix, rectangular when the matrix is (Keras's `Identity`).
    Identity {
        /// The value on the diagonal.
        gain: f64,
    },
}

/// Which fan a [`VarianceScaling`](Initializer::VarianceScaling) divides its scale by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FanMode {
    /// The number of inputs, `fan_in`.
    FanIn,
    /// The number of outputs, `fan_out`.
    FanOut,
    /// Their mean, `(fan_in + fan_out) / 2`.
    FanAvg,
}

/// What a [`VarianceScaling`](Initializer::VarianceScaling) draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Distribution {
    /// A normal truncated at two standard deviations, scaled up (by `1 / 0.87962566103423978`)
    /// so that the values have the variance asked for.
    TruncatedNormal,
    /// A normal.
    UntruncatedNormal,
    /// A symmetric uniform, `±√(3 · variance)`.
    Uniform,
}

/// The standard deviation of a standard normal truncated at ±2 (Keras's correction).
const TRUNCATED_STDDEV: f64 = 0.879_625_661_034_239_8;

/// What an initialiser draws for a given shape: every initialiser resolves to one of these.
enum Draw {
    /// Each value on its own.
    Each(Sample),
    /// The tensor as a whole (a matrix).
    Orthogonal {
        gain: f64,
    },
    Identity {
        gain: f64,
    },
}

/// An element-wise draw: each value independent of the others.
#[derive(Clone, Copy)]
enum Sample {
    Constant(f64),
    Uniform { low: f64, high: f64 },
    Normal { mean: f64, stddev: f64 },
    TruncatedNormal { mean: f64, stddev: f64 },
}

impl Initializer {
    /// PyTorch's `uniform(±limit)`: `RandomUniform` over `[−|limit|, |limit|)`.
    pub const fn uniform(limit: f64) -> Initializer {
        let limit = limit.abs();
        Initializer::RandomUniform {
            minval: -limit,
            maxval: limit,
        }
    }

    /// What to draw for a tensor of shape `dims`.
    fn draw(self, dims: &[usize]) -> Draw {
        use {Distribution::*, FanMode::*};
        let fans = Fans::of(dims);
        // The matrix draws return; every other initialiser draws each value on its own.
        Draw::Each(match self {
            Initializer::Zeros => Sample::Constant(0.0),
            Initializer::Ones => Sample::Constant(1.0),
            Initializer::Constant(c) => Sample::Constant(c),
            Initializer::RandomUniform { minval, maxval } => Sample::Uniform {
                low: minval,
                high: maxval,
            },
            Initializer::RandomNormal { mean, stddev } => Sample::Normal { mean, stddev },
            Initializer::TruncatedNormal { mean, stddev } => {
                Sample::TruncatedNormal { mean, stddev }
            }
            Initializer::VarianceScaling {
                scale,
                mode,
                distribution,
            } => variance_scaling(scale, mode, distribution, fans),
            // Keras's definitions of the named ones.
            Initializer::GlorotUniform => variance_scaling(1.0, FanAvg, Uniform, fans),
            Initializer::GlorotNormal => variance_scaling(1.0, FanAvg, TruncatedNormal, fans),
            Initializer::LecunUniform => variance_scaling(1.0, FanIn, Uniform, fans),
            Initializer::LecunNormal => variance_scaling(1.0, FanIn, TruncatedNormal, fans),
            Initializer::HeUniform => variance_scaling(2.0, FanIn, Uniform, fans),
            Initializer::HeNormal => variance_scaling(2.0, FanIn, TruncatedNormal, fans),
            Initializer::Orthogonal { gain } => return Draw::Orthogonal { gain },
            Initializer::Identity { gain } => return Draw::Identity { gain },
        })
    }

    /// Fills `out`, a row-major tensor of shape `dims` in Keras's layout (`[in, out]` for a
    /// kernel: see [`Fans`]).
    ///
    /// # Errors
    /// When `out` does not hold the shape's number of values (or that number overflows a
    /// `usize`); `out` is then left as it was.
    pub fn fill<T: Real>(
        self,
        rng: &mut InitRng,
        dims: &[usize],
        out: &mut [T],
    ) -> Result<(), ShapeError> {
        let mut len = 1usize;
        for &d in dims {
            len = ShapeError::product("initialised tensor", [len, d], out.len())?;
        }
        ShapeError::check_len("initialised tensor", len, out.len())?;
        self.write(rng, dims, &mut |next| {
            out.iter_mut()
                .for_each(|x| *x = nalgebra::convert::<f64, T>(next()))
        });
        Ok(())
    }

    /// Hands `write` the values of a tensor of shape `dims`, row-major, one per call of the
    /// function it is given ([`Tensor::write`](crate::parameters::Tensor::write)'s contract).
    pub(crate) fn write(
        self,
        rng: &mut InitRng,
        dims: &[usize],
        write: &mut dyn FnMut(&mut dyn FnMut() -> f64),
    ) {
        match self.draw(dims) {
            Draw::Orthogonal { gain } => orthogonal::write(rng, matrix(dims), gain, write),
            Draw::Identity { gain } => {
                let [_, cols] = matrix(dims);
                let mut at = 0usize;
                write(&mut || {
                    let on_diagonal = at.checked_div(cols) == Some(at % cols.max(1));
                    at += 1;
                    if on_diagonal {
                        gain
                    } else {
                        0.0
                    }
                })
            }
            Draw::Each(sample) => write(&mut || sample.draw(rng)),
        }
    }

    /// Hands `write` the values of an LSTM bias of `len = 4H` values as Keras builds it with
    /// `unit_forget_bias`: `concat([init([H]), ones([H]), init([2H])])`. Each drawn part is a
    /// tensor of its own shape, so a fan-based initialiser counts that part's fans (`H`, then
    /// `2H`), not the whole bias's. `Orthogonal` and `Identity`, which Keras refuses on a
    /// vector, see the whole bias as one row, the forget block then set to ones.
    pub(crate) fn write_unit_forget_bias(
        self,
        rng: &mut InitRng,
        len: usize,
        write: &mut dyn FnMut(&mut dyn FnMut() -> f64),
    ) {
        let units = len / 4;
        let forget = units..units * 2;
        let mut at = 0usize;
        let mut position = move || {
            let here = at;
            at = at.saturating_add(1);
            here
        };
        match (self.draw(&[units]), self.draw(&[len - units * 2])) {
            (Draw::Each(input), Draw::Each(cell_and_output)) => write(&mut || {
                let here = position();
                if here < forget.start {
                    input.draw(rng)
                } else if forget.contains(&here) {
                    1.0
                } else {
                    cell_and_output.draw(rng)
                }
            }),
            _ => self.write(rng, &[len], &mut |next| {
                write(&mut || {
                    let value = next();
                    if forget.contains(&position()) {
                        1.0
                    } else {
                        value
                    }
                })
            }),
        }
    }
}

impl Sample {
    /// One value.
    fn draw(self, rng: &mut InitRng) -> f64 {
        match self {
            Sample::Constant(c) => c,
            Sample::Uniform { low, high } => sample::uniform(rng, low, high),
            Sample::Normal { mean, stddev } => mean + stddev * sample::normal(rng),
            Sample::TruncatedNormal { mean, stddev } => {
                mean + stddev * sample::truncated_normal(rng)
            }
        }
    }
}

/// Keras's `VarianceScaling`: variance `scale / n`, `n` the fan `mode` picks (at least 1).
fn variance_scaling(scale: f64, mode: FanMode, distribution: Distribution, fans: Fans) -> Sample {
    let (fan_in, fan_out) = (fans.fan_in as f64, fans.fan_out as f64);
    let n = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
        FanMode::FanAvg => (fan_in + fan_out) / 2.0,
    }
    .max(1.0);
    let sqrt = nalgebra::ComplexField::sqrt;
    match distribution {
        Distribution::Uniform => {
            let limit = sqrt(3.0 * scale / n);
            Sample::Uniform {
                low: -limit,
                high: limit,
            }
        }
        Distribution::UntruncatedNormal => Sample::Normal {
            mean: 0.0,
            stddev: sqrt(scale / n),
        },
        Distribution::TruncatedNormal => Sample::TruncatedNormal {
            mean: 0.0,
            stddev: sqrt(scale / n) / TRUNCATED_STDDEV,
        },
    }
}

/// A shape seen as a matrix, as Keras's `Orthogonal` flattens it: `[product of all
/// dimensions but the last, last]`; `[1, n]` for a vector, `[1, 1]` for a scalar.
fn matrix(dims: &[usize]) -> [usize; 2] {
    match dims.split_last() {
        Some((&cols, rows)) => [rows.iter().fold(1usize, |n, &d| n.saturating_mul(d)), cols],
        None => [1, 1],
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_rows_are_orthonormal_when_wide() {
        let (rows, cols) = (4, 16);
        let mut w = vec![0.0f64; rows * cols];
        Initializer::Orthogonal { gain: 1.0 }
            .fill(&mut rng(7), &[rows, cols], &mut w)
            .unwrap();
        for a in 0..rows {
            for b in 0..rows {
                let dot: f64 = (0..cols).map(|j| w[a * cols + j] * w[b * cols + j]).sum();
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-12, "rows {a},{b}: {dot}");
            }
        }
    }

    #[test]
    fn an_empty_tensor_takes_any_initializer() {
        for init in [
            Initializer::Orthogonal { gain: 1.0 },
            Initializer::Identity { gain: 1.0 },
            Initializer::GlorotNormal,
        ] {
            for dims in [&[0, 5][..], &[5, 0], &[0]] {
                init.fill::<f32>(&mut rng(1), dims, &mut []).unwrap();
            }
        }
    }

    #[test]
    fn glorot_stays_within_its_limit_and_seeds_reproduce() {
        let mut a = vec![0.0f32; 5 * 16];
        let mut b = a.clone();
        Initializer::GlorotUniform
            .fill(&mut rng(1), &[5, 16], &mut a)
            .unwrap();
        Initializer::GlorotUniform
            .fill(&mut rng(1), &[5, 16], &mut b)
            .unwrap();
        assert_eq!(a, b);
        let limit = (6.0f32 / 21.0).sqrt();
        assert!(a.iter().all(|x| x.abs() <= limit));
        assert!(
            a.iter().any(|x| x.abs() > limit / 2.0),
            "values spread over the range"
        );
    }
}
