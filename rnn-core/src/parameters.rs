//! The parameters (weights) of any cell, found by their paths: counting, reading, writing,
//! seeded initialisation and a Keras-like `summary()`.
//!
//! One mechanism serves every cell, built-in or user-written: a *leaf* tensor reports itself
//! at the current [`Path`]; a struct with `#[derive(Parameters)]` visits its fields, each
//! under its name (`decoder/gru/kernel`); sub-cells recurse. Leaves are
//!
//! | type | shape reported |
//! |---|---|
//! | [`Kernel<T, IN, G, H>`](crate::weights::Kernel) | `[IN, G·H]` (Keras's kernel) |
//! | `SMatrix<T, R, C>` | `[R, C]`, row-major (`[R]` for a vector) |
//! | `[SVector<T, H>; G]` (gate-block biases) | `[G·H]`, one tensor |
//! | `[SMatrix<T, R, C>; G]` | `[G, R, C]` |
//! | `Vec<SVector<T, D>>` (an embedding table, with `alloc`) | `[n, D]` |
//! | `f32`, `f64` | `[]` |
//!
//! `Option<P>` has `P`'s parameters when `Some` and none when `None` (Keras's
//! `use_bias=False`); tuples name their members `0`, `1`, …; `Box<P>` is `P`.
//!
//! # The derive
//!
//! ```
//! use rnn_core::parameters::{Init, Parameters, Scheme};
//! use rnn_core::cells::{Activation, GruCell};
//! use rnn_core::weights::Weights;
//!
//! #[derive(Parameters)]
//! #[parameters(crate = rnn_core)]
//! struct Decoder {
//!     gru: GruCell<12, 10>,
//!     /// Initialised as Keras initialises a Dense kernel, PyTorch an `nn.Linear` weight.
//!     #[parameters(init = Init::dense_kernel(18))]
//!     proj: Weights<f32, 18, 10>,
//!     #[parameters(skip)]
//!     activation: Activation,
//! }
//!
//! let mut decoder = Decoder {
//!     gru: GruCell::zeros(),
//!     proj: Weights::zeros(),
//!     activation: Activation::Tanh,
//! };
//! decoder.initialize(Scheme::Keras, 42);
//! // GRU: kernel 12×30, recurrent kernel 10×30, bias 2×30 (reset_after); proj 18×10.
//! assert_eq!(decoder.count_params(), 360 + 300 + 60 + 180);
//! let mut paths = Vec::new();
//! decoder.for_each_parameter(|path, tensor| paths.push(format!("{path} {}", tensor.shape())));
//! assert_eq!(paths, [
//!     "gru/kernel [12, 30]",
//!     "gru/recurrent_kernel [10, 30]",
//!     "gru/bias [2, 30]",
//!     "proj [18, 10]",
//! ]);
//! ```
//!
//! Field attributes, all under `#[parameters(...)]`:
//!
//! - `skip`: not a parameter (activations, flags, sizes);
//! - `rename = "name"`: the path segment (default: the field's name, `0`, `1`… in a tuple
//!   struct);
//! - `flatten`: the field's parameters appear directly under the struct's path, without a
//!   segment of their own (wrappers such as `Stacked`);
//! - `init = expr`: how the field's tensors are initialised, an [`Init`] (or an
//!   [`Initializer`], the same in every scheme). On a sub-cell it is the default for those of
//!   its tensors that declare none themselves: the innermost declaration wins. With none
//!   anywhere, a leaf uses its own default (see [`Tensor::default_init`]);
//! - `shape = [d0, d1, …]`: report a leaf under another shape with the same row-major data
//!   (seed 001's `kernel_2_3` is stored `[2048, 600]` and reported `[64, 32, 20, 30]`, as
//!   Keras holds it); checked when the program is compiled;
//! - `row_of = "name"`: consecutive fields with the same `row_of` are the rows of one tensor,
//!   `[rows, …]` (Keras stores GRU's input and recurrent biases as the two rows of one
//!   `[2, 3H]` bias). A `None` row is left out; a single present row is reported with its own
//!   shape.
//!
//! The container attribute `#[parameters(crate = path)]` names the crate (`rnn_core` inside
//! this workspace; the default is `::rnn`).
//!
//! # Initialisation
//!
//! [`Parameters::initialize`] walks the tensors in path order with one ChaCha8 generator
//! seeded from a `u64`, filling each with its [`Init`] under the chosen [`Scheme`]. The draws
//! are the built-in cells' own: `LstmCell::keras_init(seed)` and
//! `cell.initialize(Scheme::Keras, seed)` give the same bits.

use core::fmt;

use nalgebra::{ComplexField, SMatrix};

use crate::error::ShapeError;
use crate::init::{InitRng, Initializer};
use crate::real::Real;
use crate::weights::Kernel;

pub use rnn_macros::Parameters;

/// The highest rank a [`Shape`] holds.
pub const MAX_RANK: usize = 8;

/// The shape of a tensor, as numpy prints it: `[64, 32, 20, 30]`; `[]` for a scalar.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// The shape of a scalar, `[]`.
    pub const SCALAR: Shape = Shape {
        dims: [0; MAX_RANK],
        rank: 0,
    };

    /// A shape from its dimensions; `None` above [`MAX_RANK`] dimensions.
    pub const fn try_new(dims: &[usize]) -> Option<Shape> {
        if dims.len() > MAX_RANK {
            return None;
        }
        let mut shape = Shape::SCALAR;
        let mut i = 0;
        while i < dims.len() {
            shape.dims[i] = dims[i];
            i += 1;
        }
        shape.rank = dims.len() as u8;
        Some(shape)
    }

    /// A shape from its dimensions, for shapes written in code.
    ///
    /// # Panics
    /// With more than [`MAX_RANK`] dimensions (a constant mistake, caught when the shape is
    /// built in a `const`).
    pub const fn new(dims: &[usize]) -> Shape {
        match Shape::try_new(dims) {
            Some(shape) => shape,
            None => panic!("a Shape has at most MAX_RANK dimensions"),
        }
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..usize::from(self.rank)]
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        usize::from(self.rank)
    }

    /// The number of values (1 for a scalar); `None` when it overflows `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        self.dims()
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// The number of values (1 for a scalar), saturating at `usize::MAX`.
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Whether the shape holds no value (a zero dimension).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[n, dims…]`; `None` when the rank is already [`MAX_RANK`].
    pub fn prepend(&self, n: usize) -> Option<Shape> {
        if self.rank() == MAX_RANK {
            return None;
        }
        let mut shape = Shape::SCALAR;
        shape.dims[0] = n;
        shape.dims[1..=self.rank()].copy_from_slice(self.dims());
        shape.rank = self.rank + 1;
        Some(shape)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The element type of a tensor, named as safetensors names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the names are the documentation: safetensors' dtypes
#[allow(non_camel_case_types)]
pub enum Dtype {
    BOOL,
    U8,
    I8,
    F8_E5M2,
    F8_E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

impl Dtype {
    /// Every dtype, in the order of the list above.
    pub const ALL: [Dtype; 15] = [
        Dtype::BOOL,
        Dtype::U8,
        Dtype::I8,
        Dtype::F8_E5M2,
        Dtype::F8_E4M3,
        Dtype::I16,
        Dtype::U16,
        Dtype::F16,
        Dtype::BF16,
        Dtype::I32,
        Dtype::U32,
        Dtype::F32,
        Dtype::F64,
        Dtype::I64,
        Dtype::U64,
    ];

    /// The name in a safetensors header (`"F32"`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::BOOL => "BOOL",
            Dtype::U8 => "U8",
            Dtype::I8 => "I8",
            Dtype::F8_E5M2 => "F8_E5M2",
            Dtype::F8_E4M3 => "F8_E4M3",
            Dtype::I16 => "I16",
            Dtype::U16 => "U16",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::U64 => "U64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::BOOL | Dtype::U8 | Dtype::I8 | Dtype::F8_E5M2 | Dtype::F8_E4M3 => 1,
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        }
    }

    /// The dtype of a [`Real`] scalar.
    pub fn of<T: Real>() -> Dtype {
        // `Real` is sealed to f32 and f64, so the size tells them apart.
        if core::mem::size_of::<T>() == 4 {
            Dtype::F32
        } else {
            Dtype::F64
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a tensor sits in a cell: its field names from the outermost cell in, joined by `/`
/// when displayed (`decoder/gru/kernel`). Built on the stack as the visit descends, so
/// visiting needs no allocator.
#[derive(Clone, Copy)]
pub struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: &'a str,
}

impl Path<'static> {
    /// The empty path of the outermost cell.
    pub const ROOT: Path<'static> = Path {
        parent: None,
        segment: "",
    };
}

impl<'a> Path<'a> {
    /// This path with one more segment.
    pub fn join<'b>(&'b self, segment: &'b str) -> Path<'b> {
        Path {
            parent: Some(self),
            segment,
        }
    }

    /// Whether this is [`Path::ROOT`].
    pub fn is_root(&self) -> bool {
        self.parent.is_none()
    }

    /// The last segment (`""` for the root).
    pub fn last(&self) -> &'a str {
        self.segment
    }

    /// Calls `f` with each segment, outermost first.
    pub fn for_each_segment(&self, f: &mut dyn FnMut(&str)) {
        if let Some(parent) = self.parent {
            parent.for_each_segment(f);
            f(self.segment);
        }
    }

    /// Whether the path displays as `text`, compared without allocating.
    pub fn matches(&self, text: &str) -> bool {
        self.matches_chars(text.chars())
    }

    /// Whether the path displays as the characters `chars`.
    pub fn matches_chars(&self, chars: impl Iterator<Item = char>) -> bool {
        let mut cmp = CompareWriter {
            rest: chars,
            equal: true,
        };
        let _ = fmt::write(&mut cmp, format_args!("{self}"));
        cmp.equal && cmp.rest.next().is_none()
    }
}

/// A `fmt::Write` that compares what is written against a character sequence.
struct CompareWriter<I> {
    rest: I,
    equal: bool,
}

impl<I: Iterator<Item = char>> fmt::Write for CompareWriter<I> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.equal {
            for c in s.chars() {
                if self.rest.next() != Some(c) {
                    self.equal = false;
                    break;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            if !parent.is_root() {
                fmt::Display::fmt(parent, f)?;
                f.write_str("/")?;
            }
        }
        f.write_str(self.segment)
    }
}

impl fmt::Debug for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

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
    /// Keras's `unit_forget_bias`: zeros, but ones in the second of four gate blocks
    /// (LSTM's `f` in `i f c o`).
    UnitForgetBias,
}

/// How a tensor is initialised under each [`Scheme`]: what Keras and PyTorch would each do
/// with it. Named constructors cover the built-in layers; [`Init::new`] any other pair.
///
/// ```
/// use rnn_core::init::Initializer;
/// use rnn_core::parameters::{Fill, Init, Scheme};
///
/// let init = Init::recurrent_kernel(16);
/// assert_eq!(init.fill(Scheme::Keras), Fill::Initializer(Initializer::Orthogonal));
/// assert_eq!(init.fill(Scheme::PyTorch), Fill::Initializer(Initializer::Uniform(0.25)));
/// // An initialiser is the same in every scheme (Keras's "uniform", seed 001).
/// let uniform: Init = Initializer::Uniform(0.05).into();
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
    Fill::Initializer(Initializer::Uniform(limit))
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
            Fill::Initializer(Initializer::Orthogonal),
            torch_uniform(units),
        )
    }

    /// An RNN bias: zeros / `uniform(±1/√units)`.
    pub fn bias(units: usize) -> Init {
        Init::new(Fill::Initializer(Initializer::Zeros), torch_uniform(units))
    }

    /// An LSTM bias: `unit_forget_bias` / `uniform(±1/√units)`.
    pub fn unit_forget_bias(units: usize) -> Init {
        Init::new(Fill::UnitForgetBias, torch_uniform(units))
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

/// One parameter tensor, whatever its storage: its shape, dtype and values in row-major
/// order. What [`Parameters`] visits hand out.
///
/// Values cross this interface as `f64`, which holds every `f32` exactly: an `f32` cell
/// reads and writes its own bits. [`dyn Tensor`](trait@Tensor) adds checked `f32` slice
/// copies.
pub trait Tensor {
    /// The shape reported (Keras's layout).
    fn shape(&self) -> Shape;

    /// The element type: [`Dtype::F32`] or [`Dtype::F64`].
    fn dtype(&self) -> Dtype;

    /// Calls `f` with every value, row-major.
    fn read(&self, f: &mut dyn FnMut(f64));

    /// Sets every value, row-major, to what `f` returns (called [`Shape::len`] times).
    fn write(&mut self, f: &mut dyn FnMut() -> f64);

    /// Fills the tensor. An [`Initializer`] sees it as a `[rows, cols]` matrix: a kernel
    /// `[IN, G·H]` as itself, a vector `[N]` as `[1, N]`, gate-block biases block by block
    /// as `[1, H]` each, an nalgebra `R × C` matrix through its column-major storage as
    /// `[C, R]` (the transpose: the same distribution, and still orthogonal).
    fn fill(&mut self, fill: Fill, rng: &mut InitRng);

    /// The initialisation used when no `#[parameters(init = …)]` applies: a kernel or
    /// matrix of `H` columns [`Init::kernel(H)`](Init::kernel), a vector or gate-block bias of
    /// `H` units [`Init::bias(H)`](Init::bias).
    fn default_init(&self) -> Init;
}

impl dyn Tensor + '_ {
    /// The number of values.
    pub fn len(&self) -> usize {
        self.shape().len()
    }

    /// Whether the tensor holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the values, row-major, into `out`, which must hold `len()` values.
    pub fn copy_to_f32(&self, out: &mut [f32]) -> Result<(), ShapeError> {
        ShapeError::check_len("parameter buffer", self.len(), out.len())?;
        let mut slots = out.iter_mut();
        self.read(&mut |v| {
            if let Some(slot) = slots.next() {
                *slot = v as f32;
            }
        });
        Ok(())
    }

    /// Sets the values, row-major, from `src`, which must hold `len()` values.
    pub fn copy_from_f32(&mut self, src: &[f32]) -> Result<(), ShapeError> {
        ShapeError::check_len("parameter buffer", self.len(), src.len())?;
        let mut values = src.iter();
        self.write(&mut || values.next().map_or(0.0, |&v| f64::from(v)));
        Ok(())
    }

    /// The values, row-major, as `f32`.
    #[cfg(feature = "alloc")]
    pub fn to_f32_vec(&self) -> alloc::vec::Vec<f32> {
        let mut out = alloc::vec::Vec::with_capacity(self.len());
        self.read(&mut |v| out.push(v as f32));
        out
    }
}

/// A leaf or an `Option` of one: what `#[parameters(shape = …)]` and `row_of` need, a tensor
/// whose length is known when the program is compiled.
pub trait Leaf {
    /// The number of values.
    const LEN: usize;
    /// The tensor (`None` for an absent optional one).
    fn tensor(&self) -> Option<&dyn Tensor>;
    /// The tensor, mutable.
    fn tensor_mut(&mut self) -> Option<&mut dyn Tensor>;
}

impl<L: Leaf> Leaf for Option<L> {
    const LEN: usize = L::LEN;
    fn tensor(&self) -> Option<&dyn Tensor> {
        self.as_ref().and_then(L::tensor)
    }
    fn tensor_mut(&mut self) -> Option<&mut dyn Tensor> {
        self.as_mut().and_then(L::tensor_mut)
    }
}

/// The visitor of [`Parameters::visit`]: called with each tensor's path.
pub type Visitor<'v> = dyn FnMut(&Path<'_>, &dyn Tensor) + 'v;

/// The visitor of [`Parameters::visit_mut`]: called with each tensor's path and the
/// [`Init`] that applies to it.
pub type VisitorMut<'v> = dyn FnMut(&Path<'_>, &mut dyn Tensor, Init) + 'v;

/// The weights of a cell, each a tensor with a path. Derive it: `#[derive(Parameters)]`
/// (see [the module](self)); leaves and the standard containers implement it here.
///
/// ```
/// use rnn_core::cells::LstmCell;
/// use rnn_core::parameters::{Parameters, Scheme};
///
/// let mut lstm = LstmCell::<5, 4>::zeros();
/// assert_eq!(lstm.count_params(), 5 * 16 + 4 * 16 + 16); // as Keras's LSTM(4) on 5 inputs
/// lstm.initialize(Scheme::Keras, 7);
/// assert_eq!(lstm, LstmCell::keras_init(7)); // the cell's own initialiser, same draws
/// let mut bias = [0.0f32; 16];
/// lstm.for_each_parameter(|path, tensor| {
///     if path.matches("bias") {
///         tensor.copy_to_f32(&mut bias).unwrap();
///     }
/// });
/// assert_eq!(bias[4..8], [1.0; 4]); // unit_forget_bias
/// println!("{}", lstm.summary());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `Parameters`",
    label = "not a leaf tensor or a `#[derive(Parameters)]` type",
    note = "derive `Parameters` on the cell; mark fields that are not weights (activations, flags) \
            `#[parameters(skip)]`"
)]
pub trait Parameters {
    /// Calls `f` with every tensor under `path`, in declaration order.
    fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>);

    /// Calls `f` with every tensor under `path`, mutable, with the [`Init`] that applies:
    /// the innermost `#[parameters(init = …)]`, else `init`, else the tensor's default.
    fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>);

    /// The number of scalar parameters (Keras's `count_params()`).
    fn count_params(&self) -> usize {
        let mut n = 0usize;
        self.visit(&Path::ROOT, &mut |_, t| n = n.saturating_add(t.len()));
        n
    }

    /// Calls `f` with every tensor and its path.
    fn for_each_parameter(&self, mut f: impl FnMut(&Path<'_>, &dyn Tensor))
    where
        Self: Sized,
    {
        self.visit(&Path::ROOT, &mut f);
    }

    /// Calls `f` with every tensor, mutable, its path and its [`Init`].
    fn for_each_parameter_mut(&mut self, mut f: impl FnMut(&Path<'_>, &mut dyn Tensor, Init))
    where
        Self: Sized,
    {
        self.visit_mut(&Path::ROOT, None, &mut f);
    }

    /// Fills every tensor with its initialiser under `scheme`, drawing from a ChaCha8
    /// generator seeded with `seed`: the same seed gives the same weights everywhere.
    fn initialize(&mut self, scheme: Scheme, seed: u64) {
        self.initialize_with(scheme, &mut crate::init::rng(seed));
    }

    /// [`initialize`](Parameters::initialize), by value: `LstmCell::zeros().initialized(..)`.
    fn initialized(mut self, scheme: Scheme, seed: u64) -> Self
    where
        Self: Sized,
    {
        self.initialize(scheme, seed);
        self
    }

    /// [`initialize`](Parameters::initialize) from a generator the caller holds (to
    /// initialise several cells from one stream).
    fn initialize_with(&mut self, scheme: Scheme, rng: &mut InitRng) {
        self.visit_mut(&Path::ROOT, None, &mut |_, tensor, init| {
            tensor.fill(init.fill(scheme), rng)
        });
    }

    /// A table of every tensor, its shape and parameter count, and the total, like Keras's
    /// `model.summary()`; print it with `{}`.
    fn summary(&self) -> Summary<'_, Self> {
        Summary(self)
    }
}

/// The table [`Parameters::summary`] displays.
pub struct Summary<'a, P: ?Sized>(&'a P);

/// Counts the characters written.
struct Width(usize);

impl fmt::Write for Width {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.chars().count();
        Ok(())
    }
}

fn width(value: impl fmt::Display) -> usize {
    let mut w = Width(0);
    let _ = fmt::write(&mut w, format_args!("{value}"));
    w.0
}

/// `1234567` as `1,234,567`.
struct Thousands(usize);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = [0u8; 20];
        let mut n = self.0;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut out = [0u8; 27];
        let mut at = 0;
        for i in (0..len).rev() {
            out[at] = digits[i];
            at += 1;
            if i > 0 && i % 3 == 0 {
                out[at] = b',';
                at += 1;
            }
        }
        let text = core::str::from_utf8(&out[..at]).map_err(|_| fmt::Error)?;
        f.pad(text)
    }
}

impl<P: Parameters + ?Sized> fmt::Display for Summary<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const PATH: &str = "Parameter (path)";
        const SHAPE: &str = "Shape";
        const COUNT: &str = "Param #";
        let (mut path_w, mut shape_w, mut count_w) = (PATH.len(), SHAPE.len(), COUNT.len());
        let (mut total, mut bytes) = (0usize, 0usize);
        self.0.visit(&Path::ROOT, &mut |path, t| {
            path_w = path_w.max(width(path));
            shape_w = shape_w.max(width(t.shape()));
            count_w = count_w.max(width(Thousands(t.len())));
            total = total.saturating_add(t.len());
            bytes = bytes.saturating_add(t.len().saturating_mul(t.dtype().size()));
        });
        let rule_w = path_w + shape_w + count_w + 4;
        let line = |f: &mut fmt::Formatter<'_>, c: char| -> fmt::Result {
            for _ in 0..rule_w {
                write!(f, "{c}")?;
            }
            writeln!(f)
        };
        line(f, '_')?;
        writeln!(f, "{PATH:<path_w$}  {SHAPE:<shape_w$}  {COUNT:>count_w$}")?;
        line(f, '=')?;
        let mut result = Ok(());
        self.0.visit(&Path::ROOT, &mut |path, t| {
            if result.is_ok() {
                result = writeln!(
                    f,
                    "{:<path_w$}  {:<shape_w$}  {:>count_w$}",
                    Padded(path),
                    Padded(t.shape()),
                    Thousands(t.len())
                );
            }
        });
        result?;
        line(f, '=')?;
        writeln!(
            f,
            "Total params: {} ({})",
            Thousands(total),
            Bytes(bytes as f64)
        )?;
        line(f, '_')
    }
}

/// Lets a `Display` without padding support be padded (`{:<20}`).
struct Padded<D>(D);

impl<D: fmt::Display> fmt::Display for Padded<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = width(&self.0);
        let pad = f.width().unwrap_or(0).saturating_sub(w);
        let right = matches!(f.align(), Some(fmt::Alignment::Right));
        if right {
            for _ in 0..pad {
                f.write_str(" ")?;
            }
        }
        write!(f, "{}", self.0)?;
        if !right {
            for _ in 0..pad {
                f.write_str(" ")?;
            }
        }
        Ok(())
    }
}

/// A byte count as Keras prints it: `386.00 KB`.
struct Bytes(f64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = ["B", "KB", "MB", "GB", "TB"];
        let mut v = self.0;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < units.len() {
            v /= 1024.0;
            u += 1;
        }
        write!(f, "{v:.2} {}", units[u])
    }
}

// ----------------------------------------------------------------------------- leaves

fn to_f64<T: Real>(x: T) -> f64 {
    nalgebra::try_convert::<T, f64>(x).unwrap_or(f64::NAN)
}

fn from_f64<T: Real>(x: f64) -> T {
    nalgebra::convert::<f64, T>(x)
}

/// Fills `values` (a `[rows, cols]` row-major block) with `fill`. `UnitForgetBias` is
/// applied by the caller, which knows where the gate blocks are.
fn fill_block<T: Real>(fill: Fill, rng: &mut InitRng, rows: usize, cols: usize, values: &mut [T]) {
    match fill {
        Fill::Initializer(init) => init.fill(rng, rows, cols, values),
        Fill::UnitForgetBias => {
            // Four gate blocks over the whole tensor: ones in the second.
            let block = values.len() / 4;
            for (i, v) in values.iter_mut().enumerate() {
                *v = if (block..2 * block).contains(&i) {
                    T::one()
                } else {
                    T::zero()
                };
            }
        }
    }
}

macro_rules! leaf_parameters {
    ([$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> Leaf for $ty {
            const LEN: usize = <Self as LeafLen>::LEN_;
            fn tensor(&self) -> Option<&dyn Tensor> {
                Some(self)
            }
            fn tensor_mut(&mut self) -> Option<&mut dyn Tensor> {
                Some(self)
            }
        }

        impl<$($generics)*> Parameters for $ty {
            fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
                f(path, self)
            }
            fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
                let init = init.unwrap_or_else(|| self.default_init());
                f(path, self, init)
            }
        }
    };
}

/// The compile-time length of a leaf type (a helper so the macro above stays generic).
trait LeafLen {
    const LEN_: usize;
}

macro_rules! scalar_leaf {
    ($($t:ty),*) => {$(
        impl LeafLen for $t {
            const LEN_: usize = 1;
        }
        impl Tensor for $t {
            fn shape(&self) -> Shape {
                Shape::SCALAR
            }
            fn dtype(&self) -> Dtype {
                Dtype::of::<$t>()
            }
            fn read(&self, f: &mut dyn FnMut(f64)) {
                f(f64::from(*self))
            }
            fn write(&mut self, f: &mut dyn FnMut() -> f64) {
                *self = f() as $t;
            }
            fn fill(&mut self, fill: Fill, rng: &mut InitRng) {
                fill_block(fill, rng, 1, 1, core::slice::from_mut(self));
            }
            fn default_init(&self) -> Init {
                Init::bias(1)
            }
        }
        leaf_parameters!([] $t);
    )*};
}
scalar_leaf!(f32, f64);

impl<T: Real, const R: usize, const C: usize> LeafLen for SMatrix<T, R, C> {
    const LEN_: usize = R * C;
}

impl<T: Real, const R: usize, const C: usize> Tensor for SMatrix<T, R, C> {
    fn shape(&self) -> Shape {
        if C == 1 {
            Shape::new(&[R])
        } else {
            Shape::new(&[R, C])
        }
    }
    fn dtype(&self) -> Dtype {
        Dtype::of::<T>()
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        for r in 0..R {
            for c in 0..C {
                f(to_f64(self[(r, c)]));
            }
        }
    }
    fn write(&mut self, f: &mut dyn FnMut() -> f64) {
        for r in 0..R {
            for c in 0..C {
                self[(r, c)] = from_f64(f());
            }
        }
    }
    fn fill(&mut self, fill: Fill, rng: &mut InitRng) {
        // Column-major storage, filled as the row-major `[C, R]` transpose.
        fill_block(fill, rng, C, R, self.as_mut_slice());
    }
    fn default_init(&self) -> Init {
        if C == 1 {
            Init::bias(R)
        } else {
            Init::kernel(C)
        }
    }
}
leaf_parameters!([T: Real, const R: usize, const C: usize] SMatrix<T, R, C>);

impl<T: Real, const R: usize, const C: usize, const G: usize> LeafLen for [SMatrix<T, R, C>; G] {
    const LEN_: usize = G * R * C;
}

impl<T: Real, const R: usize, const C: usize, const G: usize> Tensor for [SMatrix<T, R, C>; G] {
    fn shape(&self) -> Shape {
        if C == 1 {
            Shape::new(&[G * R])
        } else {
            Shape::new(&[G, R, C])
        }
    }
    fn dtype(&self) -> Dtype {
        Dtype::of::<T>()
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        for block in self {
            block.read(f);
        }
    }
    fn write(&mut self, f: &mut dyn FnMut() -> f64) {
        for block in self {
            block.write(f);
        }
    }
    fn fill(&mut self, fill: Fill, rng: &mut InitRng) {
        match fill {
            Fill::Initializer(init) => {
                // Block by block, as the built-in cells draw their biases.
                for block in self {
                    init.fill(rng, C, R, block.as_mut_slice());
                }
            }
            Fill::UnitForgetBias => {
                let per_block = G * R * C / 4;
                let mut i = 0;
                self.write(&mut || {
                    i += 1;
                    if (per_block + 1..=2 * per_block).contains(&i) {
                        1.0
                    } else {
                        0.0
                    }
                });
            }
        }
    }
    fn default_init(&self) -> Init {
        Init::bias(R)
    }
}
leaf_parameters!([T: Real, const R: usize, const C: usize, const G: usize] [SMatrix<T, R, C>; G]);

impl<T: Real, const IN: usize, const G: usize, const H: usize> LeafLen for Kernel<T, IN, G, H> {
    const LEN_: usize = IN * G * H;
}

impl<T: Real, const IN: usize, const G: usize, const H: usize> Tensor for Kernel<T, IN, G, H> {
    fn shape(&self) -> Shape {
        Shape::new(&[IN, G * H])
    }
    fn dtype(&self) -> Dtype {
        Dtype::of::<T>()
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        for &v in self.as_slice() {
            f(to_f64(v));
        }
    }
    fn write(&mut self, f: &mut dyn FnMut() -> f64) {
        for v in self.as_mut_slice() {
            *v = from_f64(f());
        }
    }
    fn fill(&mut self, fill: Fill, rng: &mut InitRng) {
        fill_block(fill, rng, IN, G * H, self.as_mut_slice());
    }
    fn default_init(&self) -> Init {
        Init::kernel(H)
    }
}
leaf_parameters!([T: Real, const IN: usize, const G: usize, const H: usize] Kernel<T, IN, G, H>);

/// A table of rows (an embedding's `[V, D]`): `[n, R]` for vectors, `[n, R, C]` for matrices.
#[cfg(feature = "alloc")]
impl<T: Real, const R: usize, const C: usize> Tensor for alloc::vec::Vec<SMatrix<T, R, C>> {
    fn shape(&self) -> Shape {
        if C == 1 {
            Shape::new(&[self.len(), R])
        } else {
            Shape::new(&[self.len(), R, C])
        }
    }
    fn dtype(&self) -> Dtype {
        Dtype::of::<T>()
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        for row in self {
            row.read(f);
        }
    }
    fn write(&mut self, f: &mut dyn FnMut() -> f64) {
        for row in self {
            row.write(f);
        }
    }
    fn fill(&mut self, fill: Fill, rng: &mut InitRng) {
        // Through one row-major buffer, so the initialiser sees the whole [n, R·C] table.
        let (rows, cols) = (self.len(), R * C);
        let mut values = alloc::vec![T::zero(); rows * cols];
        fill_block(fill, rng, rows, cols, &mut values);
        let mut at = values.into_iter();
        self.write(&mut || at.next().map_or(0.0, to_f64));
    }
    fn default_init(&self) -> Init {
        Init::kernel(R * C)
    }
}

#[cfg(feature = "alloc")]
impl<T: Real, const R: usize, const C: usize> Parameters for alloc::vec::Vec<SMatrix<T, R, C>> {
    fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
        f(path, self)
    }
    fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
        let init = init.unwrap_or_else(|| self.default_init());
        f(path, self, init)
    }
}

// ------------------------------------------------------------------------- containers

impl<P: Parameters> Parameters for Option<P> {
    fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
        if let Some(p) = self {
            p.visit(path, f);
        }
    }
    fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
        if let Some(p) = self {
            p.visit_mut(path, init, f);
        }
    }
}

#[cfg(feature = "alloc")]
impl<P: Parameters + ?Sized> Parameters for alloc::boxed::Box<P> {
    fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
        (**self).visit(path, f);
    }
    fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
        (**self).visit_mut(path, init, f);
    }
}

impl Parameters for () {
    fn visit(&self, _: &Path<'_>, _: &mut Visitor<'_>) {}
    fn visit_mut(&mut self, _: &Path<'_>, _: Option<Init>, _: &mut VisitorMut<'_>) {}
}

macro_rules! tuple_parameters {
    ($($name:ident . $idx:tt),+) => {
        impl<$($name: Parameters),+> Parameters for ($($name,)+) {
            fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
                $(self.$idx.visit(&path.join(stringify!($idx)), f);)+
            }
            fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
                $(self.$idx.visit_mut(&path.join(stringify!($idx)), init, f);)+
            }
        }
    };
}
tuple_parameters!(A.0);
tuple_parameters!(A.0, B.1);
tuple_parameters!(A.0, B.1, C.2);
tuple_parameters!(A.0, B.1, C.2, D.3);
tuple_parameters!(A.0, B.1, C.2, D.3, E.4);
tuple_parameters!(A.0, B.1, C.2, D.3, E.4, F.5);
tuple_parameters!(A.0, B.1, C.2, D.3, E.4, F.5, G.6);
tuple_parameters!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7);

/// What `#[derive(Parameters)]` expands to calls; not a public API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    /// `#[parameters(init = expr)]`: an `Init`, or an `Initializer` for every scheme.
    pub fn init(init: impl Into<Init>) -> Init {
        init.into()
    }

    /// The product of a shape's dimensions, in a `const` check.
    pub const fn product(dims: &[usize]) -> usize {
        let mut n = 1;
        let mut i = 0;
        while i < dims.len() {
            n *= dims[i];
            i += 1;
        }
        n
    }

    /// `a == b`, in a `const` check (a function, so that lints see no `x == x`).
    pub const fn same_len(a: usize, b: usize) -> bool {
        a == b
    }

    /// A leaf reported under another shape (`#[parameters(shape = …)]`).
    pub struct Reshaped<'a> {
        inner: &'a dyn Tensor,
        shape: Shape,
    }

    impl<'a> Reshaped<'a> {
        pub fn new(inner: &'a dyn Tensor, dims: &[usize]) -> Self {
            Reshaped {
                inner,
                shape: Shape::new(dims),
            }
        }
    }

    impl Tensor for Reshaped<'_> {
        fn shape(&self) -> Shape {
            self.shape
        }
        fn dtype(&self) -> Dtype {
            self.inner.dtype()
        }
        fn read(&self, f: &mut dyn FnMut(f64)) {
            self.inner.read(f)
        }
        fn write(&mut self, _: &mut dyn FnMut() -> f64) {
            // Only ever handed out as `&dyn Tensor`, so never called.
        }
        fn fill(&mut self, _: Fill, _: &mut InitRng) {}
        fn default_init(&self) -> Init {
            self.inner.default_init()
        }
    }

    /// A leaf reported under another shape, mutable.
    pub struct ReshapedMut<'a> {
        inner: &'a mut dyn Tensor,
        shape: Shape,
    }

    impl<'a> ReshapedMut<'a> {
        pub fn new(inner: &'a mut dyn Tensor, dims: &[usize]) -> Self {
            ReshapedMut {
                inner,
                shape: Shape::new(dims),
            }
        }
    }

    impl Tensor for ReshapedMut<'_> {
        fn shape(&self) -> Shape {
            self.shape
        }
        fn dtype(&self) -> Dtype {
            self.inner.dtype()
        }
        fn read(&self, f: &mut dyn FnMut(f64)) {
            self.inner.read(f)
        }
        fn write(&mut self, f: &mut dyn FnMut() -> f64) {
            self.inner.write(f)
        }
        fn fill(&mut self, fill: Fill, rng: &mut InitRng) {
            self.inner.fill(fill, rng)
        }
        fn default_init(&self) -> Init {
            self.inner.default_init()
        }
    }

    /// Present rows of a `row_of` group, as one tensor `[rows, …]`.
    pub struct Rows<'r, 'a>(&'r [Option<&'a dyn Tensor>]);

    fn rows_shape<'t>(rows: impl Iterator<Item = &'t (dyn Tensor + 't)>) -> Shape {
        let mut n = 0;
        let mut first = Shape::SCALAR;
        for t in rows {
            if n == 0 {
                first = t.shape();
            }
            n += 1;
        }
        if n == 1 {
            first
        } else {
            // Rank overflow would need a rank-8 row: report the rows flat instead.
            first
                .prepend(n)
                .unwrap_or_else(|| Shape::new(&[n * first.len()]))
        }
    }

    impl Tensor for Rows<'_, '_> {
        fn shape(&self) -> Shape {
            rows_shape(self.0.iter().flatten().copied())
        }
        fn dtype(&self) -> Dtype {
            self.0
                .iter()
                .flatten()
                .next()
                .map_or(Dtype::F32, |t| t.dtype())
        }
        fn read(&self, f: &mut dyn FnMut(f64)) {
            for t in self.0.iter().flatten() {
                t.read(f);
            }
        }
        fn write(&mut self, _: &mut dyn FnMut() -> f64) {
            // Only ever handed out as `&dyn Tensor`, so never called.
        }
        fn fill(&mut self, _: Fill, _: &mut InitRng) {}
        fn default_init(&self) -> Init {
            self.0
                .iter()
                .flatten()
                .next()
                .map_or(Init::bias(0), |t| t.default_init())
        }
    }

    /// Present rows of a `row_of` group, mutable.
    pub struct RowsMut<'r, 'a>(&'r mut [Option<&'a mut dyn Tensor>]);

    impl Tensor for RowsMut<'_, '_> {
        fn shape(&self) -> Shape {
            rows_shape(self.0.iter().flatten().map(|t| &**t))
        }
        fn dtype(&self) -> Dtype {
            self.0
                .iter()
                .flatten()
                .next()
                .map_or(Dtype::F32, |t| t.dtype())
        }
        fn read(&self, f: &mut dyn FnMut(f64)) {
            for t in self.0.iter().flatten() {
                t.read(f);
            }
        }
        fn write(&mut self, f: &mut dyn FnMut() -> f64) {
            for t in self.0.iter_mut().flatten() {
                t.write(f);
            }
        }
        fn fill(&mut self, fill: Fill, rng: &mut InitRng) {
            for t in self.0.iter_mut().flatten() {
                t.fill(fill, rng);
            }
        }
        fn default_init(&self) -> Init {
            self.0
                .iter()
                .flatten()
                .next()
                .map_or(Init::bias(0), |t| t.default_init())
        }
    }

    pub fn visit_rows(path: &Path<'_>, rows: &[Option<&dyn Tensor>], f: &mut Visitor<'_>) {
        if rows.iter().any(Option::is_some) {
            f(path, &Rows(rows));
        }
    }

    pub fn visit_rows_mut(
        path: &Path<'_>,
        rows: &mut [Option<&mut dyn Tensor>],
        init: Option<Init>,
        f: &mut VisitorMut<'_>,
    ) {
        if rows.iter().any(Option::is_some) {
            let mut tensor = RowsMut(rows);
            let init = init.unwrap_or_else(|| tensor.default_init());
            f(path, &mut tensor, init);
        }
    }

    pub fn visit_reshaped_mut(
        path: &Path<'_>,
        tensor: Option<&mut dyn Tensor>,
        dims: &[usize],
        init: Option<Init>,
        f: &mut VisitorMut<'_>,
    ) {
        if let Some(inner) = tensor {
            let mut tensor = ReshapedMut::new(inner, dims);
            let init = init.unwrap_or_else(|| tensor.default_init());
            f(path, &mut tensor, init);
        }
    }

    pub fn visit_reshaped(
        path: &Path<'_>,
        tensor: Option<&dyn Tensor>,
        dims: &[usize],
        f: &mut Visitor<'_>,
    ) {
        if let Some(inner) = tensor {
            f(path, &Reshaped::new(inner, dims));
        }
    }
}
