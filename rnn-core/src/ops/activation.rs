//! Activation functions, named and defined as in Keras 3.

use nalgebra::SVector;

use crate::kernels::{self, Rounding};
use crate::real::Real;

/// An elementwise activation (Keras's `activation=` / `recurrent_activation=` argument).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `tanh(x)`: Keras's default `activation`.
    #[default]
    Tanh,
    /// `1 / (1 + e^-x)`: Keras's default `recurrent_activation`.
    Sigmoid,
    /// Keras 3's `hard_sigmoid`: `relu6(x + 3) / 6`, i.e. `clip(x / 6 + 1/2, 0, 1)`
    /// (Keras 2 used `0.2 x + 0.5`).
    HardSigmoid,
    /// `max(x, 0)`.
    Relu,
    /// The identity: Keras's `None` / `"linear"`.
    Linear,
    /// `e^x_i / Σ_j e^x_j` over the whole vector (Keras's `Dense(..., activation="softmax")`).
    Softmax,
}

impl Activation {
    /// Looks up a Keras activation name (`"tanh"`, `"sigmoid"`, `"hard_sigmoid"`, `"relu"`,
    /// `"linear"`; `None` is `"linear"` too).
    pub fn from_keras(name: &str) -> Option<Self> {
        Some(match name {
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "hard_sigmoid" => Activation::HardSigmoid,
            "relu" => Activation::Relu,
            "linear" | "None" | "none" => Activation::Linear,
            "softmax" => Activation::Softmax,
            _ => return None,
        })
    }

    /// Keras's name of the activation.
    pub fn keras_name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::HardSigmoid => "hard_sigmoid",
            Activation::Relu => "relu",
            Activation::Linear => "linear",
            Activation::Softmax => "softmax",
        }
    }

    /// The activation of every element of `x`, as a new vector.
    #[inline(always)]
    pub fn of<T: Real, const N: usize>(self, x: &SVector<T, N>) -> SVector<T, N> {
        let mut y = *x;
        self.apply(&mut y);
        y
    }

    /// Applies the activation to every element of `v`, in place.
    #[inline(always)]
    pub fn apply<T: Real, const N: usize>(self, v: &mut SVector<T, N>) {
        crate::with_rounding!(R => self.apply_with::<R, T, N>(v))
    }

    /// [`apply`](Activation::apply) with the multiply-adds rounded as `R` says, compiled where
    /// it is called: what a built-in cell's step uses once it has chosen the rounding.
    #[inline(always)]
    pub fn apply_with<R: Rounding, T: Real, const N: usize>(self, v: &mut SVector<T, N>) {
        let xs: &mut [T; N] = v.as_mut_slice().try_into().expect("N values");
        match self {
            Activation::Tanh => kernels::tanh_with::<R, T>(xs),
            Activation::Sigmoid => kernels::sigmoid_with::<R, T>(xs),
            Activation::HardSigmoid => kernels::hard_sigmoid(xs),
            Activation::Relu => kernels::relu(xs),
            Activation::Linear => {}
            Activation::Softmax => kernels::softmax_with::<R, T, N>(xs),
        }
    }

    /// Applies the activation to every element of a slice of any length, in place (the fused
    /// layers' epilogues; the same functions as [`apply`](Activation::apply)).
    #[inline(always)]
    pub fn apply_slice<T: Real>(self, xs: &mut [T]) {
        match self {
            Activation::Tanh => kernels::tanh_slice(xs),
            Activation::Sigmoid => kernels::sigmoid_slice(xs),
            Activation::HardSigmoid => {
                let three = nalgebra::convert::<f64, T>(3.0);
                let six = nalgebra::convert::<f64, T>(6.0);
                for x in xs {
                    *x = (*x + three).clamp(T::zero(), six) / six;
                }
            }
            Activation::Relu => kernels::relu_slice(xs),
            Activation::Linear => {}
            Activation::Softmax => {
                let max = xs
                    .iter()
                    .copied()
                    .fold(T::min_value().unwrap_or(T::zero()), T::max);
                for x in xs.iter_mut() {
                    *x -= max;
                }
                kernels::exp_slice(xs);
                let sum = xs.iter().fold(T::zero(), |s, &x| s + x);
                for x in xs.iter_mut() {
                    *x /= sum;
                }
            }
        }
    }

    /// The activation of one scalar (for tests and for cells that need a single value).
    pub fn scalar<T: Real>(self, x: T) -> T {
        let mut v = SVector::<T, 1>::from([x]);
        self.apply(&mut v);
        v[0]
    }
}
