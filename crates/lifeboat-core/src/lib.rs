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
pub mod layers;
pub mod maintenance;
pub mod replication;
pub mod repo;
pub mod restorer;
pub mod util;

// Stable paths: the flat module names the other crates and the tests use.
pub use archiver as backup;
pub use checker as check;
pub use format::{
    blob, chunker, config, crypto, dict, index, keys, pack, snapshot, tree, writeonly, zblob,
};
pub use governance::{forget, journal, lock, mode};
pub use layers::object_lock as retention_layer;
pub use maintenance::{prune, stats};
pub use replication as copy;
pub use restorer as restore;

pub use error::{Error, Result};
pub use repo::Repository;

/// Version string recorded in snapshots.
pub const PROGRAM_VERSION: &str = concat!("lifeboat ", env!("CARGO_PKG_VERSION"));
