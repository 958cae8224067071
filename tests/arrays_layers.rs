//! Keras's `Embedding` and `Dense` on arrays: the same values as their per-vector forms, in
//! Keras's layout, and errors that name the shapes.

use rnn::arrays::{ArrayBatch, ArrayError, FlatArray};
use rnn::cells::{Dense, Embedding};
use rnn::ops::Activation;
use rnn::prelude::*;
use rnn::SequenceError;

fn table() -> Embedding<7, 3> {
    let weights: Vec<f32> = (0..21).map(|i| (i as f32 * 0.37).sin()).collect();
    Embedding::from_f32_slice(&weights).unwrap()
}

#[test]
fn an_embedded_array_is_each_sequence_embedded_in_turn() {
    let embedding = table();
    let tokens = [0, 6, 2, 2, 5, 1, 3, 4];
    let array = embedding.forward_array(&tokens, [2, 4]).unwrap();
    assert_eq!(array.shape(), [2, 4, 3]);
    let by_sequence: Vec<f32> = tokens
        .chunks(4)
        .flat_map(|s| embedding.forward(s).unwrap())
        .flat_map(|v| v.iter().copied().collect::<Vec<_>>())
        .collect();
    assert_eq!(array.data(), by_sequence);
    assert_eq!(ArrayBatch::from_array(&array).unwrap().shape(), [2, 4, 3]);
}

#[test]
fn a_dense_array_is_the_layer_on_each_row_of_its_last_axis() {
    let dense = Dense::<3, 2>::keras_init(4).with_activation(Activation::Tanh);
    let values: Vec<f32> = (0..18).map(|i| (i as f32 * 0.61).cos()).collect();
    let row = |r: usize| dense.forward(&SVector::<f32, 3>::from_row_slice(&values[3 * r..][..3]));
    for shape in [vec![6, 3], vec![2, 3, 3]] {
        let x = FlatArray::new(shape.clone(), values.clone()).unwrap();
        let y = dense.forward_array(&x).unwrap();
        let mut expected_shape = shape[..shape.len() - 1].to_vec();
        expected_shape.push(2);
        assert_eq!(y.shape(), expected_shape);
        let rows: Vec<f32> = (0..6)
            .flat_map(|r| row(r).iter().copied().collect::<Vec<_>>())
            .collect();
        assert_eq!(y.data(), rows, "{shape:?}");
    }
}

#[test]
fn arrays_that_do_not_fit_are_named() {
    let embedding = table();
    assert_eq!(
        embedding.forward_array(&[1, 2, 3], [2, 2]),
        Err(ArrayError::Values {
            what: "tokens",
            shape: vec![2, 2],
            found: 3
        })
    );
    assert_eq!(
        embedding.forward_array(&[1, 2, 3, 4, 7, 1], [3, 2]),
        Err(ArrayError::Sequence(SequenceError::TokenOutOfRange {
            sequence: 2,
            step: 0,
            vocabulary: 7,
            found: 7
        }))
    );
    let dense = Dense::<3, 2>::keras_init(4);
    let wrong = FlatArray::new(vec![2, 2, 4], vec![0.0; 16]).unwrap();
    assert_eq!(
        dense.forward_array(&wrong).unwrap_err().to_string(),
        "dense inputs: expected shape [2, 2, 3], found [2, 2, 4]"
    );
    let scalar = FlatArray::new(vec![], vec![1.0]).unwrap();
    assert_eq!(
        dense.forward_array(&scalar).unwrap_err().to_string(),
        "dense inputs: expected shape [3], found []"
    );
    let matrix = FlatArray::new(vec![2, 3], vec![0.0; 6]).unwrap();
    assert_eq!(
        ArrayBatch::from_array(&matrix).unwrap_err().to_string(),
        "inputs: expected shape [B, T, F], found [2, 3]"
    );
}
