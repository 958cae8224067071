//! `SimpleRnnCell`: the fully connected (Elman) recurrence `h' = activation(x·W + h·U + b)`.

use nalgebra::SVector;

use super::layout;
use crate::error::WeightError;
use crate::kernels::Rounding;
use crate::ops::Activation;
use crate::real::Real;
use crate::weights::Weights;

/// Keras's `SimpleRNNCell(H)` / PyTorch's `nn.RNN` step, from `I` inputs to `H` units.
/// Its output is its new state.
#[derive(Clone, Debug, PartialEq, crate::Parameters)]
#[parameters(crate = crate)]
pub struct SimpleRnnCell<const I: usize, const H: usize, T: Real = f32> {
    /// `[I, H]`, Keras's `kernel`.
    #[parameters(init = crate::parameters::Init::kernel(H))]
    pub kernel: Weights<T, I, H>,
    /// `[H, H]`, Keras's `recurrent_kernel`.
    #[parameters(init = crate::parameters::Init::recurrent_kernel(H))]
    pub recurrent_kernel: Weights<T, H, H>,
    /// `[H]`; `None` for `use_bias=False`.
    #[parameters(init = crate::parameters::Init::bias(H))]
    pub bias: Option<SVector<T, H>>,
    #[parameters(skip)]
    /// Keras's `activation` (default tanh; PyTorch's `nonlinearity`).
    pub activation: Activation,
}

impl<const I: usize, const H: usize, T: Real> SimpleRnnCell<I, H, T> {
    /// Zero weights, Keras's default configuration.
    pub fn zeros() -> Self {
        SimpleRnnCell {
            kernel: Weights::zeros(),
            recurrent_kernel: Weights::zeros(),
            bias: Some(SVector::zeros()),
            activation: Activation::Tanh,
        }
    }

    /// Keras's default initialisation, reproducible from `seed`: `glorot_uniform` kernel,
    /// `orthogonal` recurrent kernel, zero bias.
    pub fn keras_init(seed: u64) -> Self {
        crate::parameters::Parameters::initialized(
            Self::zeros(),
            crate::parameters::Scheme::Keras,
            seed,
        )
    }

    /// Keras's initialisation with its `kernel_initializer`, `recurrent_initializer` and
    /// `bias_initializer` arguments, reproducible from `seed`; with the defaults, the same
    /// bits as [`keras_init`](Self::keras_init).
    pub fn keras_init_with(seed: u64, initializers: crate::init::RecurrentInitializers) -> Self {
        initializers.initialized(Self::zeros(), seed)
    }

    /// PyTorch's default initialisation, reproducible from `seed`: every weight and bias
    /// `uniform(±1/√H)`.
    pub fn pytorch_init(seed: u64) -> Self {
        crate::parameters::Parameters::initialized(
            Self::zeros(),
            crate::parameters::Scheme::PyTorch,
            seed,
        )
    }

    /// From Keras's `kernel [I, H]`, `recurrent_kernel [H, H]` and `bias [H]` (row-major).
    pub fn from_keras(
        kernel: &[T],
        recurrent_kernel: &[T],
        bias: Option<&[T]>,
    ) -> Result<Self, WeightError> {
        Ok(SimpleRnnCell {
            kernel: layout::keras_kernel("kernel", kernel)?,
            recurrent_kernel: layout::keras_kernel("recurrent_kernel", recurrent_kernel)?,
            bias: bias
                .map(|b| layout::bias::<T, 1, H>("bias", b, &layout::IDENTITY))
                .transpose()?
                .map(|[b]| b),
            activation: Activation::Tanh,
        })
    }

    /// From fixed-size Keras arrays: a wrong shape does not compile.
    pub fn from_keras_arrays(
        kernel: &[[T; H]; I],
        recurrent_kernel: &[[T; H]; H],
        bias: Option<&[T; H]>,
    ) -> Self {
        SimpleRnnCell {
            kernel: layout::keras_kernel_array::<T, I, 1, H, H>(kernel),
            recurrent_kernel: layout::keras_kernel_array::<T, H, 1, H, H>(recurrent_kernel),
            bias: bias.map(|b| SVector::from_column_slice(b)),
            activation: Activation::Tanh,
        }
    }

    /// From PyTorch's `weight_ih [H, I]`, `weight_hh [H, H]`, `bias_ih [H]`, `bias_hh [H]`
    /// (the two biases add up to Keras's one).
    pub fn from_pytorch(
        weight_ih: &[T],
        weight_hh: &[T],
        bias_ih: Option<&[T]>,
        bias_hh: Option<&[T]>,
    ) -> Result<Self, WeightError> {
        Ok(SimpleRnnCell {
            kernel: layout::pytorch_kernel("weight_ih", weight_ih)?,
            recurrent_kernel: layout::pytorch_kernel("weight_hh", weight_hh)?,
            bias: super::pytorch_bias::<T, 1, H>(bias_ih, bias_hh, &layout::IDENTITY)?.map(|[b]| b),
            activation: Activation::Tanh,
        })
    }

    /// Keras's `use_bias`: `false` drops the bias (and the parameters it counts); `true`
    /// restores a zero bias where there was none.
    pub fn with_use_bias(mut self, use_bias: bool) -> Self {
        self.bias = use_bias.then(|| self.bias.unwrap_or_else(SVector::zeros));
        self
    }

    /// Sets the activation (PyTorch's `nonlinearity='relu'` is [`Activation::Relu`]).
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }
}

// Inference only: its backward is derived by hand in `train::cells`.
#[crate::cell(crate = crate, inference)]
impl<const I: usize, const H: usize, T: Real> SimpleRnnCell<I, H, T> {
    fn step(&self, #[input] x: &SVector<T, I>, #[state] h: &mut SVector<T, H>) -> SVector<T, H> {
        crate::with_rounding!(R, lanes = H => self.step_with::<R>(x, h))
    }

    /// `N` steps with the input products computed first, each weight of `kernel` read once
    /// for the chunk: the same bits as `N` steps.
    #[inline(always)]
    fn step_chunk<const N: usize>(
        &self,
        inputs: [&Self::Input; N],
        state: &mut Self::State,
        _: &(),
    ) -> [Self::Output; N] {
        crate::with_rounding!(R, lanes = H => self.kernel.steps_after_projection::<R, N>(
            inputs,
            &self.start(),
            #[inline(always)]
            |z| self.finish_step_with::<R>(z, state),
        ))
    }

    /// Chunks unless the cell is one of the smallest (see `projects_chunk`).
    #[inline(always)]
    fn runs_in_chunks(&self) -> bool {
        super::projects_chunk(I, H, 1, core::mem::size_of::<T>())
    }

    /// The fused layer's kernel, for an `f32` cell.
    #[cfg(feature = "std")]
    fn batched_kernel(&self, run: &mut dyn FnMut(&mut dyn crate::fused::BatchedKernel)) -> bool {
        crate::fused::lower(self, crate::fused::SimpleRnn::<I, H>::new, run)
    }
}

impl<const I: usize, const H: usize, T: Real> SimpleRnnCell<I, H, T> {
    /// The step with its rounding chosen (one entry into the vectorized code per step).
    #[inline(always)]
    fn step_with<R: Rounding>(&self, x: &SVector<T, I>, h: &mut SVector<T, H>) -> SVector<T, H> {
        let mut z = self.start();
        self.kernel.accumulate_with::<R>(x, &mut z);
        self.finish_step_with::<R>(z, h)
    }

    /// Where the sum starts: the bias, or zeros without one.
    #[inline(always)]
    fn start(&self) -> [SVector<T, H>; 1] {
        [self.bias.as_ref().map_or_else(SVector::zeros, |b| *b)]
    }

    /// The step from its input product `z = bias + x·W`: adds `h·U`, then the activation.
    // Out of line in unoptimized builds (see `Kernel::project_chunk_with`).
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn finish_step_with<R: Rounding>(
        &self,
        mut z: [SVector<T, H>; 1],
        h: &mut SVector<T, H>,
    ) -> SVector<T, H> {
        self.recurrent_kernel.accumulate_with::<R>(h, &mut z);
        let [mut z] = z;
        self.activation.apply_with::<R, T, H>(&mut z);
        *h = z;
        z
    }
}
