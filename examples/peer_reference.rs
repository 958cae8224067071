//! Reference cases for the peers `tools/peers.py` times outside Python (RTNeural, candle):
//! for each LSTM/GRU configuration, one safetensors file with a cell's weights in Keras's
//! layout, inputs, and this crate's outputs, so that a peer runs the same weights and checks
//! its outputs against ours before it is timed.
//!
//! ```text
//! cargo run --release --example peer_reference -- --out DIR [--configs lstm-b1-h8,gru-b1-h32]
//! ```
//!
//! writes `DIR/NAME.safetensors` for each configuration (default: all of [`CONFIGS`]), with
//! float32 row-major tensors:
//!
//! - `kernel` [I, G·H] and `recurrent_kernel` [H, G·H], Keras's layout (LSTM G = 4, gates
//!   `i f c o`; GRU G = 3, gates `z r h`);
//! - `bias`: LSTM [G·H]; GRU (`reset_after`, as Keras 3 and PyTorch) [2, G·H], the input
//!   bias then the recurrent bias, as Keras stores it;
//! - `inputs` [B, T, I] and `outputs` [B, T, H] (every step's `h`, from the zero state).
//!
//! The weights are PyTorch's initialisation (every weight and bias non-zero, so a peer that
//! misplaces a bias or a gate fails the check); the outputs come from `Rnn::run`, sample by
//! sample.

#[path = "../benches/workloads/mod.rs"]
mod workloads;

use std::path::{Path, PathBuf};

use rnn::cells::{GruCell, LstmCell};
use rnn::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

/// The configurations, by `tools/peers.py`'s names: (name, cell, batch, I = H, T).
const CONFIGS: [(&str, Kind, usize, usize, usize); 8] = [
    ("lstm-b1-h8", Kind::Lstm, 1, 8, 32),
    ("lstm-b1-h16", Kind::Lstm, 1, 16, 32),
    ("lstm-b1-h32", Kind::Lstm, 1, 32, 32),
    ("lstm-b1-h64", Kind::Lstm, 1, 64, 32),
    ("lstm-b1-h128", Kind::Lstm, 1, 128, 32),
    ("gru-b1-h32", Kind::Gru, 1, 32, 32),
    ("lstm-b64-h128", Kind::Lstm, 64, 128, 50),
    ("lstm-b64-h256", Kind::Lstm, 64, 256, 100),
];

#[derive(Clone, Copy)]
enum Kind {
    Lstm,
    Gru,
}

/// A named float32 tensor: (name, shape, values).
type Tensor = (&'static str, Vec<usize>, Vec<f32>);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let out = PathBuf::from(value("--out").unwrap_or_else(|| usage("--out DIR is required")));
    let names: Vec<String> = match value("--configs") {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => CONFIGS.iter().map(|c| c.0.to_string()).collect(),
    };
    std::fs::create_dir_all(&out).expect("create the output directory");
    for name in &names {
        let &(_, kind, batch, h, steps) = CONFIGS
            .iter()
            .find(|c| c.0 == name)
            .unwrap_or_else(|| usage(&format!("unknown configuration {name}")));
        let tensors = case(kind, batch, h, steps);
        write(&out.join(format!("{name}.safetensors")), &tensors);
    }
}

fn usage(why: &str) -> ! {
    let known: Vec<&str> = CONFIGS.iter().map(|c| c.0).collect();
    eprintln!("{why}\nusage: peer_reference --out DIR [--configs a,b]; known: {known:?}");
    std::process::exit(2)
}

/// The sizes are type parameters of the cells: one instance per H the table uses.
fn case(kind: Kind, batch: usize, h: usize, steps: usize) -> Vec<Tensor> {
    match (kind, h) {
        (Kind::Lstm, 8) => lstm_case::<8>(batch, steps),
        (Kind::Lstm, 16) => lstm_case::<16>(batch, steps),
        (Kind::Lstm, 32) => lstm_case::<32>(batch, steps),
        (Kind::Lstm, 64) => lstm_case::<64>(batch, steps),
        (Kind::Lstm, 128) => lstm_case::<128>(batch, steps),
        (Kind::Lstm, 256) => lstm_case::<256>(batch, steps),
        (Kind::Gru, 32) => gru_case::<32>(batch, steps),
        _ => unreachable!("every configuration has its instance"),
    }
}

fn lstm_case<const H: usize>(batch: usize, steps: usize) -> Vec<Tensor> {
    let cell = LstmCell::<H, H>::pytorch_init(1);
    let bias: Vec<f32> = cell
        .bias
        .expect("PyTorch's initialisation has a bias")
        .iter()
        .flat_map(|gate| gate.iter().copied())
        .collect();
    let mut tensors = vec![
        ("kernel", vec![H, 4 * H], cell.kernel.as_slice().to_vec()),
        (
            "recurrent_kernel",
            vec![H, 4 * H],
            cell.recurrent_kernel.as_slice().to_vec(),
        ),
        ("bias", vec![4 * H], bias),
    ];
    tensors.extend(run_sequences::<_, H>(Rnn::new(cell), batch, steps));
    tensors
}

fn gru_case<const H: usize>(batch: usize, steps: usize) -> Vec<Tensor> {
    let cell = GruCell::<H, H>::pytorch_init(1);
    assert!(cell.reset_after, "the peers run Keras 3's GRU");
    let rows = [&cell.bias, &cell.recurrent_bias];
    let bias: Vec<f32> = rows
        .iter()
        .flat_map(|row| {
            row.as_ref()
                .expect("PyTorch's initialisation has both biases")
        })
        .flat_map(|gate| gate.iter().copied())
        .collect();
    let mut tensors = vec![
        ("kernel", vec![H, 3 * H], cell.kernel.as_slice().to_vec()),
        (
            "recurrent_kernel",
            vec![H, 3 * H],
            cell.recurrent_kernel.as_slice().to_vec(),
        ),
        ("bias", vec![2, 3 * H], bias),
    ];
    tensors.extend(run_sequences::<_, H>(Rnn::new(cell), batch, steps));
    tensors
}

/// `inputs` [B, T, H] in [-1, 1) and this crate's `outputs` [B, T, H], sample by sample.
fn run_sequences<C, const H: usize>(rnn: Rnn<C>, batch: usize, steps: usize) -> [Tensor; 2]
where
    C: Cell<Input = SVector<f32, H>, Output = SVector<f32, H>, Constants = ()>,
{
    let inputs = workloads::values(batch * steps * H, 7);
    let mut outputs = Vec::with_capacity(inputs.len());
    for sample in inputs.chunks_exact(steps * H) {
        let xs: Vec<SVector<f32, H>> = sample
            .chunks_exact(H)
            .map(SVector::from_column_slice)
            .collect();
        let run = rnn.run(&xs, &());
        outputs.extend(run.outputs.0.iter().flat_map(|h| h.iter().copied()));
    }
    [
        ("inputs", vec![batch, steps, H], inputs),
        ("outputs", vec![batch, steps, H], outputs),
    ]
}

fn write(path: &Path, tensors: &[Tensor]) {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, values)| values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = tensors.iter().zip(&bytes).map(|((name, shape, _), data)| {
        let view = TensorView::new(Dtype::F32, shape.clone(), data).expect("shape fits the data");
        (name.to_string(), view)
    });
    let file = safetensors::serialize(views, None).expect("serialize the case");
    std::fs::write(path, file).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
