use rnn::cells::LstmCell;

fn main() {
    // An LSTM with 2 units has 4 gates × 2 units = 8 kernel columns; these rows have 6.
    let kernel = [[0.0f32; 6]; 3];
    let recurrent = [[0.0f32; 6]; 2];
    let _ = LstmCell::<3, 2>::from_keras_arrays(&kernel, &recurrent, None);
}
