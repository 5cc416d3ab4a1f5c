//! PostgreSQL support for lifeboat.
//!
//! - [`logical`]: `pg_dump` (custom format, uncompressed so chunks deduplicate) and
//!   `pg_dumpall --globals-only` streamed into stream snapshots; restore through `pg_restore`.
//! - [`physical`]: `pg_basebackup` tar streams as snapshots that record the system identifier,
//!   timeline, start/stop LSN and time and the WAL range they need; recorded only once that WAL
//!   is archived.
//! - [`wal`]: the WAL archive (`wal-push`, `wal-fetch`): standalone encrypted objects, no
//!   index load per call, identical re-push accepted, conflicting or foreign segments refused.
//! - [`plan`]: pure planning rules (which base backup serves a recovery target, continuity
//!   gaps, expiry); [`pitr`]: restore, recovery settings and the temporary server.
//!
//! The formats are specified in `docs/design/postgres.md`.

#![warn(missing_docs)]

pub mod cluster;
pub mod counts;
pub mod datadir;
pub mod dump;
pub mod error;
pub mod logical;
pub mod lsn;
pub mod physical;
pub mod pitr;
pub mod plan;
pub mod stream;
pub mod tarwatch;
pub mod tools;
pub mod untar;
pub mod wal;

pub use error::{PgError, Result};
