//! Looking into snapshots without restoring them: what changed between two ([`diff`]) and
//! which snapshots hold a file ([`find`]).

pub mod diff;
pub mod find;
