//! PyTorch `state_dict` import: one layer and direction of an `nn.LSTM`, `nn.GRU` or
//! `nn.RNN` into a cell whose parameters are Keras's `kernel`, `recurrent_kernel`, `bias`.

use alloc::format;
use alloc::string::String;

use super::error::WeightFileError;
use super::{fits, TensorView, WeightFile};
use crate::cells::layout::pytorch_index;
use crate::cells::{GruCell, LstmCell, SimpleRnnCell};
use crate::parameters::{Dtype, Parameters, Path, Shape};
use crate::real::Real;

/// A cell that one layer and direction of a PyTorch `nn.LSTM`, `nn.GRU` or `nn.RNN` loads
/// into with [`WeightFile::import_torch`]: the built-in [`LstmCell`], [`GruCell`] and
/// [`SimpleRnnCell`].
///
/// A cell whose parameters are `kernel [I, G·H]`, `recurrent_kernel [H, G·H]` and optionally
/// `bias` can implement it too (the method has a default). A stack, a dense layer or a
/// bidirectional pair is not one layer and direction: import its cells one by one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not take a PyTorch recurrent layer",
    label = "expected a built-in `LstmCell`, `GruCell` or `SimpleRnnCell`",
    note = "`import_torch` fills one cell from one layer and direction of an `nn.LSTM`, `nn.GRU` \
            or `nn.RNN`: import a stack or a bidirectional pair cell by cell"
)]
pub trait TorchCell: Parameters {
    /// `Err` when the cell is a variant that computes something else than PyTorch's layer
    /// from the same weights (the parameters' shapes cannot always tell: a GRU with
    /// `reset_after = false` and no bias has the shapes of PyTorch's GRU without bias).
    fn torch_variant(&self) -> Result<(), WeightFileError> {
        Ok(())
    }
}

impl<const I: usize, const H: usize, T: Real> TorchCell for LstmCell<I, H, T> {}

impl<const I: usize, const H: usize, T: Real> TorchCell for SimpleRnnCell<I, H, T> {}

impl<const I: usize, const H: usize, T: Real> TorchCell for GruCell<I, H, T> {
    fn torch_variant(&self) -> Result<(), WeightFileError> {
        if self.reset_after {
            return Ok(());
        }
        Err(WeightFileError::WrongVariant {
            cell: "GruCell",
            expected: "reset_after = true (PyTorch's GRU applies the reset gate after the \
                       recurrent product)",
            found: "reset_after = false",
        })
    }
}

/// Which layer of a PyTorch recurrent module to import: `weight_ih_l{layer}`… with
/// `_reverse` for the backward direction of a bidirectional module, each name after
/// `prefix` (the module's name in a bigger model's `state_dict`, as `"encoder.lstm."`).
///
/// ```
/// use rnn::weight_file::TorchLayer;
///
/// let layer = TorchLayer::new(1).reverse().with_prefix("encoder.");
/// assert_eq!(layer.name("weight_ih"), "encoder.weight_ih_l1_reverse");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TorchLayer<'p> {
    /// Prepended to every name.
    pub prefix: &'p str,
    /// The layer index `k` of `_l{k}`.
    pub layer: usize,
    /// Whether to take the `_reverse` direction.
    pub reverse: bool,
}

impl TorchLayer<'static> {
    /// The forward direction of layer `layer`, no prefix.
    pub const fn new(layer: usize) -> Self {
        TorchLayer {
            prefix: "",
            layer,
            reverse: false,
        }
    }
}

impl<'p> TorchLayer<'p> {
    /// The backward (`_reverse`) direction.
    pub const fn reverse(self) -> Self {
        TorchLayer {
            reverse: true,
            ..self
        }
    }

    /// Names preceded by `prefix`.
    pub const fn with_prefix(self, prefix: &str) -> TorchLayer<'_> {
        TorchLayer {
            prefix,
            layer: self.layer,
            reverse: self.reverse,
        }
    }

    /// The full name of `base` (`"weight_ih"`) in this layer.
    pub fn name(&self, base: &str) -> String {
        let reverse = if self.reverse { "_reverse" } else { "" };
        format!("{}{base}_l{}{reverse}", self.prefix, self.layer)
    }
}

/// The cell's side: the shapes of its three parameters.
struct Target {
    kernel: Shape,
    recurrent: Shape,
    bias: Option<Shape>,
}

/// How the cell's bias is made from PyTorch's two.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BiasLayout {
    /// `bias_ih + bias_hh` (LSTM, RNN).
    Sum,
    /// `[bias_ih; bias_hh]`, `[2, G·H]` (GRU, `reset_after`).
    Rows,
}

impl<'a> WeightFile<'a> {
    /// Imports one layer and direction of a PyTorch `nn.LSTM`, `nn.GRU` or `nn.RNN` into
    /// `cell`, a built-in [`LstmCell`], [`GruCell`] (`reset_after`, as PyTorch's GRU is) or
    /// [`SimpleRnnCell`] (any [`TorchCell`]).
    ///
    /// The gate count `G` comes from the cell: 3 reorders GRU gates; the bias is
    /// `bias_ih + bias_hh` when the cell's is `[G·H]`, the rows `[bias_ih; bias_hh]` when it
    /// is `[2, G·H]` (GRU's `reset_after`, which is what PyTorch computes). A module saved with
    /// `bias=False` loads zero biases. Checks everything first: on an error the cell is
    /// unchanged; a value the cell's scalar cannot hold is an error. Only the cell's
    /// activations are not in the file: PyTorch's
    /// `nonlinearity='relu'` needs `with_activation(Activation::Relu)`.
    ///
    /// ```
    /// use rnn::cells::GruCell;
    /// use rnn::weight_file::{TorchLayer, WeightFile};
    ///
    /// // The state_dict of nn.GRU(3, 2, bidirectional=True) saved by safetensors (here built
    /// // by hand: every value is its own index).
    /// let mut tensors = Vec::new();
    /// for sfx in ["_l0", "_l0_reverse"] {
    ///     tensors.push((format!("weight_ih{sfx}"), vec![6, 3]));
    ///     tensors.push((format!("weight_hh{sfx}"), vec![6, 2]));
    ///     tensors.push((format!("bias_ih{sfx}"), vec![6]));
    ///     tensors.push((format!("bias_hh{sfx}"), vec![6]));
    /// }
    /// let bytes = safetensors_of(&tensors);
    /// let file = WeightFile::parse(&bytes).unwrap();
    /// let (mut forward, mut backward) = (GruCell::<3, 2>::zeros(), GruCell::<3, 2>::zeros());
    /// file.import_torch(&mut forward, TorchLayer::new(0)).unwrap();
    /// file.import_torch(&mut backward, TorchLayer::new(0).reverse()).unwrap();
    /// // weight_ih [6, 3] (r z n) → kernel [3, 6] (z r h): kernel[0][z, k] = weight_ih[2 + k, 0].
    /// assert_eq!(forward.kernel.rows()[0][0], [6.0, 9.0]);
    /// // bias_hh becomes the recurrent row of Keras's [2, 6] bias, reordered the same way.
    /// assert_eq!(forward.recurrent_bias.unwrap()[1].as_slice(), [0.0, 1.0]);
    /// # fn safetensors_of(tensors: &[(String, Vec<usize>)]) -> Vec<u8> {
    /// #     let (mut header, mut data) = (String::from("{"), Vec::new());
    /// #     for (i, (name, shape)) in tensors.iter().enumerate() {
    /// #         let n: usize = shape.iter().product();
    /// #         let sep = if i > 0 { "," } else { "" };
    /// #         header += &format!("{sep}\"{name}\":{{\"dtype\":\"F32\",\"shape\":{shape:?},\"data_offsets\":[{},{}]}}", data.len(), data.len() + 4 * n);
    /// #         data.extend((0..n).flat_map(|v| (v as f32).to_le_bytes()));
    /// #     }
    /// #     header.push('}');
    /// #     let mut out = (header.len() as u64).to_le_bytes().to_vec();
    /// #     out.extend(header.bytes());
    /// #     out.extend(data);
    /// #     out
    /// # }
    /// ```
    pub fn import_torch<P: TorchCell + ?Sized>(
        &self,
        cell: &mut P,
        layer: TorchLayer<'_>,
    ) -> Result<(), WeightFileError> {
        cell.torch_variant()?;
        let names = [
            layer.name("weight_ih"),
            layer.name("weight_hh"),
            layer.name("bias_ih"),
            layer.name("bias_hh"),
        ];
        let target = target(cell)?;
        let not_a_layer = || WeightFileError::NotTorchCell {
            found: format!(
                "`kernel` {} and `recurrent_kernel` {}",
                target.kernel, target.recurrent
            ),
        };
        let (&[inputs, gh], &[units, gh2]) = (target.kernel.dims(), target.recurrent.dims()) else {
            return Err(not_a_layer());
        };
        if gh2 != gh || units == 0 || gh % units != 0 {
            return Err(not_a_layer());
        }
        let gates = gh / units;
        let dtype = cell_dtype(cell);
        let get = |i: usize, shape: Shape| -> Result<Option<TensorView<'_>>, WeightFileError> {
            match self.get(&names[i]) {
                None => Ok(None),
                Some(view) => view.check(&names[i], shape, dtype).map(|()| Some(view)),
            }
        };
        let missing = |i: usize, shape: Shape| WeightFileError::Missing {
            tensor: names[i].clone(),
            expected: shape,
        };
        let w_ih_shape = Shape::new(&[gh, inputs]);
        let w_hh_shape = Shape::new(&[gh, units]);
        let bias_shape = Shape::new(&[gh]);
        let w_ih = get(0, w_ih_shape)?.ok_or_else(|| missing(0, w_ih_shape))?;
        let w_hh = get(1, w_hh_shape)?.ok_or_else(|| missing(1, w_hh_shape))?;
        let b_ih = get(2, bias_shape)?;
        let b_hh = get(3, bias_shape)?;
        let layout = match target.bias {
            None => {
                if b_ih.is_some() || b_hh.is_some() {
                    let i = if b_ih.is_some() { 2 } else { 3 };
                    return Err(WeightFileError::Unexpected {
                        tensor: names[i].clone(),
                    });
                }
                BiasLayout::Sum
            }
            Some(shape) => {
                let (layout, expected, holds) = if gates == 3 {
                    let holds = "PyTorch's input and recurrent biases";
                    (BiasLayout::Rows, Shape::new(&[2, gh]), holds)
                } else {
                    (BiasLayout::Sum, bias_shape, "PyTorch's two biases, summed")
                };
                if shape != expected {
                    return Err(WeightFileError::WrongCellShape {
                        parameter: "bias".into(),
                        expected,
                        found: shape,
                        holds,
                    });
                }
                layout
            }
        };
        // A sum of two values the scalar holds may not be one.
        if let (BiasLayout::Sum, Some(ih), Some(hh)) = (layout, &b_ih, &b_hh) {
            let name = format!("{} + {}", names[2], names[3]);
            fits(
                &name,
                ih.values().zip(hh.values()).map(|(a, b)| a + b),
                dtype,
            )?;
        }

        // Everything checked: write. `value` cannot fail on a checked shape; 0.0 otherwise.
        let at = |view: &TensorView<'_>, i: usize| view.value(i).unwrap_or(0.0);
        cell.visit_mut(&Path::ROOT, None, &mut |path, tensor, _| {
            let (view, rows) = match role(path) {
                Some(Role::Kernel) => (Some(&w_ih), inputs),
                Some(Role::Recurrent) => (Some(&w_hh), units),
                Some(Role::Bias) => (None, 0),
                None => return,
            };
            let mut i = 0usize;
            match view {
                // Ours is [rows, G·H] row-major; PyTorch's [G·H, rows], gates reordered.
                Some(view) => tensor.write(&mut || {
                    let (j, col) = (i / gh, i % gh);
                    i += 1;
                    at(view, pytorch_index(gates, units, rows, j, col))
                }),
                None => tensor.write(&mut || {
                    let (row, col) = (i / gh, i % gh);
                    // A bias is one row of a weight: its index there with `rows = 1`.
                    let idx = pytorch_index(gates, units, 1, 0, col);
                    i += 1;
                    let ih = b_ih.as_ref().map_or(0.0, |b| at(b, idx));
                    let hh = b_hh.as_ref().map_or(0.0, |b| at(b, idx));
                    match (layout, row) {
                        (BiasLayout::Sum, _) => ih + hh,
                        (BiasLayout::Rows, 0) => ih,
                        (BiasLayout::Rows, _) => hh,
                    }
                }),
            }
        });
        Ok(())
    }
}

enum Role {
    Kernel,
    Recurrent,
    Bias,
}

/// Which of the three parameters a PyTorch layer fills `path` is (the whole path: a stack's
/// `0/kernel` is none of them).
fn role(path: &Path<'_>) -> Option<Role> {
    [
        ("kernel", Role::Kernel),
        ("recurrent_kernel", Role::Recurrent),
        ("bias", Role::Bias),
    ]
    .into_iter()
    .find_map(|(name, role)| path.matches(name).then_some(role))
}

/// The shapes of the cell's `kernel`, `recurrent_kernel` and `bias`; an error for any
/// other parameter, which a PyTorch layer cannot fill.
fn target<P: Parameters + ?Sized>(cell: &P) -> Result<Target, WeightFileError> {
    let (mut kernel, mut recurrent, mut bias, mut other) = (None, None, None, None);
    cell.visit(&Path::ROOT, &mut |path, tensor| {
        let slot = match role(path) {
            Some(Role::Kernel) => &mut kernel,
            Some(Role::Recurrent) => &mut recurrent,
            Some(Role::Bias) => &mut bias,
            None => {
                other.get_or_insert_with(|| format!("a parameter `{path}`"));
                return;
            }
        };
        *slot = Some(tensor.shape());
    });
    if let Some(found) = other {
        return Err(WeightFileError::NotTorchCell { found });
    }
    match (kernel, recurrent) {
        (Some(kernel), Some(recurrent)) => Ok(Target {
            kernel,
            recurrent,
            bias,
        }),
        (None, _) => Err(WeightFileError::NotTorchCell {
            found: "no `kernel`".into(),
        }),
        (_, None) => Err(WeightFileError::NotTorchCell {
            found: "no `recurrent_kernel`".into(),
        }),
    }
}

fn cell_dtype<P: Parameters + ?Sized>(cell: &P) -> Dtype {
    let mut dtype = Dtype::F32;
    cell.visit(&Path::ROOT, &mut |_, t| dtype = t.dtype());
    dtype
}
