//! The typed configuration: repositories, sources and retention policies.

use crate::password::{PasswordSource, Secret};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A `[repositories.NAME]` section: where a repository is and how to unlock it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryConfig {
    /// The section's name (`NAME`; `-r @NAME` on the command line).
    pub name: String,
    /// The repository location, in any form `lifeboat -r` accepts: a path, `local:PATH`,
    /// `s3:https://HOST/BUCKET/PREFIX`, `s3:HOST/BUCKET/PREFIX`, `s3://BUCKET/PREFIX`. A
    /// relative local path has been resolved against the configuration file's directory.
    pub url: String,
    /// The password source given by exactly one of `password_file`, `password_command`,
    /// `password_env` or `password`; `None` when the section names none (the command line's
    /// `LIFEBOAT_PASSWORD`, `--password-file` or `--password-command` must then give it).
    pub password: Option<PasswordSource>,
    /// The `[repositories.NAME.s3]` options, when given.
    pub s3: Option<S3Options>,
    /// `object_lock = "MODE:DAYS"`: S3 Object Lock retention applied by `lifeboat init`.
    pub object_lock: Option<ObjectLock>,
}

impl RepositoryConfig {
    /// Where this repository's password comes from, if the section names a source.
    ///
    /// The command line's own sources ([`PasswordSource::from_cli_and_env`]) take precedence:
    /// `PasswordSource::from_cli_and_env(file, command).or_else(|| repo.password_source())`.
    pub fn password_source(&self) -> Option<PasswordSource> {
        self.password.clone()
    }
}

/// `[repositories.NAME.s3]`: settings for an S3 repository. Unset fields fall back to the
/// environment (`LIFEBOAT_S3_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...) as without a
/// configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    /// `endpoint`: `https://HOST[:PORT]` or `http://HOST:PORT`, for the `s3://BUCKET` form.
    pub endpoint: Option<String>,
    /// `region`; default `us-east-1`.
    pub region: Option<String>,
    /// `access_key_id`.
    pub access_key_id: Option<String>,
    /// `secret_access_key` written inline (only in a file others cannot read).
    pub secret_access_key: Option<Secret>,
    /// `secret_access_key_file`: a file holding the secret access key.
    pub secret_access_key_file: Option<PathBuf>,
    /// `session_token` (temporary credentials; inline, so only in a file others cannot read).
    pub session_token: Option<Secret>,
    /// `virtual_host_style`: address the bucket as `BUCKET.HOST` instead of `HOST/BUCKET`.
    pub virtual_host_style: Option<bool>,
}

impl S3Options {
    /// The secret access key: the inline `secret_access_key`, else the contents of
    /// `secret_access_key_file` (trailing newlines removed), else `None`.
    pub fn read_secret_access_key(&self) -> Result<Option<String>, crate::PasswordError> {
        if let Some(secret) = &self.secret_access_key {
            return Ok(Some(secret.expose().to_string()));
        }
        let Some(path) = &self.secret_access_key_file else {
            return Ok(None);
        };
        let bytes = PasswordSource::File(path.clone()).read()?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// The mode of S3 Object Lock retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectLockMode {
    /// Nobody, not even the account's root user, can shorten the retention.
    Compliance,
    /// Users with a special permission can shorten the retention.
    Governance,
}

/// `object_lock = "MODE:DAYS"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLock {
    /// The mode.
    pub mode: ObjectLockMode,
    /// The retention period in days (1 to 36500).
    pub days: u32,
}

impl fmt::Display for ObjectLock {
    /// `COMPLIANCE:30`, the form `lifeboat init --object-lock` takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            ObjectLockMode::Compliance => "COMPLIANCE",
            ObjectLockMode::Governance => "GOVERNANCE",
        };
        write!(f, "{mode}:{}", self.days)
    }
}

/// A `[sources.NAME]` section: something to back up, and where to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The section's name (`lifeboat backup --source NAME`).
    pub name: String,
    /// `repository`: the name of the configured repository the backups go to.
    pub repository: String,
    /// `tags`: tags given to every snapshot of this source.
    pub tags: Vec<String>,
    /// `host`: the host name recorded in the snapshots (default: this machine's).
    pub host: Option<String>,
    /// What to back up, per `kind`.
    pub kind: SourceKind,
}

/// What a source backs up: one variant per `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// `kind = "files"`.
    Files(FilesSource),
    /// `kind = "command"`.
    Command(CommandSource),
    /// `kind = "postgres"`: logical dumps.
    Postgres(PostgresSource),
    /// `kind = "postgres-physical"`: base backups plus WAL archiving.
    PostgresPhysical(PostgresPhysicalSource),
    /// `kind = "sqlite"`: reserved; accepted and validated, not yet backed up by any command.
    Sqlite(SqliteSource),
}

impl SourceKind {
    /// The `kind` value: `files`, `command`, `postgres`, `postgres-physical` or `sqlite`.
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Files(_) => "files",
            SourceKind::Command(_) => "command",
            SourceKind::Postgres(_) => "postgres",
            SourceKind::PostgresPhysical(_) => "postgres-physical",
            SourceKind::Sqlite(_) => "sqlite",
        }
    }
}

/// Every accepted `kind` value.
pub const SOURCE_KINDS: &[&str] = &[
    "files",
    "command",
    "postgres",
    "postgres-physical",
    "sqlite",
];

/// `kind = "files"`: files and directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesSource {
    /// `paths` (at least one); relative paths resolved against the configuration file's
    /// directory.
    pub paths: Vec<PathBuf>,
    /// `exclude`: glob patterns as for `lifeboat backup --exclude` (a pattern without `/`
    /// matches names).
    pub exclude: Vec<String>,
    /// `one_file_system`: stay on the filesystem of each path (default false).
    pub one_file_system: bool,
}

/// `kind = "command"`: the standard output of a command, stored as one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSource {
    /// `stream_name`: the file name the output is stored under.
    pub stream_name: String,
    /// `command`: the program and its arguments (run directly, not through a shell).
    pub command: Vec<String>,
}

/// Which databases a logical PostgreSQL source dumps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgDatabases {
    /// Neither `database`, `databases` nor `all`: the database the DSN names.
    FromDsn,
    /// `database = "NAME"` (one entry) or `databases = [..]`.
    Named(Vec<String>),
    /// `all = true`: every database, plus roles and tablespaces.
    All,
}

/// `kind = "postgres"`: logical dumps (`lifeboat backup postgres`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSource {
    /// `dsn`: libpq connection string (key=value or `postgresql://` URI); empty (the default):
    /// libpq defaults and `PG*` variables.
    pub dsn: String,
    /// `database` / `databases` / `all`.
    pub databases: PgDatabases,
}

/// `method` of a physical PostgreSQL source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhysicalMethod {
    /// `auto`: copy when the data directory is readable, else pg_basebackup.
    Auto,
    /// `copy`: read the data directory's files directly.
    Copy,
    /// `pg_basebackup`: stream a tar over a replication connection.
    PgBasebackup,
}

impl PhysicalMethod {
    /// The configuration (and `--method`) spelling: `auto`, `copy`, `pg_basebackup`.
    pub fn name(self) -> &'static str {
        match self {
            PhysicalMethod::Auto => "auto",
            PhysicalMethod::Copy => "copy",
            PhysicalMethod::PgBasebackup => "pg_basebackup",
        }
    }
}

/// `checkpoint` of a physical PostgreSQL source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// `fast`: an immediate checkpoint (the backup starts at once).
    Fast,
    /// `spread`: a spread checkpoint (less I/O, the backup may wait minutes).
    Spread,
}

impl Checkpoint {
    /// The configuration (and `--checkpoint`) spelling: `fast` or `spread`.
    pub fn name(self) -> &'static str {
        match self {
            Checkpoint::Fast => "fast",
            Checkpoint::Spread => "spread",
        }
    }
}

/// The default `cluster` of a physical source.
pub const DEFAULT_CLUSTER: &str = "main";

/// `kind = "postgres-physical"`: base backups and WAL archiving for point-in-time recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresPhysicalSource {
    /// `dsn` (as for [`PostgresSource::dsn`]).
    pub dsn: String,
    /// `method` (default `auto`).
    pub method: PhysicalMethod,
    /// `cluster`: the cluster's name in the repository (default [`DEFAULT_CLUSTER`]).
    pub cluster: String,
    /// `data_directory`: the server's data directory; `wal-push` and `wal-fetch` (run by
    /// PostgreSQL in that directory) pick the source whose data directory is the current
    /// directory.
    pub data_directory: Option<PathBuf>,
    /// `checkpoint` (default `fast`).
    pub checkpoint: Checkpoint,
    /// `wal_timeout`: how long a base backup waits for its WAL to be archived (default 5m).
    pub wal_timeout: Duration,
    /// `key_cache`: a directory where `wal-push`/`wal-fetch` keep unlocked keys.
    pub key_cache: Option<PathBuf>,
    /// `compression`: zstd level for WAL (default 1).
    pub compression: i32,
    /// `push_ahead`: further ready WAL segments `wal-push` pushes in parallel (default 2; 0 =
    /// off).
    pub push_ahead: usize,
}

/// `kind = "sqlite"` (reserved): SQLite database files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteSource {
    /// `paths`: the database files (at least one).
    pub paths: Vec<PathBuf>,
}

/// A `[retention.NAME]` section: which snapshots `lifeboat forget --policy NAME` keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// The section's name.
    pub name: String,
    /// `keep_last`: the N newest snapshots.
    pub keep_last: Option<u32>,
    /// `keep_hourly`: the newest snapshot of each of the last N hours.
    pub keep_hourly: Option<u32>,
    /// `keep_daily`: the newest snapshot of each of the last N days.
    pub keep_daily: Option<u32>,
    /// `keep_weekly`: the newest snapshot of each of the last N weeks.
    pub keep_weekly: Option<u32>,
    /// `keep_monthly`: the newest snapshot of each of the last N months.
    pub keep_monthly: Option<u32>,
    /// `keep_yearly`: the newest snapshot of each of the last N years.
    pub keep_yearly: Option<u32>,
    /// `keep_within`: every snapshot newer than this before the newest, in the grammar of
    /// `lifeboat forget --keep-within` (checked by [`crate::parse_keep_within`]).
    pub keep_within: Option<String>,
    /// `tags`: only snapshots with one of these tags are considered (empty: all).
    pub tags: Vec<String>,
    /// `host`: only snapshots of this host are considered.
    pub host: Option<String>,
    /// `prune`: run prune after forget (default false).
    pub prune: bool,
    /// `repository`: the repository `lifeboat forget --policy NAME` works on when no `-r` is
    /// given.
    pub repository: Option<String>,
}
