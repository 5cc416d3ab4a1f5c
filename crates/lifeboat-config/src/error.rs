//! [`ConfigError`] and [`Problem`]: what can go wrong loading a configuration file.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a configuration file: a syntax error, an unknown key, a value of the
/// wrong type or a failed validation rule.
///
/// Its [`Display`](fmt::Display) form is `FILE:LINE: MESSAGE` (or `FILE: MESSAGE` when no line
/// applies); it serializes with serde for `lifeboat config check --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The configuration file.
    pub path: PathBuf,
    /// The 1-based line of the offending key (or of its section header when a key is missing);
    /// `None` when the problem is about the whole file (it cannot be read, say).
    pub line: Option<usize>,
    /// The full dotted key the problem is about, e.g. `sources.app.pathz`; `None` for the whole
    /// file.
    pub key: Option<String>,
    /// What is wrong and, where it helps, what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// The kind of named entry a lookup such as [`crate::Config::repository`] searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// A `[repositories.NAME]` entry.
    Repository,
    /// A `[sources.NAME]` entry.
    Source,
    /// A `[retention.NAME]` entry.
    Policy,
}

impl Section {
    /// The word used in messages: `repository`, `source` or `retention policy`.
    pub fn noun(self) -> &'static str {
        match self {
            Section::Repository => "repository",
            Section::Source => "source",
            Section::Policy => "retention policy",
        }
    }

    /// The TOML table that holds such entries: `repositories`, `sources` or `retention`.
    pub fn table(self) -> &'static str {
        match self {
            Section::Repository => "repositories",
            Section::Source => "sources",
            Section::Policy => "retention",
        }
    }
}

/// An error loading a configuration file or looking something up in it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read the configuration file {}: {source}", path.display())]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML: the first syntax error, with its line.
    #[error("{}", list(problems))]
    Syntax {
        /// The configuration file.
        path: PathBuf,
        /// The syntax error (one entry).
        problems: Vec<Problem>,
    },
    /// The file is valid TOML but breaks the configuration's rules: unknown keys, values of the
    /// wrong type, missing required keys, references to unknown repositories, inline secrets in
    /// a file others can read. Every problem found is listed, not only the first.
    #[error("{}", list(problems))]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// One entry per problem, in file order.
        problems: Vec<Problem>,
    },
    /// A lookup by name ([`crate::Config::repository`], [`crate::Config::source`],
    /// [`crate::Config::policy`]) found nothing; the message lists the configured names.
    #[error("{}: no {} named '{name}' in [{}] ({})", path.display(), section.noun(), section.table(), known_names(known))]
    UnknownName {
        /// The configuration file.
        path: PathBuf,
        /// What was looked up.
        section: Section,
        /// The name asked for.
        name: String,
        /// The names that are configured.
        known: Vec<String>,
    },
    /// [`crate::Config::wal_source`] could not pick a `postgres-physical` source for a WAL
    /// command.
    #[error("{}: {}", path.display(), wal_message(directory, candidates))]
    NoWalSource {
        /// The configuration file.
        path: PathBuf,
        /// The directory that matched no source's `data_directory` (normally the current
        /// directory, where PostgreSQL runs archive_command and restore_command).
        directory: PathBuf,
        /// The names of the configured `postgres-physical` sources (none, or more than one).
        candidates: Vec<String>,
    },
}

impl ConfigError {
    /// Every problem this error stands for, for `lifeboat config check` to print one per line
    /// (or as JSON). A read error or a failed lookup is one problem without a line.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            ConfigError::Syntax { problems, .. } | ConfigError::Invalid { problems, .. } => {
                problems.clone()
            }
            ConfigError::Read { path, .. }
            | ConfigError::UnknownName { path, .. }
            | ConfigError::NoWalSource { path, .. } => {
                let full = self.to_string();
                let prefix = format!("{}: ", path.display());
                let message = full.strip_prefix(&prefix).unwrap_or(&full).to_string();
                vec![Problem {
                    path: path.clone(),
                    line: None,
                    key: None,
                    message,
                }]
            }
        }
    }

    /// The configuration file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            ConfigError::Read { path, .. }
            | ConfigError::Syntax { path, .. }
            | ConfigError::Invalid { path, .. }
            | ConfigError::UnknownName { path, .. }
            | ConfigError::NoWalSource { path, .. } => path,
        }
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn known_names(known: &[String]) -> String {
    if known.is_empty() {
        "none is configured".to_string()
    } else {
        format!("configured: {}", known.join(", "))
    }
}

fn wal_message(directory: &std::path::Path, candidates: &[String]) -> String {
    if candidates.is_empty() {
        "no source of kind \"postgres-physical\" is configured, so the WAL commands cannot choose a repository: add one (with data_directory) or give -r".to_string()
    } else {
        format!(
            "no postgres-physical source has data_directory = \"{}\" and there are several ({}): set data_directory in the right one, or give -r and --cluster",
            directory.display(),
            candidates.join(", ")
        )
    }
}
