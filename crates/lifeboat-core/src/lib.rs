//! The lifeboat repository engine.
//!
//! Modules follow the repository format (`docs/design/repository.md`): [`config`], [`keys`] and
//! [`crypto`] for the key hierarchy; [`blob`], [`pack`] and [`index`] for stored data; [`tree`]
//! and [`snapshot`] for manifests; [`lock`] for concurrency. Operations built on them:
//! [`backup`] (files and streams), [`restore`] (restore and dump), [`check`], [`forget`]
//! (retention policies), [`prune`] and [`stats`].

#![warn(missing_docs)]

pub mod backup;
pub mod blob;
pub mod cancel;
pub mod check;
pub mod chunker;
pub mod config;
pub mod copy;
pub mod crypto;
pub mod dict;
pub mod error;
pub mod forget;
pub mod index;
pub mod journal;
pub mod keys;
pub mod lock;
pub mod mode;
pub mod pack;
pub mod prune;
pub mod repo;
pub mod restore;
pub mod retention_layer;
pub mod snapshot;
pub mod stats;
pub mod tree;
pub mod util;
pub mod writeonly;
pub mod zblob;

pub use error::{Error, Result};
pub use repo::Repository;

/// Version string recorded in snapshots.
pub const PROGRAM_VERSION: &str = concat!("lifeboat ", env!("CARGO_PKG_VERSION"));
