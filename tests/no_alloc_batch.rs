//! `Rnn::run_batch_into`, `StatefulBatch::feed_into` and `block_unroll_into`, into buffers
//! that already held as large a batch, allocate nothing, on any thread (the sequences run on
//! rayon's workers). One test in a binary of its own, so the process-wide count sees no other
//! test's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use rnn::cells::GruCell;
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

#[test]
fn a_batch_into_used_buffers_allocates_nothing() {
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
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        rnn.run_batch_into(&batch, &(), &mut out).unwrap();
        let allocated = ALLOCATIONS.load(Ordering::SeqCst) - before;
        assert_eq!(allocated, 0, "run_batch_into allocated {allocated} times");
    }
    assert_eq!(out, first);
    // A fresh run_batch does allocate its outputs: the count above is not blind.
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let fresh = rnn.run_batch(&batch, &()).unwrap();
    assert!(ALLOCATIONS.load(Ordering::SeqCst) - before >= 16);
    assert_eq!(fresh, first);

    // A stateful batch fed chunk after chunk into the same buffers.
    let mut streams = rnn.clone().stateful_batch(vec![(); 16]);
    let mut ys = Batched(Vec::new());
    streams
        .feed_into(&sequences, BatchMasks::Lengths(&lengths), &mut ys)
        .unwrap();
    for _ in 0..3 {
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        streams
            .feed_into(&sequences, BatchMasks::Lengths(&lengths), &mut ys)
            .unwrap();
        let allocated = ALLOCATIONS.load(Ordering::SeqCst) - before;
        assert_eq!(allocated, 0, "feed_into allocated {allocated} times");
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
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        rnn::block_unroll_into(&cell, block, &mut states, [&(); 4], &mut outputs).unwrap();
        let allocated = ALLOCATIONS.load(Ordering::SeqCst) - before;
        assert_eq!(
            allocated, 0,
            "block_unroll_into allocated {allocated} times"
        );
    }
}
