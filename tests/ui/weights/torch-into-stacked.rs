use rnn::cells::{LstmCell, Stacked};
use rnn::weight_file::{TorchLayer, WeightFile};

fn main() {
    let bytes = rnn::weight_file::save(&LstmCell::<5, 4>::zeros()).unwrap();
    let file = WeightFile::parse(&bytes).unwrap();
    // nn.LSTM(5, 4, num_layers=2) is two PyTorch layers: not one import.
    let mut stack = Stacked((LstmCell::<5, 4>::zeros(), LstmCell::<4, 4>::zeros()));
    let _ = file.import_torch(&mut stack, TorchLayer::new(0));
}
