//! `Dense`: a fully connected layer, `activation(x · W + b)`.

use nalgebra::SVector;

use super::layout;
use crate::error::WeightError;
use crate::kernels::Rounding;
use crate::ops::Activation;
use crate::real::Real;
use crate::weights::Weights;

/// A fully connected layer from `I` to `U` units (Keras's `Dense(U)`), usable on its own
/// ([`forward`](Dense::forward)) or as a stateless cell over a sequence.
///
/// ```
/// use rnn::cells::Dense;
/// use rnn::ops::Activation;
/// use nalgebra::SVector;
///
/// // Keras layout: kernel [I, U] row-major, bias [U].
/// let dense = Dense::<2, 3>::from_keras(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], Some(&[0.5, 0.5, 0.5]))
///     .unwrap()
///     .with_activation(Activation::Relu);
/// let y = dense.forward(&SVector::from([1.0, -1.0]));
/// assert_eq!(y, SVector::from([0.0, 0.0, 0.0]));
/// ```
#[derive(Clone, Debug, PartialEq, crate::Parameters)]
#[parameters(crate = crate)]
pub struct Dense<const I: usize, const U: usize, T: Real = f32> {
    /// `[I, U]`, Keras's `kernel`.
    #[parameters(init = crate::parameters::Init::dense_kernel(I))]
    pub kernel: Weights<T, I, U>,
    /// `[U]`, Keras's `bias`; `None` for `use_bias=False`.
    #[parameters(init = crate::parameters::Init::dense_bias(I))]
    pub bias: Option<SVector<T, U>>,
    /// Applied to `x · W + b`.
    #[parameters(skip)]
    pub activation: Activation,
}

impl<const I: usize, const U: usize, T: Real> Dense<I, U, T> {
    /// Zero weights and bias, linear activation (Keras's `Dense` defaults but for the
    /// initialisers).
    pub fn zeros() -> Self {
        Dense {
            kernel: Weights::zeros(),
            bias: Some(SVector::zeros()),
            activation: Activation::Linear,
        }
    }

    /// Keras's default initialisation, reproducible from `seed`: `glorot_uniform` kernel,
    /// zero bias.
    pub fn keras_init(seed: u64) -> Self {
        crate::parameters::Parameters::initialized(
            Self::zeros(),
            crate::parameters::Scheme::Keras,
            seed,
        )
    }

    /// Keras's initialisation with its `kernel_initializer` and `bias_initializer` arguments,
    /// reproducible from `seed`; with the defaults, the same bits as
    /// [`keras_init`](Self::keras_init).
    pub fn keras_init_with(seed: u64, initializers: crate::init::DenseInitializers) -> Self {
        initializers.initialized(Self::zeros(), seed)
    }

    /// PyTorch's `nn.Linear` initialisation, reproducible from `seed`: weight and bias
    /// `uniform(±1/√I)`.
    pub fn pytorch_init(seed: u64) -> Self {
        crate::parameters::Parameters::initialized(
            Self::zeros(),
            crate::parameters::Scheme::PyTorch,
            seed,
        )
    }

    /// From Keras's `kernel [I, U]` (row-major) and `bias [U]`; `None` for no bias.
    pub fn from_keras(kernel: &[T], bias: Option<&[T]>) -> Result<Self, WeightError> {
        Ok(Dense {
            kernel: layout::keras_kernel("kernel", kernel)?,
            bias: bias
                .map(|b| layout::bias::<T, 1, U>("bias", b, &layout::IDENTITY))
                .transpose()?
                .map(|[b]| b),
            activation: Activation::Linear,
        })
    }

    /// From fixed-size arrays: a kernel of the wrong shape does not compile.
    pub fn from_keras_arrays(kernel: &[[T; U]; I], bias: Option<&[T; U]>) -> Self {
        Dense {
            kernel: layout::keras_kernel_array::<T, I, 1, U, U>(kernel),
            bias: bias.map(|b| SVector::from_column_slice(b)),
            activation: Activation::Linear,
        }
    }

    /// From PyTorch's `nn.Linear`: `weight [U, I]` (row-major) and `bias [U]`.
    pub fn from_pytorch(weight: &[T], bias: Option<&[T]>) -> Result<Self, WeightError> {
        Ok(Dense {
            kernel: layout::pytorch_kernel("weight", weight)?,
            bias: bias
                .map(|b| layout::bias::<T, 1, U>("bias", b, &layout::IDENTITY))
                .transpose()?
                .map(|[b]| b),
            activation: Activation::Linear,
        })
    }

    /// Keras's `use_bias`: `false` drops the bias (and the parameters it counts); `true`
    /// restores a zero bias where there was none.
    pub fn with_use_bias(mut self, use_bias: bool) -> Self {
        self.bias = use_bias.then(|| self.bias.unwrap_or_else(SVector::zeros));
        self
    }

    /// Sets the activation.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// `activation(x · W + b)`. A vector whose length is not `I` is a compile error that
    /// names both sizes ([`LayerInputs`](crate::shape::LayerInputs)).
    #[inline(always)]
    pub fn forward<const K: usize, P>(&self, x: &SVector<T, K>) -> SVector<T, U>
    where
        (): crate::shape::LayerInputs<I, K, P>,
    {
        let x = <() as crate::shape::LayerInputs<I, K, P>>::cast(x);
        crate::with_rounding!(R => self.forward_with::<R>(x))
    }

    /// `forward` with its rounding chosen (one entry into the vectorized code per call).
    #[inline(always)]
    fn forward_with<R: Rounding>(&self, x: &SVector<T, I>) -> SVector<T, U> {
        let mut out = [self.bias.as_ref().map_or_else(SVector::zeros, |b| *b)];
        self.kernel.accumulate_with::<R>(x, &mut out);
        let [mut y] = out;
        self.activation.apply_with::<R, T, U>(&mut y);
        y
    }
}

// Inference only: its backward is derived by hand in `train::cells`.
#[crate::cell(crate = crate, inference)]
impl<const I: usize, const U: usize, T: Real> Dense<I, U, T> {
    /// A dense layer applied at each timestep (Keras's `TimeDistributed(Dense)`).
    fn step(&self, #[input] x: &SVector<T, I>) -> SVector<T, U> {
        self.forward(x)
    }
}
