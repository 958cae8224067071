//! How each tensor is initialised: the framework scheme and a tensor's own choice.

use core::fmt;

use nalgebra::ComplexField;

#[cfg(doc)]
use super::Tensor;
use super::{Parameters, Path};
use crate::init::{InitRng, Initializer};

/// Which framework's default initialisers [`Parameters::initialize`] follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Keras: `glorot_uniform` kernels, `orthogonal` recurrent kernels, zero biases, LSTM
    /// forget-gate bias 1 (`unit_forget_bias`).
    Keras,
    /// PyTorch: `uniform(±1/√H)` for every RNN weight and bias; `uniform(±1/√fan_in)` for
    /// an `nn.Linear`.
    PyTorch,
}

/// How one tensor is filled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// By an initialiser, over the tensor as a `[rows, cols]` matrix (see
    /// [`Tensor::fill`]).
    Initializer(Initializer),
    /// Keras's LSTM bias with `unit_forget_bias`: ones in the second of four gate blocks
    /// (the forget gate `f` of `i f c o`), the initialiser's draws over the first block `[H]`
    /// and over the last two `[2H]`, each part a tensor of its own shape as Keras draws it
    /// (so a fan-based initialiser counts `H`, then `2H`). Keras's default is
    /// `UnitForgetBias(Initializer::Zeros)`.
    UnitForgetBias(Initializer),
}

impl From<Initializer> for Fill {
    fn from(init: Initializer) -> Fill {
        Fill::Initializer(init)
    }
}

/// How a tensor is initialised under each [`Scheme`]: what Keras and PyTorch would each do
/// with it. Named constructors cover the built-in layers; [`Init::new`] any other pair.
///
/// ```
/// use rnn::init::Initializer;
/// use rnn::parameters::{Fill, Init, Scheme};
///
/// let init = Init::recurrent_kernel(16);
/// assert_eq!(init.fill(Scheme::Keras), Fill::Initializer(Initializer::Orthogonal { gain: 1.0 }));
/// assert_eq!(init.fill(Scheme::PyTorch), Fill::Initializer(Initializer::uniform(0.25)));
/// // An initialiser is the same in every scheme (Keras's "uniform").
/// let uniform: Init = Initializer::uniform(0.05).into();
/// assert_eq!(uniform.fill(Scheme::PyTorch), uniform.fill(Scheme::Keras));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Init {
    /// What Keras does.
    pub keras: Fill,
    /// What PyTorch does.
    pub pytorch: Fill,
}

fn torch_uniform(n: usize) -> Fill {
    let limit = if n == 0 {
        0.0
    } else {
        ComplexField::sqrt(1.0 / n as f64)
    };
    Fill::Initializer(Initializer::uniform(limit))
}

impl Init {
    /// Keras's way under [`Scheme::Keras`], PyTorch's under [`Scheme::PyTorch`].
    pub const fn new(keras: Fill, pytorch: Fill) -> Init {
        Init { keras, pytorch }
    }

    /// `init` in every scheme.
    pub const fn same(init: Initializer) -> Init {
        Init::new(Fill::Initializer(init), Fill::Initializer(init))
    }

    /// An RNN input kernel of a layer of `units`: `glorot_uniform` / `uniform(±1/√units)`.
    pub fn kernel(units: usize) -> Init {
        Init::new(
            Fill::Initializer(Initializer::GlorotUniform),
            torch_uniform(units),
        )
    }

    /// An RNN recurrent kernel: `orthogonal` / `uniform(±1/√units)`.
    pub fn recurrent_kernel(units: usize) -> Init {
        Init::new(
            Fill::Initializer(Initializer::Orthogonal { gain: 1.0 }),
            torch_uniform(units),
        )
    }

    /// An RNN bias: zeros / `uniform(±1/√units)`.
    pub fn bias(units: usize) -> Init {
        Init::new(Fill::Initializer(Initializer::Zeros), torch_uniform(units))
    }

    /// An LSTM bias: `unit_forget_bias` / `uniform(±1/√units)`.
    pub fn unit_forget_bias(units: usize) -> Init {
        Init::new(
            Fill::UnitForgetBias(Initializer::Zeros),
            torch_uniform(units),
        )
    }

    /// A Dense kernel / `nn.Linear` weight: `glorot_uniform` / `uniform(±1/√fan_in)`.
    pub fn dense_kernel(fan_in: usize) -> Init {
        Init::new(
            Fill::Initializer(Initializer::GlorotUniform),
            torch_uniform(fan_in),
        )
    }

    /// A Dense bias / `nn.Linear` bias: zeros / `uniform(±1/√fan_in)`.
    pub fn dense_bias(fan_in: usize) -> Init {
        Init::new(Fill::Initializer(Initializer::Zeros), torch_uniform(fan_in))
    }

    /// The fill under `scheme`.
    pub fn fill(&self, scheme: Scheme) -> Fill {
        match scheme {
            Scheme::Keras => self.keras,
            Scheme::PyTorch => self.pytorch,
        }
    }
}

impl From<Initializer> for Init {
    fn from(init: Initializer) -> Init {
        Init::same(init)
    }
}

/// Fills every tensor of `params` from `rng`, in path order: with the fill of the first
/// entry of `overrides` whose path is the tensor's, else with its [`Init`] under `scheme`.
pub(crate) fn initialize<P: Parameters + ?Sized, F: Copy + Into<Fill>>(
    params: &mut P,
    scheme: Scheme,
    rng: &mut InitRng,
    overrides: &[(&str, F)],
) {
    params.visit_mut(&Path::ROOT, None, &mut |path, tensor, init| {
        let fill = overrides
            .iter()
            .find(|(at, _)| path.matches(at))
            .map_or(init.fill(scheme), |&(_, fill)| fill.into());
        tensor.fill(fill, rng)
    });
}

/// The first path of `overrides` that names no tensor of `params`.
pub(super) fn unknown_path<'p, P: Parameters + ?Sized>(
    params: &P,
    overrides: &[(&'p str, Initializer)],
) -> Option<UnknownParameter<'p>> {
    overrides.iter().find_map(|&(at, _)| {
        let mut found = false;
        params.visit(&Path::ROOT, &mut |path, _| found |= path.matches(at));
        (!found).then_some(UnknownParameter { path: at })
    })
}

/// A path given to [`Parameters::initialize_overriding`] that names none of the model's
/// tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownParameter<'a> {
    /// The path given.
    pub path: &'a str,
}

impl fmt::Display for UnknownParameter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no parameter at path {:?}: expected the full path of one of the model's tensors, \
             as `summary()` lists them (such as \"kernel\" or \"decoder/gru/recurrent_kernel\")",
            self.path
        )
    }
}

impl core::error::Error for UnknownParameter<'_> {}
