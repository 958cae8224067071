//! Weight files: a cell's [`Parameters`] saved and loaded as
//! [safetensors](https://huggingface.co/docs/safetensors), by their paths; PyTorch
//! `state_dict`s and Keras models imported.
//!
//! # Our own files
//!
//! [`save`] writes every tensor of a cell (a stack, a bidirectional pair, any
//! `#[derive(Parameters)]` model) under its path, in the cell's own dtype; [`load`] reads
//! them back, bit for bit. A load checks everything before it writes anything: on an error
//! the cell is unchanged.
//!
//! ```
//! use rnn::cells::GruCell;
//! use rnn::parameters::{Parameters, Scheme};
//! use rnn::weight_file;
//!
//! let mut gru = GruCell::<3, 2>::zeros();
//! gru.initialize(Scheme::PyTorch, 1);
//! let bytes = weight_file::save(&gru).unwrap();
//!
//! let mut copy = GruCell::<3, 2>::zeros();
//! weight_file::load(&mut copy, &bytes).unwrap();
//! assert_eq!(copy, gru);
//!
//! // A file for another cell is refused, naming the tensor and both shapes.
//! let mut wider = GruCell::<4, 2>::zeros();
//! let err = weight_file::load(&mut wider, &bytes).unwrap_err();
//! assert_eq!(err.to_string(), "tensor `kernel`: expected shape [4, 6], found [3, 6]");
//! ```
//!
//! # PyTorch
//!
//! Save the `state_dict` with safetensors (`safetensors.torch.save_file(model.state_dict(),
//! "model.safetensors")`), then import each layer and direction of an `nn.LSTM`, `nn.GRU`
//! or `nn.RNN` into a built-in cell (a [`TorchCell`]) with [`WeightFile::import_torch`]:
//! `weight_ih_l{k}` `[G·H, I]` is transposed into `kernel` `[I, G·H]`, `weight_hh_l{k}` into
//! `recurrent_kernel`; GRU's gates `r z n` are reordered to Keras's `z r h`; the biases
//! `bias_ih_l{k}` and `bias_hh_l{k}` add up into LSTM's and SimpleRNN's one `bias`, and are
//! the two rows of GRU's `[2, 3H]` bias (PyTorch's GRU is `reset_after`, and so must the cell
//! be). `_reverse` names the backward direction.
//!
//! # Keras
//!
//! Three lines of Python export a Keras model (Keras 3, or `tf.keras` 2) in the order of
//! `model.weights`, each tensor named `<index>/<keras path>`:
//!
//! ```python
//! import numpy as np, safetensors.numpy as st
//! tensors = {f"{i:04d}/{getattr(w, 'path', w.name)}": np.asarray(w) for i, w in enumerate(model.weights)}
//! st.save_file(tensors, "model.safetensors")
//! ```
//!
//! [`WeightFile::import_keras`] loads them in that order into the model's parameters in path
//! order (Keras's own `set_weights` rule), checking every shape: declare the model's fields
//! in the order of its Keras layers. The built-in cells list their tensors as Keras does
//! (`kernel`, `recurrent_kernel`, `bias`; GRU's `[2, 3H]` bias), so a Keras `LSTM` loads into
//! an [`LstmCell`](crate::cells::LstmCell) as it is.
//!
//! # Hostile input
//!
//! The format is read by its reference implementation, the `safetensors` crate (with
//! `serde_json`), so a file loads here exactly when it loads there: every length is checked
//! against the bytes actually there before it is used, and each byte of the data belongs to
//! exactly one tensor (overlapping, aliased or uncovered ranges are refused). Two rules are
//! stricter than the reference's: a name may appear only once (the reference keeps the last
//! of two, so two readers could see different weights), and every dtype must be one
//! [`Dtype`] represents. A truncated file, a corrupt header, a header claiming huge sizes, an
//! unknown or wrong dtype, a missing, unexpected or duplicated tensor and a wrong shape are
//! each a [`WeightFileError`] naming the tensor and what was expected and found; never a
//! panic, and memory is bounded by a small multiple of the file's own size, never sized by
//! what a header claims. The header is parsed once, into an index that answers each lookup
//! without reading it again. Loading needs an allocator (the `alloc` feature): a
//! `no_std` target with one can read a file straight from flash, borrowing its bytes.
//! `fuzz/` holds a `cargo fuzz` target for it.

// A load runs once, so carrying a shape or two (72 bytes each) inline in its `Err` costs
// nothing worth a `Box`.
#![allow(clippy::result_large_err)]

mod error;
mod header;
mod keras;
mod torch;

pub use error::WeightFileError;
pub use torch::{TorchCell, TorchLayer};

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write as _;

use header::{Index, PREFIX};
use safetensors::tensor::TensorInfo;

use crate::parameters::{Dtype, Parameters, Path, Shape};

/// The largest header safetensors allows (its reference implementation's limit).
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// A safetensors file, checked: its header is well formed, the tensors' bytes tile the data
/// and hold their shapes, no name appears twice. The tensors' bytes are borrowed, never
/// copied; the header is parsed once into an index of the tensors (names, dtypes, shapes,
/// offsets).
///
/// ```
/// use rnn::cells::Dense;
/// use rnn::weight_file::{self, WeightFile};
///
/// let bytes = weight_file::save(&Dense::<2, 3>::zeros()).unwrap();
/// let file = WeightFile::parse(&bytes).unwrap();
/// let names: Vec<&str> = file.tensors().map(|t| t.name()).collect();
/// assert_eq!(names, ["kernel", "bias"]);
/// assert_eq!(file.get("kernel").unwrap().shape().dims(), [2, 3]);
///
/// // Hostile input is an error, never a panic.
/// assert!(WeightFile::parse(&bytes[..20]).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct WeightFile<'a> {
    index: Index,
    data: &'a [u8],
}

/// One tensor of a [`WeightFile`]: its name, dtype, shape and bytes, borrowed from the file.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    name: &'a str,
    dtype: Dtype,
    shape: Shape,
    bytes: &'a [u8],
}

impl<'a> TensorView<'a> {
    fn new((name, info): &'a (String, TensorInfo), data: &'a [u8]) -> Self {
        // The dtype, rank and range were checked when the file was parsed.
        let (start, end) = info.data_offsets;
        TensorView {
            name,
            dtype: header::dtype(info.dtype).unwrap_or(Dtype::U8),
            shape: Shape::try_new(&info.shape).unwrap_or(Shape::SCALAR),
            bytes: data.get(start..end).unwrap_or(&[]),
        }
    }

    /// The tensor's name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The raw little-endian bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether the values are `F32` or `F64`, the dtypes that load into a parameter.
    pub fn is_float(&self) -> bool {
        matches!(self.dtype, Dtype::F32 | Dtype::F64)
    }

    /// Value `i` (row-major) of an `F32` or `F64` tensor; `None` past the end (for any
    /// `i`, `usize::MAX` included) or for another dtype.
    pub fn value(&self, i: usize) -> Option<f64> {
        match self.dtype {
            Dtype::F32 => {
                let at = i.checked_mul(4)?;
                let b = self.bytes.get(at..at.checked_add(4)?)?;
                Some(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            Dtype::F64 => {
                let at = i.checked_mul(8)?;
                let b = self.bytes.get(at..at.checked_add(8)?)?;
                let mut le = [0u8; 8];
                le.copy_from_slice(b);
                Some(f64::from_le_bytes(le))
            }
            _ => None,
        }
    }

    /// Every value, row-major, of an `F32` or `F64` tensor (empty for another dtype).
    pub fn values(&self) -> impl Iterator<Item = f64> + 'a {
        let (f32s, f64s) = match self.dtype {
            Dtype::F32 => (self.bytes, &[][..]),
            Dtype::F64 => (&[][..], self.bytes),
            _ => (&[][..], &[][..]),
        };
        let a = f32s
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        let b = f64s.chunks_exact(8).map(|b| {
            let mut le = [0u8; 8];
            le.copy_from_slice(b);
            f64::from_le_bytes(le)
        });
        a.chain(b)
    }

    /// A float tensor of `expected` shape whose values fit a parameter of dtype `dtype`, or
    /// the error (about the tensor `name`, as the caller calls it).
    fn check(&self, name: &str, expected: Shape, dtype: Dtype) -> Result<(), WeightFileError> {
        if !self.is_float() {
            return Err(WeightFileError::WrongDtype {
                tensor: name.into(),
                expected: dtype,
                found: self.dtype,
            });
        }
        if self.shape != expected {
            return Err(WeightFileError::WrongShape {
                tensor: name.into(),
                expected,
                found: self.shape,
            });
        }
        fits(name, self.values(), dtype)
    }
}

/// The first finite value of `values` that a `dtype` scalar cannot hold, as an error about
/// tensor `name`. Infinities and NaN are values like any other.
fn fits(
    name: &str,
    values: impl Iterator<Item = f64>,
    dtype: Dtype,
) -> Result<(), WeightFileError> {
    if dtype != Dtype::F32 {
        return Ok(());
    }
    for (index, value) in values.enumerate() {
        if value.is_finite() && (value as f32).is_infinite() {
            return Err(WeightFileError::OutOfRange {
                tensor: name.into(),
                index,
                value,
                dtype,
            });
        }
    }
    Ok(())
}

/// The tensors of a [`WeightFile`], in header order.
#[derive(Clone, Debug)]
pub struct Tensors<'a> {
    tensors: core::slice::Iter<'a, (String, TensorInfo)>,
    data: &'a [u8],
}

impl<'a> Iterator for Tensors<'a> {
    type Item = TensorView<'a>;
    fn next(&mut self) -> Option<TensorView<'a>> {
        Some(TensorView::new(self.tensors.next()?, self.data))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.tensors.size_hint()
    }
}

impl ExactSizeIterator for Tensors<'_> {}

impl<'a> WeightFile<'a> {
    /// Checks `bytes` as a safetensors file and indexes its header.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WeightFileError> {
        let (index, data) = header::read(bytes)?;
        Ok(WeightFile { index, data })
    }

    /// The number of tensors (metadata excluded).
    pub fn len(&self) -> usize {
        self.index.tensors.len()
    }

    /// Whether the file holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.index.tensors.is_empty()
    }

    /// The tensors, in header order.
    pub fn tensors(&self) -> Tensors<'_> {
        Tensors {
            tensors: self.index.tensors.iter(),
            data: self.data,
        }
    }

    /// The tensor named `name` (a lookup in the index: the header is not read again).
    pub fn get(&self, name: &str) -> Option<TensorView<'_>> {
        let i = self.index.find(name)?;
        Some(TensorView::new(&self.index.tensors[i], self.data))
    }

    /// Loads every parameter of `cell` from the tensor of the same path. The file must hold
    /// exactly the cell's parameters, each `F32` or `F64` (loading into the cell's scalar;
    /// the same dtype is bit-exact, and a value the scalar cannot hold is an error) with the
    /// parameter's shape. Checks everything first: on an error the cell is unchanged.
    pub fn load_into<P: Parameters + ?Sized>(&self, cell: &mut P) -> Result<(), WeightFileError> {
        let mut error = None;
        let mut matched = 0usize;
        let mut name = String::new();
        cell.visit(&Path::ROOT, &mut |path, tensor| {
            if error.is_some() {
                return;
            }
            name.clear();
            let _ = write!(name, "{path}");
            let result = match self.get(&name) {
                None => Err(WeightFileError::Missing {
                    tensor: name.clone(),
                    expected: tensor.shape(),
                }),
                Some(view) => view.check(&name, tensor.shape(), tensor.dtype()),
            };
            match result {
                Ok(()) => matched += 1,
                Err(e) => error = Some(e),
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        if matched != self.len() {
            return Err(self.unmatched(cell));
        }
        cell.visit_mut(&Path::ROOT, None, &mut |path, tensor, _| {
            name.clear();
            let _ = write!(name, "{path}");
            if let Some(view) = self.get(&name) {
                let mut values = view.values();
                tensor.write(&mut || values.next().unwrap_or(0.0));
            }
        });
        Ok(())
    }

    /// Why the cell's parameters and the file's tensors do not pair up one to one.
    fn unmatched<P: Parameters + ?Sized>(&self, cell: &P) -> WeightFileError {
        let paths = sorted_paths(cell);
        if let Some(view) = self.tensors().find(|t| {
            paths
                .binary_search_by(|p| p.as_str().cmp(t.name()))
                .is_err()
        }) {
            return WeightFileError::Unexpected {
                tensor: view.name().into(),
            };
        }
        // Every tensor is claimed, yet more parameters matched: two share a path.
        duplicate(&paths).unwrap_or(WeightFileError::CountMismatch {
            expected: paths.len(),
            found: self.len(),
        })
    }
}

/// The paths of `cell`'s parameters, sorted.
fn sorted_paths<P: Parameters + ?Sized>(cell: &P) -> Vec<String> {
    let mut paths = paths(cell);
    paths.sort_unstable();
    paths
}

/// The paths of `cell`'s parameters, in visit order.
fn paths<P: Parameters + ?Sized>(cell: &P) -> Vec<String> {
    let mut paths = Vec::new();
    cell.visit(&Path::ROOT, &mut |path, _| paths.push(path.to_string()));
    paths
}

/// The first of `paths` (in their order) that repeats an earlier one, as an error. Whole
/// paths are compared, however long.
fn duplicate(paths: &[String]) -> Option<WeightFileError> {
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_unstable_by(|&a, &b| paths[a].cmp(&paths[b]).then(a.cmp(&b)));
    order
        .windows(2)
        .filter(|w| paths[w[0]] == paths[w[1]])
        .map(|w| w[1])
        .min()
        .map(|i| WeightFileError::Duplicate {
            tensor: paths[i].clone(),
        })
}

/// Checks `bytes` as a safetensors file and loads `cell` from it (see
/// [`WeightFile::load_into`]).
pub fn load<P: Parameters + ?Sized>(cell: &mut P, bytes: &[u8]) -> Result<(), WeightFileError> {
    WeightFile::parse(bytes)?.load_into(cell)
}

/// Every parameter of `cell` as a safetensors file, each tensor under its path in the
/// cell's dtype, in path order. An error when two parameters share a path (a `flatten` that
/// merges two fields of the same name).
///
/// The file is what safetensors' own writer makes of the same tensors but for their order:
/// the reference writer sorts them by dtype and name, this one keeps the cell's order, so a
/// file lists a model as its summary does. Saving a loaded cell gives the same bytes.
pub fn save<P: Parameters + ?Sized>(cell: &P) -> Result<Vec<u8>, WeightFileError> {
    if let Some(e) = duplicate(&paths(cell)) {
        return Err(e);
    }
    let mut header = String::from("{");
    let mut offset = 0usize;
    cell.visit(&Path::ROOT, &mut |path, tensor| {
        let bytes = tensor.len() * tensor.dtype().size();
        if header.len() > 1 {
            header.push(',');
        }
        header.push('"');
        let _ = write!(JsonEscape(&mut header), "{path}");
        let _ = write!(
            header,
            "\":{{\"dtype\":\"{}\",\"shape\":{},\"data_offsets\":[{},{}]}}",
            tensor.dtype(),
            tensor.shape(),
            offset,
            offset + bytes
        );
        offset += bytes;
    });
    header.push('}');
    // Pad with spaces so the data starts 8-byte aligned, as safetensors' own writer does.
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    if header.len() as u64 > MAX_HEADER_LEN {
        return Err(WeightFileError::HeaderTooLarge {
            claimed: header.len() as u64,
            limit: MAX_HEADER_LEN,
        });
    }
    let mut out = Vec::with_capacity(PREFIX + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    cell.visit(&Path::ROOT, &mut |_, tensor| write_values(&mut out, tensor));
    Ok(out)
}

fn write_values(out: &mut Vec<u8>, tensor: &dyn crate::parameters::Tensor) {
    match tensor.dtype() {
        Dtype::F64 => tensor.read(&mut |v| out.extend_from_slice(&v.to_le_bytes())),
        // Parameters are F32 or F64; an F32 goes through f64 and back exactly.
        _ => tensor.read(&mut |v| out.extend_from_slice(&(v as f32).to_le_bytes())),
    }
}

/// Writes JSON string contents, escaped.
struct JsonEscape<'s>(&'s mut String);

impl core::fmt::Write for JsonEscape<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                c if (c as u32) < 0x20 => write!(self.0, "\\u{:04x}", c as u32)?,
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}

/// Saves `cell` to the file at `path` (see [`save`]); an error names the path.
#[cfg(feature = "std")]
pub fn save_file<P: Parameters + ?Sized>(
    cell: &P,
    path: impl AsRef<std::path::Path>,
) -> Result<(), WeightFileError> {
    let path = path.as_ref();
    std::fs::write(path, save(cell)?).map_err(|e| io_error(path, "write", &e))
}

/// Loads `cell` from the file at `path` (see [`load`]); an error names the path. Reads the
/// whole file: memory is sized by the file, never by what its header claims.
#[cfg(feature = "std")]
pub fn load_file<P: Parameters + ?Sized>(
    cell: &mut P,
    path: impl AsRef<std::path::Path>,
) -> Result<(), WeightFileError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_error(path, "read", &e))?;
    load(cell, &bytes)
}

#[cfg(feature = "std")]
fn io_error(
    path: &std::path::Path,
    operation: &'static str,
    e: &std::io::Error,
) -> WeightFileError {
    WeightFileError::Io {
        path: path.to_path_buf(),
        operation,
        kind: e.kind(),
    }
}
