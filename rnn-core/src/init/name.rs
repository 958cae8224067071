//! Initialisers by the names Keras gives them (`kernel_initializer="he_normal"`).

use core::fmt;

use super::{Distribution, FanMode, Initializer};

/// Keras's default arguments, for the names that take some.
const KERAS_DEFAULT_STDDEV: f64 = 0.05;

/// Every name `keras.initializers.get` accepts for the initialisers of this crate: the
/// snake-case name, the class name, and Keras's aliases.
const NAMES: &[(&str, &str, Initializer)] = &[
    ("zeros", "Zeros", Initializer::Zeros),
    ("zero", "Zeros", Initializer::Zeros),
    ("ones", "Ones", Initializer::Ones),
    ("one", "Ones", Initializer::Ones),
    ("constant", "Constant", Initializer::Constant(0.0)),
    (
        "random_uniform",
        "RandomUniform",
        Initializer::uniform(KERAS_DEFAULT_STDDEV),
    ),
    (
        "uniform",
        "RandomUniform",
        Initializer::uniform(KERAS_DEFAULT_STDDEV),
    ),
    (
        "random_normal",
        "RandomNormal",
        Initializer::RandomNormal {
            mean: 0.0,
            stddev: KERAS_DEFAULT_STDDEV,
        },
    ),
    (
        "normal",
        "RandomNormal",
        Initializer::RandomNormal {
            mean: 0.0,
            stddev: KERAS_DEFAULT_STDDEV,
        },
    ),
    (
        "truncated_normal",
        "TruncatedNormal",
        Initializer::TruncatedNormal {
            mean: 0.0,
            stddev: KERAS_DEFAULT_STDDEV,
        },
    ),
    (
        "variance_scaling",
        "VarianceScaling",
        Initializer::VarianceScaling {
            scale: 1.0,
            mode: FanMode::FanIn,
            distribution: Distribution::TruncatedNormal,
        },
    ),
    (
        "glorot_uniform",
        "GlorotUniform",
        Initializer::GlorotUniform,
    ),
    ("glorot_normal", "GlorotNormal", Initializer::GlorotNormal),
    ("lecun_uniform", "LecunUniform", Initializer::LecunUniform),
    ("lecun_normal", "LecunNormal", Initializer::LecunNormal),
    ("he_uniform", "HeUniform", Initializer::HeUniform),
    ("he_normal", "HeNormal", Initializer::HeNormal),
    (
        "orthogonal",
        "Orthogonal",
        Initializer::Orthogonal { gain: 1.0 },
    ),
    ("identity", "Identity", Initializer::Identity { gain: 1.0 }),
];

impl Initializer {
    /// The initialiser Keras names `name` (`"glorot_uniform"`, `"GlorotUniform"`, or an alias
    /// such as `"uniform"`), with Keras's default arguments: `±0.05` for `random_uniform`,
    /// standard deviation `0.05` for `random_normal` and `truncated_normal`, gain 1 for
    /// `orthogonal` and `identity`, 0 for `constant`.
    ///
    /// ```
    /// use rnn::init::Initializer;
    ///
    /// assert_eq!(Initializer::from_keras_name("he_normal"), Ok(Initializer::HeNormal));
    /// assert_eq!(
    ///     Initializer::from_keras_name("Orthogonal"),
    ///     Ok(Initializer::Orthogonal { gain: 1.0 })
    /// );
    /// let err = Initializer::from_keras_name("glorot").unwrap_err();
    /// assert!(err.to_string().starts_with("unknown initializer \"glorot\": expected one of"));
    /// ```
    ///
    /// # Errors
    /// [`UnknownInitializer`] for a name Keras does not give any of these initialisers.
    pub fn from_keras_name(name: &str) -> Result<Initializer, UnknownInitializer<'_>> {
        NAMES
            .iter()
            .find(|(snake, class, _)| name == *snake || name == *class)
            .map(|&(_, _, init)| init)
            .ok_or(UnknownInitializer { found: name })
    }
}

/// A name that is not one of Keras's initialisers (see [`Initializer::from_keras_name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownInitializer<'a> {
    /// The name given.
    pub found: &'a str,
}

impl fmt::Display for UnknownInitializer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown initializer {:?}: expected one of", self.found)?;
        for (i, (snake, _, _)) in NAMES.iter().enumerate() {
            let separator = if i == 0 { " " } else { ", " };
            write!(f, "{separator}{snake}")?;
        }
        write!(f, " (or Keras's class name, such as GlorotUniform)")
    }
}

impl core::error::Error for UnknownInitializer<'_> {}
