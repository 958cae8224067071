//! What can be wrong with a weight file, each case naming the tensor and what was expected
//! and found.

use core::fmt;

use crate::parameters::{Dtype, Shape};

/// Capacity of a [`Name`] in bytes.
const NAME_CAPACITY: usize = 128;

/// A tensor name held inline (errors need no allocator), cut at 128 bytes with `…`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name {
    buf: [u8; NAME_CAPACITY],
    len: u8,
    truncated: bool,
}

impl Name {
    /// The name as displayed by `value`, cut at the capacity on a character boundary.
    pub fn new(value: impl fmt::Display) -> Name {
        let mut name = Name {
            buf: [0; NAME_CAPACITY],
            len: 0,
            truncated: false,
        };
        let _ = fmt::write(&mut name, format_args!("{value}"));
        name
    }

    /// The (possibly cut) text.
    pub fn as_str(&self) -> &str {
        // Only whole characters are ever copied in, so this cannot fail.
        core::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }

    /// Whether the name was longer than the capacity and was cut.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Write for Name {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let mut utf8 = [0u8; 4];
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            let at = usize::from(self.len);
            if self.truncated || at + bytes.len() > NAME_CAPACITY {
                self.truncated = true;
                return Ok(());
            }
            self.buf[at..at + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len() as u8;
        }
        Ok(())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        !self.truncated && self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

/// Why a weight file could not be read, or does not fit the cell it is loaded into.
///
/// Every variant names what was expected and what was found; those about one tensor name
/// it. No input makes the loader panic or allocate more than the file's own size.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The header claims more bytes than any safetensors header may have (100 MB).
    HeaderTooLarge {
        /// The length the file claims.
        claimed: u64,
        /// The limit.
        limit: u64,
    },
    /// The JSON header is malformed at byte `offset` of the file.
    CorruptHeader {
        /// Offset of the offending byte from the start of the file.
        offset: usize,
        /// What should have been there.
        expected: &'static str,
    },
    /// A tensor's entry in the header is malformed (a field missing or repeated, too many
    /// dimensions, a size that overflows).
    BadTensorInfo {
        /// The tensor.
        tensor: Name,
        /// What is wrong, as what was expected.
        expected: &'static str,
    },
    /// A tensor's dtype is not one safetensors defines.
    UnknownDtype {
        /// The tensor.
        tensor: Name,
        /// The dtype the header gives.
        found: Name,
    },
    /// A tensor's `data_offsets` fall outside the data (or end before they start).
    DataOutOfBounds {
        /// The tensor.
        tensor: Name,
        /// The offsets the header gives.
        offsets: [u64; 2],
        /// Bytes of data in the file.
        data_len: u64,
    },
    /// A tensor's byte range does not hold its shape × dtype.
    SizeMismatch {
        /// The tensor.
        tensor: Name,
        /// Its dtype.
        dtype: Dtype,
        /// Its shape.
        shape: Shape,
        /// The bytes `shape` × `dtype` needs.
        expected: u64,
        /// The bytes its `data_offsets` span.
        found: u64,
    },
    /// A name appears twice (in the file, or among a cell's parameters when saving).
    Duplicate {
        /// The name.
        tensor: Name,
    },
    /// The cell has a parameter the file lacks.
    Missing {
        /// The tensor's name in the file.
        tensor: Name,
        /// The shape the cell needs.
        expected: Shape,
    },
    /// A tensor's shape is not the parameter's.
    WrongShape {
        /// The tensor.
        tensor: Name,
        /// The parameter's shape.
        expected: Shape,
        /// The file's shape.
        found: Shape,
    },
    /// A tensor is not floating point (`F32` or `F64`, which load into either scalar).
    WrongDtype {
        /// The tensor.
        tensor: Name,
        /// The parameter's dtype.
        expected: Dtype,
        /// The file's dtype.
        found: Dtype,
    },
    /// The file has a tensor the cell has no parameter for.
    Unexpected {
        /// The tensor.
        tensor: Name,
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
        tensor: Name,
    },
    /// Reading or writing the file failed.
    #[cfg(feature = "std")]
    Io {
        /// What the operating system said.
        kind: std::io::ErrorKind,
    },
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
                "weight file header: expected at most {limit} bytes, found a claim of {claimed}"
            ),
            CorruptHeader { offset, expected } => write!(
                f,
                "corrupt weight file header at byte {offset}: expected {expected}"
            ),
            BadTensorInfo { tensor, expected } => {
                write!(f, "tensor `{tensor}` in the header: expected {expected}")
            }
            UnknownDtype { tensor, found } => write!(
                f,
                "tensor `{tensor}`: expected a safetensors dtype (F32, F64, ...), found `{found}`"
            ),
            DataOutOfBounds {
                tensor,
                offsets,
                data_len,
            } => write!(
                f,
                "tensor `{tensor}`: expected data offsets within 0..={data_len}, found {}..{}",
                offsets[0], offsets[1]
            ),
            SizeMismatch {
                tensor,
                dtype,
                shape,
                expected,
                found,
            } => write!(
                f,
                "tensor `{tensor}`: a {dtype} tensor of shape {shape} needs {expected} bytes, \
                 found {found}"
            ),
            Duplicate { tensor } => write!(
                f,
                "tensor `{tensor}`: expected one tensor of this name, found two"
            ),
            Missing { tensor, expected } => write!(
                f,
                "tensor `{tensor}`: expected shape {expected}, found no such tensor"
            ),
            WrongShape {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "tensor `{tensor}`: expected shape {expected}, found {found}"
            ),
            WrongDtype {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "tensor `{tensor}`: expected a float tensor for a {expected} parameter \
                 (F32 or F64), found {found}"
            ),
            Unexpected { tensor } => write!(
                f,
                "tensor `{tensor}`: expected only the cell's parameters, found this one too"
            ),
            CountMismatch { expected, found } => write!(
                f,
                "expected {expected} tensors (one per parameter of the model), found {found}"
            ),
            KerasKey { tensor } => write!(
                f,
                "tensor `{tensor}`: expected a Keras export name `<index>/<path>` with an index \
                 below the number of tensors"
            ),
            #[cfg(feature = "std")]
            Io { kind } => write!(f, "weight file: {kind}"),
        }
    }
}

impl core::error::Error for WeightFileError {}

#[cfg(feature = "std")]
impl From<std::io::Error> for WeightFileError {
    fn from(e: std::io::Error) -> Self {
        WeightFileError::Io { kind: e.kind() }
    }
}
