//! `LstmCell`: long short-term memory, gates `i f c o` as Keras stores them.

use nalgebra::SVector;

use super::layout;
use crate::error::WeightError;
use crate::kernels::Rounding;
use crate::ops::Activation;
use crate::real::Real;
use crate::weights::Kernel;

/// Keras's `LSTMCell(H)` / PyTorch's `nn.LSTM` step, from `I` inputs to `H` units.
///
/// With `z = x·W + h·U + b` split into gates `i f c o`:
/// `c' = σ(f) ⊙ c + σ(i) ⊙ act(c̃)`, `h' = σ(o) ⊙ act(c')`, output `h'`, where `σ` is the
/// `recurrent_activation` (sigmoid) and `act` the `activation` (tanh). The states are
/// `h` and `c`, in that order, as Keras returns them.
///
/// ```
/// use rnn::cells::LstmCell;
/// use rnn::{Cell, Rnn};
/// use nalgebra::SVector;
///
/// let cell = LstmCell::<2, 3>::zeros();
/// let run = Rnn::new(cell).run(&[SVector::from([1.0, 2.0])], &());
/// // Zero weights: every gate is σ(0) = 0.5 and the candidate tanh(0) = 0.
/// assert_eq!(run.state.c, SVector::<f32, 3>::zeros());
/// ```
#[derive(Clone, Debug, PartialEq, crate::Parameters)]
#[parameters(crate = crate)]
pub struct LstmCell<const I: usize, const H: usize, T: Real = f32> {
    /// `[I, 4H]`, Keras's `kernel`.
    #[parameters(init = crate::parameters::Init::kernel(H))]
    pub kernel: Kernel<T, I, 4, H>,
    /// `[H, 4H]`, Keras's `recurrent_kernel`.
    #[parameters(init = crate::parameters::Init::recurrent_kernel(H))]
    pub recurrent_kernel: Kernel<T, H, 4, H>,
    /// `[4H]`, Keras's `bias`; `None` for `use_bias=False`.
    #[parameters(init = crate::parameters::Init::unit_forget_bias(H))]
    pub bias: Option<[SVector<T, H>; 4]>,
    /// Keras's `activation` (tanh).
    #[parameters(skip)]
    pub activation: Activation,
    /// Keras's `recurrent_activation` (sigmoid).
    #[parameters(skip)]
    pub recurrent_activation: Activation,
}

/// The state of an [`LstmCell`]: `h` then `c`, as Keras returns `[state_h, state_c]`.
pub type LstmState<const H: usize, T = f32> = LstmCellState<H, T>;

impl<const I: usize, const H: usize, T: Real> LstmCell<I, H, T> {
    /// Zero weights, Keras's default configuration.
    pub fn zeros() -> Self {
        LstmCell {
            kernel: Kernel::zeros(),
            recurrent_kernel: Kernel::zeros(),
            bias: Some([SVector::zeros(); 4]),
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
        }
    }

    /// Keras's default initialisation, reproducible from `seed`: `glorot_uniform` kernel,
    /// `orthogonal` recurrent kernel, zero bias but the forget gate's, which is 1
    /// (`unit_forget_bias=True`).
    pub fn keras_init(seed: u64) -> Self {
        crate::parameters::Parameters::initialized(
            Self::zeros(),
            crate::parameters::Scheme::Keras,
            seed,
        )
    }

    /// Keras's initialisation with its `kernel_initializer`, `recurrent_initializer` and
    /// `bias_initializer` arguments and `unit_forget_bias`, reproducible from `seed`; with the defaults, the same
    /// bits as [`keras_init`](Self::keras_init).
    pub fn keras_init_with(seed: u64, initializers: crate::init::RecurrentInitializers) -> Self {
        initializers.initialized_lstm(Self::zeros(), seed)
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

    /// From Keras's `kernel [I, 4H]`, `recurrent_kernel [H, 4H]` and `bias [4H]` (row-major).
    pub fn from_keras(
        kernel: &[T],
        recurrent_kernel: &[T],
        bias: Option<&[T]>,
    ) -> Result<Self, WeightError> {
        Ok(LstmCell {
            kernel: layout::keras_kernel("kernel", kernel)?,
            recurrent_kernel: layout::keras_kernel("recurrent_kernel", recurrent_kernel)?,
            bias: bias
                .map(|b| layout::bias("bias", b, &layout::IDENTITY))
                .transpose()?,
            ..Self::zeros()
        })
    }

    /// From fixed-size Keras arrays; `G4` must be `4 · H` or the program does not compile.
    pub fn from_keras_arrays<const G4: usize>(
        kernel: &[[T; G4]; I],
        recurrent_kernel: &[[T; G4]; H],
        bias: Option<&[T; G4]>,
    ) -> Self {
        const { layout::gate_width_matches::<4, H, G4>() };
        LstmCell {
            kernel: layout::keras_kernel_array::<T, I, 4, H, G4>(kernel),
            recurrent_kernel: layout::keras_kernel_array::<T, H, 4, H, G4>(recurrent_kernel),
            bias: bias.map(layout::bias_array::<T, 4, H, G4>),
            ..Self::zeros()
        }
    }

    /// From PyTorch's `weight_ih [4H, I]`, `weight_hh [4H, H]`, `bias_ih [4H]`, `bias_hh [4H]`
    /// (gate order `i f g o` equals Keras's; the biases add up).
    pub fn from_pytorch(
        weight_ih: &[T],
        weight_hh: &[T],
        bias_ih: Option<&[T]>,
        bias_hh: Option<&[T]>,
    ) -> Result<Self, WeightError> {
        Ok(LstmCell {
            kernel: layout::pytorch_kernel("weight_ih", weight_ih)?,
            recurrent_kernel: layout::pytorch_kernel("weight_hh", weight_hh)?,
            bias: super::pytorch_bias(bias_ih, bias_hh, &layout::IDENTITY)?,
            ..Self::zeros()
        })
    }

    /// Keras's `use_bias`: `false` drops the bias (and the parameters it counts); `true`
    /// restores a zero bias where there was none.
    pub fn with_use_bias(mut self, use_bias: bool) -> Self {
        self.bias = use_bias.then(|| self.bias.unwrap_or([SVector::zeros(); 4]));
        self
    }

    /// Keras's `unit_forget_bias` (an initialisation option): sets the forget gate's bias to
    /// 1 (`true`, Keras's default) or 0. Call it on a freshly initialised cell; on loaded
    /// weights it overwrites the loaded forget bias.
    pub fn with_unit_forget_bias(mut self, unit_forget_bias: bool) -> Self {
        if let Some(bias) = &mut self.bias {
            bias[1] = SVector::repeat(if unit_forget_bias {
                T::one()
            } else {
                T::zero()
            });
        }
        self
    }

    /// Sets `activation`.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Sets `recurrent_activation`.
    pub fn with_recurrent_activation(mut self, activation: Activation) -> Self {
        self.recurrent_activation = activation;
        self
    }
}

// Inference only: its backward is derived by hand in `train::cells`.
#[crate::cell(crate = crate, inference)]
impl<const I: usize, const H: usize, T: Real> LstmCell<I, H, T> {
    fn step(
        &self,
        #[input] x: &SVector<T, I>,
        #[state] h: &mut SVector<T, H>,
        #[state] c: &mut SVector<T, H>,
    ) -> SVector<T, H> {
        crate::with_rounding!(R, lanes = H => self.step_with::<R>(x, h, c))
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
        let (h, c) = (&mut state.h, &mut state.c);
        crate::with_rounding!(R, lanes = H => self.kernel.steps_after_projection::<R, N>(
            inputs,
            &self.start(),
            #[inline(always)]
            |z| {
                self.gates_from_with::<R>(z, h, c);
                *h
            },
        ))
    }

    /// Chunks unless the cell is one of the smallest (see `projects_chunk`).
    #[inline(always)]
    fn runs_in_chunks(&self) -> bool {
        super::projects_chunk(I, H, 4, core::mem::size_of::<T>())
    }

    /// The fused layer's kernel, for an `f32` cell.
    #[cfg(feature = "std")]
    fn batched_kernel(&self, run: &mut dyn FnMut(&mut dyn crate::fused::BatchedKernel)) -> bool {
        crate::fused::lower(self, crate::fused::Lstm::<I, H>::new, run)
    }
}

impl<const I: usize, const H: usize, T: Real> LstmCell<I, H, T> {
    /// The step with its rounding chosen: one entry into the vectorized code per step rather
    /// than one per product and activation.
    #[inline(always)]
    fn step_with<R: Rounding>(
        &self,
        x: &SVector<T, I>,
        h: &mut SVector<T, H>,
        c: &mut SVector<T, H>,
    ) -> SVector<T, H> {
        self.step_gates_with::<R>(x, h, c);
        *h
    }

    /// Where every gate's sum starts: the bias, or zeros without one.
    #[inline(always)]
    fn start(&self) -> [SVector<T, H>; 4] {
        self.bias.as_ref().map_or([SVector::zeros(); 4], |b| *b)
    }

    /// The step, also returning what it computed on the way: training's forward
    /// (`rnn::train`) keeps it for the backward, and shares the step's bits by calling this.
    #[inline(always)]
    pub(crate) fn step_gates_with<R: Rounding>(
        &self,
        x: &SVector<T, I>,
        h: &mut SVector<T, H>,
        c: &mut SVector<T, H>,
    ) -> LstmGates<T, H> {
        let mut z = self.start();
        self.kernel.accumulate_with::<R>(x, &mut z);
        self.gates_from_with::<R>(z, h, c)
    }

    /// The step from its input products `z = bias + x·W`: adds `h·U`, then the gates.
    // Out of line in unoptimized builds (see `Kernel::project_chunk_with`).
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn gates_from_with<R: Rounding>(
        &self,
        mut z: [SVector<T, H>; 4],
        h: &mut SVector<T, H>,
        c: &mut SVector<T, H>,
    ) -> LstmGates<T, H> {
        // `c'` needs `i f c̃`, `o` only at the end. A narrow step is bound by the chain from
        // state to state, and there `o`'s product and sigmoid, each last in program order, run
        // beside that chain; wider, they measured as slow as what they overlap (the same bits
        // either way).
        let narrow = H <= 16;
        if narrow {
            self.recurrent_kernel
                .accumulate_leading_with::<R, 3>(h, &mut z);
        } else {
            self.recurrent_kernel.accumulate_with::<R>(h, &mut z);
        }
        let [mut i, mut f, mut candidate, mut o] = z;
        self.recurrent_activation.apply_with::<R, T, H>(&mut i);
        self.recurrent_activation.apply_with::<R, T, H>(&mut f);
        if !narrow {
            self.recurrent_activation.apply_with::<R, T, H>(&mut o);
        }
        self.activation.apply_with::<R, T, H>(&mut candidate);
        *c = f.component_mul(c) + i.component_mul(&candidate);
        let mut activated = *c;
        self.activation.apply_with::<R, T, H>(&mut activated);
        if narrow {
            self.recurrent_activation.apply_with::<R, T, H>(&mut o);
        }
        *h = o.component_mul(&activated);
        LstmGates {
            input: i,
            forget: f,
            candidate,
            output: o,
            activated_cell: activated,
        }
    }
}

/// One LSTM step's gates after their activations, and `act(c')`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) struct LstmGates<T: Real, const H: usize> {
    pub(crate) input: SVector<T, H>,
    pub(crate) forget: SVector<T, H>,
    pub(crate) candidate: SVector<T, H>,
    pub(crate) output: SVector<T, H>,
    pub(crate) activated_cell: SVector<T, H>,
}
