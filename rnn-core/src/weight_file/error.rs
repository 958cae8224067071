//! What can be wrong with a weight file, each case naming the tensor and what was expected
//! and found.

use alloc::string::String;
use core::fmt;

use crate::parameters::{Dtype, Shape};

/// Why a weight file could not be read, or does not fit the cell it is loaded into.
///
/// Every variant names what was expected and what was found; those about one tensor name
/// it, in full. Its `Display` escapes control and other unprintable characters (as Rust's
/// `escape_debug` does), so a hostile name cannot rewrite a terminal or forge log lines.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum WeightFileError {
    /// The file ends before `what` does.
    Truncated {
        /// The part cut short (`"header length"`, `"header"`).
        what: &'static str,
        /// Bytes it needs.
        expected: u64,
        /// Bytes there are.
        found: u64,
    },
    /// The first 8 bytes claim a header longer than any safetensors header may be (100 MB):
    /// almost always a file that is not safetensors at all.
    HeaderTooLarge {
        /// The length the file claims.
        claimed: u64,
        /// The limit.
        limit: u64,
    },
    /// The header is not the JSON object safetensors writes (malformed JSON, not UTF-8, not
    /// an object).
    CorruptHeader {
        /// Offset of the offending byte from the start of the file.
        offset: usize,
        /// What is wrong there.
        reason: String,
    },
    /// A tensor's entry in the header is malformed (a field missing or of the wrong type,
    /// too many dimensions, a size that overflows).
    BadTensorInfo {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor's dtype is not one safetensors defines.
    UnknownDtype {
        /// The tensor.
        tensor: String,
        /// The dtype the header gives.
        found: String,
    },
    /// A tensor's dtype is a safetensors dtype that [`Dtype`] does not represent (the
    /// sub-byte and exotic 8-bit floats, complex numbers).
    UnsupportedDtype {
        /// The tensor.
        tensor: String,
        /// The dtype the header gives.
        found: String,
    },
    /// A tensor's `data_offsets` fall outside the data (or end before they start).
    DataOutOfBounds {
        /// The tensor.
        tensor: String,
        /// The offsets the header gives.
        offsets: [u64; 2],
        /// Bytes of data in the file.
        data_len: u64,
    },
    /// A tensor's byte range does not hold its shape × dtype.
    SizeMismatch {
        /// The tensor.
        tensor: String,
        /// Its dtype.
        dtype: Dtype,
        /// Its shape.
        shape: Shape,
        /// The bytes `shape` × `dtype` needs.
        expected: u64,
        /// The bytes its `data_offsets` span.
        found: u64,
    },
    /// Two tensors share bytes (overlapping or identical ranges): each byte of the data must
    /// belong to exactly one tensor.
    Overlap {
        /// The tensor that starts inside the other.
        tensor: String,
        /// Its offsets.
        offsets: [u64; 2],
        /// The tensor whose bytes it shares.
        other: String,
        /// That tensor's offsets.
        other_offsets: [u64; 2],
    },
    /// Bytes of the data that no tensor covers (between two tensors, or after the last).
    Uncovered {
        /// The first such byte, from the start of the data.
        start: u64,
        /// One past the last.
        end: u64,
    },
    /// A name appears twice (in the file, or among a cell's parameters when saving).
    Duplicate {
        /// The name.
        tensor: String,
    },
    /// The cell has a parameter the file lacks.
    Missing {
        /// The tensor's name in the file.
        tensor: String,
        /// The shape the cell needs.
        expected: Shape,
    },
    /// A tensor's shape is not the parameter's.
    WrongShape {
        /// The tensor.
        tensor: String,
        /// The parameter's shape.
        expected: Shape,
        /// The file's shape.
        found: Shape,
    },
    /// A tensor is not floating point (`F32` or `F64`, which load into either scalar).
    WrongDtype {
        /// The tensor.
        tensor: String,
        /// The parameter's dtype.
        expected: Dtype,
        /// The file's dtype.
        found: Dtype,
    },
    /// A finite value that the parameter's scalar cannot hold (an `F64` of `1e300` for an
    /// `f32` cell): loading it would make it infinite. Infinities and NaN in the file load
    /// as they are.
    OutOfRange {
        /// The tensor.
        tensor: String,
        /// The value's index, row-major.
        index: usize,
        /// The value.
        value: f64,
        /// The parameter's dtype.
        dtype: Dtype,
    },
    /// The file has a tensor the cell has no parameter for.
    Unexpected {
        /// The tensor.
        tensor: String,
    },
    /// The file holds another number of tensors than the model has parameters (Keras
    /// import, which matches them in order).
    CountMismatch {
        /// The model's number of parameter tensors.
        expected: usize,
        /// The file's number of tensors.
        found: usize,
    },
    /// A Keras export's tensor name is not `<index>/<keras path>` with an index below the
    /// number of tensors.
    KerasKey {
        /// The tensor.
        tensor: String,
    },
    /// The cell is a variant of its layer that computes something else than the layer the
    /// file comes from (a GRU with `reset_after = false` for PyTorch's GRU).
    WrongVariant {
        /// The cell.
        cell: &'static str,
        /// The variant the file's layer is.
        expected: &'static str,
        /// The cell's variant.
        found: &'static str,
    },
    /// One of the cell's own parameters cannot hold what the imported layer has (a GRU
    /// without a recurrent bias for PyTorch's two GRU biases).
    WrongCellShape {
        /// The cell's parameter.
        parameter: String,
        /// The shape the layer needs.
        expected: Shape,
        /// The cell's shape.
        found: Shape,
        /// What the parameter must hold.
        holds: &'static str,
    },
    /// The cell's parameters are not those of a recurrent layer (`kernel`,
    /// `recurrent_kernel`, optionally `bias`).
    NotTorchCell {
        /// What the cell has instead.
        found: String,
    },
    /// The format's reference implementation refuses the file for a reason none of the
    /// variants above describes.
    Rejected {
        /// Its reason.
        reason: String,
    },
    /// Reading or writing the file failed.
    #[cfg(feature = "std")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// `"read"` or `"write"`.
        operation: &'static str,
        /// What the operating system said.
        kind: std::io::ErrorKind,
    },
}

/// Text from a file or a model, displayed with control and unprintable characters escaped
/// (`\n`, `\u{1b}`, `\u{202e}`) and backslashes doubled, so the displayed text is the text.
pub(super) struct Escaped<'s>(pub &'s str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Quotes are printable and names sit in backticks: only they are kept unescaped.
        let mut rest = self.0;
        while let Some(i) = rest.find(['"', '\'']) {
            write!(f, "{}", rest[..i].escape_debug())?;
            f.write_str(&rest[i..=i])?;
            rest = &rest[i + 1..];
        }
        write!(f, "{}", rest.escape_debug())
    }
}

impl fmt::Display for WeightFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use WeightFileError::*;
        match self {
            Truncated {
                what,
                expected,
                found,
            } => write!(
                f,
                "truncated weight file: the {what} needs {expected} bytes, found {found}"
            ),
            HeaderTooLarge { claimed, limit } => write!(
                f,
                "not a safetensors file: expected its first 8 bytes to give the length of its \
                 JSON header, at most {limit}, found {claimed}"
            ),
            CorruptHeader { offset, reason } => write!(
                f,
                "corrupt weight file header at byte {offset}: {}",
                e(reason)
            ),
            BadTensorInfo { tensor, reason } => {
                write!(f, "tensor `{}` in the header: {}", e(tensor), e(reason))
            }
            UnknownDtype { tensor, found } => write!(
                f,
                "tensor `{}`: expected a safetensors dtype (F32, F64, ...), found `{}`",
                e(tensor),
                e(found)
            ),
            UnsupportedDtype { tensor, found } => write!(
                f,
                "tensor `{}`: expected a dtype this crate reads ({}), found {}",
                e(tensor),
                DtypeList,
                e(found)
            ),
            DataOutOfBounds {
                tensor,
                offsets,
                data_len,
            } => write!(
                f,
                "tensor `{}`: expected data offsets within 0..={data_len}, found {}..{}",
                e(tensor),
                offsets[0],
                offsets[1]
            ),
            SizeMismatch {
                tensor,
                dtype,
                shape,
                expected,
                found,
            } => write!(
                f,
                "tensor `{}`: a {dtype} tensor of shape {shape} needs {expected} bytes, \
                 found {found}",
                e(tensor)
            ),
            Overlap {
                tensor,
                offsets,
                other,
                other_offsets,
            } => write!(
                f,
                "tensor `{}`: expected its bytes after those of `{}` ({}..{}), found {}..{}, \
                 which overlap them",
                e(tensor),
                e(other),
                other_offsets[0],
                other_offsets[1],
                offsets[0],
                offsets[1]
            ),
            Uncovered { start, end } => write!(
                f,
                "bytes {start}..{end} of the data: expected every byte to belong to exactly one \
                 tensor, found them in none"
            ),
            Duplicate { tensor } => write!(
                f,
                "tensor `{}`: expected one tensor of this name, found two",
                e(tensor)
            ),
            Missing { tensor, expected } => write!(
                f,
                "tensor `{}`: expected shape {expected}, found no such tensor",
                e(tensor)
            ),
            WrongShape {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "tensor `{}`: expected shape {expected}, found {found}",
                e(tensor)
            ),
            WrongDtype {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "tensor `{}`: expected a float tensor for a {expected} parameter \
                 (F32 or F64), found {found}",
                e(tensor)
            ),
            OutOfRange {
                tensor,
                index,
                value,
                dtype,
            } => {
                write!(f, "tensor `{}`: expected values within ±", e(tensor))?;
                // Each bound as its own type prints it, shortest.
                if *dtype == Dtype::F32 {
                    write!(f, "{:e}", f32::MAX)?;
                } else {
                    write!(f, "{:e}", f64::MAX)?;
                }
                write!(
                    f,
                    " for a {dtype} parameter, found {value:e} at index {index}"
                )
            }
            Unexpected { tensor } => write!(
                f,
                "tensor `{}`: expected only the cell's parameters, found this one too",
                e(tensor)
            ),
            CountMismatch { expected, found } => write!(
                f,
                "expected {expected} tensors (one per parameter of the model), found {found}"
            ),
            KerasKey { tensor } => write!(
                f,
                "tensor `{}`: expected a Keras export name `<index>/<path>` with an index \
                 below the number of tensors",
                e(tensor)
            ),
            WrongVariant {
                cell,
                expected,
                found,
            } => write!(f, "{cell}: expected {expected}, found {found}"),
            WrongCellShape {
                parameter,
                expected,
                found,
                holds,
            } => write!(
                f,
                "the cell's parameter `{}`: expected shape {expected} ({holds}), found {found}",
                e(parameter)
            ),
            NotTorchCell { found } => write!(
                f,
                "the cell: expected the parameters of a recurrent layer (`kernel` [inputs, \
                 gates × units], `recurrent_kernel` [units, gates × units], optionally `bias`), \
                 found {}",
                e(found)
            ),
            Rejected { reason } => write!(f, "not a valid safetensors file: {}", e(reason)),
            #[cfg(feature = "std")]
            Io {
                path,
                operation,
                kind,
            } => write!(
                f,
                "cannot {operation} weight file `{}`: {kind}",
                Escaped(&path.display().to_string())
            ),
        }
    }
}

/// The dtypes [`Dtype`] represents, comma-separated.
struct DtypeList;

impl fmt::Display for DtypeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in Dtype::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(d.name())?;
        }
        Ok(())
    }
}

impl core::error::Error for WeightFileError {}

/// [`Escaped`] text of a field.
fn e(s: &str) -> Escaped<'_> {
    Escaped(s)
}
