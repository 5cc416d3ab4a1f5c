//! lifeboat's configuration file: parsing, validation and password reading.
//!
//! The file (TOML; specified in `docs/design/config.md`, example in
//! `docs/examples/lifeboat.toml`) names repositories, the sources to back up into them,
//! retention policies, the sources' recovery targets and the restore drills that test them:
//!
//! ```
//! let config = lifeboat_config::Config::parse(
//!     r#"
//! [repositories.main]
//! url = "/srv/backup/repo"
//! password_file = "/etc/lifeboat/main.pass"
//!
//! [sources.app]
//! kind = "files"
//! paths = ["/srv/app"]
//! repository = "main"
//!
//! [retention.daily]
//! keep_daily = 7
//! "#,
//!     "/etc/lifeboat/lifeboat.toml",
//! )
//! .unwrap();
//! assert_eq!(config.source("app").unwrap().repository, "main");
//! ```
//!
//! Everything wrong with a file is reported at once, each [`Problem`] with the file, the line
//! and the key ([`ConfigError::problems`]). [`PasswordSource::read`] is the project's one
//! password reader, for configured repositories and for the command line alike.
//!
//! This crate depends on no other lifeboat crate, so the CLI, an operations layer and a daemon
//! can all use it.

#![warn(missing_docs)]

mod daemon;
mod duration;
mod error;
mod model;
mod parse;
mod password;

pub use daemon::{
    Channel, DaemonConfig, Notification, Retry, Role, Schedule, ScheduledJob, Token, When,
    DEFAULT_EVENTS, DEFAULT_LISTEN, DEFAULT_STATE_DIR, EVENTS, JOB_KINDS,
};
pub use duration::{format_duration, parse_duration, parse_keep_within, DurationError};
pub use error::{ConfigError, Problem, Section};
pub use model::{
    parse_pitr_to, Check, CheckKind, Checkpoint, CommandSource, CountRows, Drill, FilesSource,
    HashAlgorithm, ObjectLock, ObjectLockMode, PgDatabases, PhysicalMethod, Pick,
    PostgresPhysicalSource, PostgresSource, RepositoryConfig, RestorePoints, RetentionPolicy,
    RowCountExpect, S3Options, Source, SourceKind, SqliteCheck, SqliteSource, Target, CHECK_KINDS,
    DEFAULT_CLUSTER, DEFAULT_SCRATCH_DIR, SOURCE_KINDS,
};
pub use password::{PasswordError, PasswordSource, Secret, PASSWORD_ENV};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment variable that names the configuration file (see [`locate`]).
pub const CONFIG_ENV: &str = "LIFEBOAT_CONFIG";

/// The configuration file used when neither a path nor [`CONFIG_ENV`] is given and it exists.
pub const DEFAULT_PATH: &str = "/etc/lifeboat/lifeboat.toml";

/// Finds the configuration file: `explicit` (`--config PATH`) when given, else the path in the
/// environment variable `LIFEBOAT_CONFIG` when set and not empty, else
/// `/etc/lifeboat/lifeboat.toml` when that file exists, else `None` (no configuration).
///
/// An explicit or environment path is returned whether or not it exists, so that loading it
/// reports a missing file instead of silently running without configuration.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    locate_with(
        explicit,
        std::env::var_os(CONFIG_ENV).map(PathBuf::from),
        Path::new(DEFAULT_PATH),
    )
}

fn locate_with(explicit: Option<&Path>, env: Option<PathBuf>, default: &Path) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    if let Some(path) = env.filter(|p| !p.as_os_str().is_empty()) {
        return Some(path);
    }
    default.exists().then(|| default.to_path_buf())
}

/// A loaded and validated configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from (as given to [`Config::load`] or [`Config::parse`]).
    pub path: PathBuf,
    /// `[repositories.NAME]`, by name.
    pub repositories: BTreeMap<String, RepositoryConfig>,
    /// `[sources.NAME]`, by name.
    pub sources: BTreeMap<String, Source>,
    /// `[retention.NAME]`, by name.
    pub retention: BTreeMap<String, RetentionPolicy>,
    /// `[schedules.NAME]`: what the daemon runs when.
    pub schedules: BTreeMap<String, Schedule>,
    /// `[drills.NAME]`: restore drills.
    pub drills: BTreeMap<String, Drill>,
    /// `[targets.NAME]`: RPO/RTO targets per source (keyed by source name).
    pub targets: BTreeMap<String, Target>,
    /// `[notifications.NAME]`: where the daemon sends events.
    pub notifications: BTreeMap<String, Notification>,
    /// `[daemon]`: the daemon's own settings (defaults when absent).
    pub daemon: DaemonConfig,
    /// `[restore_points]`: the commands around `lifeboat restore-point create`.
    pub restore_points: RestorePoints,
}

impl Config {
    /// Reads, parses and validates the file at `path`.
    ///
    /// Beyond [`Config::parse`], the file's permissions are checked: an inline `password`,
    /// `secret_access_key` or `session_token` is refused when group or others may read the
    /// file, and commands (`password_command`, `kind = "command"` sources and checks) are
    /// refused when others may write it.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let read_error = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        let mode = file_mode(path).map_err(read_error)?;
        Self::parse_with_mode(&text, path, mode)
    }

    /// Parses and validates `text`; `path` is the file named in messages, and relative paths in
    /// the file are resolved against its directory. No permission rule applies (there is no
    /// file to look at); see [`Config::parse_with_mode`].
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        Self::parse_with_mode(text, path, None)
    }

    /// [`Config::parse`] for text read from a file whose Unix permission bits are `mode`
    /// (`st_mode`), applying the permission rules of [`Config::load`]; `None` skips them.
    pub fn parse_with_mode(
        text: &str,
        path: impl AsRef<Path>,
        mode: Option<u32>,
    ) -> Result<Config, ConfigError> {
        parse::Parser::new(text, path.as_ref(), mode).config(text)
    }

    /// Loads `path` and returns every problem found (empty when the file is valid), for
    /// `lifeboat config check`.
    pub fn check(path: impl AsRef<Path>) -> Vec<Problem> {
        match Config::load(path) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems(),
        }
    }

    /// The repository named `name` (`-r @NAME`); the error lists the configured names.
    pub fn repository(&self, name: &str) -> Result<&RepositoryConfig, ConfigError> {
        self.repositories
            .get(name)
            .ok_or_else(|| self.unknown(Section::Repository, name, self.repositories.keys()))
    }

    /// The source named `name` (`lifeboat backup --source NAME`); the error lists the
    /// configured names.
    pub fn source(&self, name: &str) -> Result<&Source, ConfigError> {
        self.sources
            .get(name)
            .ok_or_else(|| self.unknown(Section::Source, name, self.sources.keys()))
    }

    /// The retention policy named `name` (`lifeboat forget --policy NAME`); the error lists
    /// the configured names.
    pub fn policy(&self, name: &str) -> Result<&RetentionPolicy, ConfigError> {
        self.retention
            .get(name)
            .ok_or_else(|| self.unknown(Section::Policy, name, self.retention.keys()))
    }

    /// The `postgres-physical` source a WAL command (`wal-push`, `wal-fetch`) run in
    /// `directory` belongs to: the one whose `data_directory` is `directory` (PostgreSQL runs
    /// archive_command and restore_command in the data directory), else the only
    /// `postgres-physical` source when there is exactly one. Its repository is
    /// `config.repository(&source.repository)` and its cluster `pg.cluster`.
    pub fn wal_source(
        &self,
        directory: &Path,
    ) -> Result<(&Source, &PostgresPhysicalSource), ConfigError> {
        let physical: Vec<(&Source, &PostgresPhysicalSource)> = self
            .sources
            .values()
            .filter_map(|s| match &s.kind {
                SourceKind::PostgresPhysical(pg) => Some((s, pg)),
                _ => None,
            })
            .collect();
        let wanted = std::fs::canonicalize(directory).unwrap_or_else(|_| directory.to_path_buf());
        let matching = physical.iter().find(|(_, pg)| {
            pg.data_directory.as_ref().is_some_and(|d| {
                d == directory || std::fs::canonicalize(d).is_ok_and(|d| d == wanted)
            })
        });
        if let Some(found) = matching {
            return Ok(*found);
        }
        if let [only] = physical.as_slice() {
            return Ok(*only);
        }
        Err(ConfigError::NoWalSource {
            path: self.path.clone(),
            directory: directory.to_path_buf(),
            candidates: physical.iter().map(|(s, _)| s.name.clone()).collect(),
        })
    }

    fn unknown<'a>(
        &self,
        section: Section,
        name: &str,
        known: impl Iterator<Item = &'a String>,
    ) -> ConfigError {
        ConfigError::UnknownName {
            path: self.path.clone(),
            section,
            name: name.to_string(),
            known: known.cloned().collect(),
        }
    }
}

#[cfg(unix)]
fn file_mode(path: &Path) -> std::io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    Ok(Some(std::fs::metadata(path)?.permissions().mode()))
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> std::io::Result<Option<u32>> {
    Ok(None)
}

#[cfg(test)]
mod tests;
