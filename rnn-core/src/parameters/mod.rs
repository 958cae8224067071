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
//! | `SMatrix<T, R, C>` | `[C, R]`: the `W` of `W · x`, from `C` inputs to `R` outputs, as a Keras kernel (`[R]` for a vector) |
//! | `[SVector<T, H>; G]` (gate-block biases) | `[G·H]`, one tensor |
//! | `[SMatrix<T, R, C>; G]` | `[G, C, R]` |
//! | `Vec<SVector<T, D>>` (an embedding table, with `alloc`) | `[n, D]` |
//! | `f32`, `f64` | `[]` |
//!
//! Every 2-D weight is thus `[in, out]`, Keras's layout, whatever its storage: shapes, values
//! (row-major in the shape reported), weight files and [`summary`](Parameters::summary)
//! agree with what Keras reports for the same layer.
//!
//! `Option<P>` has `P`'s parameters when `Some` and none when `None` (Keras's
//! `use_bias=False`); tuples name their members `0`, `1`, …; `Box<P>` is `P`.
//!
//! # The derive
//!
//! ```
//! use rnn::parameters::{Init, Parameters, Scheme};
//! use rnn::cells::GruCell;
//! use rnn::ops::Activation;
//! use rnn::weights::Weights;
//!
//! #[derive(Parameters)]
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
//!   [`Initializer`], the same in every scheme: any of Keras's,
//!   `Initializer::HeNormal`, `Initializer::Orthogonal { gain: 2.0 }`…). On a sub-cell it is the default for those of
//!   its tensors that declare none themselves: the innermost declaration wins. With none
//!   anywhere, a leaf uses its own default (see [`Tensor::default_init`]);
//! - `shape = [d0, d1, …]`: report a leaf under another shape with the same row-major data
//!   (a `kernel_2_3` stored `[2048, 600]` and reported `[64, 32, 20, 30]`, as
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
//! [`Parameters::initialize_overriding`] chooses the initialiser of any tensor by its path, a
//! built-in's inside a model included.

#[doc(hidden)]
#[path = "derive.rs"]
pub mod __private;
mod containers;
mod dtype;
mod init;
mod leaves;
mod path;
mod shape;
mod summary;
mod tensor;

pub use dtype::Dtype;
pub(crate) use init::initialize;
pub use init::{Fill, Init, Scheme, UnknownParameter};
pub use path::Path;
pub use rnn_macros::Parameters;
pub use shape::{Shape, MAX_RANK};
pub use summary::Summary;
pub use tensor::{Leaf, Tensor, Values, ValuesMut};

use crate::init::{InitRng, Initializer};

/// The visitor of [`Parameters::visit`]: called with each tensor's path.
pub type Visitor<'v> = dyn FnMut(&Path<'_>, &dyn Tensor) + 'v;

/// The visitor of [`Parameters::visit_mut`]: called with each tensor's path and the
/// [`Init`] that applies to it.
pub type VisitorMut<'v> = dyn FnMut(&Path<'_>, &mut dyn Tensor, Init) + 'v;

/// The weights of a cell, each a tensor with a path. Derive it: `#[derive(Parameters)]`
/// (see [the module](self)); leaves and the standard containers implement it here.
///
/// ```
/// use rnn::cells::LstmCell;
/// use rnn::parameters::{Parameters, Scheme};
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
        init::initialize::<_, Fill>(self, scheme, rng, &[]);
    }

    /// [`initialize`](Parameters::initialize), with the initialiser of some tensors chosen by
    /// their full path (as [`summary`](Parameters::summary) lists them): what Keras's
    /// `kernel_initializer` and its kin do for a layer, for any tensor of any model. The first
    /// entry for a path applies. The tensors are filled in path order from one stream, so the
    /// same seed and overrides give the same bits.
    ///
    /// ```
    /// use rnn::cells::{Dense, GruCell};
    /// use rnn::init::Initializer;
    /// use rnn::parameters::{Parameters, Scheme};
    ///
    /// #[derive(Parameters)]
    /// struct Decoder {
    ///     gru: GruCell<12, 10>,
    ///     proj: Dense<10, 4>,
    /// }
    ///
    /// let mut decoder = Decoder { gru: GruCell::zeros(), proj: Dense::zeros() };
    /// decoder.initialize_overriding(Scheme::Keras, 42, &[
    ///     ("gru/kernel", Initializer::HeNormal),
    ///     ("proj/bias", Initializer::Constant(0.1)),
    /// ])?;
    /// assert_eq!(decoder.proj.bias.unwrap()[0], 0.1);
    /// // A path that names no tensor is an error, and nothing is changed.
    /// let err = decoder.initialize_overriding(Scheme::Keras, 42, &[("gru/kernal", Initializer::Ones)]);
    /// assert_eq!(err.unwrap_err().path, "gru/kernal");
    /// assert_eq!(decoder.proj.bias.unwrap()[0], 0.1);
    /// # Ok::<(), rnn::parameters::UnknownParameter>(())
    /// ```
    ///
    /// # Errors
    /// [`UnknownParameter`] when a path names no tensor; the tensors are then left as they
    /// were.
    fn initialize_overriding<'p>(
        &mut self,
        scheme: Scheme,
        seed: u64,
        overrides: &[(&'p str, Initializer)],
    ) -> Result<(), UnknownParameter<'p>> {
        if let Some(unknown) = init::unknown_path(self, overrides) {
            return Err(unknown);
        }
        init::initialize(self, scheme, &mut crate::init::rng(seed), overrides);
        Ok(())
    }

    /// A table of every tensor, its shape and parameter count, and the total, like Keras's
    /// `model.summary()`; print it with `{}`. Shapes are in Keras's layout: a kernel, or an
    /// nalgebra matrix `W` of `W · x`, is `[in, out]` (see [the module](self)).
    fn summary(&self) -> Summary<'_, Self> {
        Summary(self)
    }
}
