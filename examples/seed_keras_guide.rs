//! The Keras RNN guide: its programs, one section each, printing the shapes Keras
//! prints (`(batch, timesteps, units)`) and, where the guide states an equality, checking it.
//!
//! ```text
//! cargo run --release --example seed_keras_guide
//! ```

use rnn::arrays::{ArrayBatch, FlatArray};
use rnn::cells::Embedding;
use rnn::cells::{Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn::init::{rng, Initializer};
use rnn::ops::Activation;
use rnn::parameters::Scheme;
use rnn::prelude::*;
use rnn::{Bidirectional, Sum};

/// Demo data: a row-major `[b, t, f]` array of uniform(±1) values, reproducible from `seed`
/// (the guide's `np.random.random((b, t, f))`, centred).
fn random_array(seed: u64, [b, t, f]: [usize; 3]) -> Vec<f32> {
    let mut values = vec![0.0; b * t * f];
    Initializer::uniform(1.0)
        .fill(&mut rng(seed), &[b * t, f], &mut values)
        .expect("b·t·f values");
    values
}

/// An embedding table with Keras's default initialisation, `uniform(±0.05)`.
fn random_embedding<const V: usize, const D: usize>(seed: u64) -> Embedding<V, D> {
    let mut table = vec![0.0f32; V * D];
    Initializer::uniform(0.05)
        .fill(&mut rng(seed), &[V, D], &mut table)
        .expect("V x D values");
    Embedding::from_f32_slice(&table).expect("V x D values")
}

/// A row-major `[n, t]` array of random token ids below `vocab`.
fn random_tokens(seed: u64, n: usize, t: usize, vocab: usize) -> Vec<usize> {
    let token = |v: &f32| ((v + 1.0) / 2.0 * (vocab - 1) as f32) as usize;
    random_array(seed, [n, t, 1]).iter().map(token).collect()
}

/// Another layer's `[B, T, F]` output as the next one's input.
fn batch(x: &FlatArray) -> ArrayBatch<'_> {
    ArrayBatch::from_array(x).expect("a [B, T, F] array")
}

fn section(title: &str) {
    println!("\n== {title}");
}

/// The guide's first model: `Sequential([Embedding(1000, 64), LSTM(128), Dense(10, softmax)])`.
#[derive(Parameters)]
struct SimpleModel {
    embedding: Embedding<1000, 64>,
    lstm: LstmCell<64, 128>,
    dense: Dense<128, 10>,
}

fn simple_model() {
    section("A simple model: Embedding(1000, 64) -> LSTM(128) -> Dense(10, softmax)");
    let mut model = SimpleModel {
        embedding: Embedding::zeros(),
        lstm: LstmCell::zeros(),
        dense: Dense::zeros().with_activation(Activation::Softmax),
    };
    model.initialize(Scheme::Keras, 0);
    print!("{}", model.summary());
    let tokens = random_tokens(1, 1, 12, 1000);
    let x = model
        .embedding
        .forward_array(&tokens, [1, 12])
        .expect("ids < 1000");
    let run = Rnn::new(&model.lstm)
        .run_arrays(&batch(&x), &())
        .expect("[1, 12, 64]");
    let p = model
        .dense
        .forward_array(run.last_outputs())
        .expect("[1, 128]");
    let total: f32 = p.data().iter().sum();
    println!(
        "one sequence of 12 tokens -> probabilities {:?}, summing to {total:.4}",
        p.shape()
    );
}

fn outputs_and_states() {
    section("Outputs and states: GRU(256, return_sequences=True) -> SimpleRNN(128) -> Dense(10)");
    let embedding = random_embedding::<1000, 64>(0);
    let gru = Rnn::new(GruCell::<64, 256>::keras_init(1));
    let simple = Rnn::new(SimpleRnnCell::<256, 128>::keras_init(2));
    let dense = Dense::<128, 10>::keras_init(3).with_activation(Activation::Softmax);
    let tokens = random_tokens(4, 4, 7, 1000);
    let embedded = embedding
        .forward_array(&tokens, [4, 7])
        .expect("ids < 1000");
    let sequences = gru.run_arrays(&batch(&embedded), &()).expect("[4, 7, 64]");
    let outputs = sequences.outputs();
    println!("GRU output (return_sequences=True): {:?}", outputs.shape());
    let last = simple
        .run_arrays(&batch(outputs), &())
        .expect("[4, 7, 256]");
    let last_outputs = last.last_outputs();
    println!(
        "SimpleRNN output (last step only):  {:?}",
        last_outputs.shape()
    );
    let probabilities = dense.forward_array(last_outputs).expect("[4, 128]");
    println!(
        "Dense(10, softmax):                 {:?}",
        probabilities.shape()
    );

    let lstm = Rnn::new(LstmCell::<64, 64>::keras_init(5));
    let run = lstm.run_arrays(&batch(&embedded), &()).expect("[4, 7, 64]");
    let [state_h, state_c] = run.states() else {
        unreachable!("an LSTM's states are [h, c]")
    };
    println!(
        "LSTM(64, return_state=True): output {:?}, state_h {:?}, state_c {:?}; output == state_h: {}",
        run.last_outputs().shape(),
        state_h.shape(),
        state_c.shape(),
        run.last_outputs() == state_h
    );
}

fn encoder_decoder() {
    section("Encoder-decoder: the encoder's LSTM states [h, c] start the decoder");
    let encoder_embedding = random_embedding::<1000, 64>(20);
    let decoder_embedding = random_embedding::<2000, 64>(21);
    let encoder = Rnn::new(LstmCell::<64, 64>::keras_init(6));
    let decoder = Rnn::new(LstmCell::<64, 64>::keras_init(7));
    let dense = Dense::<64, 10>::keras_init(8).with_activation(Activation::Softmax);
    let encoder_tokens = random_tokens(9, 4, 12, 1000);
    let decoder_tokens = random_tokens(10, 4, 9, 2000);
    let source = encoder_embedding.forward_array(&encoder_tokens, [4, 12]);
    let encoded = encoder
        .run_arrays(&batch(&source.expect("ids < 1000")), &())
        .expect("[4, 12, 64]");
    let encoder_state = encoded.states(); // [state_h, state_c]
    let target = decoder_embedding.forward_array(&decoder_tokens, [4, 9]);
    let decoded = decoder
        .run_arrays(
            &batch(&target.expect("ids < 2000")).initial_states(encoder_state),
            &(),
        )
        .expect("[4, 9, 64], states [4, 64]");
    let output = dense
        .forward_array(decoded.last_outputs())
        .expect("[4, 64]");
    println!(
        "encoder states: h {:?}, c {:?}; decoder output: {:?}",
        encoder_state[0].shape(),
        encoder_state[1].shape(),
        output.shape()
    );
}

fn cell_versus_fused_layer() {
    section("RNN(LSTMCell(10)) and LSTM(10) give the same result");
    let cell = LstmCell::<28, 10>::keras_init(30);
    let images = random_array(31, [64, 28, 28]); // 64 MNIST-sized images, rows as timesteps
    let by_cell = Rnn::new(&cell)
        .run_arrays(&ArrayBatch::new(&images, [64, 28, 28]), &())
        .expect("[64, 28, 28]");
    let fused = rnn::fused::Lstm::new(&cell)
        .forward(&images, 64, None)
        .expect("[64, 28, 28]");
    let difference = by_cell
        .outputs()
        .data()
        .iter()
        .zip(&fused.outputs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!(
        "outputs {:?}: max |RNN(LSTMCell) - fused LSTM| = {difference:.1e}",
        by_cell.outputs().shape()
    );
}

fn cross_batch_statefulness() {
    section("Cross-batch statefulness: LSTM(64, stateful=True) over three paragraphs, then reset_states()");
    let paragraphs: Vec<Vec<f32>> = (0..3).map(|p| random_array(20 + p, [20, 10, 50])).collect();
    let cell = LstmCell::<50, 64>::keras_init(11);
    let mut lstm = Rnn::new(cell.clone()).stateful_batch(vec![(); 20]);
    let mut output = None;
    for paragraph in &paragraphs {
        let chunk = ArrayBatch::new(paragraph, [20, 10, 50]);
        output = Some(lstm.feed_arrays(&chunk).expect("[20, 10, 50]"));
    }
    let output = output.expect("three paragraphs");
    println!(
        "output after paragraph 3: {:?}",
        output.last_outputs().shape()
    );
    // Sample i of each paragraph continues sample i of the one before: the same as one run
    // over the three paragraphs joined, [20, 30, 50].
    let sample = |p: &Vec<f32>, i: usize| p[i * 500..(i + 1) * 500].to_vec();
    let joined: Vec<f32> = (0..20)
        .flat_map(|i| paragraphs.iter().flat_map(move |p| sample(p, i)))
        .collect();
    let whole = Rnn::new(cell)
        .run_arrays(&ArrayBatch::new(&joined, [20, 30, 50]), &())
        .expect("[20, 30, 50]");
    // Both run on the LSTM's batched kernel, which tiles its products by the size of what it
    // runs: equal up to rounding, not to the bit.
    let difference = (whole.states().iter().zip(output.states()))
        .flat_map(|(a, b)| a.data().iter().zip(b.data()).map(|(a, b)| (a - b).abs()))
        .fold(0.0f32, f32::max);
    println!(
        "three stateful chunks vs one run over the joined paragraphs: max |difference| = {difference:.1e}"
    );
    lstm.reset();
    println!(
        "after reset_states(): every state zero: {}",
        lstm.states()
            .all(|s| s.h.norm() == 0.0 && s.c.norm() == 0.0)
    );
}

fn bidirectional() {
    section("Bidirectional(LSTM(64, return_sequences=True)) on (5, 10) -> Bidirectional(LSTM(32)) -> Dense(10)");
    let x = random_array(12, [1, 5, 10]);
    let input = ArrayBatch::new(&x, [1, 5, 10]);
    let first = Bidirectional::new(
        LstmCell::<10, 64>::keras_init(13),
        LstmCell::<10, 64>::keras_init(14),
    );
    let second = Bidirectional::new(
        LstmCell::<128, 32>::keras_init(15),
        LstmCell::<128, 32>::keras_init(16),
    );
    let dense = Dense::<64, 10>::keras_init(17).with_activation(Activation::Softmax);
    let concat = first.run_arrays(&input, &()).expect("[1, 5, 10]");
    let last = second
        .run_arrays(&batch(concat.outputs()), &())
        .expect("[1, 5, 128]");
    let y = dense.forward_array(last.last_outputs()).expect("[1, 64]");
    println!(
        "merge_mode='concat': {:?} -> last outputs {:?} -> Dense {:?}",
        concat.outputs().shape(),
        last.last_outputs().shape(),
        y.shape()
    );

    let summed = first.merge_mode(Sum);
    let sum = summed.run_arrays(&input, &()).expect("[1, 5, 10]");
    let halves_add_up = sum
        .outputs()
        .data()
        .chunks(64)
        .zip(concat.outputs().data().chunks(128))
        .all(|(s, c)| (0..64).all(|i| (s[i] - (c[i] + c[64 + i])).abs() < 1e-6));
    println!(
        "merge_mode='sum': {:?}; equals the sum of concat's two halves: {halves_add_up}",
        sum.outputs().shape()
    );
}

fn main() {
    simple_model();
    outputs_and_states();
    encoder_decoder();
    cell_versus_fused_layer();
    cross_batch_statefulness();
    bidirectional();
}
