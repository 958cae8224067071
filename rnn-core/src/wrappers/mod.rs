//! Cells made of cells: Bidirectional (two directions, merged).

pub(crate) mod bidirectional;
