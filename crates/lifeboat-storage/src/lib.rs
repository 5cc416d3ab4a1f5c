//! Storage for lifeboat repositories.
//!
//! A repository is a set of named, immutable objects (see `docs/design/repository.md`). This
//! crate holds the one storage contract every backend implements ([`ReadStorage`] and
//! [`WriteStorage`]), the backends themselves (one module each, all listed in [`choose`]), and
//! the layers that wrap any backend: [`layers::Retry`], [`layers::Limit`] and, for tests,
//! [`layers::Faults`].
//!
//! Backends know nothing about encryption, packs or indexes: they move bytes under keys.

#![warn(missing_docs)]

pub mod choose;
pub mod cloud;
mod dal;
mod direct;
mod error;
pub mod layers;
pub mod local;
pub mod memory;
mod runtime;
pub mod s3;

pub use error::{ErrorKind, StorageError};

use std::fmt::Debug;
use std::time::SystemTime;

/// Result type of every storage operation.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What a backend can do. Callers check these instead of guessing from the backend's type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `write` with [`WriteOptions::create_new`] is atomic: of two concurrent creators of the
    /// same key exactly one succeeds. When false, `create_new` is still honoured but with a
    /// check-then-write race; lock and journal writers then re-read what they wrote.
    pub atomic_create: bool,
    /// Objects can carry a retention date (S3 Object Lock) and [`ReadStorage::retention`] reports it.
    pub object_lock: bool,
    /// Ranged reads are served without transferring the whole object.
    pub ranged_read: bool,
}

/// Metadata of one stored object, as returned by [`ReadStorage::list`] and [`ReadStorage::stat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's key, relative to the repository root (for example `data/ab/ab12...`).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// Options of one [`WriteStorage::write`].
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Fail with [`ErrorKind::AlreadyExists`] when the key exists (used for key files, locks,
    /// journal records, the config). When false, an existing object is replaced; lifeboat only
    /// does that for content-addressed objects, whose new bytes equal the old ones.
    pub create_new: bool,
    /// Object-lock retention: the object cannot be deleted or overwritten before this time.
    /// Backends without [`Capabilities::object_lock`] return [`ErrorKind::Unsupported`] when set.
    pub retain_until: Option<SystemTime>,
    /// Object-lock mode of [`Self::retain_until`]: `COMPLIANCE` or `GOVERNANCE`; `None` means
    /// `COMPLIANCE`. Ignored without `retain_until`.
    pub retention_mode: Option<String>,
}

impl WriteOptions {
    /// Options for an object that must not exist yet.
    pub fn create_new() -> Self {
        WriteOptions {
            create_new: true,
            ..Default::default()
        }
    }
}

/// Object-lock retention of one stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// `COMPLIANCE` or `GOVERNANCE`.
    pub mode: String,
    /// The object cannot be deleted before this time.
    pub retain_until: SystemTime,
}

/// The read half of the storage contract.
///
/// Rules every implementation follows (the conformance suite in `tests/` checks them):
/// - Keys are `/`-separated relative paths without `..`; a "directory" is a key prefix ending in `/`.
/// - A missing object is always [`ErrorKind::NotFound`], never an empty result or another kind.
/// - Reads return exactly the bytes of the last completed write: never a partial object.
/// - All methods may be called concurrently from several threads.
pub trait ReadStorage: Send + Sync + Debug {
    /// A human-readable location used in error messages (`/srv/repo`, `s3:https://host/bucket`).
    fn location(&self) -> String;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Reads a whole object. Missing object: [`ErrorKind::NotFound`].
    fn read(&self, key: &str) -> Result<Vec<u8>>;

    /// Reads `length` bytes starting at `offset`. Missing object: [`ErrorKind::NotFound`]; a range
    /// that extends past the end of the object: [`ErrorKind::ShortRead`].
    fn read_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>>;

    /// Lists the objects whose key starts with `prefix` (recursively), in no particular order.
    /// A prefix with no objects (or a directory that does not exist) is an empty list, not an error.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;

    /// Size of one object. Missing object: [`ErrorKind::NotFound`].
    fn stat(&self, key: &str) -> Result<ObjectInfo>;

    /// Object-lock retention of one object, `None` when it carries none.
    /// Backends without [`Capabilities::object_lock`] return `Ok(None)`.
    fn retention(&self, key: &str) -> Result<Option<Retention>> {
        let _ = key;
        Ok(None)
    }
}

/// The write half of the storage contract.
///
/// - `write` is durable when it returns `Ok`: the bytes survive a crash or power loss of this
///   host (local: temp file, fsync, rename, directory fsync; S3: the PUT was acknowledged).
///   A failed or interrupted `write` leaves either no object or the complete previous one,
///   never a partial object under the key.
/// - `write` without `create_new` is idempotent: writing the same bytes again succeeds.
/// - `remove` is idempotent: removing a missing object succeeds.
/// - A store that refuses deletes (append-only credentials, object lock) returns
///   [`ErrorKind::PermissionDenied`] or [`ErrorKind::Locked`] from `remove`, and nothing changes.
pub trait WriteStorage: ReadStorage {
    /// Stores `data` under `key` (see the trait documentation for the rules).
    fn write(&self, key: &str, data: &[u8], options: &WriteOptions) -> Result<()>;

    /// Removes one object; a missing object is not an error.
    fn remove(&self, key: &str) -> Result<()>;
}

/// A shareable handle on any backend, with its layers.
pub type Storage = std::sync::Arc<dyn WriteStorage>;

/// Checks that a key is a clean relative path (no empty, `.` or `..` components).
pub fn validate_key(key: &str) -> Result<()> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(StorageError::new(
            ErrorKind::InvalidKey,
            "validate",
            "",
            key,
            "keys are relative paths without empty, '.' or '..' components",
        ));
    }
    Ok(())
}
