//! Everything the weight-file loader does with untrusted bytes, in one function: shared by
//! the `cargo fuzz` target (`fuzz/fuzz_targets/weight_file.rs`) and the mutated-corpus test
//! (`tests/hostile_files.rs`). It must never panic, whatever `bytes` holds.

use rnn_core::cells::{Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn_core::weight_file::{TorchLayer, WeightFile};

/// Parses `bytes` and, if it is a safetensors file, reads every tensor and loads it every
/// way there is into a few cells. Returns how many tensors the file had (`None` when it was
/// refused), so callers can tell the two apart.
pub fn exercise(bytes: &[u8]) -> Option<usize> {
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
        let _ = t.value(usize::MAX);
        let _ = t.value(t.shape().len());
        let _ = file.get(&t.name().to_string());
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
