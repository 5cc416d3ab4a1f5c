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
    /// `restore_point`: a member of `lifeboat restore-point create` when no `--source` is
    /// given (default false).
    pub restore_point: bool,
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
    /// `kind = "sqlite"`: live SQLite databases (the online backup API).
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
    /// `xattrs`: record extended attributes, POSIX ACLs and capabilities (default true).
    pub xattrs: bool,
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
    /// `count_rows`: which tables' exact row counts each dump records, counted in the dump's
    /// own MVCC snapshot (for drills' `row_count` checks with `expect = "recorded"`).
    pub count_rows: CountRows,
}

/// `count_rows` of a logical PostgreSQL source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CountRows {
    /// `count_rows = true` (the default): every ordinary and partitioned table.
    #[default]
    All,
    /// `count_rows = false`: none.
    None,
    /// `count_rows = ["public.events", "orders"]`: these tables (for large databases).
    Tables(Vec<String>),
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

/// `kind = "sqlite"`: SQLite database files, one snapshot each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteSource {
    /// `paths`: the database files (at least one).
    pub paths: Vec<PathBuf>,
    /// `check`: how each copy is checked before it is recorded (default `full`).
    pub check: SqliteCheck,
}

/// `check` of a SQLite source: the PRAGMA each consistent copy must pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteCheck {
    /// `full`: everything `PRAGMA integrity_check` verifies (also every index against its
    /// table), in linear time: `quick_check` beside lifeboat's sequential index verification.
    #[default]
    Full,
    /// `quick`: `PRAGMA quick_check` (the b-tree structure, without the index cross-check:
    /// several times faster on large databases).
    Quick,
    /// `pragma`: `PRAGMA integrity_check` itself (one index lookup per row and index).
    Pragma,
}

impl SqliteCheck {
    /// The configuration (and `--check`) spelling: `full`, `quick` or `pragma`.
    pub fn name(self) -> &'static str {
        match self {
            SqliteCheck::Full => "full",
            SqliteCheck::Quick => "quick",
            SqliteCheck::Pragma => "pragma",
        }
    }
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

/// A `[targets.NAME]` section: the recovery objectives of the source `NAME`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The source's name (the section's name).
    pub source: String,
    /// `rpo`: the largest acceptable age of the newest recoverable point.
    pub rpo: Option<Duration>,
    /// `rto`: the longest acceptable time from the start of a restore until the copy is usable
    /// and checked.
    pub rto: Option<Duration>,
}

/// The default `scratch_dir` of drills.
pub const DEFAULT_SCRATCH_DIR: &str = "/var/tmp/lifeboat-drills";

/// A `[drills.NAME]` section: a restore drill of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drill {
    /// The section's name (`lifeboat drill run NAME`).
    pub name: String,
    /// `source`: the configured source whose backups are drilled.
    pub source: String,
    /// `pick` (default `latest`).
    pub pick: Pick,
    /// `to`: physical PostgreSQL only: `latest` (the default), an RFC 3339 time or
    /// `now-DURATION`, kept as written (checked by [`parse_pitr_to`]).
    pub to: Option<String>,
    /// `scratch_dir` (default [`DEFAULT_SCRATCH_DIR`]): where drills restore; each drill uses
    /// its own subdirectory.
    pub scratch_dir: PathBuf,
    /// `jobs`: parallel jobs of `pg_restore` (default: the number of CPUs).
    pub jobs: Option<u32>,
    /// `database`: the database the checks connect to (default: the dumped database for a
    /// logical source, `postgres` for a physical one).
    pub database: Option<String>,
    /// `timeout`: how long WAL replay and server start may take (default 1h).
    pub timeout: Duration,
    /// `run_as`: the operating-system user the scratch server runs as when lifeboat runs as
    /// root (default `postgres`).
    pub run_as: Option<String>,
    /// `[[drills.NAME.checks]]`, in file order.
    pub checks: Vec<Check>,
}

/// Which recovery point a drill restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// `latest`: the newest snapshot (or base backup) of the source.
    Latest,
    /// `oldest`: the oldest one.
    Oldest,
    /// `random` (any) or `random:30d` (among those of the last 30 days): chosen with a seed the
    /// report records, so the drill can be repeated.
    Random {
        /// The window (`None`: every snapshot).
        within: Option<Duration>,
    },
    /// A snapshot id or unique prefix (hex).
    Snapshot(String),
}

impl std::str::FromStr for Pick {
    type Err = String;

    /// Parses `latest`, `oldest`, `random`, `random:DURATION` or a hexadecimal snapshot id.
    fn from_str(s: &str) -> Result<Pick, String> {
        match s {
            "latest" => Ok(Pick::Latest),
            "oldest" => Ok(Pick::Oldest),
            "random" => Ok(Pick::Random { within: None }),
            _ => {
                if let Some(w) = s.strip_prefix("random:") {
                    let d = crate::parse_duration(w).map_err(|e| format!("'{s}': {e}"))?;
                    return Ok(Pick::Random { within: Some(d) });
                }
                if !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Ok(Pick::Snapshot(s.to_ascii_lowercase()));
                }
                Err(format!(
                    "'{s}' is not a pick: expected latest, oldest, random, random:DURATION (e.g. random:30d) or a snapshot id"
                ))
            }
        }
    }
}

impl fmt::Display for Pick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pick::Latest => f.write_str("latest"),
            Pick::Oldest => f.write_str("oldest"),
            Pick::Random { within: None } => f.write_str("random"),
            Pick::Random { within: Some(d) } => {
                write!(f, "random:{}", crate::duration::format_duration(*d))
            }
            Pick::Snapshot(id) => f.write_str(id),
        }
    }
}

/// Checks a drill's `to` (and `drill run --to`): `latest`, an RFC 3339 time, or
/// `now-DURATION`. Returns the time it names (`None` for `latest`), relative to `now`.
pub fn parse_pitr_to(s: &str, now: jiff::Timestamp) -> Result<Option<jiff::Timestamp>, String> {
    if s == "latest" {
        return Ok(None);
    }
    if let Some(d) = s.strip_prefix("now-") {
        let d = crate::parse_duration(d).map_err(|e| format!("'{s}': {e}"))?;
        let span = jiff::SignedDuration::try_from(d).map_err(|e| format!("'{s}': {e}"))?;
        return now
            .checked_sub(span)
            .map(Some)
            .map_err(|e| format!("'{s}': {e}"));
    }
    s.parse::<jiff::Timestamp>().map(Some).map_err(|_| {
        format!("'{s}' is not a recovery target: expected latest, an RFC 3339 time (2026-12-01T14:30:00Z) or now-DURATION (now-15m)")
    })
}

/// One `[[drills.NAME.checks]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `name`: how the report names the check (default: the kind and its table, e.g.
    /// `hash_chain events`, or `sql #3` by position).
    pub name: String,
    /// `database`: the database this check connects to (default: the drill's).
    pub database: Option<String>,
    /// The line of the entry in the configuration file (for messages).
    pub line: usize,
    /// What is checked.
    pub kind: CheckKind,
}

/// What `row_count` compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowCountExpect {
    /// `min = N`: at least N rows.
    Min(u64),
    /// `expect = "recorded"`: exactly the count recorded at backup time.
    Recorded,
}

/// The kinds of drill checks; the field names are the configuration's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// `kind = "amcheck"`: `pg_amcheck --heapallindexed` on every database reports nothing.
    Amcheck,
    /// `kind = "row_count"`.
    RowCount {
        /// `table` (optionally schema-qualified).
        table: String,
        /// `min` or `expect = "recorded"`.
        expect: RowCountExpect,
    },
    /// `kind = "sequence_gaps"`: per partition, `sequence` runs without gaps or duplicates.
    SequenceGaps {
        /// `table`.
        table: String,
        /// `partition_by`: columns (empty: the whole table is one partition).
        partition_by: Vec<String>,
        /// `sequence`: the integer column numbered 1, 2, 3, ... per partition.
        sequence: String,
        /// `start`: the first number of each partition (default 1).
        start: i64,
    },
    /// `kind = "hash_chain"`.
    HashChain {
        /// `table`.
        table: String,
        /// `partition_by`: columns (empty: one chain over the whole table).
        partition_by: Vec<String>,
        /// `order_by`: the SQL expression ordering rows within a partition.
        order_by: String,
        /// `hash`: the column holding the row's hex digest.
        hash: String,
        /// `prev`: the column holding the previous row's digest.
        prev: String,
        /// `input`: the SQL expression whose digest `hash` must be.
        input: String,
        /// `genesis`: the `prev` of each partition's first row (default 64 zeros).
        genesis: String,
        /// `algorithm` (default and only: sha256).
        algorithm: HashAlgorithm,
    },
    /// `kind = "sql"`: the query returns exactly `expect`.
    Sql {
        /// `query`.
        query: String,
        /// `expect`: as PostgreSQL prints it (a TOML string as written, an integer in decimal,
        /// a float as Rust's `f64::to_string` writes it, `true`/`false` as `t`/`f`).
        expect: String,
    },
    /// `kind = "freshness"`: the timestamp `query` returns is no older than `max_lag` before
    /// the recovery point.
    Freshness {
        /// `query` (returns one timestamp).
        query: String,
        /// `max_lag`.
        max_lag: Duration,
    },
    /// `kind = "command"`: the command exits 0.
    Command {
        /// `command`: program and arguments (run directly, not through a shell).
        command: Vec<String>,
        /// `timeout` (default 10m).
        timeout: Duration,
    },
}

impl CheckKind {
    /// The `kind` value.
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Amcheck => "amcheck",
            CheckKind::RowCount { .. } => "row_count",
            CheckKind::SequenceGaps { .. } => "sequence_gaps",
            CheckKind::HashChain { .. } => "hash_chain",
            CheckKind::Sql { .. } => "sql",
            CheckKind::Freshness { .. } => "freshness",
            CheckKind::Command { .. } => "command",
        }
    }
}

/// Every accepted check `kind`.
pub const CHECK_KINDS: &[&str] = &[
    "amcheck",
    "row_count",
    "sequence_gaps",
    "hash_chain",
    "sql",
    "freshness",
    "command",
];

/// The digest of `hash_chain` checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// `sha256`: lower-case hex SHA-256 of the `input` text's UTF-8 bytes.
    #[default]
    Sha256,
}

/// The `[restore_points]` section: what runs around `lifeboat restore-point create`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePoints {
    /// `pre_command`: run before the members are captured (to quiesce the application); a
    /// failure stops the restore point before anything is captured.
    pub pre_command: Vec<String>,
    /// `post_command`: run after the capture, also when a member failed.
    pub post_command: Vec<String>,
    /// `timeout`: how long each command may run (default 5m).
    pub timeout: Duration,
}

impl Default for RestorePoints {
    fn default() -> Self {
        RestorePoints {
            pre_command: Vec::new(),
            post_command: Vec::new(),
            timeout: Duration::from_secs(300),
        }
    }
}
