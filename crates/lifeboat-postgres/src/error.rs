//! The error type of the PostgreSQL layer.

use std::path::PathBuf;

/// Result type of this crate.
pub type Result<T, E = PgError> = std::result::Result<T, E>;

/// Everything that can go wrong while backing up, archiving or restoring PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The repository engine failed.
    #[error(transparent)]
    Core(#[from] lifeboat_core::Error),

    /// A storage operation failed.
    #[error(transparent)]
    Storage(#[from] lifeboat_storage::StorageError),

    /// A PostgreSQL program (pg_dump, pg_basebackup, psql, ...) failed; the message carries its
    /// exit status and the tail of its standard error.
    #[error("{0}")]
    Tool(String),

    /// A PostgreSQL program could not be found or started.
    #[error("cannot run the PostgreSQL program {program}: {detail}; install PostgreSQL's client programs or set LIFEBOAT_PG_BINDIR")]
    ToolNotFound {
        /// The program name.
        program: String,
        /// Why it could not be run.
        detail: String,
    },

    /// A local file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// `wal-fetch` was asked for a file the archive does not hold (PostgreSQL probes for these).
    #[error("WAL file {name} is not in the archive")]
    WalNotFound {
        /// The WAL file name.
        name: String,
    },

    /// A WAL file of the same name but different content is already archived.
    #[error("refusing to archive {name}: the archive already holds a different {name} (archived {archived_at}); two servers may be archiving into the same place, or the server's WAL was reset. Nothing was overwritten")]
    WalConflict {
        /// The WAL file name.
        name: String,
        /// When the archived copy was stored (RFC 3339).
        archived_at: String,
    },

    /// A WAL file or base backup comes from another database system than the one expected.
    #[error("refusing {what}: it belongs to database system {found}, but {expected_from} is database system {expected}. Use a separate --cluster name (or repository) for a different cluster")]
    WrongSystem {
        /// What was refused.
        what: String,
        /// The system identifier expected.
        expected: u64,
        /// Where the expectation comes from.
        expected_from: String,
        /// The system identifier found.
        found: u64,
    },

    /// A stored WAL object is damaged or does not decrypt.
    #[error("corrupt WAL object {key}: {detail}")]
    Corrupt {
        /// The storage key.
        key: String,
        /// What was wrong.
        detail: String,
    },

    /// A point-in-time restore cannot be planned (target outside what the repository covers).
    #[error("{0}")]
    Plan(String),

    /// The restored server failed to recover.
    #[error("{0}")]
    Recovery(String),

    /// The request cannot be carried out as given.
    #[error("{0}")]
    Invalid(String),
}

impl PgError {
    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PgError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// True when the error means "this WAL file is not archived".
    pub fn is_wal_not_found(&self) -> bool {
        matches!(self, PgError::WalNotFound { .. })
    }
}
