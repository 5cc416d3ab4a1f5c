//! The lifeboat operations layer: one function per operation, shared by every front end.
//!
//! The engines (`lifeboat-core` for the repository format, `lifeboat-postgres` for PostgreSQL,
//! `lifeboat-storage` for backends) know how to do things; this layer knows *when* they may be
//! done and what must surround them. Each operation takes a [`Context`] (who acts, through
//! which front end, the progress counters and cancellation token), an opened repository (or a
//! [`Location`] and password where the operation opens it itself) and a typed request, and
//! returns a typed, serializable report. Around the engine call it
//! - checks the repository's mode against the one table in [`modes`],
//! - takes and releases the repository locks the operation needs,
//! - writes one journal record per repository with the result ([`record::Recorder`]),
//! - runs source hooks: after prune, WAL expiry for the base backups that remain (under the
//!   same exclusive lock); after copy, the WAL of the copied physical base backups.
//!
//! There is no process-global state: two operations in one process (the daemon) do not share
//! anything but what their contexts share. Front ends (the CLI, the daemon's API and scheduler,
//! drills) parse input, call these functions, and render reports and [`OpsError`]s (with their
//! [`Hint`]s and exit codes) in their own words.

#![warn(missing_docs)]

pub mod context;
pub mod error;
pub mod filter;
pub mod modes;
pub mod open;
mod ops;
pub mod record;
pub mod sources;

pub use context::{Actor, Context, FrontEnd};
pub use error::{ErrorKind, OpsError, Result};
pub use lifeboat_core::error::Hint;
pub use open::Location;
pub use ops::{
    app, backup, check, copy, diff, drill, dump, find, forget, init, journal, keys, list, mode,
    prune, restore, restore_point, rewrite, unlock, wal,
};

/// Runs `f` with a journal recorder and appends its record with the result; journal append
/// failures become warnings in `ctx`.
pub(crate) fn journaled<T>(
    ctx: &Context,
    mut rec: record::Recorder,
    f: impl FnOnce(&mut record::Recorder) -> Result<T>,
) -> Result<T> {
    let r = f(&mut rec);
    for w in rec.finish(&r) {
        ctx.warn(w);
    }
    r
}
