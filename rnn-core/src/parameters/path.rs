//! Where a tensor sits in a cell.

use core::fmt;

/// Where a tensor sits in a cell: its field names from the outermost cell in, joined by `/`
/// when displayed (`decoder/gru/kernel`). Built on the stack as the visit descends, so
/// visiting needs no allocator.
#[derive(Clone, Copy)]
pub struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: &'a str,
}

impl Path<'static> {
    /// The empty path of the outermost cell.
    pub const ROOT: Path<'static> = Path {
        parent: None,
        segment: "",
    };
}

impl<'a> Path<'a> {
    /// This path with one more segment.
    pub fn join<'b>(&'b self, segment: &'b str) -> Path<'b> {
        Path {
            parent: Some(self),
            segment,
        }
    }

    /// Whether this is [`Path::ROOT`].
    pub fn is_root(&self) -> bool {
        self.parent.is_none()
    }

    /// The last segment (`""` for the root).
    pub fn last(&self) -> &'a str {
        self.segment
    }

    /// Calls `f` with each segment, outermost first.
    pub fn for_each_segment(&self, f: &mut dyn FnMut(&str)) {
        if let Some(parent) = self.parent {
            parent.for_each_segment(f);
            f(self.segment);
        }
    }

    /// Whether the path displays as `text`, compared without allocating.
    pub fn matches(&self, text: &str) -> bool {
        self.matches_chars(text.chars())
    }

    /// Whether the path displays as the characters `chars`.
    pub fn matches_chars(&self, chars: impl Iterator<Item = char>) -> bool {
        let mut cmp = CompareWriter {
            rest: chars,
            equal: true,
        };
        let _ = fmt::write(&mut cmp, format_args!("{self}"));
        cmp.equal && cmp.rest.next().is_none()
    }
}

/// A `fmt::Write` that compares what is written against a character sequence.
struct CompareWriter<I> {
    rest: I,
    equal: bool,
}

impl<I: Iterator<Item = char>> fmt::Write for CompareWriter<I> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.equal {
            for c in s.chars() {
                if self.rest.next() != Some(c) {
                    self.equal = false;
                    break;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            if !parent.is_root() {
                fmt::Display::fmt(parent, f)?;
                f.write_str("/")?;
            }
        }
        f.write_str(self.segment)
    }
}

impl fmt::Debug for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}
