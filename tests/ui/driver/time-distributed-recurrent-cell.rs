use rnn::cells::LstmCell;
use rnn::prelude::*;
use rnn::TimeDistributed;

fn main() {
    // An LSTM keeps a state: it runs with `Rnn`, it is not applied step by step
    // (Keras's `TimeDistributed` wraps layers without one, such as `Dense`).
    let _ = Rnn::new(TimeDistributed(LstmCell::<3, 4>::zeros()));
}
