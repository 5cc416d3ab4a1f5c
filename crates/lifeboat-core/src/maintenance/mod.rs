//! Repository upkeep: [`prune`] removes data no snapshot references, [`stats`] measures what is
//! stored, [`rewrite`] replaces snapshots with retagged or trimmed copies.

pub mod prune;
pub mod rewrite;
pub mod stats;
