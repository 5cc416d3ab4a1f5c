//! Restores: a snapshot into a directory, a logical PostgreSQL dump into a server, a physical
//! base backup plus WAL into a data directory (point-in-time recovery), a SQLite database to
//! a file.

use crate::modes::{self, Operation};
use crate::record::{Recorder, FIRST};
use crate::{journaled, Context, Result};
use lifeboat_core::restore::{self, RestoreOptions, RestoreSummary};
use lifeboat_core::Repository;
use lifeboat_postgres::logical::{self, LogicalRestoreOptions, LogicalRestoreReport};
use lifeboat_postgres::pitr::{self, PhysicalRestoreOptions, PhysicalRestoreReport};
use lifeboat_postgres::plan::RecoveryTarget;
use lifeboat_sqlite::restore::{restore_sqlite, SqliteRestoreOptions, SqliteRestoreReport};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A restore of a snapshot into a directory.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestoreRequest {
    /// Snapshot id, unique prefix or `latest`.
    pub snapshot: String,
    /// Directory to restore into (created when missing).
    pub target: PathBuf,
    /// Only these snapshot paths (and what is below them).
    pub includes: Vec<String>,
    /// Allow a non-empty target (existing files are overwritten).
    pub overwrite: bool,
    /// Write all-zero blocks out instead of leaving holes.
    pub no_sparse: bool,
    /// Leave extended attributes (ACLs, capabilities) out.
    pub no_xattrs: bool,
}

/// What a restore wrote.
#[derive(Clone, Debug, Serialize)]
pub struct RestoreReport {
    /// The snapshot restored.
    pub snapshot_id: String,
    /// Where to.
    pub target: PathBuf,
    /// Counters.
    pub summary: RestoreSummary,
}

fn absolute(p: &std::path::Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Restores a snapshot (or parts of it); every blob is verified on the way.
pub fn files(ctx: &Context, repo: &Repository, req: &RestoreRequest) -> Result<RestoreReport> {
    let mut rec = Recorder::new(ctx, "restore");
    rec.arg("snapshot", Some(req.snapshot.clone()))
        .arg("target", Some(absolute(&req.target)))
        .list("includes", &req.includes)
        .flag("overwrite", req.overwrite);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        modes::require(repo, Operation::Restore)?;
        let snap = repo.find_snapshot(&req.snapshot)?;
        rec.affected(FIRST, &snap.id);
        let summary = restore::restore(
            repo,
            &snap,
            &RestoreOptions {
                target: req.target.clone(),
                includes: req.includes.clone(),
                overwrite: req.overwrite,
                redirects: Vec::new(),
                cancel: ctx.cancel_token().clone(),
                no_sparse: req.no_sparse,
                no_xattrs: req.no_xattrs,
            },
            ctx.restored_bytes.clone(),
        )?;
        Ok(RestoreReport {
            snapshot_id: snap.id,
            target: req.target.clone(),
            summary,
        })
    })
}

/// Restores a logical PostgreSQL snapshot into the server `opts.dsn` names.
pub fn postgres(
    ctx: &Context,
    repo: &Repository,
    snapshot: &str,
    opts: &LogicalRestoreOptions,
) -> Result<LogicalRestoreReport> {
    let mut rec = Recorder::new(ctx, "restore");
    rec.arg("postgres", Some("logical"))
        .arg("snapshot", Some(snapshot.to_string()))
        .arg("into_database", opts.into_database.clone())
        .list("tables", &opts.tables)
        .list("schemas", &opts.schemas);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        modes::require(repo, Operation::RestorePostgres)?;
        let snap = repo.find_snapshot(snapshot)?;
        rec.affected(FIRST, &snap.id);
        Ok(logical::restore_logical(repo, &snap, opts)?)
    })
}

/// Restores a physical base backup and the WAL to reach `opts.target` into
/// `opts.target_dir`, optionally starting a temporary server to replay it (`password` is
/// handed to its `restore_command`).
pub fn postgres_physical(
    ctx: &Context,
    repo: &Repository,
    opts: &PhysicalRestoreOptions,
    password: Option<&[u8]>,
) -> Result<PhysicalRestoreReport> {
    let mut rec = Recorder::new(ctx, "restore");
    rec.arg("postgres", Some("physical"))
        .arg("snapshot", opts.snapshot.clone())
        .arg("target", Some(absolute(&opts.target_dir)))
        .arg("recovery_target", Some(opts.target.describe()))
        .flag("start", opts.start.is_some());
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        modes::require(repo, Operation::RestorePostgres)?;
        let mut opts = opts.clone();
        if let (RecoveryTarget::Name(n), true) = (&opts.target, opts.known_points.is_empty()) {
            opts.known_points = super::restore_point::known_positions(repo, n);
        }
        let report = pitr::restore_physical(repo, &opts, password)?;
        rec.affected(FIRST, &report.snapshot_id);
        Ok(report)
    })
}

/// A restore of a SQLite snapshot to a database file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteRestoreRequest {
    /// Snapshot id, unique prefix or `latest` (the newest SQLite snapshot).
    pub snapshot: String,
    /// The database file to write.
    pub target: PathBuf,
    /// Replace an existing database (never one another process has open).
    pub overwrite: bool,
}

/// Restores a SQLite snapshot: written beside the target, fsynced, checked with
/// `PRAGMA integrity_check`, renamed into place; a database another process has open is never
/// replaced, and the old file's `-wal`/`-shm`/`-journal` are removed.
pub fn sqlite(
    ctx: &Context,
    repo: &Repository,
    req: &SqliteRestoreRequest,
) -> Result<SqliteRestoreReport> {
    let mut rec = Recorder::new(ctx, "restore");
    rec.arg("kind", Some("sqlite"))
        .arg("snapshot", Some(req.snapshot.clone()))
        .arg("target", Some(absolute(&req.target)))
        .flag("overwrite", req.overwrite);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        modes::require(repo, Operation::RestoreSqlite)?;
        let snap = if req.snapshot == "latest" {
            repo.snapshots()?
                .into_iter()
                .rfind(|s| s.snapshot.source == lifeboat_sqlite::SOURCE)
                .ok_or_else(|| lifeboat_core::Error::SnapshotNotFound("latest (SQLite)".into()))?
        } else {
            repo.find_snapshot(&req.snapshot)?
        };
        rec.affected(FIRST, &snap.id);
        Ok(restore_sqlite(
            repo,
            &snap,
            &SqliteRestoreOptions {
                target: req.target.clone(),
                overwrite: req.overwrite,
                cancel: ctx.cancel_token().clone(),
            },
        )?)
    })
}
