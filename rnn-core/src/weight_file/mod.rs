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
//! use rnn_core::cells::GruCell;
//! use rnn_core::parameters::{Parameters, Scheme};
//! use rnn_core::weight_file;
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
//! or `nn.RNN` into a built-in cell with [`WeightFile::import_torch`]:
//! `weight_ih_l{k}` `[G·H, I]` is transposed into `kernel` `[I, G·H]`, `weight_hh_l{k}` into
//! `recurrent_kernel`; GRU's gates `r z n` are reordered to Keras's `z r h`; the biases
//! `bias_ih_l{k}` and `bias_hh_l{k}` add up into LSTM's and SimpleRNN's one `bias`, and are
//! the two rows of GRU's `[2, 3H]` bias. `_reverse` names the backward direction.
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
//! The parser is written here (no dependency, no allocation, no `unsafe`), so a file can
//! be read on a `no_std` target straight from flash. Every length in a file is checked
//! against the bytes actually there before it is used, so a truncated file, a corrupt
//! header, a header claiming huge sizes, an unknown or wrong dtype, a missing, unexpected or
//! duplicated tensor and a wrong shape are each a [`WeightFileError`] naming the tensor and
//! what was expected and found; never a panic, and never an allocation sized by the header.
//! `fuzz/` holds a `cargo fuzz` target for it.

// The errors are inline values (no allocator is needed to report one); a load runs once,
// so carrying a few hundred bytes in its `Err` costs nothing worth a `Box`.
#![allow(clippy::result_large_err)]

mod error;
mod header;
mod keras;
mod torch;

pub use error::{Name, WeightFileError};
pub use header::JsonStr;
pub use torch::TorchLayer;

use header::{Entries, Entry, PREFIX};

use crate::parameters::{Dtype, Parameters, Path, Shape};

/// The largest header safetensors allows (its reference implementation's limit).
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// A safetensors file, checked: its header is well formed, every tensor's bytes are inside
/// the data and hold its shape, no name appears twice. Borrowed from the bytes; nothing is
/// copied.
///
/// ```
/// use rnn_core::cells::Dense;
/// use rnn_core::weight_file::{self, WeightFile};
///
/// let bytes = weight_file::save(&Dense::<2, 3>::zeros()).unwrap();
/// let file = WeightFile::parse(&bytes).unwrap();
/// let names: Vec<String> = file.tensors().map(|t| t.name().to_string()).collect();
/// assert_eq!(names, ["kernel", "bias"]);
/// assert_eq!(file.get("kernel").unwrap().shape().dims(), [2, 3]);
///
/// // Hostile input is an error, never a panic.
/// assert!(WeightFile::parse(&bytes[..20]).is_err());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct WeightFile<'a> {
    header: &'a str,
    data: &'a [u8],
    len: usize,
}

/// One tensor of a [`WeightFile`]: its name, dtype, shape and bytes.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    name: JsonStr<'a>,
    dtype: Dtype,
    shape: Shape,
    bytes: &'a [u8],
}

impl<'a> TensorView<'a> {
    fn new(entry: Entry<'a>, data: &'a [u8]) -> Self {
        TensorView {
            name: entry.name,
            dtype: entry.dtype,
            shape: entry.shape,
            // The range was checked against the data when the file was parsed.
            bytes: data.get(entry.start..entry.end).unwrap_or(&[]),
        }
    }

    /// The tensor's name.
    pub fn name(&self) -> JsonStr<'a> {
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

    /// Value `i` (row-major) of an `F32` or `F64` tensor; `None` past the end or for
    /// another dtype.
    pub fn value(&self, i: usize) -> Option<f64> {
        match self.dtype {
            Dtype::F32 => {
                let b = self.bytes.get(i.checked_mul(4)?..i.checked_mul(4)? + 4)?;
                Some(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            Dtype::F64 => {
                let b = self.bytes.get(i.checked_mul(8)?..i.checked_mul(8)? + 8)?;
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

    /// A float tensor of `expected` shape for a parameter of dtype `dtype`, or the error.
    fn check(&self, name: Name, expected: Shape, dtype: Dtype) -> Result<(), WeightFileError> {
        if !self.is_float() {
            return Err(WeightFileError::WrongDtype {
                tensor: name,
                expected: dtype,
                found: self.dtype,
            });
        }
        if self.shape != expected {
            return Err(WeightFileError::WrongShape {
                tensor: name,
                expected,
                found: self.shape,
            });
        }
        Ok(())
    }
}

/// The tensors of a [`WeightFile`], in header order.
pub struct Tensors<'a> {
    entries: Entries<'a>,
    data: &'a [u8],
}

impl<'a> Iterator for Tensors<'a> {
    type Item = TensorView<'a>;
    fn next(&mut self) -> Option<TensorView<'a>> {
        // The header was checked whole by `parse`, so no error can come up here.
        let entry = self.entries.next_entry().ok().flatten()?;
        Some(TensorView::new(entry, self.data))
    }
}

impl<'a> WeightFile<'a> {
    /// Checks `bytes` as a safetensors file.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WeightFileError> {
        let Some((len_bytes, rest)) = bytes.split_first_chunk::<PREFIX>() else {
            return Err(WeightFileError::Truncated {
                what: "header length",
                expected: PREFIX as u64,
                found: bytes.len() as u64,
            });
        };
        let claimed = u64::from_le_bytes(*len_bytes);
        if claimed > MAX_HEADER_LEN {
            return Err(WeightFileError::HeaderTooLarge {
                claimed,
                limit: MAX_HEADER_LEN,
            });
        }
        if claimed > rest.len() as u64 {
            return Err(WeightFileError::Truncated {
                what: "header",
                expected: claimed,
                found: rest.len() as u64,
            });
        }
        // At most `rest.len()`, so it fits.
        let (header, data) = rest.split_at(claimed as usize);
        let header = core::str::from_utf8(header).map_err(|e| WeightFileError::CorruptHeader {
            offset: PREFIX + e.valid_up_to(),
            expected: "UTF-8 text",
        })?;
        let mut entries = Entries::new(header, data.len());
        let mut len = 0;
        while entries.next_entry()?.is_some() {
            len += 1;
        }
        let file = WeightFile { header, data, len };
        file.check_unique()?;
        Ok(file)
    }

    #[cfg(feature = "alloc")]
    fn check_unique(&self) -> Result<(), WeightFileError> {
        // Sorting costs O(n log n) for n tensors, each at least ~50 header bytes: bounded by
        // the file's own size.
        let mut names: alloc::vec::Vec<JsonStr<'a>> = self.tensors().map(|t| t.name).collect();
        names.sort_unstable();
        match names.windows(2).find(|w| w[0] == w[1]) {
            Some(w) => Err(WeightFileError::Duplicate {
                tensor: Name::new(w[0]),
            }),
            None => Ok(()),
        }
    }

    #[cfg(not(feature = "alloc"))]
    fn check_unique(&self) -> Result<(), WeightFileError> {
        // No allocator: compare every pair (files on such targets hold few tensors).
        for (i, a) in self.tensors().enumerate() {
            if self.tensors().skip(i + 1).any(|b| b.name == a.name) {
                return Err(WeightFileError::Duplicate {
                    tensor: Name::new(a.name),
                });
            }
        }
        Ok(())
    }

    /// The number of tensors (metadata excluded).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tensors, in header order.
    pub fn tensors(&self) -> Tensors<'a> {
        Tensors {
            entries: Entries::new(self.header, self.data.len()),
            data: self.data,
        }
    }

    /// The tensor named `name`.
    pub fn get(&self, name: &str) -> Option<TensorView<'a>> {
        self.tensors().find(|t| t.name.eq_str(name))
    }

    fn find_path(&self, path: &Path<'_>) -> Option<TensorView<'a>> {
        self.tensors().find(|t| path.matches_chars(t.name.chars()))
    }

    fn find_name(&self, name: &Name) -> Option<TensorView<'a>> {
        self.tensors().find(|t| t.name.eq_str(name.as_str()))
    }

    /// Loads every parameter of `cell` from the tensor of the same path. The file must hold
    /// exactly the cell's parameters, each `F32` or `F64` (loading into the cell's scalar;
    /// the same dtype is bit-exact) with the parameter's shape. Checks everything first: on
    /// an error the cell is unchanged.
    pub fn load_into<P: Parameters + ?Sized>(&self, cell: &mut P) -> Result<(), WeightFileError> {
        let mut error = None;
        let mut matched = 0usize;
        cell.visit(&Path::ROOT, &mut |path, tensor| {
            if error.is_some() {
                return;
            }
            let result = match self.find_path(path) {
                None => Err(WeightFileError::Missing {
                    tensor: Name::new(path),
                    expected: tensor.shape(),
                }),
                Some(view) => view.check(Name::new(path), tensor.shape(), tensor.dtype()),
            };
            match result {
                Ok(()) => matched += 1,
                Err(e) => error = Some(e),
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        if matched != self.len {
            return Err(self.unmatched(cell));
        }
        cell.visit_mut(&Path::ROOT, None, &mut |path, tensor, _| {
            if let Some(view) = self.find_path(path) {
                let mut values = view.values();
                tensor.write(&mut || values.next().unwrap_or(0.0));
            }
        });
        Ok(())
    }

    /// Why the cell's parameters and the file's tensors do not pair up one to one.
    fn unmatched<P: Parameters + ?Sized>(&self, cell: &P) -> WeightFileError {
        for view in self.tensors() {
            let mut claimed = false;
            cell.visit(&Path::ROOT, &mut |path, _| {
                claimed |= path.matches_chars(view.name.chars())
            });
            if !claimed {
                return WeightFileError::Unexpected {
                    tensor: Name::new(view.name),
                };
            }
        }
        // Every tensor is claimed, yet more parameters matched: two share a path.
        duplicate_path(cell).unwrap_or(WeightFileError::CountMismatch {
            expected: self.len,
            found: self.len,
        })
    }
}

/// The first path two parameters of `cell` share, as an error.
fn duplicate_path<P: Parameters + ?Sized>(cell: &P) -> Option<WeightFileError> {
    let mut found = None;
    let mut i = 0usize;
    cell.visit(&Path::ROOT, &mut |path, _| {
        if found.is_none() {
            let name = Name::new(path);
            let mut j = 0usize;
            cell.visit(&Path::ROOT, &mut |other, _| {
                if j < i && other.matches(name.as_str()) {
                    found = Some(WeightFileError::Duplicate { tensor: name });
                }
                j += 1;
            });
        }
        i += 1;
    });
    found
}

/// Checks `bytes` as a safetensors file and loads `cell` from it (see
/// [`WeightFile::load_into`]).
pub fn load<P: Parameters + ?Sized>(cell: &mut P, bytes: &[u8]) -> Result<(), WeightFileError> {
    WeightFile::parse(bytes)?.load_into(cell)
}

/// Every parameter of `cell` as a safetensors file, each tensor under its path in the
/// cell's dtype. An error when two parameters share a path (a `flatten` that merges two
/// fields of the same name).
#[cfg(feature = "alloc")]
pub fn save<P: Parameters + ?Sized>(cell: &P) -> Result<alloc::vec::Vec<u8>, WeightFileError> {
    use alloc::string::String;
    use core::fmt::Write;

    if let Some(e) = duplicate_path(cell) {
        return Err(e);
    }
    let mut header = String::from("{");
    let mut offset = 0usize;
    cell.visit(&Path::ROOT, &mut |path, tensor| {
        let bytes = tensor.len() * tensor.dtype().size();
        if offset > 0 || header.len() > 1 {
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
    let mut out = alloc::vec::Vec::with_capacity(PREFIX + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    cell.visit(&Path::ROOT, &mut |_, tensor| write_values(&mut out, tensor));
    Ok(out)
}

#[cfg(feature = "alloc")]
fn write_values(out: &mut alloc::vec::Vec<u8>, tensor: &dyn crate::parameters::Tensor) {
    match tensor.dtype() {
        Dtype::F64 => tensor.read(&mut |v| out.extend_from_slice(&v.to_le_bytes())),
        // Parameters are F32 or F64; an F32 goes through f64 and back exactly.
        _ => tensor.read(&mut |v| out.extend_from_slice(&(v as f32).to_le_bytes())),
    }
}

/// Writes JSON string contents, escaped.
#[cfg(feature = "alloc")]
struct JsonEscape<'s>(&'s mut alloc::string::String);

#[cfg(feature = "alloc")]
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

/// Saves `cell` to the file at `path` (see [`save`]).
#[cfg(feature = "std")]
pub fn save_file<P: Parameters + ?Sized>(
    cell: &P,
    path: impl AsRef<std::path::Path>,
) -> Result<(), WeightFileError> {
    std::fs::write(path, save(cell)?)?;
    Ok(())
}

/// Loads `cell` from the file at `path` (see [`load`]). Reads the whole file: memory is
/// sized by the file, never by what its header claims.
#[cfg(feature = "std")]
pub fn load_file<P: Parameters + ?Sized>(
    cell: &mut P,
    path: impl AsRef<std::path::Path>,
) -> Result<(), WeightFileError> {
    load(cell, &std::fs::read(path)?)
}
