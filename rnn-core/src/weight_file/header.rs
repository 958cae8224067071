//! The JSON header of a safetensors file, parsed in place: no allocation, no recursion, every
//! number checked before it is used.
//!
//! The grammar is safetensors' own, strictly: one object whose members are
//! `"__metadata__": {string: string, …}` (at most once) and tensors
//! `"name": {"dtype": D, "shape": [u64, …], "data_offsets": [u64, u64]}` (each field once,
//! no other field). Whitespace may follow the object (writers pad the header with spaces).

use core::cmp::Ordering;
use core::fmt;
use core::str::Chars;

use super::error::{Name, WeightFileError};
use crate::parameters::{Dtype, Shape, MAX_RANK};

/// Bytes before the header: its length, a little-endian `u64`.
pub(super) const PREFIX: usize = 8;

/// A JSON string as it appears in the header (escapes not yet decoded; valid, since the
/// header was checked). Compares and displays decoded.
#[derive(Clone, Copy)]
pub struct JsonStr<'a>(&'a str);

impl<'a> JsonStr<'a> {
    /// The decoded characters.
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        let mut raw = self.0.chars();
        core::iter::from_fn(move || decode_next(&mut raw).map(|c| c.unwrap_or('\u{FFFD}')))
    }

    /// Whether the decoded string is `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        self.chars().eq(s.chars())
    }

    /// The string as it is written in the file, escapes included.
    pub fn raw(&self) -> &'a str {
        self.0
    }
}

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.chars() {
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

impl fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

impl PartialEq for JsonStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.chars().eq(other.chars())
    }
}

impl Eq for JsonStr<'_> {}

impl PartialOrd for JsonStr<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for JsonStr<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.chars().cmp(other.chars())
    }
}

fn hex4(raw: &mut Chars<'_>) -> Result<u32, &'static str> {
    let mut v = 0u32;
    for _ in 0..4 {
        let d = raw
            .next()
            .and_then(|c| c.to_digit(16))
            .ok_or("four hex digits after `\\u`")?;
        v = v * 16 + d;
    }
    Ok(v)
}

/// The next decoded character of a JSON string body, or what was expected instead.
fn decode_next(raw: &mut Chars<'_>) -> Option<Result<char, &'static str>> {
    let c = raw.next()?;
    if c != '\\' {
        if (c as u32) < 0x20 {
            return Some(Err("no control character inside a string"));
        }
        return Some(Ok(c));
    }
    let escaped = match raw.next() {
        Some('"') => '"',
        Some('\\') => '\\',
        Some('/') => '/',
        Some('b') => '\u{8}',
        Some('f') => '\u{c}',
        Some('n') => '\n',
        Some('r') => '\r',
        Some('t') => '\t',
        Some('u') => {
            let high = match hex4(raw) {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            let code = if (0xD800..0xDC00).contains(&high) {
                if raw.next() != Some('\\') || raw.next() != Some('u') {
                    return Some(Err("a low surrogate `\\uDC00`..`\\uDFFF` after a high one"));
                }
                let low = match hex4(raw) {
                    Ok(v) => v,
                    Err(e) => return Some(Err(e)),
                };
                if !(0xDC00..0xE000).contains(&low) {
                    return Some(Err("a low surrogate `\\uDC00`..`\\uDFFF` after a high one"));
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            } else {
                high
            };
            return Some(
                char::from_u32(code).ok_or("a Unicode scalar value, not a lone surrogate"),
            );
        }
        _ => return Some(Err("a JSON escape (`\\\"`, `\\\\`, `\\n`, `\\u0041`, ...)")),
    };
    Some(Ok(escaped))
}

/// One tensor's entry, checked against the data it points into.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub name: JsonStr<'a>,
    pub dtype: Dtype,
    pub shape: Shape,
    pub start: usize,
    pub end: usize,
}

/// A position in the header text.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, expected: &'static str) -> WeightFileError {
        WeightFileError::CorruptHeader {
            offset: PREFIX + self.pos,
            expected,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), WeightFileError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.err(expected))
        }
    }

    /// A string; its body checked (escapes, no control characters).
    fn string(&mut self) -> Result<JsonStr<'a>, WeightFileError> {
        self.expect(b'"', "a string (`\"`)")?;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        // Find the closing quote: the first `"` not escaped by an odd run of `\`.
        let mut i = start;
        loop {
            match bytes.get(i) {
                None => return Err(self.err("the string's closing `\"`")),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        // `i` is at an ASCII quote, so both ends are character boundaries.
        let body = self
            .text
            .get(start..i)
            .ok_or_else(|| self.err("a string"))?;
        let mut raw = body.chars();
        while let Some(c) = decode_next(&mut raw) {
            if let Err(expected) = c {
                let at = start + (body.len() - raw.as_str().len());
                return Err(WeightFileError::CorruptHeader {
                    offset: PREFIX + at,
                    expected,
                });
            }
        }
        self.pos = i + 1;
        Ok(JsonStr(body))
    }

    /// A non-negative integer that fits in `u64`.
    fn integer(&mut self) -> Result<u64, WeightFileError> {
        self.ws();
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            if self.pos > start && v == 0 {
                return Err(self.err("an integer without leading zeros"));
            }
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .ok_or_else(|| self.err("an integer below 2^64"))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err("a non-negative integer"));
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(self.err("an integer, not a fraction"));
        }
        Ok(v)
    }

    /// `{"k": "v", …}`: checked and skipped.
    fn metadata(&mut self) -> Result<(), WeightFileError> {
        self.expect(b'{', "the `__metadata__` object (`{`)")?;
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            self.string()?;
            self.expect(b':', "`:`")?;
            self.string()?;
            if self.eat(b'}') {
                return Ok(());
            }
            self.expect(b',', "`,` or `}` in `__metadata__`")?;
        }
    }

    /// `{"dtype": …, "shape": […], "data_offsets": [a, b]}` of tensor `name`.
    fn tensor_info(
        &mut self,
        name: JsonStr<'a>,
        data_len: usize,
    ) -> Result<Entry<'a>, WeightFileError> {
        let bad = |expected| WeightFileError::BadTensorInfo {
            tensor: Name::new(name),
            expected,
        };
        self.expect(b'{', "a tensor's description (`{`)")?;
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        if !self.eat(b'}') {
            loop {
                let key = self.string()?;
                self.expect(b':', "`:`")?;
                if key.eq_str("dtype") {
                    let found = self.string()?;
                    let d = Dtype::ALL
                        .into_iter()
                        .find(|d| found.eq_str(d.name()))
                        .ok_or(WeightFileError::UnknownDtype {
                            tensor: Name::new(name),
                            found: Name::new(found),
                        })?;
                    if dtype.replace(d).is_some() {
                        return Err(bad("`dtype` once"));
                    }
                } else if key.eq_str("shape") {
                    let s = self.shape(name)?;
                    if shape.replace(s).is_some() {
                        return Err(bad("`shape` once"));
                    }
                } else if key.eq_str("data_offsets") {
                    self.expect(b'[', "`data_offsets` as `[start, end]`")?;
                    let start = self.integer()?;
                    self.expect(b',', "`data_offsets` as `[start, end]`")?;
                    let end = self.integer()?;
                    self.expect(b']', "`data_offsets` as `[start, end]`")?;
                    if offsets.replace([start, end]).is_some() {
                        return Err(bad("`data_offsets` once"));
                    }
                } else {
                    return Err(bad("only the fields `dtype`, `shape` and `data_offsets`"));
                }
                if self.eat(b'}') {
                    break;
                }
                self.expect(b',', "`,` or `}` in a tensor's description")?;
            }
        }
        let (Some(dtype), Some(shape), Some([start, end])) = (dtype, shape, offsets) else {
            return Err(bad("the fields `dtype`, `shape` and `data_offsets`"));
        };
        let needed = shape
            .checked_len()
            .and_then(|n| n.checked_mul(dtype.size()))
            .ok_or_else(|| bad("a shape whose size in bytes fits in memory"))?;
        let in_bounds = start <= end && end <= data_len as u64;
        if !in_bounds {
            return Err(WeightFileError::DataOutOfBounds {
                tensor: Name::new(name),
                offsets: [start, end],
                data_len: data_len as u64,
            });
        }
        if end - start != needed as u64 {
            return Err(WeightFileError::SizeMismatch {
                tensor: Name::new(name),
                dtype,
                shape,
                expected: needed as u64,
                found: end - start,
            });
        }
        // Both are at most `data_len`, a `usize`.
        Ok(Entry {
            name,
            dtype,
            shape,
            start: start as usize,
            end: end as usize,
        })
    }

    fn shape(&mut self, name: JsonStr<'a>) -> Result<Shape, WeightFileError> {
        self.expect(b'[', "a shape (`[`)")?;
        let mut dims = [0usize; MAX_RANK];
        let mut rank = 0;
        if !self.eat(b']') {
            loop {
                let d = self.integer()?;
                if rank == MAX_RANK {
                    return Err(WeightFileError::BadTensorInfo {
                        tensor: Name::new(name),
                        expected: "at most 8 dimensions",
                    });
                }
                dims[rank] = usize::try_from(d).map_err(|_| WeightFileError::BadTensorInfo {
                    tensor: Name::new(name),
                    expected: "dimensions that fit in usize",
                })?;
                rank += 1;
                if self.eat(b']') {
                    break;
                }
                self.expect(b',', "`,` or `]` in a shape")?;
            }
        }
        Ok(Shape::try_new(&dims[..rank]).unwrap_or(Shape::SCALAR))
    }
}

/// The header's tensors, one at a time (metadata skipped), each checked as it is read.
pub(super) struct Entries<'a> {
    cur: Cursor<'a>,
    data_len: usize,
    state: State,
    seen_metadata: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Members,
    Done,
}

impl<'a> Entries<'a> {
    pub(super) fn new(header: &'a str, data_len: usize) -> Self {
        Entries {
            cur: Cursor {
                text: header,
                pos: 0,
            },
            data_len,
            state: State::Start,
            seen_metadata: false,
        }
    }

    /// The next tensor, `None` at the end, or the first mistake.
    pub(super) fn next_entry(&mut self) -> Result<Option<Entry<'a>>, WeightFileError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    self.cur.expect(b'{', "the header's JSON object (`{`)")?;
                    if self.cur.eat(b'}') {
                        self.finish()?;
                        return Ok(None);
                    }
                    self.state = State::Members;
                }
                State::Members => {
                    let name = self.cur.string()?;
                    self.cur.expect(b':', "`:`")?;
                    let entry = if name.eq_str("__metadata__") {
                        if self.seen_metadata {
                            return Err(WeightFileError::Duplicate {
                                tensor: Name::new(name),
                            });
                        }
                        self.seen_metadata = true;
                        self.cur.metadata()?;
                        None
                    } else {
                        Some(self.cur.tensor_info(name, self.data_len)?)
                    };
                    if self.cur.eat(b'}') {
                        self.finish()?;
                    } else {
                        self.cur.expect(b',', "`,` or `}` between tensors")?;
                    }
                    if entry.is_some() {
                        return Ok(entry);
                    }
                }
            }
        }
    }

    fn finish(&mut self) -> Result<(), WeightFileError> {
        self.cur.ws();
        if self.cur.pos != self.cur.text.len() {
            return Err(self.cur.err("the end of the header after its JSON object"));
        }
        self.state = State::Done;
        Ok(())
    }
}
