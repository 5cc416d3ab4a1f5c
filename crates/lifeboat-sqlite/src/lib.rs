//! SQLite support for lifeboat (docs/design/sqlite.md).
//!
//! - [`backup`]: a transactionally consistent copy of a live database (rollback-journal or WAL
//!   mode, while other processes write), taken with SQLite's online backup API in one pass,
//!   written to a private temporary file, checked with `PRAGMA integrity_check` and streamed
//!   through the engine in page-aligned fixed-size blocks, so that a later backup re-stores
//!   only the blocks whose pages changed. One snapshot per database, `source = "sqlite"`, its
//!   metadata ([`SqliteMeta`]) under `extra.sqlite`.
//! - [`restore`]: the database written to a temporary file beside the target, fsynced,
//!   checked, renamed into place (then the directory fsynced); a database another process has
//!   open is never replaced, and no `-wal`/`-shm`/`-journal` of the old file is left behind.
//! - [`query`]: what restore drills ask of a restored database (`integrity_check`, answers of
//!   `sql` checks, row counts).
//!
//! The engine (`lifeboat-core`) knows nothing about SQLite: it stores a stream with
//! [`lifeboat_core::backup::Chunking::Fixed`]. The operations layer (`lifeboat-ops`) adds
//! the mode checks and journal records.

#![warn(missing_docs)]

pub mod backup;
pub mod error;
pub mod holders;
pub mod meta;
pub mod query;
pub mod restore;
pub mod verify;

pub use error::{Result, SqliteError};
pub use meta::{Check, SqliteMeta};

/// The `source` of SQLite snapshots.
pub const SOURCE: &str = "sqlite";

/// The key of [`SqliteMeta`] in a snapshot's `extra`.
pub const EXTRA_KEY: &str = "sqlite";

/// The block size streams are cut into unless asked otherwise (rounded up to a multiple of
/// the database's page size). Chosen by measurement: docs/design/sqlite.md, "Chunking".
pub const DEFAULT_BLOCK_SIZE: u32 = 32 * 1024;

/// The SQLite library version lifeboat is built with (bundled, so it is always this one).
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}
