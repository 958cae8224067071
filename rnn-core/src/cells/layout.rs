//! Weight layouts of Keras and PyTorch, and the conversion of each into a [`Kernel`].
//!
//! | | kernel (input weights) | recurrent | bias | gate order |
//! |---|---|---|---|---|
//! | Keras | `kernel [I, G·H]` | `recurrent_kernel [H, G·H]` | `bias [G·H]`, GRU `reset_after`: `[2, 3H]` (input row, recurrent row) | LSTM `i f c o`, GRU `z r h` |
//! | PyTorch | `weight_ih [G·H, I]` | `weight_hh [G·H, H]` | `bias_ih [G·H]`, `bias_hh [G·H]` | LSTM `i f g o`, GRU `r z n` |
//!
//! Our kernels use Keras's layout and gate order, so a Keras tensor is copied as it is; a
//! PyTorch one is transposed and its gates reordered (GRU: PyTorch's `r z n` blocks go to
//! positions `1 0 2`). PyTorch's LSTM and SimpleRNN gate orders equal Keras's; its two biases
//! add up to Keras's one, except for GRU, whose `b_hn` sits inside `r ⊙ (W_hn h + b_hn)`
//! exactly as Keras's `reset_after = true` recurrent bias does.

use nalgebra::SVector;

use crate::error::WeightError;
use crate::parameters::Shape;
use crate::real::Real;
use crate::shape::ConstMessage;
use crate::weights::Kernel;

/// Position in Keras's order of each PyTorch gate block, per cell kind.
pub(crate) const IDENTITY: [usize; 4] = [0, 1, 2, 3];
/// PyTorch GRU `r z n` → Keras `z r h`. It swaps two blocks, so it is its own inverse: it
/// also gives the PyTorch block of each Keras position.
pub(crate) const PYTORCH_GRU: [usize; 4] = [1, 0, 2, 3];

/// The gate order of PyTorch's layer with `gates` gate blocks (3: GRU; 4: LSTM; 1: RNN).
pub(crate) fn pytorch_order(gates: usize) -> &'static [usize; 4] {
    if gates == 3 {
        &PYTORCH_GRU
    } else {
        &IDENTITY
    }
}

/// Where Keras's `[j, col]` of a `[rows, G·H]` kernel sits in PyTorch's `[G·H, rows]` weight
/// of `gates` blocks of `units`: the transpose, with the gate blocks reordered. The one
/// statement of the PyTorch layout, for the typed constructors and the weight-file import.
pub(crate) fn pytorch_index(
    gates: usize,
    units: usize,
    rows: usize,
    j: usize,
    col: usize,
) -> usize {
    let (g, k) = (col / units, col % units);
    (pytorch_order(gates)[g] * units + k) * rows + j
}

/// A Keras `[IN, G·H]` row-major kernel.
pub(crate) fn keras_kernel<T: Real, const IN: usize, const G: usize, const H: usize>(
    tensor: &'static str,
    values: &[T],
) -> Result<Kernel<T, IN, G, H>, WeightError> {
    WeightError::check(tensor, Shape::new(&[IN, G * H]), values.len())?;
    Ok(Kernel::from_fn(|j, col| values[j * G * H + col]))
}

/// A PyTorch `[G·H, IN]` row-major weight, transposed, its gate blocks in Keras's order.
pub(crate) fn pytorch_kernel<T: Real, const IN: usize, const G: usize, const H: usize>(
    tensor: &'static str,
    values: &[T],
) -> Result<Kernel<T, IN, G, H>, WeightError> {
    WeightError::check(tensor, Shape::new(&[G * H, IN]), values.len())?;
    Ok(Kernel::from_fn(|j, col| {
        values[pytorch_index(G, H, IN, j, col)]
    }))
}

/// A `[G·H]` bias as `G` gate vectors, its blocks moved to `order[g]` (identity for Keras).
pub(crate) fn bias<T: Real, const G: usize, const H: usize>(
    tensor: &'static str,
    values: &[T],
    order: &[usize; 4],
) -> Result<[SVector<T, H>; G], WeightError> {
    WeightError::check(tensor, Shape::new(&[G * H]), values.len())?;
    let mut out = [SVector::zeros(); G];
    for (g, &to) in order.iter().take(G).enumerate() {
        out[to] = SVector::from_fn(|k, _| values[g * H + k]);
    }
    Ok(out)
}

/// The elementwise sum of two gate-vector biases (PyTorch's `bias_ih + bias_hh`).
pub(crate) fn add<T: Real, const G: usize, const H: usize>(
    a: [SVector<T, H>; G],
    b: [SVector<T, H>; G],
) -> [SVector<T, H>; G] {
    core::array::from_fn(|g| a[g] + b[g])
}

/// Panics (at compile time, where it is called in a `const` block) unless the rows of
/// fixed-size Keras arrays hold `G · H` values. Called first thing by every public
/// `from_keras_arrays` whose width is a free const parameter, so that the error is reported
/// once, and its "while instantiating" note points at the user's call.
pub(crate) const fn gate_width_matches<const G: usize, const H: usize, const GH: usize>() {
    if GH != G * H {
        panic!(
            "{}",
            ConstMessage::new()
                .text("Keras arrays of width ")
                .number(GH)
                .text(", where this cell needs ")
                .number(G)
                .text(" gates × ")
                .number(H)
                .text(" units = ")
                .number(G * H)
                .text(" values per row (Keras kernels are [inputs, gates·units], biases [gates·units])")
                .as_str()
        )
    }
}

/// A Keras kernel given as a fixed-size `[IN][GH]` array; `GH` is `G · H` (the public caller
/// checks it with [`gate_width_matches`]).
pub(crate) fn keras_kernel_array<
    T: Real,
    const IN: usize,
    const G: usize,
    const H: usize,
    const GH: usize,
>(
    values: &[[T; GH]; IN],
) -> Kernel<T, IN, G, H> {
    assert_eq!(GH, G * H, "checked by gate_width_matches");
    Kernel::from_fn(|j, col| values[j][col])
}

/// A bias given as a fixed-size `[GH]` array; `GH` is `G · H` (checked by the caller).
pub(crate) fn bias_array<T: Real, const G: usize, const H: usize, const GH: usize>(
    values: &[T; GH],
) -> [SVector<T, H>; G] {
    assert_eq!(GH, G * H, "checked by gate_width_matches");
    core::array::from_fn(|g| SVector::from_fn(|k, _| values[g * H + k]))
}
