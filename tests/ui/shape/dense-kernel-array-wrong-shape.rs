use rnn::cells::Dense;

fn main() {
    // Keras kernels are [inputs, units]: this one is [units, inputs].
    let kernel = [[0.0f32; 3]; 2];
    let _ = Dense::<3, 2>::from_keras_arrays(&kernel, None);
}
