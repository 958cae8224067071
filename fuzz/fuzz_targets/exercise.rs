//! Everything the weight-file loader does with untrusted bytes, in one function: shared by
//! the `cargo fuzz` target (`fuzz/fuzz_targets/weight_file.rs`) and the mutated-corpus test
//! (`tests/hostile_files.rs`). It must never panic, whatever `bytes` holds, and must accept
//! exactly the files the format's reference implementation accepts (but for the rules it is
//! stricter by).

use rnn_core::cells::{Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn_core::weight_file::{TorchLayer, WeightFile, WeightFileError};

/// Parses `bytes` and, if it is a safetensors file, reads every tensor and loads it every
/// way there is into a few cells. Returns how many tensors the file had (`None` when it was
/// refused), so callers can tell the two apart.
///
/// # Panics
/// When `WeightFile::parse` and the reference's `SafeTensors::deserialize` disagree, other
/// than by a rule `WeightFile` is stricter by (a repeated name, a dtype it does not
/// represent, more than 8 dimensions): that is a bug.
pub fn exercise(bytes: &[u8]) -> Option<usize> {
    let parsed = WeightFile::parse(bytes);
    let reference = safetensors::SafeTensors::deserialize(bytes);
    match (&parsed, &reference) {
        (Ok(file), Err(e)) => panic!("accepted a file the reference refuses ({e}): {file:?}"),
        (Err(e), Ok(_)) => assert!(stricter(e), "refused a file the reference accepts: {e}"),
        (Ok(file), Ok(tensors)) => assert_eq!(file.len(), tensors.len()),
        (Err(_), Err(_)) => {}
    }
    load_every_way(bytes)
}

/// [`exercise`] without the reference: what the loader alone does with `bytes`.
pub fn load_every_way(bytes: &[u8]) -> Option<usize> {
    let file = match WeightFile::parse(bytes) {
        Ok(file) => file,
        Err(e) => {
            // Displaying an error must not panic either.
            let _ = e.to_string();
            return None;
        }
    };
    for t in file.tensors() {
        let _ = t.name().to_string();
        let _ = (t.dtype(), t.shape().len(), t.bytes().len());
        let _ = t.values().fold(0.0f64, |a, v| a + v);
        let _ = (
            t.value(usize::MAX),
            t.value(usize::MAX / 4),
            t.value(usize::MAX / 8),
        );
        let _ = t.value(t.shape().len());
        assert_eq!(file.get(t.name()).map(|u| u.bytes()), Some(t.bytes()));
    }
    let mut lstm = LstmCell::<5, 4>::zeros();
    let mut gru = GruCell::<3, 2, f64>::zeros();
    let mut rnn = SimpleRnnCell::<2, 2>::zeros();
    let mut dense = Dense::<2, 3>::zeros();
    let results = [
        file.load_into(&mut lstm),
        file.load_into(&mut gru),
        file.load_into(&mut dense),
        file.import_keras(&mut lstm),
        file.import_keras(&mut gru),
        file.import_keras(&mut rnn),
        file.import_torch(&mut lstm, TorchLayer::new(0)),
        file.import_torch(&mut lstm, TorchLayer::new(1).reverse()),
        file.import_torch(&mut gru, TorchLayer::new(0)),
        file.import_torch(&mut rnn, TorchLayer::new(0).with_prefix("rnn.")),
    ];
    for r in results {
        if let Err(e) = r {
            let _ = e.to_string();
        }
    }
    Some(file.len())
}

/// Whether `e` is one of the rules `WeightFile` is stricter than the reference by.
fn stricter(e: &WeightFileError) -> bool {
    match e {
        WeightFileError::Duplicate { .. } | WeightFileError::UnsupportedDtype { .. } => true,
        WeightFileError::BadTensorInfo { reason, .. } => reason.contains("dimensions"),
        _ => false,
    }
}
