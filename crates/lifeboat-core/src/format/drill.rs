//! Drill reports: the evidence a restore drill leaves (docs/design/drills.md).
//!
//! Stored like snapshots: a metadata envelope (data key, context `lifeboat drill report`) of
//! zstd JSON under `drills/<sha256 of stored bytes>`. The report id is that SHA-256, and the
//! drill's journal record names it, so `journal verify` proves the drill history was not
//! edited: a changed report no longer matches its name, and a removed one leaves its record.
//! The engine does not interpret the JSON (the drill crate owns its schema).

/// Associated data of drill report envelopes.
pub const DRILL_CONTEXT: &[u8] = b"lifeboat drill report";

/// The folder of drill reports.
pub const DRILLS_PREFIX: &str = "drills/";
