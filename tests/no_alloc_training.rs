//! A training step after the first allocates nothing: the layers' forward and backward, the
//! loss, the optimizer's step and `fit`'s epochs reuse the buffers of the step before, on the
//! batched kernel and on the loop per sequence. One binary of its own, so the process-wide
//! count sees no other test's allocations.
//!
//! On a CPU without AVX2 and FMA the batched kernel's products go to a GEMM library
//! (`matrixmultiply`) that allocates its packing buffers on every call; there the batched
//! kernel is only checked for the allocations of this crate, which are the ones aligned for
//! scalars (the library's are aligned for its vector registers).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use rnn::cells::{BatchNormalization, Dense, LstmCell};
use rnn::ops::Activation;
use rnn::parameters::{Parameters, Scheme};
use rnn::prelude::*;
use rnn::train::loss::{Loss, Reduction, SparseCategoricalCrossentropy};
use rnn::train::optim::{Adam, Optimizer};
use rnn::train::{set_to_zero, zeros_like, Fit, Layer, Model, Verbosity};
use rnn::weights::Kernel;
use rnn::{cell, ops};

/// Counts every allocation of the process.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Allocations aligned for vector registers: on a CPU without AVX2, the GEMM library's
/// packing buffers.
static PACKING: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// allocator contract holds exactly as it does for `System`; the counter is an atomic, which
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let counter = if layout.align() >= 16 {
            &PACKING
        } else {
            &ALLOCATIONS
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (via `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with `layout`, and the caller upholds
        // `realloc`'s contract for `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made, on any thread, while `f` runs: those aligned for scalars, then those
/// aligned for vector registers.
fn allocations_in(f: impl FnOnce()) -> [usize; 2] {
    let before = [&ALLOCATIONS, &PACKING].map(|c| c.load(Ordering::SeqCst));
    f();
    let after = [&ALLOCATIONS, &PACKING].map(|c| c.load(Ordering::SeqCst));
    [after[0] - before[0], after[1] - before[1]]
}

/// The digits model's shape: an LSTM's last output, batch-normalised, classified.
type Classifier = (Rnn<LstmCell<4, 8>>, BatchNormalization<8>, Dense<8, 3>);

fn classifier(batched_kernel: bool) -> Classifier {
    (
        Rnn::new(LstmCell::keras_init(1)).batched_kernel(batched_kernel),
        BatchNormalization::identity(),
        Dense::keras_init(2).with_activation(Activation::Softmax),
    )
}

/// `count` sequences of 6 steps and their classes.
fn data(count: usize) -> (Vec<Vec<SVector<f32, 4>>>, Vec<usize>) {
    let x = (0..count)
        .map(|b| {
            (0..6)
                .map(|t| SVector::from_fn(|i, _| ((b * 6 + t) as f32 * 0.37 + i as f32).sin()))
                .collect()
        })
        .collect();
    (x, (0..count).map(|b| b % 3).collect())
}

/// A custom cell whose step the macro also generates for blocks of sequences: a gated update
/// through one stacked kernel.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Gated {
    kernel: Kernel<f32, 12, 2, 8>,
}

#[cell]
impl Gated {
    fn step(
        &self,
        #[input] x: &SVector<f32, 4>,
        #[state] h: &mut SVector<f32, 8>,
    ) -> SVector<f32, 8> {
        let xh: SVector<f32, 12> = ops::concat(x, h);
        let [z, c] = self.kernel.apply(&xh);
        *h = ops::tanh(&(ops::sigmoid(&z).component_mul(h) + c));
        *h
    }
}

/// The same update with a branch, which the block form does not cover: its batches step
/// sequence by sequence.
#[derive(Clone, Debug, PartialEq, Parameters)]
struct Branchy {
    kernel: Kernel<f32, 12, 2, 8>,
}

#[cell]
impl Branchy {
    fn step(
        &self,
        #[input] x: &SVector<f32, 4>,
        #[state] h: &mut SVector<f32, 8>,
    ) -> SVector<f32, 8> {
        let xh: SVector<f32, 12> = ops::concat(x, h);
        let [z, c] = self.kernel.apply(&xh);
        let gate = if x[0] > 0.0 {
            ops::sigmoid(&z)
        } else {
            ops::tanh(&z)
        };
        *h = ops::tanh(&(gate.component_mul(h) + c));
        *h
    }
}

/// The classifier with a custom cell in place of the LSTM.
fn custom<C: rnn::Cell + Parameters>(mut cell: C) -> (Rnn<C>, BatchNormalization<8>, Dense<8, 3>) {
    cell.initialize(Scheme::Keras, 5);
    (
        Rnn::new(cell),
        BatchNormalization::identity(),
        Dense::keras_init(2).with_activation(Activation::Softmax),
    )
}

/// Forward, loss, backward and an Adam step, as a hand-written training loop does them.
fn steps_allocate<M>(mut model: M) -> [[usize; 2]; 3]
where
    M: Layer<Input = Vec<SVector<f32, 4>>, Output = SVector<f32, 3>> + Parameters + Clone,
{
    let (x, y) = data(24);
    let loss = SparseCategoricalCrossentropy::default();
    let mut optimizer = Optimizer::new(Adam::keras(), 1e-2);
    let (mut tape, mut outputs, mut adjoints) = (Default::default(), Vec::new(), Vec::new());
    let mut grads = zeros_like(&model);
    let mut step = |batch: std::ops::Range<usize>| {
        let (inputs, targets) = (&x[batch.clone()], &y[batch]);
        model.forward(inputs, &mut tape, &mut outputs);
        adjoints.clear();
        adjoints.resize(outputs.len(), SVector::zeros());
        loss.batch_into(
            targets,
            &outputs,
            None,
            Reduction::SumOverBatchSize,
            &mut adjoints,
        )
        .unwrap();
        set_to_zero(&mut grads);
        model.backward(inputs, &mut tape, &adjoints, &mut grads, None);
        optimizer.step(&mut model, &grads).unwrap();
        model.update(&tape);
    };
    let first = allocations_in(|| step(0..16));
    // A smaller batch, then a full one again: the last minibatch of an epoch, then the next
    // epoch's first.
    let smaller = allocations_in(|| step(16..24));
    let again = allocations_in(|| {
        step(0..16);
        step(8..24);
    });
    [first, smaller, again]
}

#[test]
fn a_training_step_after_the_first_allocates_nothing() {
    // Every rayon worker started first (a starting thread allocates into the process-wide
    // count on its own time).
    rayon::broadcast(|_| ());
    // Without AVX2 and FMA, the batched kernel's products allocate in the GEMM library.
    let packed = rnn::kernels::Isa::active() >= rnn::kernels::Isa::Avx2;
    for batched_kernel in [true, false] {
        let [first, smaller, again] = steps_allocate(classifier(batched_kernel));
        println!(
            "batched kernel {batched_kernel}: [aligned for scalars, for vectors] first step \
             {first:?}, a smaller batch {smaller:?}, two steps after {again:?}"
        );
        assert!(first[0] > 0, "the count must see the first step's buffers");
        let strict = packed || !batched_kernel;
        for (what, count) in [
            ("a smaller batch", smaller),
            ("steps after the first", again),
        ] {
            let counted = if strict {
                count[0] + count[1]
            } else {
                count[0]
            };
            assert_eq!(counted, 0, "{what} (batched kernel {batched_kernel})");
        }
    }

    // A custom cell's residuals are its backward closures, which a kept tape refills: in
    // blocks of sequences, and sequence by sequence.
    for (name, [first, smaller, again]) in [
        (
            "single steps",
            steps_allocate(custom(Branchy {
                kernel: Kernel::zeros(),
            })),
        ),
        (
            "block step",
            steps_allocate(custom(Gated {
                kernel: Kernel::zeros(),
            })),
        ),
    ] {
        println!(
            "custom cell, {name}: [aligned for scalars, for vectors] first step {first:?}, \
             a smaller batch {smaller:?}, two steps after {again:?}"
        );
        assert!(first[0] > 0, "the count must see the first step's buffers");
        assert_eq!(smaller[0] + smaller[1], 0, "a smaller batch ({name})");
        assert_eq!(again[0] + again[1], 0, "steps after the first ({name})");
    }

    // `fit`: an epoch more costs no allocation (26 samples in batches of 8: the last is 2).
    let (x, y) = data(26);
    let fit = |epochs| {
        let model = Model::new(
            classifier(true),
            SparseCategoricalCrossentropy::default(),
            Optimizer::new(Adam::keras(), 1e-2),
        );
        let options = Fit {
            epochs,
            batch_size: 8,
            shuffle: Some(3),
            verbosity: Verbosity::Silent,
            ..Fit::default()
        };
        allocations_in(|| {
            let mut model = model;
            model.fit(&x, &y, &options).unwrap();
        })
    };
    let (two, three) = (fit(2), fit(3));
    println!("fit: [aligned for scalars, for vectors] 2 epochs {two:?}, 3 epochs {three:?}");
    assert_eq!(three[0], two[0], "the third epoch allocated");
    if packed {
        assert_eq!(
            three[1], two[1],
            "the third epoch allocated (aligned for vectors)"
        );
    }
}
