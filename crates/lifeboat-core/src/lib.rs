//! The lifeboat repository engine.
//!
//! Modules follow the repository format (`docs/design/repository.md`): [`config`], [`keys`] and
//! [`crypto`] for the key hierarchy; [`blob`], [`pack`] and [`index`] for stored data; [`tree`]
//! and [`snapshot`] for manifests; [`lock`] for concurrency. Operations built on them:
//! [`backup`] (files and streams), [`restore`] (restore and dump), [`check`], [`forget`]
//! (retention policies), [`prune`] and [`stats`].

#![warn(missing_docs)]

pub mod archiver;
pub mod cancel;
pub mod checker;
pub mod error;
pub mod format;
pub mod governance;
pub mod host;
pub mod layers;
pub mod maintenance;
pub mod parallel;
pub mod replication;
pub mod repo;
pub mod restorer;
#[cfg(test)]
mod testutil;

// Stable paths: the flat module names the other crates and the tests use.
pub use archiver as backup;
pub use checker as check;
pub use format::{blob, chunker, config, crypto, dict, index, keys, pack, snapshot, tree, zblob};
pub use governance::{forget, lock};
pub use maintenance::{prune, stats};
pub use replication as copy;
pub use restorer as restore;

/// The hash-chained journal: record format ([`format::journal`]), append and verify
/// ([`governance::journal`]), and the check of the chain ([`checker::governance`]).
pub mod journal {
    pub use crate::checker::governance::check_records as check_into;
    pub use crate::format::journal::*;
    pub use crate::governance::journal::*;
}

/// Repository modes: stored form ([`format::mode`]) and reading and setting them
/// ([`governance::mode`]).
pub mod mode {
    pub use crate::format::mode::*;
    pub use crate::governance::mode::*;
}

/// Object lock: the storage layer ([`layers::object_lock`]), prune's delete probe
/// ([`maintenance::prune`]) and the check of retention ([`checker::retention`]).
pub mod retention_layer {
    pub use crate::checker::retention::check_retention;
    pub use crate::layers::object_lock::*;
    pub use crate::maintenance::prune::{explain_refused_delete, probe_delete};
}

/// Small helpers: base64 ([`format::b64`]), sealed JSON ([`format::json`]), host and user
/// ([`host`]).
pub mod util {
    pub use crate::format::b64;
    pub use crate::format::json::{open_json, seal_json};
    pub use crate::host::{hostname, username};
}

/// Write-only keys: stored forms ([`format::writeonly`], [`format::json`]), issuing keys
/// ([`governance::writeonly`]) and the check of the identity ([`checker::governance`]).
pub mod writeonly {
    pub use crate::checker::governance::check_identity;
    pub use crate::format::json::{open_json_data, seal_json_data};
    pub use crate::format::writeonly::*;
    pub use crate::governance::writeonly::*;
}

pub use error::{Error, Result};
pub use repo::Repository;

/// Version string recorded in snapshots.
pub const PROGRAM_VERSION: &str = concat!("lifeboat ", env!("CARGO_PKG_VERSION"));
