//! The engine's error type.
//!
//! Rules: every variant names what failed and the object or path involved. The `Display` text
//! names no front end's syntax (no command-line flags, no commands): what the user can do is a
//! [`Hint`] ([`Error::hint`]), which each front end renders in its own words. Internal failures
//! (a thread that stopped, a cipher that failed, a write that lost every race) have variants of
//! their own; [`Error::Invalid`] is for requests that cannot be carried out as given. Binaries
//! map variants to exit codes with [`Error::exit_code`]; the engine never prints or exits.

use lifeboat_storage::StorageError;
use std::path::PathBuf;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: an error (the message says what and what to do), or a check found problems.
pub const EXIT_ERROR: i32 = 1;
/// Exit code: a backup was saved, but some files could not be read.
pub const EXIT_PARTIAL: i32 = 3;
/// Exit code: a drill ran, and a check or an RTO/RPO target failed.
pub const EXIT_DRILL_FAILED: i32 = 4;
/// Exit code: `app start`: the application's previous run did not stop cleanly.
pub const EXIT_APP_CRASHED: i32 = 5;
/// Exit code: the location is not a lifeboat repository.
pub const EXIT_NOT_A_REPOSITORY: i32 = 10;
/// Exit code: the repository is locked by another process.
pub const EXIT_LOCKED: i32 = 11;
/// Exit code: wrong password (no key opens with it).
pub const EXIT_WRONG_PASSWORD: i32 = 12;
/// Exit code: the repository's mode (read-only, degraded) refuses the operation.
pub const EXIT_MODE_REFUSED: i32 = 13;
/// Exit code: the operation was cancelled (SIGINT/SIGTERM or a cancel request).
pub const EXIT_CANCELLED: i32 = 130;

/// Result type of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A storage operation failed (see [`StorageError`] for the object and store).
    #[error("{0}")]
    Storage(#[from] StorageError),

    /// The location holds no lifeboat repository.
    #[error("{location} is not a lifeboat repository (no config object found)")]
    NotARepository {
        /// The repository location.
        location: String,
    },

    /// `init` was called on an existing repository.
    #[error("a repository already exists at {location}; refusing to overwrite it")]
    AlreadyInitialized {
        /// The repository location.
        location: String,
    },

    /// No key file could be opened with the given password.
    #[error(
        "wrong password: no key in {location} can be opened with it (tried {tried} key files)"
    )]
    WrongPassword {
        /// The repository location.
        location: String,
        /// How many key files were tried.
        tried: usize,
    },

    /// An object failed authentication, decoding or its hash check.
    #[error("corrupt object {object}: {detail}")]
    Corrupt {
        /// The repository key (or `pack/blob` pair) of the damaged object.
        object: String,
        /// What was wrong with it.
        detail: String,
    },

    /// A blob referenced by a snapshot or tree is not in any index.
    #[error("blob {blob} is not in the index (referenced by {referenced_by}); the repository is damaged")]
    MissingBlob {
        /// Hex id of the blob.
        blob: String,
        /// What references it.
        referenced_by: String,
    },

    /// A snapshot name matched nothing.
    #[error("no snapshot matches '{0}'")]
    SnapshotNotFound(String),

    /// A snapshot prefix matched several snapshots.
    #[error("snapshot prefix '{prefix}' is ambiguous: it matches {candidates}")]
    AmbiguousSnapshot {
        /// The prefix given.
        prefix: String,
        /// The matching ids (shortened), comma separated.
        candidates: String,
    },

    /// A path inside a snapshot does not exist.
    #[error("path {path} not found in snapshot {snapshot}")]
    PathNotInSnapshot {
        /// The path asked for.
        path: String,
        /// Short snapshot id.
        snapshot: String,
    },

    /// A local file operation failed (source files, restore targets).
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The repository is locked by another process in a conflicting way.
    #[error("repository is locked: {0}")]
    Locked(String),

    /// The repository mode forbids the operation.
    #[error("repository is in {mode} mode: {operation} is refused")]
    ReadOnly {
        /// The current mode.
        mode: String,
        /// The refused operation.
        operation: String,
    },

    /// The object is under object-lock retention and cannot be deleted yet.
    #[error("{object} is under object-lock retention until {until}; it can be removed after that")]
    Retained {
        /// The storage key.
        object: String,
        /// End of retention (RFC 3339).
        until: String,
    },

    /// The key in use lacks the rights for the operation (write-only keys).
    #[error("the key in use cannot {operation}: it is a {scope} key")]
    InsufficientKey {
        /// The refused operation.
        operation: String,
        /// The scope of the key in use.
        scope: String,
    },

    /// A source stream or command failed, so nothing was recorded.
    #[error("{0}")]
    SourceFailed(String),

    /// Restored or dumped bytes did not match what the snapshot recorded.
    #[error("verification failed for {what}: {detail}")]
    VerificationFailed {
        /// The file or stream.
        what: String,
        /// Expected versus found.
        detail: String,
    },

    /// The restore target is not empty and overwriting was not allowed.
    #[error("restore target {0} is not empty")]
    TargetNotEmpty(PathBuf),

    /// The operation was cancelled (signal, API request, shutdown) and stopped cleanly.
    #[error("{operation} was cancelled; nothing that points at missing data was written")]
    Cancelled {
        /// The operation that stopped.
        operation: String,
    },

    /// The journal's newest record cannot be read, so nothing can be appended after it (and no
    /// head can be given).
    #[error("corrupt object {object}: {detail}; it is the journal's newest record, so the journal cannot be extended")]
    JournalDamaged {
        /// The storage key of the record.
        object: String,
        /// What was wrong with it.
        detail: String,
    },

    /// A copy stopped at a snapshot; nothing of that snapshot is referenced in the destination
    /// (exit code and hint are those of the cause).
    #[error("{cause}; copy stopped at snapshot {snapshot}: nothing of it is referenced in {destination} (its partial packs are removed by the next prune there)")]
    CopyStopped {
        /// Short id of the source snapshot being copied.
        snapshot: String,
        /// The destination repository's location.
        destination: String,
        /// Why it stopped.
        cause: Box<Error>,
    },

    /// Prune found a snapshot it cannot read, so it cannot tell which data is unused, and
    /// deletes nothing (exit code of the cause; its hint, else a check).
    #[error("snapshot {snapshot} cannot be read ({cause}); prune refuses to delete anything until the repository passes a check")]
    PruneRefused {
        /// Short id of the unreadable snapshot.
        snapshot: String,
        /// Why it cannot be read.
        cause: Box<Error>,
    },

    /// A write kept losing the race against other writers and gave up.
    #[error("gave up writing {object} after {attempts} attempts: too many concurrent writers")]
    Contention {
        /// What was being written.
        object: String,
        /// How many attempts were made.
        attempts: u32,
    },

    /// A worker thread stopped early (it panicked); nothing that depends on it was written.
    #[error("the {thread} thread stopped unexpectedly")]
    ThreadFailed {
        /// Which thread.
        thread: &'static str,
    },

    /// The background threads that store a backup's blobs stopped: an earlier call already
    /// returned the error that stopped them (`reason` is its text), or the saver was dropped
    /// before it finished. Nothing that points at the data being saved was written.
    #[error("{reason}")]
    SaverStopped {
        /// Why the saver stopped.
        reason: String,
    },

    /// Encryption or key derivation failed.
    #[error("{what} failed: {detail}")]
    Crypto {
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },

    /// A request cannot be carried out as given; `hint` says what to change.
    #[error("{message}")]
    Guided {
        /// What is wrong, in words that name no front end's syntax.
        message: String,
        /// What to do.
        hint: Hint,
    },

    /// The repository was written by a newer lifeboat with a format this one cannot read.
    #[error("repository format version {found} is newer than this lifeboat supports ({supported}); upgrade lifeboat to use it")]
    NewerFormat {
        /// The repository's format version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },

    /// The storage refused to delete an object prune no longer needs; the repository stays
    /// consistent (the new index no longer names it) and a later prune removes it.
    #[error("prune could not delete {object} ({cause}); the new index is already written, so the repository is consistent: the objects left over are removed by a later prune run with credentials that may delete")]
    DeleteRefused {
        /// The object.
        object: String,
        /// The storage's refusal.
        cause: Box<lifeboat_storage::StorageError>,
    },

    /// The user asked for something that cannot be done as asked.
    #[error("{0}")]
    Invalid(String),
}

/// What the user can do about an error, as data: each front end renders it in its own words
/// (command lines for the CLI, a field for the HTTP API).
///
/// Two variants carry the names of the operations layer's request fields and operations, so
/// that the CLI can say `--method pg_basebackup` or `lifeboat wal verify` and the HTTP API
/// `{"option": "method", "value": "pg_basebackup"}` without the engine knowing either.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "hint", rename_all = "snake_case")]
pub enum Hint {
    /// Give (or change) a request option: `option` is the request field (snake_case, the CLI
    /// flag with `-` for `_`), `value` the value to give, when there is one to suggest.
    SetOption {
        /// The option (request field name).
        option: &'static str,
        /// The value to give.
        value: Option<String>,
    },
    /// Leave an option out (it conflicts with what was asked, or is not needed).
    DropOption {
        /// The option (request field name).
        option: &'static str,
    },
    /// Run another operation first or instead (`operation` as the CLI names it, e.g.
    /// `wal verify`, `backup postgres --physical`).
    RunOperation {
        /// The operation.
        operation: &'static str,
    },
    /// Create a repository at the location, or check which location was given.
    InitOrCheckLocation,
    /// Check the password or the password source.
    CheckPassword,
    /// Wait for the other process; if it is gone, remove its stale lock.
    WaitOrUnlock,
    /// Verify all data to learn which snapshots and files are affected.
    CheckReadData,
    /// Run a structural check of the repository.
    Check,
    /// List the snapshots to find the right name.
    ListSnapshots,
    /// Give more characters of the id.
    LongerPrefix,
    /// Switch the repository back to normal mode (once the incident is over).
    LeaveMode,
    /// Choose an empty target, or allow overwriting.
    EmptyTargetOrOverwrite,
    /// Use a full key (or the write-only identity) instead of a write-only key.
    UseFullKey,
    /// Wait for the object-lock retention to end, then retry.
    WaitForRetention,
    /// Run the operation again.
    Retry,
    /// Name a repository (location or configured name).
    GiveRepository,
    /// Give a password source.
    GivePassword,
    /// Install PostgreSQL's programs (or point lifeboat at them).
    InstallPostgres,
    /// Stop the process that holds a file open (a database being replaced), or choose
    /// another target.
    StopProcess {
        /// The process id.
        pid: u32,
    },
}

impl Error {
    /// A request error with guidance (see [`Error::Guided`]).
    pub fn guided(message: impl Into<String>, hint: Hint) -> Self {
        Error::Guided {
            message: message.into(),
            hint,
        }
    }

    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Builds a [`Error::Crypto`].
    pub fn crypto(what: &'static str, detail: impl std::fmt::Display) -> Self {
        Error::Crypto {
            what,
            detail: detail.to_string(),
        }
    }

    /// The error that caused this one, for errors that wrap another ([`Error::CopyStopped`],
    /// [`Error::PruneRefused`]); `self` otherwise.
    pub fn root_cause(&self) -> &Error {
        match self {
            Error::CopyStopped { cause, .. } | Error::PruneRefused { cause, .. } => {
                cause.root_cause()
            }
            e => e,
        }
    }

    /// Builds a corruption error.
    pub fn corrupt(object: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            object: object.into(),
            detail: detail.into(),
        }
    }

    /// The process exit code a front end should use for this error (table in README.md).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NotARepository { .. } => EXIT_NOT_A_REPOSITORY,
            Error::WrongPassword { .. } => EXIT_WRONG_PASSWORD,
            Error::Locked(_) => EXIT_LOCKED,
            Error::ReadOnly { .. } => EXIT_MODE_REFUSED,
            Error::Cancelled { .. } => EXIT_CANCELLED,
            Error::CopyStopped { cause, .. } | Error::PruneRefused { cause, .. } => {
                cause.exit_code()
            }
            _ => EXIT_ERROR,
        }
    }

    /// What the user can do about this error, when there is something to do.
    pub fn hint(&self) -> Option<Hint> {
        Some(match self {
            Error::NotARepository { .. } => Hint::InitOrCheckLocation,
            Error::WrongPassword { .. } => Hint::CheckPassword,
            Error::Corrupt { .. } => Hint::CheckReadData,
            Error::MissingBlob { .. } => Hint::Check,
            Error::SnapshotNotFound(_) | Error::PathNotInSnapshot { .. } => Hint::ListSnapshots,
            Error::AmbiguousSnapshot { .. } => Hint::LongerPrefix,
            Error::Locked(_) => Hint::WaitOrUnlock,
            Error::ReadOnly { .. } => Hint::LeaveMode,
            Error::Retained { .. } => Hint::WaitForRetention,
            Error::InsufficientKey { .. } => Hint::UseFullKey,
            Error::TargetNotEmpty(_) => Hint::EmptyTargetOrOverwrite,
            Error::Storage(e) if e.is_retryable() => Hint::Retry,
            Error::Guided { hint, .. } => hint.clone(),
            Error::JournalDamaged { .. } => Hint::RunOperation {
                operation: "journal verify",
            },
            Error::CopyStopped { cause, .. } => return cause.hint(),
            Error::PruneRefused { cause, .. } => cause.hint().unwrap_or(Hint::Check),
            Error::Contention { .. } => Hint::Retry,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat_storage::ErrorKind;

    #[test]
    fn wrapping_errors_keep_the_cause_exit_code_and_hint() {
        let stopped = |cause: Error| Error::CopyStopped {
            snapshot: "0123abcd".into(),
            destination: "/srv/b".into(),
            cause: Box::new(cause),
        };
        let e = stopped(Error::Locked("held by pid 1".into()));
        assert_eq!(e.exit_code(), EXIT_LOCKED);
        assert_eq!(e.hint(), Some(Hint::WaitOrUnlock));
        assert!(matches!(e.root_cause(), Error::Locked(_)));
        let text = e.to_string();
        assert!(
            text.contains("held by pid 1") && text.contains("copy stopped at snapshot 0123abcd"),
            "{text}"
        );

        let transient = || {
            Error::Storage(StorageError::new(
                ErrorKind::Transient,
                "write",
                "/srv/b",
                "data/00/00",
                "connection reset",
            ))
        };
        let e = stopped(transient());
        assert_eq!(e.exit_code(), EXIT_ERROR);
        assert_eq!(e.hint(), Some(Hint::Retry));
        let e = stopped(Error::Cancelled {
            operation: "copy".into(),
        });
        assert_eq!(e.exit_code(), EXIT_CANCELLED);

        let refused = |cause: Error| Error::PruneRefused {
            snapshot: "0123abcd".into(),
            cause: Box::new(cause),
        };
        assert_eq!(
            refused(Error::corrupt("index/ab", "bad MAC")).hint(),
            Some(Hint::CheckReadData)
        );
        assert_eq!(refused(transient()).hint(), Some(Hint::Retry));
        let denied = Error::Storage(StorageError::new(
            ErrorKind::PermissionDenied,
            "read",
            "/srv/a",
            "index/ab",
            "denied",
        ));
        assert_eq!(refused(denied).hint(), Some(Hint::Check));
    }

    #[test]
    fn messages_name_no_cli_syntax_and_hints_are_data() {
        let e = Error::JournalDamaged {
            object: "journal/0000000000000007".into(),
            detail: "authentication failed".into(),
        };
        assert_eq!(
            e.hint(),
            Some(Hint::RunOperation {
                operation: "journal verify"
            })
        );
        let e = Error::Contention {
            object: "the journal of /srv/a".into(),
            attempts: 100,
        };
        assert!(e.to_string().contains("gave up"), "{e}");
        assert_eq!(e.hint(), Some(Hint::Retry));
        for e in [
            e,
            Error::ThreadFailed {
                thread: "stream's SHA-256",
            },
            Error::crypto("key derivation (argon2id)", "output too short"),
        ] {
            let text = e.to_string();
            assert!(
                !text.contains("--") && !text.contains("`lifeboat"),
                "{text}"
            );
        }
    }
}
