//! What training stores per sample-step for the backward, measured: the heap bytes a tape
//! holds after a batch, live bytes counted by a global allocator, between two sequence
//! lengths (so per-batch buffers cancel out) and divided by the sample-steps added.
//! One test in a binary of its own, so the process-wide count sees no other test's
//! allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use rnn::cells::{BatchNormalization, Dense, GruCell, LstmCell, SimpleRnnCell};
use rnn::nalgebra::SVector;
use rnn::train::{BatchTape, Differentiable, Layer, Tape};
use rnn::train::{GruResidual, LstmResidual, SimpleRnnResidual};
use rnn::{Batch, Rnn};

/// Keeps the count of live heap bytes of the process.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// allocator contract holds exactly as it does for `System`; the counter is an atomic, which
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: `ptr` came from `System.alloc` with this layout (via `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The heap bytes `value` holds: the live bytes that dropping it frees.
fn held<V>(value: V) -> isize {
    let before = LIVE.load(Ordering::SeqCst);
    drop(value);
    before - LIVE.load(Ordering::SeqCst)
}

const I: usize = 8;
const H: usize = 64;
const B: usize = 16;

/// The bytes a fresh tape holds per sample-step after a batch of `B` sequences, from
/// batches of 20 and 40 steps.
fn rnn_bytes<C>(rnn: &Rnn<C>) -> f64
where
    C: Differentiable<Input = SVector<f32, I>, Constants = ()> + Clone + Send + Sync,
    C::State: Send + Sync,
    C::Output: Send + Sync,
    C::Residual: Send + Sync,
{
    let at = |steps: usize| {
        let xs = vec![vec![SVector::<f32, I>::repeat(0.5); steps]; B];
        let mut tape = BatchTape::new();
        let run = rnn
            .run_batch_taped(&Batch::new(&xs), &(), &mut tape)
            .unwrap();
        let bytes = held(tape);
        drop(run);
        bytes
    };
    (at(40) - at(20)) as f64 / (B * 20) as f64
}

fn layer_bytes<L: Layer>(layer: &L, sample: L::Input) -> f64 {
    let at = |n: usize| {
        let inputs = vec![sample.clone(); n];
        let (mut tape, mut outputs) = (L::Tape::default(), Vec::new());
        layer.forward(&inputs, &mut tape, &mut outputs);
        held(tape)
    };
    (at(256) - at(128)) as f64 / 128.0
}

const F32: f64 = 4.0;

/// A loop step holds `Tape::STEP_BYTES`: the residual (LSTM 7H, GRU 5H, SimpleRNN 2H
/// floats) and the timestep, padded to 8 bytes. The batched kernel holds, per sample-step,
/// its gates (LSTM `[i f g o]` and `c'`: 5H; GRU `[z r h̃]` and the recurrent candidate: 4H;
/// SimpleRNN none), the output (H) and its copy of the input (I). Dense keeps its output,
/// BatchNormalization its normalised value, per sample.
#[test]
fn bytes_stored_per_sample_step() {
    // Every rayon worker started first (a starting thread allocates on its own time).
    rayon::broadcast(|_| ());
    let (i, h) = (I as f64, H as f64);
    let padded = |floats: f64| ((floats * F32 + 12.0) / 8.0).ceil() * 8.0;

    let lstm = Rnn::new(LstmCell::<I, H>::keras_init(1));
    assert_eq!(Tape::<LstmResidual<H>>::STEP_BYTES as f64, padded(7.0 * h));
    assert_eq!(Tape::<LstmResidual<H>>::STEP_BYTES, 1808);
    assert_eq!(
        rnn_bytes(&lstm.clone().batched_kernel(false)),
        padded(7.0 * h)
    );
    assert_eq!(rnn_bytes(&lstm), (5.0 * h + h + i) * F32);

    for reset_after in [true, false] {
        let gru = Rnn::new(GruCell::<I, H> {
            reset_after,
            ..GruCell::keras_init(1)
        });
        assert_eq!(Tape::<GruResidual<H>>::STEP_BYTES as f64, padded(5.0 * h));
        assert_eq!(
            rnn_bytes(&gru.clone().batched_kernel(false)),
            padded(5.0 * h)
        );
        assert_eq!(rnn_bytes(&gru), (4.0 * h + h + i) * F32);
    }

    let simple = Rnn::new(SimpleRnnCell::<I, H>::keras_init(1));
    assert_eq!(
        Tape::<SimpleRnnResidual<H>>::STEP_BYTES as f64,
        padded(2.0 * h)
    );
    assert_eq!(
        rnn_bytes(&simple.clone().batched_kernel(false)),
        padded(2.0 * h)
    );
    assert_eq!(rnn_bytes(&simple), (h + i) * F32);

    // Dropout adds nothing per step: its masks are per sequence, drawn from a key.
    let dropped = lstm
        .dropout(rnn::Dropout {
            rate: 0.2,
            recurrent_rate: 0.2,
            seed: 1,
        })
        .unwrap();
    assert_eq!(rnn_bytes(&dropped), padded(7.0 * h));

    let dense = Dense::<H, 10>::keras_init(1);
    assert_eq!(layer_bytes(&dense, SVector::repeat(0.5)), 10.0 * F32);
    let norm = BatchNormalization::<H>::identity();
    assert_eq!(layer_bytes(&norm, SVector::repeat(0.5)), h * F32);
}
