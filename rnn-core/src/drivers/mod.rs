//! Running a cell over time, one layer on top of the next: the direction, mask and reset values, the
//! loops (static unroll, dynamic loop, block of sequences, masked loop), then [`Rnn`] and
//! what is built on it (batches, streams, every step's state).

pub(crate) mod all_states;
#[cfg(feature = "alloc")]
pub(crate) mod batch;
pub(crate) mod constants;
pub(crate) mod direction;
pub(crate) mod dropout;
#[cfg(feature = "std")]
pub(crate) mod lowering;
pub(crate) mod mask;
#[cfg(feature = "alloc")]
pub(crate) mod masked;
pub(crate) mod reset;
pub(crate) mod rnn;
pub(crate) mod stateful;
pub(crate) mod unroll;

#[cfg(doc)]
use rnn::Rnn;
