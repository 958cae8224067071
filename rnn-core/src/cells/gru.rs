//! `GruCell`: gated recurrent unit, gates `z r h` as Keras stores them, both variants.

use nalgebra::SVector;

use super::layout;
use crate::error::{GruWeightError, WeightError};
use crate::kernels::Rounding;
use crate::ops::Activation;
use crate::real::Real;
use crate::weights::Kernel;

/// Keras's `GRUCell(H)` / PyTorch's `nn.GRU` step, from `I` inputs to `H` units.
///
/// With `x·W + b_x` split into `x_z, x_r, x_h` and `σ` the `recurrent_activation`:
/// - `reset_after = true` (Keras 3, PyTorch, cuDNN): `h·U + b_h` split likewise,
///   `z = σ(x_z + h_z)`, `r = σ(x_r + h_r)`, `h̃ = act(x_h + r ⊙ h_h)`;
/// - `reset_after = false` (Keras 2, TF1): `z = σ(x_z + h·U_z)`,
///   `r = σ(x_r + h·U_r)`, `h̃ = act(x_h + (r ⊙ h)·U_h)`;
///
/// and in both `h' = z ⊙ h + (1 − z) ⊙ h̃`, the output.
#[derive(Clone, Debug, PartialEq, crate::Parameters)]
#[parameters(crate = crate)]
pub struct GruCell<const I: usize, const H: usize, T: Real = f32> {
    /// `[I, 3H]`, Keras's `kernel`.
    #[parameters(init = crate::parameters::Init::kernel(H))]
    pub kernel: Kernel<T, I, 3, H>,
    /// `[H, 3H]`, Keras's `recurrent_kernel`.
    #[parameters(init = crate::parameters::Init::recurrent_kernel(H))]
    pub recurrent_kernel: Kernel<T, H, 3, H>,
    /// The input bias `[3H]` (row 0 of Keras's `[2, 3H]` bias when `reset_after`); `None`
    /// for `use_bias=False`.
    #[parameters(row_of = "bias", init = crate::parameters::Init::bias(H))]
    pub bias: Option<[SVector<T, H>; 3]>,
    /// The recurrent bias `[3H]` (row 1 of Keras's `[2, 3H]`); used only with `reset_after`.
    #[parameters(row_of = "bias")]
    pub recurrent_bias: Option<[SVector<T, H>; 3]>,
    /// Keras's `activation` (tanh).
    #[parameters(skip)]
    pub activation: Activation,
    /// Keras's `recurrent_activation` (sigmoid).
    #[parameters(skip)]
    pub recurrent_activation: Activation,
    /// Whether the reset gate applies after the recurrent product (Keras 3 default, PyTorch).
    #[parameters(skip)]
    pub reset_after: bool,
}

impl<const I: usize, const H: usize, T: Real> GruCell<I, H, T> {
    /// Zero weights, Keras 3's default configuration (`reset_after = true`).
    pub fn zeros() -> Self {
        GruCell {
            kernel: Kernel::zeros(),
            recurrent_kernel: Kernel::zeros(),
            bias: Some([SVector::zeros(); 3]),
            recurrent_bias: Some([SVector::zeros(); 3]),
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
            reset_after: true,
        }
    }

    /// Keras's default initialisation, reproducible from `seed`: `glorot_uniform` kernel,
    /// `orthogonal` recurrent kernel, zero biases, `reset_after = true`.
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

    /// From Keras's `kernel [I, 3H]`, `recurrent_kernel [H, 3H]` and `bias` (row-major); the
    /// bias's shape says the variant: `[2, 3H]` (an input and a recurrent row) is
    /// `reset_after = true`, `[3H]` is `false`. Without a bias, `reset_after = true` (Keras 3's
    /// default); [`from_keras_with_reset_after`](Self::from_keras_with_reset_after) says which.
    ///
    /// ```
    /// use rnn::cells::GruCell;
    ///
    /// // Keras 3's GRU(4) on 5 inputs: bias [2, 12].
    /// let gru = GruCell::<5, 4>::from_keras(&[0.1; 60], &[0.2; 48], Some(&[0.0; 24]))?;
    /// assert!(gru.reset_after);
    /// // Keras 2's (reset_after=False): bias [12].
    /// let gru = GruCell::<5, 4>::from_keras(&[0.1; 60], &[0.2; 48], Some(&[0.0; 12]))?;
    /// assert!(!gru.reset_after);
    /// # Ok::<(), rnn::GruWeightError>(())
    /// ```
    ///
    /// # Errors
    /// [`GruWeightError`] naming the expected and found shapes: a kernel of another size, or a
    /// bias that is neither `[2, 3H]` nor `[3H]`.
    pub fn from_keras(
        kernel: &[T],
        recurrent_kernel: &[T],
        bias: Option<&[T]>,
    ) -> Result<Self, GruWeightError> {
        // A bias of neither shape is reported by the checks below, whichever flag this picks.
        let reset_after = bias.is_none_or(|b| b.len() != 3 * H);
        Self::from_keras_with_reset_after(kernel, recurrent_kernel, bias, reset_after)
    }

    /// [`from_keras`](Self::from_keras) with the variant given, as Keras's `reset_after`
    /// argument: needed for a GRU without bias and `reset_after = false`, and a check of the
    /// bias's shape otherwise.
    ///
    /// # Errors
    /// As `from_keras`, and [`GruWeightError::ResetAfter`] when the bias is the other
    /// variant's.
    pub fn from_keras_with_reset_after(
        kernel: &[T],
        recurrent_kernel: &[T],
        bias: Option<&[T]>,
        reset_after: bool,
    ) -> Result<Self, GruWeightError> {
        let kernel = layout::keras_kernel("kernel", kernel)?;
        let recurrent_kernel = layout::keras_kernel("recurrent_kernel", recurrent_kernel)?;
        let (bias, recurrent_bias) = match bias {
            None => (None, None),
            Some(b) if b.len() != 6 * H && b.len() != 3 * H => {
                return Err(GruWeightError::Bias {
                    units: H,
                    found: b.len(),
                })
            }
            Some(b) if (b.len() == 6 * H) != reset_after => {
                return Err(GruWeightError::ResetAfter {
                    reset_after,
                    units: H,
                });
            }
            Some(b) if reset_after => {
                let (input, recurrent) = b.split_at(3 * H);
                (
                    Some(layout::bias("bias", input, &layout::IDENTITY)?),
                    Some(layout::bias("bias", recurrent, &layout::IDENTITY)?),
                )
            }
            Some(b) => (Some(layout::bias("bias", b, &layout::IDENTITY)?), None),
        };
        Ok(GruCell {
            kernel,
            recurrent_kernel,
            bias,
            recurrent_bias,
            reset_after,
            ..Self::zeros()
        })
    }

    /// From fixed-size Keras arrays (`reset_after = false`, one bias row); `G3` must be `3 · H`
    /// or the program does not compile.
    pub fn from_keras_arrays<const G3: usize>(
        kernel: &[[T; G3]; I],
        recurrent_kernel: &[[T; G3]; H],
        bias: Option<&[T; G3]>,
    ) -> Self {
        const { layout::gate_width_matches::<3, H, G3>() };
        GruCell {
            kernel: layout::keras_kernel_array::<T, I, 3, H, G3>(kernel),
            recurrent_kernel: layout::keras_kernel_array::<T, H, 3, H, G3>(recurrent_kernel),
            bias: bias.map(layout::bias_array::<T, 3, H, G3>),
            recurrent_bias: None,
            reset_after: false,
            ..Self::zeros()
        }
    }

    /// From PyTorch's `weight_ih [3H, I]`, `weight_hh [3H, H]`, `bias_ih [3H]`, `bias_hh [3H]`:
    /// gates `r z n` move to Keras's `z r h`; PyTorch's GRU is `reset_after = true`.
    pub fn from_pytorch(
        weight_ih: &[T],
        weight_hh: &[T],
        bias_ih: Option<&[T]>,
        bias_hh: Option<&[T]>,
    ) -> Result<Self, WeightError> {
        let order = layout::pytorch_order(3);
        Ok(GruCell {
            kernel: layout::pytorch_kernel("weight_ih", weight_ih)?,
            recurrent_kernel: layout::pytorch_kernel("weight_hh", weight_hh)?,
            bias: bias_ih
                .map(|b| layout::bias("bias_ih", b, order))
                .transpose()?,
            recurrent_bias: bias_hh
                .map(|b| layout::bias("bias_hh", b, order))
                .transpose()?,
            reset_after: true,
            ..Self::zeros()
        })
    }

    /// Keras's `use_bias`: `false` drops the bias (and the parameters it counts); `true`
    /// restores a zero bias where there was none.
    pub fn with_use_bias(mut self, use_bias: bool) -> Self {
        let zeros = [SVector::zeros(); 3];
        self.bias = use_bias.then(|| self.bias.unwrap_or(zeros));
        self.recurrent_bias =
            (use_bias && self.reset_after).then(|| self.recurrent_bias.unwrap_or(zeros));
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
impl<const I: usize, const H: usize, T: Real> GruCell<I, H, T> {
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
            |x| {
                self.gates_from_with::<R>(x, state);
                *state
            },
        ))
    }

    /// Chunks unless the cell is one of the smallest (see `projects_chunk`).
    #[inline(always)]
    fn runs_in_chunks(&self) -> bool {
        super::projects_chunk(I, H, 3, core::mem::size_of::<T>())
    }

    /// The fused layer's kernel, for an `f32` cell.
    #[cfg(feature = "std")]
    fn batched_kernel(&self, run: &mut dyn FnMut(&mut dyn crate::fused::BatchedKernel)) -> bool {
        crate::fused::lower(self, crate::fused::Gru::<I, H>::new, run)
    }
}

impl<const I: usize, const H: usize, T: Real> GruCell<I, H, T> {
    /// The step with its rounding chosen (one entry into the vectorized code per step).
    #[inline(always)]
    fn step_with<R: Rounding>(&self, x: &SVector<T, I>, h: &mut SVector<T, H>) -> SVector<T, H> {
        self.step_gates_with::<R>(x, h);
        *h
    }

    /// Where every gate's input sum starts: the input bias, or zeros without one.
    #[inline(always)]
    fn start(&self) -> [SVector<T, H>; 3] {
        self.bias.as_ref().map_or([SVector::zeros(); 3], |b| *b)
    }

    /// The step, also returning what it computed on the way: training's forward
    /// (`rnn::train`) keeps it for the backward, and shares the step's bits by calling this.
    #[inline(always)]
    pub(crate) fn step_gates_with<R: Rounding>(
        &self,
        x: &SVector<T, I>,
        h: &mut SVector<T, H>,
    ) -> GruGates<T, H> {
        let mut xs = self.start();
        self.kernel.accumulate_with::<R>(x, &mut xs);
        self.gates_from_with::<R>(xs, h)
    }

    /// The step from its input products `xs = bias + x·W`: the recurrent products (with the
    /// recurrent bias apart when `reset_after`), then the gates.
    // Out of line in unoptimized builds (see `Kernel::project_chunk_with`).
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn gates_from_with<R: Rounding>(
        &self,
        xs: [SVector<T, H>; 3],
        h: &mut SVector<T, H>,
    ) -> GruGates<T, H> {
        let [x_z, x_r, x_h] = xs;
        let (mut z, r, recurrent_candidate, candidate) = if self.reset_after {
            let mut hs = self
                .recurrent_bias
                .as_ref()
                .map_or([SVector::zeros(); 3], |b| *b);
            self.recurrent_kernel.accumulate_with::<R>(h, &mut hs);
            let [h_z, h_r, h_h] = hs;
            let add = |a: &SVector<T, H>, b: &SVector<T, H>| super::zip_units(a, b, |a, b| a + b);
            let mut r = add(&x_r, &h_r);
            self.recurrent_activation.apply_with::<R, T, H>(&mut r);
            let reset = super::zip_units(&r, &h_h, |r, h| r * h);
            (add(&x_z, &h_z), r, h_h, add(&x_h, &reset))
        } else {
            let (mut z, mut r, mut candidate) = (x_z, x_r, x_h);
            self.recurrent_kernel
                .accumulate_gate_with::<R>(0, h, &mut z);
            self.recurrent_kernel
                .accumulate_gate_with::<R>(1, h, &mut r);
            self.recurrent_activation.apply_with::<R, T, H>(&mut r);
            self.recurrent_kernel
                .accumulate_gate_with::<R>(2, &r.component_mul(h), &mut candidate);
            (z, r, SVector::zeros(), candidate)
        };
        self.recurrent_activation.apply_with::<R, T, H>(&mut z);
        let mut candidate = candidate;
        self.activation.apply_with::<R, T, H>(&mut candidate);
        let kept = super::zip_units(&z, h, |z, h| z * h);
        let added = super::zip_units(&z, &candidate, |z, c| (T::one() - z) * c);
        *h = super::zip_units(&kept, &added, |kept, added| kept + added);
        GruGates {
            update: z,
            reset: r,
            candidate,
            recurrent_candidate,
        }
    }
}

/// One GRU step's gates after their activations, and what the reset gate multiplied.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) struct GruGates<T: Real, const H: usize> {
    pub(crate) update: SVector<T, H>,
    pub(crate) reset: SVector<T, H>,
    pub(crate) candidate: SVector<T, H>,
    /// `h·U_h + b_h` with `reset_after` (the reset gate scales it); zeros without.
    pub(crate) recurrent_candidate: SVector<T, H>,
}
