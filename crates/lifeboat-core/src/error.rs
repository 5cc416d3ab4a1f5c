//! The engine's error type.
//!
//! Rules: every variant names what failed and the object or path involved; the `Display` text
//! says what to do where there is something to do. Binaries map variants to exit codes with
//! [`Error::exit_code`]; the engine never prints or exits.

use lifeboat_storage::StorageError;
use std::path::PathBuf;

/// Result type of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A storage operation failed (see [`StorageError`] for the object and store).
    #[error("{0}")]
    Storage(#[from] StorageError),

    /// The location holds no lifeboat repository.
    #[error("{location} is not a lifeboat repository (no config object found); create one with `lifeboat init` or check -r/--repo")]
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
    #[error("corrupt object {object}: {detail}; run `lifeboat check --read-data` to see what is affected")]
    Corrupt {
        /// The repository key (or `pack/blob` pair) of the damaged object.
        object: String,
        /// What was wrong with it.
        detail: String,
    },

    /// A blob referenced by a snapshot or tree is not in any index.
    #[error("blob {blob} is not in the index (referenced by {referenced_by}); the repository is damaged: run `lifeboat check`")]
    MissingBlob {
        /// Hex id of the blob.
        blob: String,
        /// What references it.
        referenced_by: String,
    },

    /// A snapshot name matched nothing.
    #[error("no snapshot matches '{0}'; list them with `lifeboat snapshots`")]
    SnapshotNotFound(String),

    /// A snapshot prefix matched several snapshots.
    #[error(
        "snapshot prefix '{prefix}' is ambiguous: it matches {candidates}; give more characters"
    )]
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
    #[error("repository is locked: {0}; wait for it to finish, or if that process is gone, run `lifeboat unlock`")]
    Locked(String),

    /// The repository mode forbids the operation.
    #[error("repository is in {mode} mode: {operation} is refused; switch back with `lifeboat mode normal`")]
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
    #[error(
        "the key in use cannot {operation}: it is a {scope} key; use a full key or the identity"
    )]
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

    /// The restore target is not empty and `--overwrite` was not given.
    #[error("restore target {0} is not empty; choose an empty directory or pass --overwrite")]
    TargetNotEmpty(PathBuf),

    /// The user asked for something that cannot be done as asked.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Builds a corruption error.
    pub fn corrupt(object: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            object: object.into(),
            detail: detail.into(),
        }
    }

    /// The process exit code a front end should use for this error (documented in README).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NotARepository { .. } => 10,
            Error::WrongPassword { .. } => 12,
            Error::Locked(_) => 11,
            _ => 1,
        }
    }
}
