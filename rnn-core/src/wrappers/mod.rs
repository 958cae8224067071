//! Cells made of cells: Bidirectional (two directions, merged), TimeDistributed (a layer
//! without state at every step).

pub(crate) mod bidirectional;
pub(crate) mod time_distributed;
