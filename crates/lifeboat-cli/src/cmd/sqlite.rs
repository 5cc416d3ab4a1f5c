//! `lifeboat backup sqlite` and `lifeboat restore sqlite`: arguments, calls into the
//! operations layer, and output (docs/design/sqlite.md).

use crate::output::{self, human_bytes};
use crate::session::Session;
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use lifeboat_ops::backup::{self, SnapshotLabels, SqliteReport, SqliteRequest};
use lifeboat_ops::restore::{self, SqliteRestoreRequest};
use std::path::PathBuf;

/// `lifeboat backup sqlite`.
#[derive(Args, Debug)]
pub struct SqliteBackupArgs {
    /// SQLite database files (each becomes a snapshot of its own)
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Tag the snapshot(s) (repeatable)
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Hostname to record
    #[arg(long)]
    host: Option<String>,
    /// Store each copy in fixed blocks of this many KiB, rounded up to a multiple of the
    /// database's page size [default: 32]
    #[arg(long, value_name = "KIB")]
    block_size_kib: Option<u32>,
    /// How each copy is checked before it is recorded: `full` verifies all that PRAGMA
    /// integrity_check does in linear time (quick_check beside a sequential check of every
    /// index against its table), `quick` runs PRAGMA quick_check (no index cross-check),
    /// `pragma` PRAGMA integrity_check itself (slowest on large indexed databases)
    #[arg(long, value_enum, default_value_t = CheckArg::Full)]
    check: CheckArg,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CheckArg {
    Full,
    Quick,
    Pragma,
}

/// `lifeboat restore sqlite`.
#[derive(Args, Debug)]
pub struct SqliteRestoreArgs {
    /// Snapshot id, unique prefix, or `latest` (the newest SQLite snapshot)
    snapshot: String,
    /// The database file to write
    #[arg(short, long)]
    target: PathBuf,
    /// Replace an existing database (never one another process has open)
    #[arg(long)]
    overwrite: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat backup sqlite`.
pub fn backup(s: &Session, a: &SqliteBackupArgs) -> Result<i32> {
    let block_size = match a.block_size_kib {
        Some(0) => bail!("--block-size-kib must be at least 1"),
        Some(k) if k > 8192 => bail!("--block-size-kib must be at most 8192 (8 MiB)"),
        Some(k) => Some(k * 1024),
        None => None,
    };
    let repo = s.open()?;
    let display = s
        .show_progress()
        .then(|| output::ProgressDisplay::backup(s.ctx.progress.clone()));
    let reports = backup::sqlite(
        &s.ctx,
        &repo,
        &SqliteRequest {
            paths: a.paths.clone(),
            block_size,
            check: match a.check {
                CheckArg::Full => lifeboat_sqlite::Check::Full,
                CheckArg::Quick => lifeboat_sqlite::Check::Quick,
                CheckArg::Pragma => lifeboat_sqlite::Check::Pragma,
            },
            labels: SnapshotLabels {
                tags: a.tags.clone(),
                host: a.host.clone(),
            },
        },
    )?;
    drop(display);
    print_backup(s, &reports, a.json);
    Ok(0)
}

/// Prints a SQLite backup's reports.
pub fn print_backup(s: &Session, reports: &[SqliteReport], json: bool) {
    if json {
        output::json(&reports);
        return;
    }
    if s.quiet {
        return;
    }
    for r in reports {
        let m = &r.sqlite;
        let sum = r.backup.summary.clone().unwrap_or_default();
        println!(
            "snapshot {} of {} ({}, {} pages of {} bytes, journal mode {}, {} tables, {} ok): {} added in {:.2}s",
            &r.backup.snapshot_id[..8],
            m.path,
            human_bytes(m.size),
            m.page_count,
            m.page_size,
            m.journal_mode,
            m.row_counts.len(),
            m.check,
            human_bytes(sum.bytes_added),
            sum.duration_seconds
        );
    }
}

/// Runs `lifeboat restore sqlite`.
pub fn restore(s: &Session, a: &SqliteRestoreArgs) -> Result<i32> {
    let repo = s.open()?;
    let report = restore::sqlite(
        &s.ctx,
        &repo,
        &SqliteRestoreRequest {
            snapshot: a.snapshot.clone(),
            target: a.target.clone(),
            overwrite: a.overwrite,
        },
    )?;
    if a.json {
        output::json(&report);
    } else if !s.quiet {
        println!(
            "restored snapshot {} (SQLite database {}) to {}: {}, journal mode {}, integrity_check ok{} in {:.2}s",
            &report.snapshot_id[..8],
            report.source_path,
            report.target.display(),
            human_bytes(report.bytes),
            report.journal_mode,
            if report.replaced {
                ", replaced the existing file"
            } else {
                ""
            },
            report.duration_seconds
        );
        for f in &report.removed {
            println!("removed {} of the replaced database", f.display());
        }
    }
    Ok(0)
}
