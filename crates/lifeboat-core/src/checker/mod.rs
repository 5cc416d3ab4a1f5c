//! `check`: verifies the repository's structure and, with `read_data`, every blob.
//!
//! [`check()`] runs, in order: the structural check (`check.rs`: index files, packs, dictionaries,
//! snapshots and trees, and which snapshots and paths damage affects), the object-lock findings
//! ([`retention`]) and the governance objects ([`governance`]: journal chain, mode record,
//! write-only identity, stale locks).

mod check;
pub mod governance;
pub mod retention;

pub use check::{check, Affected, CheckOptions, CheckReport};
