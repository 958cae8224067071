//! Keras import: the tensors of `model.weights`, exported in order as `<index>/<keras path>`
//! (the snippet in the module docs), into a model's parameters in path order.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use super::error::WeightFileError;
use super::{TensorView, WeightFile};
use crate::parameters::{Parameters, Path};

/// The index of a Keras export name `<index>/<path>`.
fn keras_index(name: &str) -> Option<usize> {
    let (digits, _) = name.split_once('/')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl<'a> WeightFile<'a> {
    /// Imports a Keras model exported by the module docs' snippet into `model`: tensor `i`
    /// of the file (in `model.weights` order) goes to the `i`-th parameter of `model` (in
    /// path order), as Keras's `set_weights` does. Every shape must match exactly (Keras's
    /// shapes: declare a custom cell's reshaped kernels with `#[parameters(shape = …)]`).
    /// Checks everything first: on an error the model is unchanged.
    ///
    /// ```
    /// use rnn::cells::LstmCell;
    /// use rnn::weight_file::{WeightFile, WeightFileError};
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
        if expected != self.len() {
            return Err(WeightFileError::CountMismatch {
                expected,
                found: self.len(),
            });
        }
        // Tensor `i` of the export is the one named `i/…`: each index once, below the count.
        let mut nth: Vec<Option<TensorView<'_>>> = vec![None; expected];
        for view in self.tensors() {
            let slot = keras_index(view.name())
                .and_then(|i| nth.get_mut(i))
                .ok_or_else(|| WeightFileError::KerasKey {
                    tensor: view.name().into(),
                })?;
            if slot.replace(view).is_some() {
                return Err(WeightFileError::Duplicate {
                    tensor: view.name().into(),
                });
            }
        }
        // As many tensors as parameters, every index below that count and none twice: each
        // index is there.
        let nth: Vec<TensorView<'_>> = nth.into_iter().flatten().collect();
        let mut error = None;
        let mut i = 0usize;
        model.visit(&Path::ROOT, &mut |path, tensor| {
            if let (None, Some(view)) = (&error, nth.get(i)) {
                let name = format!("{} → {path}", view.name());
                error = view.check(&name, tensor.shape(), tensor.dtype()).err();
            }
            i += 1;
        });
        if let Some(e) = error {
            return Err(e);
        }
        let mut i = 0usize;
        model.visit_mut(&Path::ROOT, None, &mut |_, tensor, _| {
            if let Some(view) = nth.get(i) {
                let mut values = view.values();
                tensor.write(&mut || values.next().unwrap_or(0.0));
            }
            i += 1;
        });
        Ok(())
    }
}
