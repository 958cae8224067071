//! The static unroll and the stateful stepper never touch the heap; the dynamic loop
//! allocates its output storage only (the count does not grow with the length).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell as StdCell;

use rnn::prelude::*;

/// Counts the allocations of the current thread (tests run on threads of their own).
struct Counting;

thread_local! {
    static ALLOCATIONS: StdCell<usize> = const { StdCell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// allocator contract holds exactly as it does for `System`. The thread-local counter is a
// const-initialised `Cell<usize>`: touching it never allocates, so there is no reentrancy.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
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

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(|n| n.get());
    f();
    ALLOCATIONS.with(|n| n.get()) - before
}

struct Elman {
    w: SMatrix<f32, 8, 4>,
    u: SMatrix<f32, 8, 8>,
}

#[cell(inference)]
impl Elman {
    fn step(
        &self,
        #[input] x: &SVector<f32, 4>,
        #[state] h: &mut SVector<f32, 8>,
    ) -> SVector<f32, 8> {
        *h = (self.w * x + self.u * *h).map(f32::tanh);
        *h
    }
}

fn cell() -> Elman {
    Elman {
        w: SMatrix::from_fn(|r, c| ((r + c) as f32).sin()),
        u: SMatrix::from_fn(|r, c| ((r * c) as f32).cos() * 0.1),
    }
}

#[test]
fn static_unroll_allocates_nothing() {
    let rnn = Rnn::new(cell());
    let xs: [SVector<f32, 4>; 64] = std::array::from_fn(|t| SVector::from_element(t as f32 * 0.01));
    let mut last = 0.0;
    let n = allocations_in(|| {
        let fixed = rnn.unroll(&xs, &());
        last = fixed.state[0];
    });
    assert_eq!(n, 0, "static unroll allocated");
    assert!(last != 0.0);
}

#[test]
fn stateful_steps_allocate_nothing() {
    let mut stream = Rnn::new(cell()).stateful(());
    let x = SVector::from_element(0.5);
    let n = allocations_in(|| {
        for _ in 0..100 {
            stream.step(&x);
        }
        stream.feed_array(&[x; 8]);
    });
    assert_eq!(n, 0, "stateful step allocated");
}

#[test]
fn dynamic_loop_allocates_its_output_storage_only() {
    let rnn = Rnn::new(cell());
    let short: Vec<SVector<f32, 4>> = vec![SVector::from_element(0.1); 10];
    let long: Vec<SVector<f32, 4>> = vec![SVector::from_element(0.1); 1000];
    let a = allocations_in(|| drop(rnn.run(&short, &())));
    let b = allocations_in(|| drop(rnn.run(&long, &())));
    assert_eq!(a, 1, "one buffer for the outputs");
    assert_eq!(a, b, "allocations must not grow with the sequence length");
}

#[test]
fn masked_and_backward_runs_allocate_their_output_storage_only() {
    use rnn::{Direction, Mask, Padding};
    let short: Vec<SVector<f32, 4>> = vec![SVector::from_element(0.1); 10];
    let long: Vec<SVector<f32, 4>> = vec![SVector::from_element(0.1); 1000];
    let holes = |n: usize| (0..n).map(|t| t % 3 != 0).collect::<Vec<bool>>();
    let (short_mask, long_mask) = (holes(10), holes(1000));
    for padding in [Padding::CarryLastOutput, Padding::Zero] {
        for direction in [
            Direction::Forward,
            Direction::GoBackwards,
            Direction::Reversed,
        ] {
            let rnn = Rnn::new(cell()).padding(padding).direction(direction);
            let a = allocations_in(|| drop(rnn.run_masked(&short, &short_mask, &()).unwrap()));
            let b = allocations_in(|| drop(rnn.run_masked(&long, &long_mask, &()).unwrap()));
            let c = allocations_in(|| drop(rnn.run_masked(&long, Mask::Length(500), &()).unwrap()));
            assert_eq!(
                a, 1,
                "{padding:?} {direction:?}: one buffer for the outputs"
            );
            assert_eq!((a, a), (b, c), "allocations must not grow with the length");
        }
    }
    // Bidirectional: one buffer per direction and one for the merged outputs.
    let (f, b) = (cell(), cell());
    let bi = rnn::Bidirectional::new(&f, &b).merge_mode(rnn::Sum);
    let both = rnn::Both::new(&(), &());
    let a = allocations_in(|| drop(bi.run_masked(&short, &short_mask, both).unwrap()));
    let b = allocations_in(|| drop(bi.run_masked(&long, &long_mask, both).unwrap()));
    assert_eq!((a, b), (3, 3));
    let stepper = Rnn::new(cell());
    let mut stream = stepper.stateful(());
    let n = allocations_in(|| {
        for _ in 0..100 {
            stream.step(&SVector::from_element(0.5));
        }
    });
    assert_eq!(n, 0, "stateful step allocated");
}
