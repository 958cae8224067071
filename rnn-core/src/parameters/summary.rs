//! The table `summary()` prints, like Keras's `model.summary()`.

use core::fmt;

use super::{Parameters, Path};

/// The table [`Parameters::summary`] displays.
pub struct Summary<'a, P: ?Sized>(pub(super) &'a P);

/// Counts the characters written.
struct Width(usize);

impl fmt::Write for Width {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.chars().count();
        Ok(())
    }
}

fn width(value: impl fmt::Display) -> usize {
    let mut w = Width(0);
    let _ = fmt::write(&mut w, format_args!("{value}"));
    w.0
}

/// `1234567` as `1,234,567`.
struct Thousands(usize);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = [0u8; 20];
        let mut n = self.0;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut out = [0u8; 27];
        let mut at = 0;
        for i in (0..len).rev() {
            out[at] = digits[i];
            at += 1;
            if i > 0 && i % 3 == 0 {
                out[at] = b',';
                at += 1;
            }
        }
        let text = core::str::from_utf8(&out[..at]).map_err(|_| fmt::Error)?;
        f.pad(text)
    }
}

impl<P: Parameters + ?Sized> fmt::Display for Summary<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const PATH: &str = "Parameter (path)";
        const SHAPE: &str = "Shape";
        const COUNT: &str = "Param #";
        let (mut path_w, mut shape_w, mut count_w) = (PATH.len(), SHAPE.len(), COUNT.len());
        let (mut total, mut bytes) = (0usize, 0usize);
        self.0.visit(&Path::ROOT, &mut |path, t| {
            path_w = path_w.max(width(path));
            shape_w = shape_w.max(width(t.shape()));
            count_w = count_w.max(width(Thousands(t.len())));
            total = total.saturating_add(t.len());
            bytes = bytes.saturating_add(t.len().saturating_mul(t.dtype().size()));
        });
        let rule_w = path_w + shape_w + count_w + 4;
        let line = |f: &mut fmt::Formatter<'_>, c: char| -> fmt::Result {
            for _ in 0..rule_w {
                write!(f, "{c}")?;
            }
            writeln!(f)
        };
        line(f, '_')?;
        writeln!(f, "{PATH:<path_w$}  {SHAPE:<shape_w$}  {COUNT:>count_w$}")?;
        line(f, '=')?;
        let mut result = Ok(());
        self.0.visit(&Path::ROOT, &mut |path, t| {
            if result.is_ok() {
                result = writeln!(
                    f,
                    "{:<path_w$}  {:<shape_w$}  {:>count_w$}",
                    Padded(path),
                    Padded(t.shape()),
                    Thousands(t.len())
                );
            }
        });
        result?;
        line(f, '=')?;
        writeln!(
            f,
            "Total params: {} ({})",
            Thousands(total),
            Bytes(bytes as f64)
        )?;
        line(f, '_')
    }
}

/// Lets a `Display` without padding support be padded (`{:<20}`).
struct Padded<D>(D);

impl<D: fmt::Display> fmt::Display for Padded<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = width(&self.0);
        let pad = f.width().unwrap_or(0).saturating_sub(w);
        let right = matches!(f.align(), Some(fmt::Alignment::Right));
        if right {
            for _ in 0..pad {
                f.write_str(" ")?;
            }
        }
        write!(f, "{}", self.0)?;
        if !right {
            for _ in 0..pad {
                f.write_str(" ")?;
            }
        }
        Ok(())
    }
}

/// A byte count as Keras prints it: `386.00 KB`.
struct Bytes(f64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = ["B", "KB", "MB", "GB", "TB"];
        let mut v = self.0;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < units.len() {
            v /= 1024.0;
            u += 1;
        }
        write!(f, "{v:.2} {}", units[u])
    }
}
