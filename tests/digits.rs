//! The end-to-end task against Keras: the model `tools/train_digits.py` trained, loaded from
//! its weight file, predicts what Keras predicted on every held-out image, with
//! probabilities within 1e-4.

#[path = "../examples/common/digits_model.rs"]
mod digits_model;

use digits_model::{argmax, read_digits, root, DigitsModel, TEST_ROWS};
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    bn_epsilon: f32,
    accuracy: f64,
    predictions: Vec<usize>,
    probabilities: Vec<[f32; 10]>,
}

#[test]
fn predictions_equal_keras_on_every_held_out_image() {
    let model = DigitsModel::load(&root().join("tests/fixtures/digits/model.safetensors")).unwrap();
    let expected: Expected = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/digits/expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(model.batch_normalization.epsilon, expected.bn_epsilon);
    let digits = read_digits(&root().join("data/digits/digits.csv")).unwrap();
    let test = &digits[TEST_ROWS];
    assert_eq!(test.len(), expected.predictions.len());

    let mut worst = 0.0f32;
    let mut correct = 0;
    for (i, (label, image)) in test.iter().enumerate() {
        let p = model.probabilities(image);
        assert_eq!(argmax(&p), expected.predictions[i], "held-out image {i}");
        for (ours, keras) in p.iter().zip(expected.probabilities[i]) {
            worst = worst.max((ours - keras).abs());
        }
        correct += usize::from(argmax(&p) == *label);
    }
    println!("max abs probability difference from Keras: {worst:.2e}");
    assert!(
        worst <= 1e-4,
        "probabilities differ from Keras by {worst:e}"
    );
    assert_eq!(correct as f64 / test.len() as f64, expected.accuracy);
}

#[test]
fn a_malformed_csv_row_is_an_error_naming_the_row() {
    let dir = std::env::temp_dir().join(format!("rnn-digits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.csv");
    std::fs::write(&path, "label,p0\n3,1,2\n").unwrap();
    let err = read_digits(&path).unwrap_err();
    assert_eq!(
        err,
        "row 1: expected 65 values (label and 64 pixels), found 3"
    );
}
