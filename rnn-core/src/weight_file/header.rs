//! The header of a safetensors file, read once into an index.
//!
//! serde_json parses the JSON into the format's reference [`TensorInfo`]s (the reference
//! implementation's own types and parser), here in header order and with every name kept:
//! the reference collects them into a map, which would let a repeated name silently replace
//! the first. Whether the byte ranges tile the data is the reference's
//! [`Metadata::new`] to decide, and the file-level rules (the header length and its limit,
//! the data ending exactly where the last tensor does) are the reference's `read_metadata`
//! rules. A refusal is then explained naming the tensors involved.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use safetensors::tensor::{Metadata, TensorInfo};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::error::Category;

use super::error::WeightFileError;
use super::MAX_HEADER_LEN;
use crate::parameters::{Dtype, Shape, MAX_RANK};

/// Bytes before the header: its length, a little-endian `u64`.
pub(super) const PREFIX: usize = 8;

/// A checked header: the tensors in header order, and their positions sorted by name.
#[derive(Clone, Debug)]
pub(super) struct Index {
    pub tensors: Vec<(String, TensorInfo)>,
    by_name: Vec<usize>,
}

impl Index {
    /// The position of the tensor named `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.by_name
            .binary_search_by(|&i| self.tensors[i].0.as_str().cmp(name))
            .ok()
            .map(|k| self.by_name[k])
    }
}

/// Our [`Dtype`] of the reference's, if we represent it.
pub(super) fn dtype(d: safetensors::Dtype) -> Option<Dtype> {
    use safetensors::Dtype as S;
    Some(match d {
        S::BOOL => Dtype::BOOL,
        S::U8 => Dtype::U8,
        S::I8 => Dtype::I8,
        S::F8_E5M2 => Dtype::F8_E5M2,
        S::F8_E4M3 => Dtype::F8_E4M3,
        S::I16 => Dtype::I16,
        S::U16 => Dtype::U16,
        S::F16 => Dtype::F16,
        S::BF16 => Dtype::BF16,
        S::I32 => Dtype::I32,
        S::U32 => Dtype::U32,
        S::F32 => Dtype::F32,
        S::F64 => Dtype::F64,
        S::I64 => Dtype::I64,
        S::U64 => Dtype::U64,
        _ => return None,
    })
}

/// Splits a safetensors file into its checked, indexed header and its data.
pub(super) fn read(bytes: &[u8]) -> Result<(Index, &[u8]), WeightFileError> {
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
        reason: "expected UTF-8 text".into(),
    })?;
    let tensors = parse(header)?;
    Ok((check(tensors, data.len())?, data))
}

/// The header's members, as the reference's grammar reads them.
#[derive(Default)]
struct Members {
    tensors: Vec<(String, TensorInfo)>,
    metadata: bool,
    /// The tensor whose entry was being read when an error stopped the parse.
    current: Option<String>,
}

impl<'de> DeserializeSeed<'de> for &mut Members {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut Members {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the header's JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<String>()? {
            if name == "__metadata__" {
                // Free-form text; the reference's type, checked and dropped.
                if self.metadata {
                    return Err(de::Error::duplicate_field("__metadata__"));
                }
                self.metadata = true;
                map.next_value::<Option<BTreeMap<String, String>>>()?;
            } else {
                self.current = Some(name);
                let info = map.next_value::<TensorInfo>()?;
                let name = self.current.take().unwrap_or_default();
                self.tensors.push((name, info));
            }
        }
        Ok(())
    }
}

/// The header's tensors in header order, or where and why its JSON is not a safetensors
/// header.
fn parse(header: &str) -> Result<Vec<(String, TensorInfo)>, WeightFileError> {
    let mut members = Members::default();
    let mut de = serde_json::Deserializer::from_str(header);
    let Err(e) = (&mut members).deserialize(&mut de).and_then(|()| de.end()) else {
        return Ok(members.tensors);
    };
    // serde_json appends the position to the message; the error carries it as a number.
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let reason = String::from(message.strip_suffix(&suffix).unwrap_or(&message));
    Err(match (e.classify(), members.current) {
        (Category::Data, Some(tensor)) => match unknown_variant(&reason) {
            // The only enum of a tensor's entry is its dtype.
            Some(found) => WeightFileError::UnknownDtype {
                tensor,
                found: found.into(),
            },
            None => WeightFileError::BadTensorInfo { tensor, reason },
        },
        _ => WeightFileError::CorruptHeader {
            offset: PREFIX + byte_offset(header, e.line(), e.column()),
            reason,
        },
    })
}

/// The variant serde reports in "unknown variant `X`, expected ...".
fn unknown_variant(reason: &str) -> Option<&str> {
    let rest = reason.strip_prefix("unknown variant `")?;
    Some(
        rest.rsplit_once("`, expected")
            .map_or(rest, |(found, _)| found),
    )
}

/// The byte offset of serde_json's 1-based `line` and `column` (in bytes) in `text`.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let start_of_line = text
        .match_indices('\n')
        .nth(line.saturating_sub(2))
        .filter(|_| line > 1)
        .map_or(0, |(i, _)| i + 1);
    (start_of_line + column.saturating_sub(1)).min(text.len())
}

/// Checks the tensors against the data (`data_len` bytes) and indexes them.
fn check(tensors: Vec<(String, TensorInfo)>, data_len: usize) -> Result<Index, WeightFileError> {
    for (name, info) in &tensors {
        if dtype(info.dtype).is_none() {
            return Err(WeightFileError::UnsupportedDtype {
                tensor: name.clone(),
                found: info.dtype.to_string(),
            });
        }
        if info.shape.len() > MAX_RANK {
            return Err(WeightFileError::BadTensorInfo {
                tensor: name.clone(),
                reason: format!(
                    "expected at most {MAX_RANK} dimensions, found {}",
                    info.shape.len()
                ),
            });
        }
    }
    let mut by_name: Vec<usize> = (0..tensors.len()).collect();
    by_name.sort_unstable_by(|&a, &b| tensors[a].0.cmp(&tensors[b].0));
    if let Some(w) = by_name
        .windows(2)
        .find(|w| tensors[w[0]].0 == tensors[w[1]].0)
    {
        return Err(WeightFileError::Duplicate {
            tensor: tensors[w[0]].0.clone(),
        });
    }
    // The reference's check that the ranges, in offset order, tile the data: no overlap, no
    // gap, each the size its shape and dtype need.
    let mut by_offset: Vec<usize> = (0..tensors.len()).collect();
    by_offset.sort_by_key(|&i| tensors[i].1.data_offsets);
    let sorted = by_offset.iter().map(|&i| tensors[i].clone()).collect();
    let end = match Metadata::new(None, sorted) {
        Ok(metadata) => metadata.data_len(),
        Err(e) => return Err(explain(&tensors, &by_offset, data_len, e)),
    };
    // And that the data ends where the last tensor does.
    if end < data_len {
        return Err(WeightFileError::Uncovered {
            start: end as u64,
            end: data_len as u64,
        });
    }
    if end > data_len {
        let (name, info) = &tensors[by_offset[by_offset.len() - 1]];
        return Err(out_of_bounds(name, info, data_len));
    }
    Ok(Index { tensors, by_name })
}

fn out_of_bounds(name: &str, info: &TensorInfo, data_len: usize) -> WeightFileError {
    let (s, e) = info.data_offsets;
    WeightFileError::DataOutOfBounds {
        tensor: name.into(),
        offsets: [s as u64, e as u64],
        data_len: data_len as u64,
    }
}

/// Why the reference refused the ranges, found by walking them as it does, naming the
/// tensors.
fn explain(
    tensors: &[(String, TensorInfo)],
    by_offset: &[usize],
    data_len: usize,
    refusal: safetensors::SafeTensorError,
) -> WeightFileError {
    let mut start = 0usize;
    let mut previous: Option<usize> = None;
    for &i in by_offset {
        let (name, info) = &tensors[i];
        let (s, e) = info.data_offsets;
        if e < s {
            return out_of_bounds(name, info, data_len);
        }
        if s > start {
            return WeightFileError::Uncovered {
                start: start as u64,
                end: s as u64,
            };
        }
        if s < start {
            let (other, other_info) = &tensors[previous.unwrap_or(i)];
            let (os, oe) = other_info.data_offsets;
            return WeightFileError::Overlap {
                tensor: name.clone(),
                offsets: [s as u64, e as u64],
                other: other.clone(),
                other_offsets: [os as u64, oe as u64],
            };
        }
        let bits = info
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .and_then(|n| n.checked_mul(info.dtype.bitsize()));
        let Some(bits) = bits else {
            return WeightFileError::BadTensorInfo {
                tensor: name.clone(),
                reason: "expected a shape whose size in bytes fits in memory".into(),
            };
        };
        if bits / 8 != e - s || bits % 8 != 0 {
            return WeightFileError::SizeMismatch {
                tensor: name.clone(),
                dtype: dtype(info.dtype).unwrap_or(Dtype::U8),
                shape: Shape::try_new(&info.shape).unwrap_or(Shape::SCALAR),
                expected: (bits / 8) as u64,
                found: (e - s) as u64,
            };
        }
        start = e;
        previous = Some(i);
    }
    WeightFileError::Rejected {
        reason: refusal.to_string(),
    }
}
