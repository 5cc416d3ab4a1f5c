//! The operations layer's error: every failure of every engine, with its kind, exit code and
//! guidance as data.
//!
//! Rules: errors of the engines keep their own type inside [`OpsError`] (so nothing about what
//! failed, on which object, is lost); errors that come from a request itself are typed here.
//! [`OpsError::exit_code`] gives the same code for the same failure whichever crate raised it
//! (a PostgreSQL command blocked by a lock exits 11 like any other). [`OpsError::hint`] says
//! what the user can do, as a [`Hint`] each front end renders in its own words.

use crate::modes::Operation;
use lifeboat_core::error::{
    Hint, EXIT_ERROR, EXIT_LOCKED, EXIT_MODE_REFUSED, EXIT_NOT_A_REPOSITORY, EXIT_WRONG_PASSWORD,
};
use lifeboat_core::mode::Mode;
use lifeboat_postgres::PgError;
use lifeboat_sqlite::SqliteError;
use lifeboat_storage::StorageError;
use serde::Serialize;

/// Result type of the operations layer.
pub type Result<T, E = OpsError> = std::result::Result<T, E>;

/// What kind of failure an [`OpsError`] is; stable names for the HTTP API's `error.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The location holds no repository.
    NotARepository,
    /// No key opens with the password.
    WrongPassword,
    /// Another process holds a conflicting lock.
    Locked,
    /// The repository's mode refuses the operation.
    ModeRefused,
    /// The operation was cancelled.
    Cancelled,
    /// A snapshot, path or object asked for does not exist.
    NotFound,
    /// Stored data is damaged.
    Corrupt,
    /// The request cannot be carried out as given.
    InvalidRequest,
    /// The data source (files, a command, a database) failed.
    SourceFailed,
    /// The storage failed.
    Storage,
    /// The key in use may not do this.
    Forbidden,
    /// Any other failure.
    Other,
}

/// A failure of an operation.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The repository engine failed.
    #[error(transparent)]
    Engine(lifeboat_core::Error),

    /// The PostgreSQL layer failed (engine and storage errors it carries are unwrapped into
    /// [`OpsError::Engine`]).
    #[error(transparent)]
    Postgres(PgError),

    /// The SQLite layer failed (engine errors it carries are unwrapped into
    /// [`OpsError::Engine`]).
    #[error(transparent)]
    Sqlite(SqliteError),

    /// The repository mode refuses the operation ([`crate::modes`]).
    #[error("the repository is in {mode} mode: {} is refused", operation.name())]
    Refused {
        /// The refused operation.
        operation: Operation,
        /// The repository's mode.
        mode: Mode,
    },

    /// No repository location was given.
    #[error("no repository given")]
    NoRepository,

    /// No password was given and none could be asked for.
    #[error("no password given for {location}")]
    NoPassword {
        /// The repository location.
        location: String,
    },

    /// A request field has a value the operation cannot use.
    #[error("invalid {field}: {problem}")]
    InvalidRequest {
        /// The field (as named in the request type).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },

    /// Two request fields cannot be used together, or a needed one is missing.
    #[error("{0}")]
    Conflict(String),

    /// A step of an operation failed after earlier steps succeeded (kind, exit code and
    /// hint are those of the cause).
    #[error("{step}: {source}")]
    Step {
        /// What was being done, and what stands.
        step: String,
        /// Why it failed.
        source: Box<OpsError>,
    },
}

impl From<lifeboat_core::Error> for OpsError {
    fn from(e: lifeboat_core::Error) -> Self {
        OpsError::Engine(e)
    }
}

impl From<StorageError> for OpsError {
    fn from(e: StorageError) -> Self {
        OpsError::Engine(lifeboat_core::Error::Storage(e))
    }
}

impl From<PgError> for OpsError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Core(e) => OpsError::Engine(e),
            PgError::Storage(e) => OpsError::Engine(lifeboat_core::Error::Storage(e)),
            other => OpsError::Postgres(other),
        }
    }
}

impl From<SqliteError> for OpsError {
    fn from(e: SqliteError) -> Self {
        match e {
            SqliteError::Core(e) => OpsError::Engine(e),
            other => OpsError::Sqlite(other),
        }
    }
}

impl OpsError {
    /// Builds an [`OpsError::InvalidRequest`].
    pub fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        OpsError::InvalidRequest {
            field,
            problem: problem.into(),
        }
    }

    /// The engine error inside, if any.
    pub fn engine(&self) -> Option<&lifeboat_core::Error> {
        match self {
            OpsError::Engine(e) => Some(e),
            OpsError::Step { source, .. } => source.engine(),
            _ => None,
        }
    }

    /// Wraps `self` as the failure of `step`.
    pub fn during(self, step: impl Into<String>) -> Self {
        OpsError::Step {
            step: step.into(),
            source: Box::new(self),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OpsError::Step { source, .. } => source.kind(),
            OpsError::Engine(e) => engine_kind(e),
            OpsError::Postgres(p) => match p {
                PgError::Core(e) | PgError::CopyAbandoned { cause: e } => engine_kind(e),
                PgError::Storage(s) if s.is_not_found() => ErrorKind::NotFound,
                PgError::Storage(_) => ErrorKind::Storage,
                PgError::WalNotFound { .. } => ErrorKind::NotFound,
                PgError::Corrupt { .. } => ErrorKind::Corrupt,
                PgError::Tool(_)
                | PgError::ToolNotFound { .. }
                | PgError::Io { .. }
                | PgError::Unexpected { .. }
                | PgError::WalNotArchived { .. } => ErrorKind::SourceFailed,
                PgError::Invalid(_) | PgError::Plan(_) | PgError::WrongSystem { .. } => {
                    ErrorKind::InvalidRequest
                }
                PgError::WalConflict { .. }
                | PgError::Recovery(_)
                | PgError::ThreadFailed { .. }
                | PgError::BindingVanished { .. }
                | PgError::ModeUnreadable { .. } => ErrorKind::Other,
            },
            OpsError::Sqlite(s) => match s {
                SqliteError::Core(e) => engine_kind(e),
                SqliteError::RestoredDamaged { .. } => ErrorKind::Corrupt,
                SqliteError::NotASqliteSnapshot { .. }
                | SqliteError::TargetExists { .. }
                | SqliteError::TargetInUse { .. }
                | SqliteError::TargetNotAFile { .. }
                | SqliteError::Invalid(_) => ErrorKind::InvalidRequest,
                e if e.is_source_failure() => ErrorKind::SourceFailed,
                _ => ErrorKind::Other,
            },
            OpsError::Refused { .. } => ErrorKind::ModeRefused,
            OpsError::NoRepository | OpsError::NoPassword { .. } => ErrorKind::InvalidRequest,
            OpsError::InvalidRequest { .. } | OpsError::Conflict(_) => ErrorKind::InvalidRequest,
        }
    }

    /// The process exit code for this failure (the table in README.md), the same whichever
    /// crate raised it.
    pub fn exit_code(&self) -> i32 {
        match self {
            OpsError::Step { source, .. } => source.exit_code(),
            OpsError::Engine(e) => e.exit_code(),
            OpsError::Postgres(PgError::Core(e) | PgError::CopyAbandoned { cause: e }) => {
                e.exit_code()
            }
            OpsError::Sqlite(s) => s.exit_code(),
            OpsError::Refused { .. } => EXIT_MODE_REFUSED,
            _ => match self.kind() {
                ErrorKind::NotARepository => EXIT_NOT_A_REPOSITORY,
                ErrorKind::WrongPassword => EXIT_WRONG_PASSWORD,
                ErrorKind::Locked => EXIT_LOCKED,
                _ => EXIT_ERROR,
            },
        }
    }

    /// What the user can do about it, when there is something to do.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            OpsError::Step { source, .. } => source.hint(),
            OpsError::Engine(e) => e.hint(),
            OpsError::Refused { .. } => Some(Hint::LeaveMode),
            OpsError::NoRepository => Some(Hint::GiveRepository),
            OpsError::NoPassword { .. } => Some(Hint::GivePassword),
            OpsError::Postgres(p) => p.hint(),
            OpsError::Sqlite(s) => s.hint(),
            OpsError::InvalidRequest { .. } | OpsError::Conflict(_) => None,
        }
    }

    /// True for a cancellation.
    pub fn is_cancelled(&self) -> bool {
        self.kind() == ErrorKind::Cancelled
    }
}

/// The kind of an engine failure (a stopped copy or a refused prune: that of the cause).
fn engine_kind(e: &lifeboat_core::Error) -> ErrorKind {
    use lifeboat_core::Error as E;
    match e {
        E::CopyStopped { cause, .. } | E::PruneRefused { cause, .. } => engine_kind(cause),
        E::NotARepository { .. } => ErrorKind::NotARepository,
        E::WrongPassword { .. } => ErrorKind::WrongPassword,
        E::Locked(_) => ErrorKind::Locked,
        E::ReadOnly { .. } => ErrorKind::ModeRefused,
        E::Cancelled { .. } => ErrorKind::Cancelled,
        E::SnapshotNotFound(_) | E::PathNotInSnapshot { .. } => ErrorKind::NotFound,
        E::Corrupt { .. }
        | E::MissingBlob { .. }
        | E::VerificationFailed { .. }
        | E::JournalDamaged { .. } => ErrorKind::Corrupt,
        E::SourceFailed(_) | E::Io { .. } => ErrorKind::SourceFailed,
        E::Storage(s) if s.is_not_found() => ErrorKind::NotFound,
        E::Storage(_) => ErrorKind::Storage,
        E::InsufficientKey { .. } | E::Retained { .. } | E::DeleteRefused { .. } => {
            ErrorKind::Forbidden
        }
        E::NewerFormat { .. } => ErrorKind::Other,
        E::AmbiguousSnapshot { .. } | E::TargetNotEmpty(_) | E::Guided { .. } | E::Invalid(_) => {
            ErrorKind::InvalidRequest
        }
        E::AlreadyInitialized { .. }
        | E::Contention { .. }
        | E::ThreadFailed { .. }
        | E::SaverStopped { .. }
        | E::Crypto { .. } => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_errors_keep_kind_exit_code_and_hint() {
        // Guidance from the PostgreSQL layer is an engine error with a hint: a request error.
        let e = OpsError::from(PgError::guided(
            "x",
            Hint::SetOption {
                option: "method",
                value: Some("pg_basebackup".into()),
            },
        ));
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
        assert_eq!(e.exit_code(), EXIT_ERROR);
        assert_eq!(
            e.hint(),
            Some(Hint::SetOption {
                option: "method",
                value: Some("pg_basebackup".into())
            })
        );

        // A failed copy takes kind and exit code from its cause.
        let e = OpsError::from(PgError::CopyAbandoned {
            cause: lifeboat_core::Error::Locked("held by pid 1".into()),
        });
        assert_eq!(e.kind(), ErrorKind::Locked);
        assert_eq!(e.exit_code(), EXIT_LOCKED);
        assert_eq!(e.hint(), Some(Hint::WaitOrUnlock));

        let e = OpsError::from(PgError::unexpected("backup_label", "it has no START"));
        assert_eq!(e.kind(), ErrorKind::SourceFailed);
        assert_eq!(e.hint(), None);

        let e = OpsError::from(PgError::BindingVanished {
            cluster: "main".into(),
        });
        assert_eq!(e.hint(), Some(Hint::Retry));

        let e = OpsError::from(PgError::ToolNotFound {
            program: "psql".into(),
            detail: "not found".into(),
        });
        assert_eq!(e.kind(), ErrorKind::SourceFailed);
        assert_eq!(e.hint(), Some(Hint::InstallPostgres));
    }

    #[test]
    fn engine_errors_that_wrap_a_cause_take_its_kind() {
        use lifeboat_core::Error as E;
        let e = OpsError::from(E::CopyStopped {
            snapshot: "0123abcd".into(),
            destination: "/srv/b".into(),
            cause: Box::new(E::Locked("held by pid 1".into())),
        });
        assert_eq!(e.kind(), ErrorKind::Locked);
        assert_eq!(e.exit_code(), EXIT_LOCKED);
        assert_eq!(e.hint(), Some(Hint::WaitOrUnlock));

        let e = OpsError::from(E::PruneRefused {
            snapshot: "0123abcd".into(),
            cause: Box::new(E::corrupt("index/ab", "bad MAC")),
        });
        assert_eq!(e.kind(), ErrorKind::Corrupt);
        assert_eq!(e.hint(), Some(Hint::CheckReadData));

        let e = OpsError::from(E::JournalDamaged {
            object: "journal/0000000000000007".into(),
            detail: "authentication failed".into(),
        });
        assert_eq!(e.kind(), ErrorKind::Corrupt);
        let e = OpsError::from(E::Contention {
            object: "the journal of /srv/a".into(),
            attempts: 100,
        });
        assert_eq!(e.kind(), ErrorKind::Other);
        assert_eq!(e.hint(), Some(Hint::Retry));
    }
}
