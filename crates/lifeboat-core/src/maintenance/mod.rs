//! Repository upkeep: [`prune`] removes data no snapshot references, [`stats`] measures what is
//! stored.

pub mod prune;
pub mod stats;
