//! Backups of every source kind: files, streams (standard input or a command's output),
//! PostgreSQL logical dumps and physical base backups, SQLite databases.
//!
//! Each checks the mode, takes the repository's shared lock (inside the engine), records one
//! journal record (`backup`, with the source's arguments and the new snapshots) and returns a
//! typed report whose JSON is the CLI's `backup --json` contract.

use crate::modes::{self, Operation};
use crate::record::{Recorder, FIRST};
use crate::{journaled, Context, OpsError, Result};
use lifeboat_core::backup::{self, BackupOptions, BackupOutcome};
use lifeboat_core::snapshot::{Snapshot, StreamInfo, Summary};
use lifeboat_core::Repository;
use lifeboat_postgres::counts::RowCounts;
use lifeboat_postgres::logical::{self, Databases, LogicalMeta, LogicalOptions};
use lifeboat_postgres::physical::{self, BaseBackupMethod, PhysicalMeta, PhysicalOptions};
use lifeboat_sqlite::backup::{backup_sqlite, SqliteBackupOptions};
use lifeboat_sqlite::SqliteMeta;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

/// What every backup records in its snapshot.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotLabels {
    /// Tags.
    pub tags: Vec<String>,
    /// Hostname to record (default: this machine's).
    pub host: Option<String>,
}

impl SnapshotLabels {
    fn options(&self) -> BackupOptions {
        BackupOptions {
            tags: self.tags.clone(),
            host: self.host.clone(),
            ..Default::default()
        }
    }

    fn record(&self, rec: &mut Recorder) {
        rec.list("tags", &self.tags).arg("host", self.host.clone());
    }
}

/// A backup of files and directories.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesRequest {
    /// Files and directories.
    pub paths: Vec<PathBuf>,
    /// Glob patterns to leave out (without `/`: names anywhere; with `/`: whole paths).
    pub excludes: Vec<String>,
    /// Stay on the filesystem of each path.
    pub one_file_system: bool,
    /// Parent snapshot for change detection (default: the latest with the same host and paths).
    pub parent: Option<String>,
    /// Read every file, also unchanged ones.
    pub force: bool,
    /// Leave extended attributes (ACLs, capabilities) out.
    pub no_xattrs: bool,
    /// Tags and host.
    #[serde(flatten)]
    pub labels: SnapshotLabels,
}

/// A file or directory a backup could not read.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    /// Its path.
    pub path: PathBuf,
    /// Why.
    pub error: String,
}

/// What a backup stored.
#[derive(Clone, Debug, Serialize)]
pub struct BackupReport {
    /// The new snapshot's id.
    pub snapshot_id: String,
    /// Counters.
    pub summary: Option<Summary>,
    /// For stream snapshots: name, size and SHA-256.
    pub stream: Option<StreamInfo>,
    /// What could not be read (the snapshot was saved without it).
    pub skipped: Vec<Skipped>,
    /// The whole snapshot.
    #[serde(skip)]
    pub snapshot: Snapshot,
}

impl From<BackupOutcome> for BackupReport {
    fn from(o: BackupOutcome) -> Self {
        BackupReport {
            snapshot_id: o.snapshot_id,
            summary: o.snapshot.summary.clone(),
            stream: o.snapshot.stream.clone(),
            skipped: o
                .skipped
                .into_iter()
                .map(|(path, error)| Skipped { path, error })
                .collect(),
            snapshot: o.snapshot,
        }
    }
}

impl BackupReport {
    /// True when every file was read.
    pub fn complete(&self) -> bool {
        self.skipped.is_empty()
    }
}

fn absolute(p: &std::path::Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

fn finish_backup(rec: &mut Recorder, report: &BackupReport) {
    rec.affected(FIRST, &report.snapshot_id);
    if !report.complete() {
        rec.note(format!(
            "partial: {} files or directories could not be read and were skipped",
            report.skipped.len()
        ));
    }
}

/// Backs up files and directories.
pub fn files(ctx: &Context, repo: &Repository, req: &FilesRequest) -> Result<BackupReport> {
    let mut rec = Recorder::new(ctx, "backup");
    let paths: Vec<String> = req.paths.iter().map(|p| absolute(p)).collect();
    rec.list("paths", &paths).list("excludes", &req.excludes);
    req.labels.record(&mut rec);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        if req.paths.is_empty() {
            return Err(OpsError::invalid(
                "paths",
                "nothing to back up: give at least one path",
            ));
        }
        modes::require(repo, Operation::BackupFiles)?;
        let opts = BackupOptions {
            excludes: req.excludes.clone(),
            one_file_system: req.one_file_system,
            parent: req.parent.clone(),
            force: req.force,
            no_xattrs: req.no_xattrs,
            ..req.labels.options()
        };
        let report: BackupReport =
            backup::backup_paths(repo, &req.paths, &opts, ctx.progress.clone())?.into();
        finish_backup(rec, &report);
        Ok(report)
    })
}

/// A backup of a byte stream stored as one file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamRequest {
    /// The file name the stream is stored under.
    pub name: String,
    /// For a command's output: the command and its arguments (run without a shell).
    pub command: Vec<String>,
    /// The stream's media type, when its producer gave one (an HTTP upload's `type`);
    /// recorded in the snapshot as `extra.content_type`.
    pub content_type: Option<String>,
    /// Tags and host.
    #[serde(flatten)]
    pub labels: SnapshotLabels,
}

fn stream_record(ctx: &Context, repo: &Repository, req: &StreamRequest) -> Recorder {
    let mut rec = Recorder::new(ctx, "backup");
    rec.arg("stdin_name", Some(req.name.clone()));
    if !req.command.is_empty() {
        rec.arg("command", Some(req.command.join(" ")));
    }
    req.labels.record(&mut rec);
    rec.add(repo);
    rec
}

/// Backs up what `reader` yields (standard input, an HTTP request body) as `req.name`.
pub fn stream(
    ctx: &Context,
    repo: &Repository,
    req: &StreamRequest,
    reader: impl Read,
) -> Result<BackupReport> {
    let rec = stream_record(ctx, repo, req);
    journaled(ctx, rec, |rec| {
        modes::require(repo, Operation::BackupStream)?;
        let mut options = req.labels.options();
        if let Some(t) = &req.content_type {
            options
                .extra
                .insert("content_type".into(), serde_json::Value::String(t.clone()));
        }
        let report: BackupReport = backup::backup_stream(
            repo,
            &req.name,
            reader,
            &options,
            ctx.progress.clone(),
            |_| Ok(Default::default()),
        )?
        .into();
        finish_backup(rec, &report);
        Ok(report)
    })
}

/// Backs up the standard output of `req.command`; a command that fails records nothing.
pub fn command(ctx: &Context, repo: &Repository, req: &StreamRequest) -> Result<BackupReport> {
    let rec = stream_record(ctx, repo, req);
    journaled(ctx, rec, |rec| {
        if req.command.is_empty() {
            return Err(OpsError::invalid(
                "command",
                "a command backup needs the command to run",
            ));
        }
        modes::require(repo, Operation::BackupStream)?;
        let report: BackupReport = backup::backup_command(
            repo,
            &req.name,
            &req.command,
            &req.labels.options(),
            ctx.progress.clone(),
        )?
        .into();
        finish_backup(rec, &report);
        Ok(report)
    })
}

/// Which databases a logical backup dumps.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseSelection {
    /// The database the connection string names.
    #[default]
    FromDsn,
    /// These databases.
    Named(Vec<String>),
    /// Every database, plus roles and tablespaces.
    All,
}

/// A logical PostgreSQL backup (one snapshot per database).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresRequest {
    /// Connection string (empty: libpq defaults and `PG*` variables).
    pub dsn: String,
    /// Which databases.
    pub databases: DatabaseSelection,
    /// Which tables' exact row counts each dump records (default: all).
    pub count_rows: RowCounts,
    /// Tags and host.
    #[serde(flatten)]
    pub labels: SnapshotLabels,
}

/// One snapshot of a logical backup.
#[derive(Clone, Debug, Serialize)]
pub struct PostgresReport {
    /// The snapshot.
    #[serde(flatten)]
    pub backup: BackupReport,
    /// What was dumped.
    pub postgres: LogicalMeta,
}

/// Dumps the selected databases, one snapshot each. Stops at the first failure; snapshots
/// already written are complete, the failed dump records nothing.
pub fn postgres(
    ctx: &Context,
    repo: &Repository,
    req: &PostgresRequest,
) -> Result<Vec<PostgresReport>> {
    let mut rec = Recorder::new(ctx, "backup");
    rec.arg("postgres", Some("logical"));
    match &req.databases {
        DatabaseSelection::FromDsn => {}
        DatabaseSelection::Named(d) => {
            rec.list("databases", d);
        }
        DatabaseSelection::All => {
            rec.flag("all", true);
        }
    }
    req.labels.record(&mut rec);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        modes::require(repo, Operation::BackupPostgres)?;
        let outs = logical::backup_logical(
            repo,
            &LogicalOptions {
                dsn: req.dsn.clone(),
                databases: match &req.databases {
                    DatabaseSelection::FromDsn => Databases::FromDsn,
                    DatabaseSelection::Named(d) => Databases::Named(d.clone()),
                    DatabaseSelection::All => Databases::All,
                },
                backup: req.labels.options(),
                row_counts: req.count_rows.clone(),
            },
            ctx.progress.clone(),
        )?;
        let reports: Vec<PostgresReport> = outs
            .into_iter()
            .map(|o| PostgresReport {
                backup: o.outcome.into(),
                postgres: o.meta,
            })
            .collect();
        for r in &reports {
            rec.affected(FIRST, &r.backup.snapshot_id);
        }
        Ok(reports)
    })
}

/// How a physical base backup reads the data directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `copy` when possible, else `pg_basebackup`.
    #[default]
    Auto,
    /// Read the files directly (on the database host).
    Copy,
    /// Stream pg_basebackup's tar (any host).
    #[serde(rename = "pg_basebackup")]
    PgBasebackup,
}

impl Method {
    /// The name as written on the command line and in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Copy => "copy",
            Method::PgBasebackup => "pg_basebackup",
        }
    }

    /// Parses a method name.
    pub fn parse(s: &str) -> Result<Method> {
        match s {
            "auto" => Ok(Method::Auto),
            "copy" => Ok(Method::Copy),
            "pg_basebackup" => Ok(Method::PgBasebackup),
            _ => Err(OpsError::invalid(
                "method",
                format!("unknown base backup method '{s}' (use auto, copy or pg_basebackup)"),
            )),
        }
    }
}

/// A physical base backup.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhysicalRequest {
    /// Connection string.
    pub dsn: String,
    /// Cluster name in the repository.
    pub cluster: String,
    /// Ask for an immediate checkpoint.
    pub fast_checkpoint: bool,
    /// Seconds to wait for the backup's WAL to be archived.
    pub wal_timeout_seconds: u64,
    /// Put the backup's WAL into the snapshot (self-contained, no PITR).
    pub include_wal: bool,
    /// How the data directory is read.
    pub method: Method,
    /// Read every file, also those proven unchanged since the previous base backup.
    pub force: bool,
    /// Tags and host.
    #[serde(flatten)]
    pub labels: SnapshotLabels,
}

impl Default for PhysicalRequest {
    fn default() -> Self {
        PhysicalRequest {
            dsn: String::new(),
            cluster: lifeboat_postgres::wal::DEFAULT_CLUSTER.into(),
            fast_checkpoint: true,
            wal_timeout_seconds: 300,
            include_wal: false,
            method: Method::Auto,
            force: false,
            labels: SnapshotLabels::default(),
        }
    }
}

/// A base backup that was stored.
#[derive(Clone, Debug, Serialize)]
pub struct PhysicalReport {
    /// The snapshot.
    #[serde(flatten)]
    pub backup: BackupReport,
    /// Where the backup starts and ends, and what it needs.
    pub postgres: PhysicalMeta,
}

/// Takes a physical base backup (see `lifeboat_postgres::physical`).
pub fn postgres_physical(
    ctx: &Context,
    repo: &Repository,
    req: &PhysicalRequest,
) -> Result<PhysicalReport> {
    let mut rec = Recorder::new(ctx, "backup");
    rec.arg("postgres", Some("physical"))
        .arg("cluster", Some(req.cluster.clone()))
        .arg("method", Some(req.method.name()))
        .flag("force", req.force);
    req.labels.record(&mut rec);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        modes::require(repo, Operation::BackupPostgresPhysical)?;
        let out = physical::backup_physical(
            repo,
            &PhysicalOptions {
                dsn: req.dsn.clone(),
                cluster: req.cluster.clone(),
                fast_checkpoint: req.fast_checkpoint,
                wal_timeout: Duration::from_secs(req.wal_timeout_seconds),
                include_wal: req.include_wal,
                method: match req.method {
                    Method::Auto => BaseBackupMethod::Auto,
                    Method::Copy => BaseBackupMethod::Copy,
                    Method::PgBasebackup => BaseBackupMethod::Basebackup,
                },
                backup: BackupOptions {
                    force: req.force,
                    ..req.labels.options()
                },
            },
            ctx.progress.clone(),
        )?;
        let report = PhysicalReport {
            backup: out.outcome.into(),
            postgres: out.meta,
        };
        rec.affected(FIRST, &report.backup.snapshot_id);
        Ok(report)
    })
}

/// A backup of SQLite databases (one snapshot each).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteRequest {
    /// The database files.
    pub paths: Vec<PathBuf>,
    /// The block size the copies are stored in, in bytes, rounded up to a multiple of each
    /// database's page size (default: `lifeboat_sqlite::DEFAULT_BLOCK_SIZE`).
    pub block_size: Option<u32>,
    /// How each copy is checked before it is recorded: `full` (`PRAGMA integrity_check`, the
    /// default) or `quick` (`PRAGMA quick_check`).
    pub check: lifeboat_sqlite::Check,
    /// Tags and host.
    #[serde(flatten)]
    pub labels: SnapshotLabels,
}

/// One snapshot of a SQLite backup.
#[derive(Clone, Debug, Serialize)]
pub struct SqliteReport {
    /// The snapshot.
    #[serde(flatten)]
    pub backup: BackupReport,
    /// What it records (`extra.sqlite`).
    pub sqlite: SqliteMeta,
}

/// Backs up SQLite databases with the online backup API, one snapshot each; each copy is
/// checked with `PRAGMA integrity_check` before its snapshot is recorded. Every path is
/// checked before anything is written; then the databases are backed up in order, stopping at
/// the first failure (snapshots already written are complete, the failed one records nothing).
pub fn sqlite(ctx: &Context, repo: &Repository, req: &SqliteRequest) -> Result<Vec<SqliteReport>> {
    let mut rec = Recorder::new(ctx, "backup");
    let paths: Vec<String> = req.paths.iter().map(|p| absolute(p)).collect();
    rec.arg("kind", Some("sqlite"))
        .list("paths", &paths)
        .arg("check", Some(req.check.pragma()));
    req.labels.record(&mut rec);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        if req.paths.is_empty() {
            return Err(OpsError::invalid(
                "paths",
                "nothing to back up: give at least one SQLite database file",
            ));
        }
        modes::require(repo, Operation::BackupSqlite)?;
        let outs = backup_sqlite(
            repo,
            &req.paths,
            &SqliteBackupOptions {
                backup: req.labels.options(),
                block_size: req
                    .block_size
                    .unwrap_or(lifeboat_sqlite::DEFAULT_BLOCK_SIZE),
                check: req.check,
                ..Default::default()
            },
            ctx.progress.clone(),
        )?;
        let reports: Vec<SqliteReport> = outs
            .into_iter()
            .map(|o| SqliteReport {
                backup: o.outcome.into(),
                sqlite: o.meta,
            })
            .collect();
        for r in &reports {
            rec.affected(FIRST, &r.backup.snapshot_id);
        }
        Ok(reports)
    })
}
