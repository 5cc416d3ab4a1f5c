//! The error type of the SQLite layer.
//!
//! Messages name the database file and say what was (not) written, but no front end's syntax:
//! what the user can do is a [`Hint`] ([`SqliteError::hint`]) each front end renders in its own
//! words. Engine errors stay typed inside [`SqliteError::Core`], so their exit codes survive.

use lifeboat_core::error::Hint;
use std::path::PathBuf;

/// Result type of this crate.
pub type Result<T, E = SqliteError> = std::result::Result<T, E>;

/// Everything that can go wrong while backing up or restoring a SQLite database.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    /// The repository engine failed.
    #[error(transparent)]
    Core(#[from] lifeboat_core::Error),

    /// The database to back up does not exist.
    #[error("cannot back up SQLite database {path}: no such file; nothing was recorded")]
    NotFound {
        /// The path given.
        path: PathBuf,
    },

    /// The path to back up is not a regular file.
    #[error("cannot back up SQLite database {path}: it is {what}, not a database file; nothing was recorded")]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is (`a directory`, ...).
        what: &'static str,
    },

    /// The file is not a SQLite database (wrong header, empty, or SQLite says so).
    #[error("cannot back up {path}: it is not a SQLite database ({detail}); nothing was recorded")]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// What was found.
        detail: String,
    },

    /// The database could not be opened or read (permissions, I/O, corruption SQLite noticed
    /// while copying).
    #[error("cannot back up SQLite database {path}: {detail}; nothing was recorded")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// SQLite's or the OS's message.
        detail: String,
    },

    /// Writers kept the database locked for longer than the backup waits.
    #[error("cannot back up SQLite database {path}: it stayed locked by other connections for {waited_seconds}s; nothing was recorded")]
    Busy {
        /// The file.
        path: PathBuf,
        /// How long the backup waited.
        waited_seconds: u64,
    },

    /// The consistent copy failed `PRAGMA integrity_check` (or `quick_check`): the database
    /// itself is damaged.
    #[error("SQLite database {path} is damaged: PRAGMA {check} of its consistent copy reported {} problem(s): {}; nothing was recorded", .problems.len(), first_problems(.problems))]
    CopyDamaged {
        /// The database.
        path: PathBuf,
        /// The PRAGMA that failed (`integrity_check`, `quick_check`).
        check: &'static str,
        /// integrity_check's messages.
        problems: Vec<String>,
    },

    /// A restored database failed `PRAGMA integrity_check`; it was not put in place.
    #[error("the database restored from snapshot {snapshot} failed PRAGMA integrity_check ({} problem(s): {}); {target} was left as it was", .problems.len(), first_problems(.problems))]
    RestoredDamaged {
        /// Short id of the snapshot.
        snapshot: String,
        /// The restore target.
        target: PathBuf,
        /// integrity_check's messages.
        problems: Vec<String>,
    },

    /// A SQLite call failed on a file lifeboat wrote itself (a copy, a restored file).
    #[error("{op} {path}: {detail}")]
    Sqlite {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// SQLite's message.
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

    /// The snapshot to restore is not a SQLite backup.
    #[error("snapshot {snapshot} is not a SQLite backup (its source is '{source_kind}')")]
    NotASqliteSnapshot {
        /// Short id.
        snapshot: String,
        /// Its `source`.
        source_kind: String,
    },

    /// The restore target exists and overwriting was not allowed.
    #[error("restore target {path} exists; nothing was written")]
    TargetExists {
        /// The target.
        path: PathBuf,
    },

    /// Another process has the target database (or its `-wal`/`-shm`/`-journal`) open.
    #[error("refusing to replace {path}: process {pid} ({command}) has {file} open; nothing was written")]
    TargetInUse {
        /// The target.
        path: PathBuf,
        /// The process holding it.
        pid: u32,
        /// Its command name (`/proc/PID/comm`).
        command: String,
        /// The file it holds (the database or one of its companions).
        file: PathBuf,
    },

    /// The restore target is not a regular file (a directory, a symbolic link, ...).
    #[error("restore target {path} is {what}; give the path of the database file to write")]
    TargetNotAFile {
        /// The target.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },

    /// The request cannot be carried out as given.
    #[error("{0}")]
    Invalid(String),
}

fn first_problems(p: &[String]) -> String {
    let mut shown: Vec<&str> = p.iter().take(3).map(String::as_str).collect();
    if p.len() > 3 {
        shown.push("...");
    }
    shown.join("; ")
}

impl SqliteError {
    /// What the user can do about this error, when there is something to do.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            SqliteError::Core(e) => e.hint(),
            SqliteError::Busy { .. } => Some(Hint::Retry),
            SqliteError::TargetExists { .. } => Some(Hint::SetOption {
                option: "overwrite",
                value: None,
            }),
            SqliteError::TargetInUse { pid, .. } => Some(Hint::StopProcess { pid: *pid }),
            SqliteError::NotASqliteSnapshot { .. } => Some(Hint::ListSnapshots),
            SqliteError::RestoredDamaged { .. } => Some(Hint::CheckReadData),
            _ => None,
        }
    }

    /// The process exit code (the table in README.md): the engine's for engine errors, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            SqliteError::Core(e) => e.exit_code(),
            _ => lifeboat_core::error::EXIT_ERROR,
        }
    }

    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SqliteError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// True for errors that say the source database is bad or cannot be read (as opposed to
    /// the repository, the request or lifeboat's own files).
    pub fn is_source_failure(&self) -> bool {
        matches!(
            self,
            SqliteError::NotFound { .. }
                | SqliteError::NotAFile { .. }
                | SqliteError::NotADatabase { .. }
                | SqliteError::Unreadable { .. }
                | SqliteError::Busy { .. }
                | SqliteError::CopyDamaged { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_no_flags() {
        let e = SqliteError::CopyDamaged {
            path: "/srv/app/outbox.db".into(),
            check: "integrity_check",
            problems: vec!["a".into(), "b".into(), "c".into(), "d".into()],
        };
        let t = e.to_string();
        assert!(t.contains("/srv/app/outbox.db") && t.contains("4 problem(s): a; b; c; ..."));
        assert!(t.contains("nothing was recorded"), "{t}");
        let e = SqliteError::TargetInUse {
            path: "/srv/app/outbox.db".into(),
            pid: 42,
            command: "app".into(),
            file: "/srv/app/outbox.db-wal".into(),
        };
        assert!(e.to_string().contains("process 42 (app)"), "{e}");
        assert!(!e.to_string().contains("--"));
        assert_eq!(e.hint(), Some(Hint::StopProcess { pid: 42 }));
        let e = SqliteError::TargetExists {
            path: "/x.db".into(),
        };
        assert_eq!(
            e.hint(),
            Some(Hint::SetOption {
                option: "overwrite",
                value: None
            })
        );
        assert_eq!(e.exit_code(), 1);
        let e = SqliteError::from(lifeboat_core::Error::Locked("pid 1".into()));
        assert_eq!(e.exit_code(), lifeboat_core::error::EXIT_LOCKED);
    }
}
