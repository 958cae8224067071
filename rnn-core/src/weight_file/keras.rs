//! Keras import: the tensors of `model.weights`, exported in order as `<index>/<keras path>`
//! (the snippet in the module docs), into a model's parameters in path order.

use core::fmt;

use super::error::{Name, WeightFileError};
use super::{JsonStr, TensorView, WeightFile};
use crate::parameters::{Parameters, Path};

/// The index of a Keras export name `<index>/<path>`.
fn keras_index(name: JsonStr<'_>) -> Option<usize> {
    let mut index: usize = 0;
    let mut digits = 0;
    for c in name.chars() {
        match c {
            '0'..='9' => {
                index = index
                    .checked_mul(10)?
                    .checked_add(c.to_digit(10)? as usize)?;
                digits += 1;
            }
            '/' if digits > 0 => return Some(index),
            _ => return None,
        }
    }
    None
}

/// `keras name → our path`, for errors.
struct Pair<'a, 'p>(JsonStr<'a>, &'p Path<'p>);

impl fmt::Display for Pair<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.0, self.1)
    }
}

impl<'a> WeightFile<'a> {
    /// Imports a Keras model exported by the module docs' snippet into `model`: tensor `i`
    /// of the file (in `model.weights` order) goes to the `i`-th parameter of `model` (in
    /// path order), as Keras's `set_weights` does. Every shape must match exactly (Keras's
    /// shapes: declare a custom cell's reshaped kernels with `#[parameters(shape = …)]`).
    /// Checks everything first: on an error the model is unchanged.
    ///
    /// ```
    /// use rnn_core::cells::LstmCell;
    /// use rnn_core::weight_file::{WeightFile, WeightFileError};
    ///
    /// // What the snippet writes for a Keras LSTM(2) on 3 inputs (built here by hand).
    /// let file = safetensors_of(&[
    ///     ("0000/lstm/lstm_cell/kernel", &[3, 8]),
    ///     ("0001/lstm/lstm_cell/recurrent_kernel", &[2, 8]),
    ///     ("0002/lstm/lstm_cell/bias", &[8]),
    /// ]);
    /// let mut lstm = LstmCell::<3, 2>::zeros();
    /// WeightFile::parse(&file).unwrap().import_keras(&mut lstm).unwrap();
    ///
    /// let mut wider = LstmCell::<4, 2>::zeros();
    /// let err = WeightFile::parse(&file).unwrap().import_keras(&mut wider).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "tensor `0000/lstm/lstm_cell/kernel → kernel`: expected shape [4, 8], found [3, 8]"
    /// );
    /// # fn safetensors_of(tensors: &[(&str, &[usize])]) -> Vec<u8> {
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
    pub fn import_keras<P: Parameters + ?Sized>(
        &self,
        model: &mut P,
    ) -> Result<(), WeightFileError> {
        let expected = {
            let mut n = 0usize;
            model.visit(&Path::ROOT, &mut |_, _| n += 1);
            n
        };
        if expected != self.len {
            return Err(WeightFileError::CountMismatch {
                expected,
                found: self.len,
            });
        }
        for view in self.tensors() {
            if keras_index(view.name).is_none_or(|i| i >= expected) {
                return Err(WeightFileError::KerasKey {
                    tensor: Name::new(view.name),
                });
            }
        }
        // As many tensors as parameters, every index below that count: a missing index
        // means another one is repeated.
        let nth = |i: usize| -> Result<TensorView<'a>, WeightFileError> {
            let mut found = self.tensors().filter(|t| keras_index(t.name) == Some(i));
            let first = found.next();
            match (first, found.next()) {
                (Some(view), None) => Ok(view),
                (Some(_), Some(second)) => Err(WeightFileError::Duplicate {
                    tensor: Name::new(second.name),
                }),
                // Index `i` is missing, so another index is repeated: name it.
                (None, _) => Err(self
                    .tensors()
                    .find(|t| {
                        let index = keras_index(t.name);
                        self.tensors()
                            .filter(|u| keras_index(u.name) == index)
                            .count()
                            > 1
                    })
                    .map_or(
                        WeightFileError::CountMismatch {
                            expected,
                            found: self.len,
                        },
                        |t| WeightFileError::Duplicate {
                            tensor: Name::new(t.name),
                        },
                    )),
            }
        };
        for i in 0..expected {
            nth(i)?;
        }
        let mut error = None;
        let mut i = 0usize;
        model.visit(&Path::ROOT, &mut |path, tensor| {
            if error.is_none() {
                error = nth(i)
                    .and_then(|view| {
                        view.check(
                            Name::new(Pair(view.name, path)),
                            tensor.shape(),
                            tensor.dtype(),
                        )
                    })
                    .err();
            }
            i += 1;
        });
        if let Some(e) = error {
            return Err(e);
        }
        let mut i = 0usize;
        model.visit_mut(&Path::ROOT, None, &mut |_, tensor, _| {
            if let Ok(view) = nth(i) {
                let mut values = view.values();
                tensor.write(&mut || values.next().unwrap_or(0.0));
            }
            i += 1;
        });
        Ok(())
    }
}
