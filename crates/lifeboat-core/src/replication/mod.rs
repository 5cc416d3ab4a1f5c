//! Replication: `copy` snapshots into another repository.
mod copy;
pub use copy::*;
