use rnn::cells::Dense;
use rnn::weight_file::{TorchLayer, WeightFile};

fn main() {
    let bytes = rnn::weight_file::save(&Dense::<5, 4>::zeros()).unwrap();
    let file = WeightFile::parse(&bytes).unwrap();
    let mut dense = Dense::<5, 4>::zeros();
    let _ = file.import_torch(&mut dense, TorchLayer::new(0));
}
