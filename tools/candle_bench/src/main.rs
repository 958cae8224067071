//! candle-nn's LSTM and GRU (`candle_nn::rnn`) on the CPU, timed for `tools/peers.py` on the
//! reference cases of `examples/peer_reference.rs`: the same weights as ours, and the outputs
//! checked against ours (within 1e-4) before anything is timed.
//!
//! ```text
//! candle_bench --refs DIR [--configs lstm-b1-h8,lstm-b64-h128] [--seconds S]
//! ```
//!
//! prints one JSON object per configuration and line:
//! `{"name", "ns_per_step", "best_ns_per_step", "calls", "max_abs_diff"}`, where
//! `ns_per_step` is the median wall time of one `RNN::seq` over the batch divided by
//! batch × T. Exits with status 1 when an output differs from ours by more than the tolerance.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::rnn::{GRUConfig, LSTMConfig, RNN};
use candle_nn::VarBuilder;

const TOLERANCE: f32 = 1e-4;

/// The configurations `examples/peer_reference.rs` writes, by `tools/peers.py`'s names.
const CONFIGS: [&str; 8] = [
    "lstm-b1-h8",
    "lstm-b1-h16",
    "lstm-b1-h32",
    "lstm-b1-h64",
    "lstm-b1-h128",
    "gru-b1-h32",
    "lstm-b64-h128",
    "lstm-b64-h256",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let refs = value("--refs").unwrap_or_else(|| fail("usage: candle_bench --refs DIR"));
    let seconds: f64 = value("--seconds").map_or(2.0, |s| s.parse().expect("--seconds S"));
    let names: Vec<String> = match value("--configs") {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => CONFIGS.iter().map(|s| s.to_string()).collect(),
    };
    for name in &names {
        if !CONFIGS.contains(&name.as_str()) {
            fail(&format!("unknown configuration {name}; known: {CONFIGS:?}"));
        }
        let path = format!("{refs}/{name}.safetensors");
        let case = candle_core::safetensors::load(&path, &Device::Cpu)
            .unwrap_or_else(|e| fail(&format!("read {path} (run examples/peer_reference): {e}")));
        run_config(name, &case, seconds).unwrap_or_else(|e| fail(&format!("{name}: {e}")));
    }
}

fn fail(why: &str) -> ! {
    eprintln!("candle_bench: {why}");
    std::process::exit(1)
}

/// A layer of either kind, run over a whole `[B, T, I]` batch to every step's `h`.
enum Layer {
    Lstm(candle_nn::rnn::LSTM),
    Gru(candle_nn::rnn::GRU),
}

impl Layer {
    fn outputs(&self, inputs: &Tensor) -> Result<Vec<Tensor>> {
        Ok(match self {
            Layer::Lstm(l) => l.seq(inputs)?.into_iter().map(|s| s.h).collect(),
            Layer::Gru(g) => g.seq(inputs)?.into_iter().map(|s| s.h).collect(),
        })
    }
}

fn run_config(name: &str, case: &HashMap<String, Tensor>, seconds: f64) -> Result<()> {
    let get = |key: &str| {
        case.get(key)
            .unwrap_or_else(|| fail(&format!("{name}: no tensor {key}")))
    };
    let inputs = get("inputs");
    let (batch, steps, _) = inputs.dims3()?;
    let layer = layer_from_keras(get("kernel"), get("recurrent_kernel"), get("bias"))?;

    let outputs = Tensor::stack(&layer.outputs(inputs)?, 1)?;
    let max_diff = (outputs - get("outputs"))?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    if max_diff.is_nan() || max_diff > TOLERANCE {
        fail(&format!(
            "{name}: outputs differ from rnn's by {max_diff} > {TOLERANCE}"
        ));
    }

    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        layer.outputs(inputs)?;
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || start.elapsed() < Duration::from_secs_f64(seconds) {
        let t = Instant::now();
        std::hint::black_box(layer.outputs(std::hint::black_box(inputs))?);
        times.push(t.elapsed().as_nanos() as f64);
    }
    times.sort_by(f64::total_cmp);
    let per_step = (batch * steps) as f64;
    println!(
        "{{\"name\": \"{name}\", \"ns_per_step\": {:.2}, \"best_ns_per_step\": {:.2}, \
         \"calls\": {}, \"max_abs_diff\": {max_diff:.3e}}}",
        times[times.len() / 2] / per_step,
        times[0] / per_step,
        times.len()
    );
    Ok(())
}

/// candle-nn's layers take PyTorch's names and layout: `weight_ih` [G·H, I], `weight_hh`
/// [G·H, H], `bias_ih`, `bias_hh` [G·H]. Keras's kernels are their transposes; the LSTM's
/// gates are in the same order (i f c o) and its one bias goes to `bias_ih`; the GRU's gates
/// go from Keras's z r h to PyTorch's r z n, its [2, 3H] bias rows to `bias_ih`, `bias_hh`.
fn layer_from_keras(kernel: &Tensor, recurrent_kernel: &Tensor, bias: &Tensor) -> Result<Layer> {
    let (input, columns) = kernel.dims2()?;
    let hidden = recurrent_kernel.dims2()?.0;
    let lstm = columns == 4 * hidden;
    let order = |t: &Tensor| -> Result<Tensor> {
        if lstm {
            return Ok(t.clone());
        }
        let dim = t.rank() - 1;
        let gate = |g: usize| t.narrow(dim, g * hidden, hidden);
        Tensor::cat(&[gate(1)?, gate(0)?, gate(2)?], dim)
    };
    let (bias_ih, bias_hh) = if lstm {
        (bias.clone(), bias.zeros_like()?)
    } else {
        (order(&bias.get(0)?)?, order(&bias.get(1)?)?)
    };
    let tensors = HashMap::from([
        (
            "weight_ih_l0".to_string(),
            order(kernel)?.t()?.contiguous()?,
        ),
        (
            "weight_hh_l0".to_string(),
            order(recurrent_kernel)?.t()?.contiguous()?,
        ),
        ("bias_ih_l0".to_string(), bias_ih.contiguous()?),
        ("bias_hh_l0".to_string(), bias_hh.contiguous()?),
    ]);
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    Ok(if lstm {
        Layer::Lstm(candle_nn::rnn::lstm(
            input,
            hidden,
            LSTMConfig::default(),
            vb,
        )?)
    } else {
        Layer::Gru(candle_nn::rnn::gru(
            input,
            hidden,
            GRUConfig::default(),
            vb,
        )?)
    })
}
