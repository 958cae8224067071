//! The drivers that carry a state across many steps hand every step a state that starts a
//! cache line, wherever the caller's stack happens to start: a state 16 bytes into a line
//! makes every vector load of it straddle two lines, and the same run slower in one process
//! than in the next. A cell that records where its state lives checks each driver.

use std::cell::Cell as Recorded;

use rnn::prelude::*;
use rnn::{Direction, Mask};

/// Adds its input to its state and records, at every step, the state's offset into its
/// cache line (the largest seen).
#[derive(Debug, Default)]
struct WhereIsMyState {
    worst_offset: Recorded<usize>,
    steps: Recorded<usize>,
}

impl rnn::Cell for WhereIsMyState {
    type Input = SVector<f32, 3>;
    type State = SVector<f32, 3>;
    type Constants = ();
    type Output = SVector<f32, 3>;

    fn step(&self, x: &Self::Input, state: &mut Self::State, _: &()) -> Self::Output {
        let offset = (state as *const Self::State as usize) % 64;
        self.worst_offset.set(self.worst_offset.get().max(offset));
        self.steps.set(self.steps.get() + 1);
        *state += x;
        *state
    }
}

impl WhereIsMyState {
    /// The worst offset since the last call (and that steps ran), then starts again.
    fn take(&self) -> (usize, usize) {
        (self.worst_offset.replace(0), self.steps.replace(0))
    }
}

fn inputs(steps: usize) -> Vec<SVector<f32, 3>> {
    (0..steps)
        .map(|t| SVector::from([t as f32, 1.0, -0.5]))
        .collect()
}

#[test]
fn every_stepping_driver_hands_the_step_a_cache_aligned_state() {
    let xs = inputs(19);
    let rnn = Rnn::new(WhereIsMyState::default());

    // Called from stack frames of different depths, so that a state placed by the stack's
    // alignment alone would land at different offsets.
    fn nested(depth: usize, f: &dyn Fn()) {
        let pad = [depth as u8; 48];
        if depth == 0 {
            f();
        } else {
            nested(depth - 1, f);
        }
        std::hint::black_box(&pad);
    }
    for depth in 0..4 {
        nested(depth, &|| {
            rnn.run(&xs, &());
            assert_eq!(rnn.cell().take(), (0, 19), "Rnn::run");

            let mask: Vec<bool> = (0..19).map(|t| t % 3 != 1).collect();
            rnn.run_masked(&xs, Mask::Steps(&mask), &()).unwrap();
            assert_eq!(rnn.cell().take(), (0, 13), "Rnn::run_masked");

            let backwards = Rnn::new(rnn.cell()).direction(Direction::GoBackwards);
            backwards.run(&xs, &());
            assert_eq!(rnn.cell().take(), (0, 19), "Rnn::run, go_backwards");
        });
    }

    let mut stream = Rnn::new(WhereIsMyState::default()).stateful(());
    assert_eq!(
        stream.state() as *const _ as usize % 64,
        0,
        "Stateful::state"
    );
    stream.feed(&xs);
    stream.step(&xs[0]);
    stream.feed_array(&[xs[1], xs[2]]);
    assert_eq!(stream.cell().take(), (0, 22), "Stateful");
    // The alignment is the stream's own business: its debug view shows the state as it is.
    let shown = format!("{stream:?}");
    assert!(
        shown.contains("state: [[") && !shown.contains("Aligned"),
        "{shown}"
    );
}
