//! The one place that lists every backend: parse a repository location, build the backend,
//! and stack the standard layers on it.
//!
//! | form | backend |
//! |---|---|
//! | `/path/to/repo`, `local:/path/to/repo` | [`crate::local::LocalStorage`] |
//! | `memory:` | [`crate::memory::MemoryStorage`] (tests only; empty at every open) |

use crate::layers::{Limit, Retry};
use crate::local::LocalStorage;
use crate::memory::MemoryStorage;
use crate::{ErrorKind, Result, Storage, StorageError};
use std::sync::Arc;
use std::time::Duration;

/// A parsed repository location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on a local filesystem.
    Local(std::path::PathBuf),
    /// An in-process memory store.
    Memory,
}

/// Parses a repository location string (see the module table).
pub fn parse(location: &str) -> Result<Location> {
    if location.is_empty() {
        return Err(StorageError::new(
            ErrorKind::InvalidKey,
            "open",
            location,
            "",
            "no repository given: pass -r/--repo or set LIFEBOAT_REPOSITORY",
        ));
    }
    if location == "memory:" {
        return Ok(Location::Memory);
    }
    if let Some(rest) = location.strip_prefix("local:") {
        return Ok(Location::Local(rest.into()));
    }
    if let Some((scheme, _)) = location.split_once(':') {
        if scheme.len() > 1 && !scheme.contains('/') && location.contains("://") {
            return Err(StorageError::new(
                ErrorKind::Unsupported,
                "open",
                location,
                "",
                format!("unknown repository scheme '{scheme}:' (supported: a local path, local:PATH)"),
            ));
        }
    }
    Ok(Location::Local(location.into()))
}

/// Opens a backend for `location` with the standard layers (retry, then a concurrency limit).
pub fn open(location: &str) -> Result<Storage> {
    let storage: Storage = match parse(location)? {
        Location::Local(path) => Arc::new(Limit::new(
            Retry::new(LocalStorage::new(path), 3, Duration::from_millis(100)),
            8,
        )),
        Location::Memory => Arc::new(MemoryStorage::new()),
    };
    Ok(storage)
}
