//! `Rnn::run_batch_into`, `StatefulBatch::feed_into`, `block_unroll_into` and the fused
//! layers' `forward_into`, into buffers that already held as large a batch, allocate nothing,
//! on any thread (the sequences run on rayon's workers). One test in a binary of its own, so
//! the process-wide count sees no other test's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use rnn::cells::{GruCell, LstmCell, SimpleRnnCell};
use rnn::fused;
use rnn::prelude::*;
use rnn::{Batch, BatchMasks, BatchRun, Batched};

/// Counts every allocation of the process.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// allocator contract holds exactly as it does for `System`; the counter is an atomic, which
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (via `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made, on any thread, while `f` runs.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn a_batch_into_used_buffers_allocates_nothing() {
    // Every rayon worker started first (a starting thread allocates, on its own time, into
    // the process-wide count).
    rayon::broadcast(|_| ());
    let rnn = Rnn::new(GruCell::<3, 5>::keras_init(7));
    let sequences: Vec<Vec<SVector<f32, 3>>> = (0..16)
        .map(|b| {
            (0..40)
                .map(|t| SVector::from_fn(|i, _| ((b * 40 + t) as f32 + i as f32).sin()))
                .collect()
        })
        .collect();
    let lengths: Vec<usize> = (0..16).map(|b| 40 - b).collect();
    let batch = Batch::new(&sequences).lengths(&lengths);
    let mut out = BatchRun::default();
    // The first call sizes the buffers (and starts rayon's threads).
    rnn.run_batch_into(&batch, &(), &mut out).unwrap();
    let first = out.clone();
    for _ in 0..3 {
        let n = allocations_in(|| rnn.run_batch_into(&batch, &(), &mut out).unwrap());
        assert_eq!(n, 0, "run_batch_into allocated {n} times");
    }
    assert_eq!(out, first);
    // A fresh run_batch does allocate its outputs: the count above is not blind.
    let mut fresh = None;
    assert!(allocations_in(|| fresh = Some(rnn.run_batch(&batch, &()).unwrap())) >= 16);
    assert_eq!(fresh, Some(first.clone()));

    // A stateful batch fed chunk after chunk into the same buffers.
    let mut streams = rnn.clone().stateful_batch(vec![(); 16]);
    let mut ys = Batched(Vec::new());
    streams
        .feed_into(&sequences, BatchMasks::Lengths(&lengths), &mut ys)
        .unwrap();
    for _ in 0..3 {
        let n = allocations_in(|| {
            streams
                .feed_into(&sequences, BatchMasks::Lengths(&lengths), &mut ys)
                .unwrap()
        });
        assert_eq!(n, 0, "feed_into allocated {n} times");
    }
    // The streams moved on: the fourth chunk does not repeat the first.
    assert_ne!(ys.0, first.outputs.0);

    // A block of sequences in lockstep into the same buffers.
    let cell = GruCell::<3, 5>::keras_init(7);
    let block: [&[SVector<f32, 3>]; 4] = core::array::from_fn(|n| &sequences[n][..]);
    let mut states = [SVector::zeros(); 4];
    let mut outputs: [rnn::Sequence<SVector<f32, 5>>; 4] =
        core::array::from_fn(|_| rnn::Sequence(Vec::new()));
    rnn::block_unroll_into(&cell, block, &mut states, [&(); 4], &mut outputs).unwrap();
    for _ in 0..3 {
        let n = allocations_in(|| {
            rnn::block_unroll_into(&cell, block, &mut states, [&(); 4], &mut outputs).unwrap()
        });
        assert_eq!(n, 0, "block_unroll_into allocated {n} times");
    }
    fused_layers_forward_into_used_buffers();
}

/// Batch 12 runs the fused layers' GEMMs in one chunk per core; batch 2 runs them sample by
/// sample (on CPUs with AVX2 and FMA). The first call of each shape sizes the buffers.
const CALLS: [(usize, usize); 5] = [(12, 20), (2, 30), (12, 20), (2, 30), (5, 3)];

/// `call(inputs, batch)` for each of [`CALLS`], on the first `B·T·4` values of `x` (`I = 4`):
/// from the third call on, it allocates nothing.
fn reused_buffers_allocate_nothing(layer: &str, x: &[f32], mut call: impl FnMut(&[f32], usize)) {
    for (i, (batch, t)) in CALLS.into_iter().enumerate() {
        let n = allocations_in(|| call(&x[..batch * t * 4], batch));
        assert!(i < 2 || n == 0, "{layer} B={batch} T={t}: {n} allocations");
    }
}

/// The fused layers' `forward_into`: not the outputs and states, not the work rows, not the
/// packed weights (packed by the layer's first GEMM call and kept), not the chunks spread over
/// the cores.
fn fused_layers_forward_into_used_buffers() {
    let x: Vec<f32> = (0..12 * 30 * 4).map(|i| (i as f32 * 0.37).sin()).collect();
    let h0: Vec<f32> = (0..12 * 7).map(|i| (i as f32 * 0.21).cos()).collect();

    let lstm_cell = LstmCell::<4, 9>::pytorch_init(1);
    let lstm = fused::Lstm::new(&lstm_cell);
    let mut run = fused::LstmOutput::default();
    reused_buffers_allocate_nothing("LSTM", &x, |x, batch| {
        lstm.forward_into(x, batch, None, &mut run).unwrap()
    });
    // A fresh forward does allocate its outputs: the count above is not blind.
    assert!(allocations_in(|| drop(lstm.forward(&x[..5 * 3 * 4], 5, None).unwrap())) >= 3);

    let mut gru_cells = [GruCell::<4, 7>::pytorch_init(2), GruCell::keras_init(3)];
    gru_cells[1].reset_after = false;
    for cell in &gru_cells {
        let gru = fused::Gru::new(cell);
        let mut run = fused::Output::default();
        reused_buffers_allocate_nothing("GRU", &x, |x, batch| {
            gru.forward_into(x, batch, Some(&h0[..batch * 7]), &mut run)
                .unwrap()
        });
    }

    let srnn_cell = SimpleRnnCell::<4, 5>::pytorch_init(4);
    let srnn = fused::SimpleRnn::new(&srnn_cell);
    let mut run = fused::Output::default();
    reused_buffers_allocate_nothing("SimpleRNN", &x, |x, batch| {
        srnn.forward_into(x, batch, None, &mut run).unwrap()
    });
}
