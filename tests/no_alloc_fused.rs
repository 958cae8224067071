//! The fused layers' `forward_into`, into an output that already held as large a call,
//! allocates nothing: not its outputs and states, not its work rows, not the packed weights
//! (packed by the layer's first GEMM call and kept), not the chunks it spreads over the cores.
//! One test in a binary of its own, so the process-wide count sees no other test's
//! allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use rnn::cells::{GruCell, LstmCell, SimpleRnnCell};
use rnn::fused;

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

/// Allocations made by `f`.
fn count(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.37).sin()).collect()
}

// Batch 12 runs the GEMMs in one chunk per core (with two or more); batch 2 runs sample by
// sample (on CPUs with AVX2 and FMA). The first call of each shape sizes the buffers.
const CALLS: [(usize, usize); 5] = [(12, 20), (2, 30), (12, 20), (2, 30), (5, 3)];

#[test]
fn forward_into_used_buffers_allocates_nothing() {
    // Every rayon worker started (a starting thread allocates, on its own time, into the
    // process-wide count).
    rayon::broadcast(|_| ());
    let lstm_cell = LstmCell::<4, 9>::pytorch_init(1);
    let lstm = fused::Lstm::new(&lstm_cell);
    let mut run = fused::LstmOutput::default();
    let x = values(12 * 30 * 4);
    for (i, (batch, t)) in CALLS.into_iter().enumerate() {
        let x = &x[..batch * t * 4];
        let n = count(|| lstm.forward_into(x, batch, None, &mut run).unwrap());
        if i >= 2 {
            assert_eq!(n, 0, "LSTM B={batch} T={t}: {n} allocations");
        }
    }
    // A fresh forward does allocate its outputs: the count above is not blind.
    assert!(count(|| drop(lstm.forward(&x[..5 * 3 * 4], 5, None).unwrap())) >= 3);

    let mut gru_cells = [GruCell::<4, 7>::pytorch_init(2), GruCell::keras_init(3)];
    gru_cells[1].reset_after = false;
    for cell in &gru_cells {
        let gru = fused::Gru::new(cell);
        let mut run = fused::Output::default();
        let h0 = values(12 * 7);
        for (i, (batch, t)) in CALLS.into_iter().enumerate() {
            let (x, h0) = (&x[..batch * t * 4], &h0[..batch * 7]);
            let n = count(|| gru.forward_into(x, batch, Some(h0), &mut run).unwrap());
            if i >= 2 {
                assert_eq!(n, 0, "GRU B={batch} T={t}: {n} allocations");
            }
        }
    }

    let srnn_cell = SimpleRnnCell::<4, 5>::pytorch_init(4);
    let srnn = fused::SimpleRnn::new(&srnn_cell);
    let mut run = fused::Output::default();
    for (i, (batch, t)) in CALLS.into_iter().enumerate() {
        let x = &x[..batch * t * 4];
        let n = count(|| srnn.forward_into(x, batch, None, &mut run).unwrap());
        if i >= 2 {
            assert_eq!(n, 0, "SimpleRNN B={batch} T={t}: {n} allocations");
        }
    }
}
