//! The built-in cells' backward passes, derived by hand, and the adjoints of the operations
//! their steps are made of (a kernel's product, a bias, an activation).

mod batch_norm;
mod dense;
mod embedding;
mod gru;
mod lstm;
mod simple_rnn;

pub use batch_norm::BatchNormResidual;
pub use dense::DenseResidual;
pub use gru::GruResidual;
pub use lstm::LstmResidual;
pub use simple_rnn::SimpleRnnResidual;

use nalgebra::SVector;

use crate::ops::Activation;
use crate::real::Real;
use crate::train::DropoutMasks;
use crate::weights::Kernel;

/// The adjoint of `z` in `y = activation(z)`, from the output `y` and its adjoint `dy`.
///
/// The derivatives are taken from the outputs, as Keras's and PyTorch's autodiff take them:
/// `tanh' = 1 − y²`, `σ' = y (1 − y)`, Keras 3's `hard_sigmoid' = 1/6` where `0 < y < 1` and `0`
/// where it is clipped, `relu' = [y > 0]`, and softmax's full Jacobian
/// `dz_i = y_i (dy_i − Σ_j y_j dy_j)`.
pub(crate) fn activation_adjoint<T: Real, const N: usize>(
    activation: Activation,
    y: &SVector<T, N>,
    dy: &SVector<T, N>,
) -> SVector<T, N> {
    let one = T::one();
    match activation {
        Activation::Tanh => dy.zip_map(y, |d, y| d * (one - y * y)),
        Activation::Sigmoid => dy.zip_map(y, |d, y| d * y * (one - y)),
        Activation::HardSigmoid => {
            let sixth = nalgebra::convert::<f64, T>(1.0 / 6.0);
            dy.zip_map(y, |d, y| {
                if y > T::zero() && y < one {
                    d * sixth
                } else {
                    T::zero()
                }
            })
        }
        Activation::Relu => dy.zip_map(y, |d, y| if y > T::zero() { d } else { T::zero() }),
        Activation::Linear => *dy,
        Activation::Softmax => {
            let dot = y.dot(dy);
            dy.zip_map(y, |d, y| y * (d - dot))
        }
    }
}

/// The weight gradient of `out[g] += x · W_g` for every gate: `grad[j][g] += x[j] · dz[g]`.
pub(crate) fn add_kernel_gradient<T: Real, const IN: usize, const G: usize, const H: usize>(
    grad: &mut Kernel<T, IN, G, H>,
    x: &SVector<T, IN>,
    dz: &[SVector<T, H>; G],
) {
    grad.add_outer(x, dz);
}

/// The weight gradient of `out += x · W_g` for the one gate `g`.
pub(crate) fn add_gate_gradient<T: Real, const IN: usize, const G: usize, const H: usize>(
    grad: &mut Kernel<T, IN, G, H>,
    g: usize,
    x: &SVector<T, IN>,
    dz: &SVector<T, H>,
) {
    for (row, &x) in grad.rows_mut().iter_mut().zip(x.iter()) {
        for (w, &d) in row[g].iter_mut().zip(dz.iter()) {
            *w += x * d;
        }
    }
}

/// The input adjoint of `out[g] += x · W_g` for every gate: `Σ_g W_g · dz[g]`.
///
/// Four rows at a time ([`rows_dot_lanes`]), each summed as [`dot_lanes`] sums one.
#[inline]
pub(crate) fn kernel_input_adjoint<T: Real, const IN: usize, const G: usize, const H: usize>(
    kernel: &Kernel<T, IN, G, H>,
    dz: &[SVector<T, H>; G],
) -> SVector<T, IN> {
    let mut dx = SVector::<T, IN>::zeros();
    let (quads, rest) = kernel.rows().as_chunks::<4>();
    let (dx_quads, dx_rest) = dx.as_mut_slice().as_chunks_mut::<4>();
    for (dx, rows) in dx_quads.iter_mut().zip(quads) {
        *dx = rows_dot_lanes(rows, dz);
    }
    for (dx, row) in dx_rest.iter_mut().zip(rest) {
        [*dx] = rows_dot_lanes(core::array::from_ref(row), dz);
    }
    dx
}

/// `Σ_g row_r[g] · dz[g]` for each of `R` rows, each row's sum in [`dot_lanes`]'s order (the
/// same bits). One row's eight partial sums are one vector, a chain of dependent additions;
/// the rows' chains are independent, so `R` of them keep the adder busy where one waits on
/// it (the input adjoint of a large kernel ran at the adder's latency).
#[inline(always)]
fn rows_dot_lanes<T: Real, const R: usize, const G: usize, const H: usize>(
    rows: &[[[T; H]; G]; R],
    dz: &[SVector<T, H>; G],
) -> [T; R] {
    let mut lanes = [[T::zero(); 8]; R];
    let mut rest = [T::zero(); R];
    for (g, dz) in dz.iter().enumerate() {
        let (d8, d_rest) = dz.as_slice().as_chunks::<8>();
        for (c, d) in d8.iter().enumerate() {
            for (lanes, row) in lanes.iter_mut().zip(rows) {
                let (w8, _) = row[g].as_chunks::<8>();
                for k in 0..8 {
                    lanes[k] += w8[c][k] * d[k];
                }
            }
        }
        let tail = d8.len() * 8;
        for (i, &d) in d_rest.iter().enumerate() {
            for (rest, row) in rest.iter_mut().zip(rows) {
                *rest += row[g][tail + i] * d;
            }
        }
    }
    let mut sums = [T::zero(); R];
    for ((sum, lanes), rest) in sums.iter_mut().zip(&lanes).zip(rest) {
        let [a, b, c, d, e, f, g, h] = *lanes;
        *sum = ((a + b) + (c + d)) + ((e + f) + (g + h)) + rest;
    }
    sums
}

/// The input adjoint of `out += x · W_g` for the one gate `g`: `W_g · dz`.
pub(crate) fn gate_input_adjoint<T: Real, const IN: usize, const G: usize, const H: usize>(
    kernel: &Kernel<T, IN, G, H>,
    g: usize,
    dz: &SVector<T, H>,
) -> SVector<T, IN> {
    SVector::from_fn(|j, _| dot_lanes([(&kernel.rows()[j][g][..], dz.as_slice())].into_iter()))
}

/// `Σ w·d` over pairs of equally long slices, in eight interleaved partial sums: one running
/// sum is a chain of dependent additions that runs at the adder's latency, eight keep the
/// vector units busy (the backward's input and recurrent adjoints are such sums).
#[inline(always)]
fn dot_lanes<'a, T: Real>(pairs: impl Iterator<Item = (&'a [T], &'a [T])>) -> T {
    let mut lanes = [T::zero(); 8];
    let mut rest = T::zero();
    for (w, d) in pairs {
        let ((w8, w_rest), (d8, d_rest)) = (w.as_chunks::<8>(), d.as_chunks::<8>());
        for (w, d) in w8.iter().zip(d8) {
            for k in 0..8 {
                lanes[k] += w[k] * d[k];
            }
        }
        for (&w, &d) in w_rest.iter().zip(d_rest) {
            rest += w * d;
        }
    }
    let [a, b, c, d, e, f, g, h] = lanes;
    ((a + b) + (c + d)) + ((e + f) + (g + h)) + rest
}

/// Both kernels' rows scaled by the dropout masks, `(x ⊙ m_g)·W_g = x·(m_g ⊙ W_g)`: the
/// inputs' masks on `kernel`, the state's on `recurrent_kernel`, gate by gate.
pub(crate) fn mask_kernels<T: Real, const I: usize, const G: usize, const H: usize>(
    (kernel, recurrent_kernel): (&mut Kernel<T, I, G, H>, &mut Kernel<T, H, G, H>),
    masks: &DropoutMasks,
) {
    scale_rows(kernel, |g, j| masks.input_scale(g, j));
    scale_rows(recurrent_kernel, |g, j| masks.recurrent_scale(g, j));
}

/// Row `j` of gate `g` of `kernel` scaled by `scale(g, j)`.
fn scale_rows<T: Real, const IN: usize, const G: usize, const H: usize>(
    kernel: &mut Kernel<T, IN, G, H>,
    scale: impl Fn(usize, usize) -> T,
) {
    for (j, row) in kernel.rows_mut().iter_mut().enumerate() {
        for (g, gate) in row.iter_mut().enumerate() {
            let s = scale(g, j);
            gate.iter_mut().for_each(|w| *w *= s);
        }
    }
}

/// Adds gate-block adjoints into an optional gate-block bias (none when the cell has none).
pub(crate) fn add_bias_gradient<T: Real, const G: usize, const H: usize>(
    grad: &mut Option<[SVector<T, H>; G]>,
    dz: &[SVector<T, H>; G],
) {
    if let Some(grad) = grad {
        for (b, d) in grad.iter_mut().zip(dz) {
            *b += d;
        }
    }
}

/// A built-in recurrent cell's two backward entry points, around its `gates_backward` (the
/// step's backward up to the adjoint `dz` of its input kernel's products): with the input's
/// adjoint, `dz · Wᵀ`, and without it (see `Differentiable::step_backward_without_input`).
macro_rules! backward_through_input_kernel {
    ($state:ty) => {
        fn step_backward(
            &self,
            input: &SVector<T, I>,
            residual: &Self::Residual,
            d_output: &SVector<T, H>,
            d_state: &mut $state,
            _: &(),
            _: &mut (),
            grads: &mut Self,
        ) -> SVector<T, I> {
            let dz = self.gates_backward(input, residual, d_output, d_state, grads);
            kernel_input_adjoint(&self.kernel, &dz)
        }

        fn step_backward_without_input(
            &self,
            input: &SVector<T, I>,
            residual: &Self::Residual,
            d_output: &SVector<T, H>,
            d_state: &mut $state,
            _: &(),
            _: &mut (),
            grads: &mut Self,
        ) {
            self.gates_backward(input, residual, d_output, d_state, grads);
        }
    };
}
pub(crate) use backward_through_input_kernel;

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel's input adjoint, four rows at a time and the rows left over, is each row's
    /// [`dot_lanes`] bit for bit: sizes with a remainder everywhere (7 rows, 13 units).
    #[test]
    fn the_input_adjoint_sums_each_row_as_one_dot_product() {
        const IN: usize = 7;
        const G: usize = 3;
        const H: usize = 13;
        let value = |a: usize, b: usize| ((a * 31 + b * 17) % 23) as f32 / 7.0 - 1.5;
        let kernel = Kernel::<f32, IN, G, H>::from_fn(value);
        let dz: [SVector<f32, H>; G] =
            core::array::from_fn(|g| SVector::from_fn(|k, _| value(g + 40, k) * 0.3));
        let dx = kernel_input_adjoint(&kernel, &dz);
        for (j, row) in kernel.rows().iter().enumerate() {
            let pairs = row.iter().zip(&dz).map(|(w, d)| (&w[..], d.as_slice()));
            assert_eq!(dx[j].to_bits(), dot_lanes(pairs).to_bits(), "row {j}");
        }
    }
}
