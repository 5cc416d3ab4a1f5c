//! The lifeboat repository engine.
//!
//! # Layout
//!
//! | folder | concern |
//! |---|---|
//! | [`error`], [`cancel`], [`host`], [`parallel`] | foundation: errors, cancellation, who and where, parallel reads |
//! | [`format`](mod@format) | the repository format (`docs/design/repository.md`): every stored object's encoding |
//! | [`layers`] | storage layers the repository stacks on its backend (object lock) |
//! | [`repo`] | the repository handle: open/init, object reads and writes, mode and key-scope checks |
//! | [`governance`] | modes, journal, locks, write-only keys, retention policies (`forget`) |
//! | [`archiver`] | backups of files, directories and streams |
//! | [`restorer`] | listing, restore and dump |
//! | [`checker`] | `check` |
//! | [`maintenance`] | `prune` and `stats` |
//! | [`replication`] | `copy` into another repository |
//! | [`inspect`] | `diff` and `find`: looking into snapshots without restoring them |
//!
//! # Layering
//!
//! Each layer may use the layers below it, never one above:
//!
//! 1. foundation (`error`, `cancel`, `host`, `parallel`, `patterns`) uses no other module;
//! 2. `format/` uses the foundation (and `lifeboat_storage` to read or write one object);
//! 3. `layers/` uses `format/`;
//! 4. `repo.rs` uses `layers/` and `format/`;
//! 5. `governance/` uses `repo.rs` and below;
//! 6. the operations (`archiver/`, `restorer/`, `checker/`, `maintenance/`, `replication/`,
//!    `inspect/`) use
//!    governance and below; one operation uses another only where it writes through it
//!    (`replication/` stores blobs with the archiver's `BlobSaver`).
//!
//! Within a folder, modules may use each other. Unit tests (`#[cfg(test)]`) may reach up: some
//! exercise a module through the operations that use it. `tests/layering.rs` checks the rule.
//!
//! What the rule means in practice: a check that reads the journal is the checker's, calling the
//! journal (not the journal calling the checker); a rule the repository handle enforces on every
//! write reads its record through `format/`, not `governance/` (`Repository::require_writable`
//! reads the newest mode record with [`format::mode::read_newest`]); a storage layer the handle
//! stacks on open lives below it (`layers/`), and the check of what that layer wrote lives in the
//! checker (`checker/retention.rs`).
//!
//! # Stable paths
//!
//! The flat module names below the folders (`lifeboat_core::backup`, `restore`, `check`,
//! `mode`, `journal`, `util`, ...) are the paths the other crates and the tests use. They stay:
//! each re-exports the module (or the pieces of a split module) from its folder.

#![warn(missing_docs)]

pub mod archiver;
pub mod cancel;
pub mod checker;
pub mod error;
pub mod format;
pub mod governance;
pub mod host;
pub mod inspect;
pub mod layers;
pub mod maintenance;
pub mod parallel;
pub mod patterns;
pub mod replication;
pub mod repo;
pub mod restorer;
#[cfg(test)]
mod testutil;

// Stable paths (see "Stable paths" above): the flat module names the other crates and the
// tests use, re-exported from the folders.
pub use archiver as backup;
pub use checker as check;
pub use format::{blob, chunker, config, crypto, dict, index, keys, pack, snapshot, tree, zblob};
pub use governance::{forget, lock};
pub use maintenance::{prune, stats};
pub use replication as copy;
pub use restorer as restore;

/// Stable path of the journal: record format [`crate::format::journal`], append and verify
/// [`crate::governance::journal`], check of the chain [`crate::checker::governance`].
pub mod journal {
    pub use crate::checker::governance::check_records as check_into;
    pub use crate::format::journal::*;
    pub use crate::governance::journal::*;
}

/// Stable path of the modes: stored form [`crate::format::mode`], reading and setting them
/// [`crate::governance::mode`].
pub mod mode {
    pub use crate::format::mode::*;
    pub use crate::governance::mode::*;
}

/// Stable path of object lock: the storage layer [`crate::layers::object_lock`], prune's delete
/// probe [`crate::maintenance::prune`], the check of retention [`crate::checker::retention`].
pub mod retention_layer {
    pub use crate::checker::retention::check_retention;
    pub use crate::layers::object_lock::*;
    pub use crate::maintenance::prune::{explain_refused_delete, probe_delete};
}

/// Stable path of the small helpers: [`crate::format::b64`], sealed JSON
/// [`crate::format::json`], host and user [`crate::host`].
pub mod util {
    pub use crate::format::b64;
    pub use crate::format::json::{open_json, seal_json};
    pub use crate::host::{hostname, username};
}

/// Stable path of write-only keys: stored forms [`crate::format::writeonly`] (and sealed JSON
/// data, [`crate::format::json`]), issuing keys [`crate::governance::writeonly`], the check of
/// the identity [`crate::checker::governance`].
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
