//! Running a sequence backwards: Keras's `go_backwards` (outputs in processing order) and a
//! reverse that keeps the original time order (Bidirectional's backward half).
//!
//! Both read the last timestep first. They differ only in where each output goes, and — with
//! [`Mask::Length`] — in where the padding goes:
//!
//! | direction | mask | reads | outputs (canonical cell, `[1, 2, pad, pad]`) |
//! |---|---|---|---|
//! | [`GoBackwards`](Direction::GoBackwards) | steps `1100` | 3 2 1 0 | `0 0 20 30` (Keras: the whole time axis reversed) |
//! | [`GoBackwards`](Direction::GoBackwards) | length 2 | 1 0, then the padding | `20 30 pad pad` (`tf.reverse_sequence`: only the valid prefix reversed) |
//! | [`Reversed`](Direction::Reversed) | either | 3 2 1 0 | `30 20 0 0` (each output at the time of the input it read) |
//!
//! With a length, no mode ever reads a padded input: the first step read is `L - 1`.

#[cfg(doc)]
use super::mask::Mask;

/// The order in which a run reads its timesteps and lays out its outputs.
///
/// ```
/// use rnn::{cell, Direction, Mask, Rnn};
/// use nalgebra::SVector;
///
/// #[cell]
/// fn accumulate(#[input] x: &SVector<f32, 1>, #[state] s: &mut SVector<f32, 1>) -> SVector<f32, 1> {
///     *s += x;
///     *s * 10.0
/// }
///
/// let xs = [1.0, 2.0, 0.0, 0.0].map(|x| SVector::from([x]));
/// let ys = |rnn: Rnn<Accumulate>, mask| -> Vec<f32> {
///     rnn.run_masked(&xs, mask, &()).unwrap().outputs.iter().map(|y| y[0]).collect()
/// };
/// let mask = Mask::Steps(&[true, true, false, false]);
/// assert_eq!(ys(Rnn::new(Accumulate).go_backwards(true), mask), [0.0, 0.0, 20.0, 30.0]);
/// assert_eq!(ys(Rnn::new(Accumulate).direction(Direction::Reversed), mask), [30.0, 20.0, 0.0, 0.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// First timestep first (the default).
    #[default]
    Forward,
    /// Keras's `go_backwards=True`: last timestep first, outputs in processing order (output 0
    /// is the one computed from the last input). With [`Mask::Length`], only the valid prefix is
    /// reversed and the padding stays at the end, as `tf.reverse_sequence` does.
    GoBackwards,
    /// Last timestep first, each output placed at the time of the input it read: the backward
    /// half of a [`Bidirectional`](crate::Bidirectional), aligned to the original time axis.
    Reversed,
}

impl Direction {
    /// Whether outputs produced in processing order must be reversed to sit at their time.
    #[inline]
    pub(crate) fn aligned_to_time(self) -> bool {
        self == Direction::Reversed
    }
}
