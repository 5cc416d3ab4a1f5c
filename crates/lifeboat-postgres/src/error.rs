//! The error type of the PostgreSQL layer.
//!
//! Messages name no front end's syntax (no command-line flags, no commands): what the user can
//! do is a [`Hint`] ([`PgError::hint`]), which each front end renders in its own words. Errors
//! of a request that can be fixed by changing an option are
//! [`lifeboat_core::Error::Guided`] inside [`PgError::Core`] ([`PgError::guided`]).

use lifeboat_core::error::Hint;
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
    #[error("cannot run the PostgreSQL program {program}: {detail}")]
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
    #[error("refusing {what}: it belongs to database system {found}, but {expected_from} is database system {expected}. A different cluster needs a cluster name (or repository) of its own")]
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

    /// PostgreSQL, one of its programs or a stored base backup produced something lifeboat
    /// cannot read (a server answer, `backup_label`, the backup manifest, a tar stream).
    #[error("unexpected {what}: {detail}")]
    Unexpected {
        /// What was read.
        what: String,
        /// What was wrong with it.
        detail: String,
    },

    /// A worker thread stopped early (it panicked); nothing that depends on it was written.
    #[error("the {thread} thread stopped unexpectedly")]
    ThreadFailed {
        /// Which thread.
        thread: &'static str,
    },

    /// A base backup that copies the data directory failed while copying; nothing was
    /// recorded (kind, exit code and hint follow the cause).
    #[error("{cause}. The base backup was abandoned and no snapshot was written{}", copy_advice(.cause))]
    CopyAbandoned {
        /// Why the copy failed.
        cause: lifeboat_core::Error,
    },

    /// A finished base backup's WAL did not reach the archive in time; nothing was recorded.
    #[error("the base backup finished, but after {waited_seconds}s the archive still lacks the WAL it needs ({}); check the server's archive_command (it should be `lifeboat wal-push %p` into this repository) and its log. No snapshot was written", .missing.join(", "))]
    WalNotArchived {
        /// How long lifeboat waited.
        waited_seconds: u64,
        /// The WAL files still missing.
        missing: Vec<String>,
    },

    /// A cluster binding that another process had just created could not be read back.
    #[error("the binding of cluster '{cluster}' vanished while it was being created")]
    BindingVanished {
        /// The cluster name.
        cluster: String,
    },

    /// The repository's mode record could not be read, so a write is refused.
    #[error("cannot tell the repository mode ({detail}); {operation} is refused until the mode record is readable")]
    ModeUnreadable {
        /// The refused operation.
        operation: String,
        /// Why the record could not be read.
        detail: String,
    },

    /// The request cannot be carried out as given.
    #[error("{0}")]
    Invalid(String),
}

/// What to try when copying the data directory failed on `cause`.
fn copy_advice(cause: &lifeboat_core::Error) -> &'static str {
    match cause {
        lifeboat_core::Error::Io { .. } => {
            " (if lifeboat may not read the data directory, run it as the postgres user, or take the backup through pg_basebackup)"
        }
        _ => "",
    }
}

impl PgError {
    /// A request error with guidance ([`lifeboat_core::Error::Guided`]).
    pub fn guided(message: impl Into<String>, hint: Hint) -> Self {
        PgError::Core(lifeboat_core::Error::guided(message, hint))
    }

    /// Builds a [`PgError::Unexpected`].
    pub fn unexpected(what: impl Into<String>, detail: impl Into<String>) -> Self {
        PgError::Unexpected {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// What the user can do about this error, when there is something to do.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            PgError::Core(e) => e.hint(),
            PgError::Storage(e) if e.is_retryable() => Some(Hint::Retry),
            PgError::ToolNotFound { .. } => Some(Hint::InstallPostgres),
            PgError::WrongSystem { .. } => Some(Hint::SetOption {
                option: "cluster",
                value: None,
            }),
            PgError::CopyAbandoned {
                cause: lifeboat_core::Error::Io { .. },
            } => Some(Hint::SetOption {
                option: "method",
                value: Some("pg_basebackup".into()),
            }),
            PgError::CopyAbandoned { cause } => cause.hint(),
            PgError::BindingVanished { .. } => Some(Hint::Retry),
            _ => None,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_data_and_messages_name_no_flags() {
        let e = PgError::WrongSystem {
            what: "WAL file 000000010000000000000001".into(),
            expected: 1,
            expected_from: "cluster 'main' in this repository".into(),
            found: 2,
        };
        assert!(!e.to_string().contains("--"), "{e}");
        assert_eq!(
            e.hint(),
            Some(Hint::SetOption {
                option: "cluster",
                value: None
            })
        );

        let e = PgError::ToolNotFound {
            program: "pg_dump".into(),
            detail: "not found".into(),
        };
        assert_eq!(
            e.to_string(),
            "cannot run the PostgreSQL program pg_dump: not found"
        );
        assert_eq!(e.hint(), Some(Hint::InstallPostgres));

        let io = lifeboat_core::Error::io(
            "reading",
            "/srv/pg/locked.conf",
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        let e = PgError::CopyAbandoned { cause: io };
        let text = e.to_string();
        assert!(
            text.contains("locked.conf") && text.contains("no snapshot was written"),
            "{text}"
        );
        assert!(!text.contains("--"), "{text}");
        assert_eq!(
            e.hint(),
            Some(Hint::SetOption {
                option: "method",
                value: Some("pg_basebackup".into())
            })
        );

        let e = PgError::guided("x", Hint::DropOption { option: "create" });
        assert_eq!(e.hint(), Some(Hint::DropOption { option: "create" }));
        assert!(PgError::Invalid("x".into()).hint().is_none());
    }
}
