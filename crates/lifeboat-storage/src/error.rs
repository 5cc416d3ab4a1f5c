//! The storage error type: what failed, on which object, in which store, and whether to retry.

use std::fmt;

/// The class of a storage failure. Callers branch on this, never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object (or the repository location) does not exist.
    NotFound,
    /// `create_new` was asked and the object exists.
    AlreadyExists,
    /// The credentials or file permissions do not allow the operation.
    PermissionDenied,
    /// The object is protected by object-lock retention.
    Locked,
    /// The device or quota is full.
    NoSpace,
    /// A ranged read extended past the end of the object.
    ShortRead,
    /// The key is not a valid relative path.
    InvalidKey,
    /// The backend does not support the requested feature.
    Unsupported,
    /// A temporary failure (timeout, 5xx, connection reset): retrying may succeed.
    Transient,
    /// Anything else.
    Other,
}

/// A failed storage operation.
#[derive(Debug)]
pub struct StorageError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// The operation (`read`, `write`, `list`, ...).
    pub op: &'static str,
    /// The store's location (see [`crate::ReadStorage::location`]).
    pub location: String,
    /// The object key involved (may be empty for store-wide operations).
    pub key: String,
    /// A human-readable detail.
    pub message: String,
    /// The underlying error, when there is one.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StorageError {
    /// Builds an error without an underlying source.
    pub fn new(
        kind: ErrorKind,
        op: &'static str,
        location: impl Into<String>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        StorageError {
            kind,
            op,
            location: location.into(),
            key: key.into(),
            message: message.into(),
            source: None,
        }
    }

    /// Builds an error from an I/O error, classifying it by its kind and OS error code.
    pub fn from_io(op: &'static str, location: &str, key: &str, err: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match err.kind() {
            K::NotFound => ErrorKind::NotFound,
            K::AlreadyExists => ErrorKind::AlreadyExists,
            K::PermissionDenied => ErrorKind::PermissionDenied,
            K::UnexpectedEof => ErrorKind::ShortRead,
            K::TimedOut | K::Interrupted | K::ConnectionReset | K::ConnectionAborted => {
                ErrorKind::Transient
            }
            _ => match err.raw_os_error() {
                Some(libc::ENOSPC) | Some(libc::EDQUOT) => ErrorKind::NoSpace,
                Some(libc::EROFS) | Some(libc::EACCES) | Some(libc::EPERM) => {
                    ErrorKind::PermissionDenied
                }
                _ => ErrorKind::Other,
            },
        };
        StorageError {
            kind,
            op,
            location: location.to_string(),
            key: key.to_string(),
            message: err.to_string(),
            source: Some(Box::new(err)),
        }
    }

    /// True when the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// True when retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    fn hint(&self) -> &'static str {
        match self.kind {
            ErrorKind::NoSpace => " (free space on the device or raise the quota, then retry)",
            ErrorKind::PermissionDenied => {
                " (check file permissions or the credentials' rights on the repository)"
            }
            ErrorKind::Locked => " (the object is under object-lock retention)",
            ErrorKind::Transient => " (a temporary failure: retry later)",
            _ => "",
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Locked => "object is locked",
            ErrorKind::NoSpace => "no space left",
            ErrorKind::ShortRead => "object shorter than expected",
            ErrorKind::InvalidKey => "invalid key",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Transient => "temporary failure",
            ErrorKind::Other => "failed",
        };
        let key = if self.key.is_empty() {
            String::new()
        } else {
            format!(" {}", self.key)
        };
        write!(
            f,
            "storage {}{key} in {}: {what}: {}{}",
            self.op,
            self.location,
            self.message,
            self.hint()
        )
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e.as_ref() as &(dyn std::error::Error + 'static))
    }
}
