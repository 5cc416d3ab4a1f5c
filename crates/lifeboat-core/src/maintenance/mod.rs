//! Repository upkeep: `prune` and `stats`.
pub mod prune;
pub mod stats;
