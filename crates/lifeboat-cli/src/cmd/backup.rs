//! `lifeboat backup`: files, standard input, a command's output, a configured source
//! (`--source NAME`), PostgreSQL (`lifeboat backup postgres`) or SQLite (`lifeboat backup
//! sqlite`).

use super::{postgres, sqlite};
use crate::output::{self, ProgressDisplay};
use crate::session::{configured, Session};
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use lifeboat_core::error::EXIT_PARTIAL;
use lifeboat_ops::backup::{self, BackupReport, FilesRequest, SnapshotLabels, StreamRequest};
use lifeboat_ops::sources::{self, SourceReport, SourceRequest};
use std::path::PathBuf;

/// `lifeboat backup`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    kind: Option<BackupKind>,
    #[command(flatten)]
    files: FilesArgs,
}

#[derive(Subcommand, Debug)]
enum BackupKind {
    /// Back up PostgreSQL: logical dumps, or physical base backups for point-in-time recovery
    Postgres(postgres::PgBackupArgs),
    /// Back up live SQLite databases: a consistent copy with SQLite's online backup API, checked
    /// with integrity_check, one snapshot per database
    Sqlite(sqlite::SqliteBackupArgs),
}

#[derive(Args, Debug)]
struct FilesArgs {
    /// Files and directories to back up
    paths: Vec<PathBuf>,
    /// Run the source of this name from the configuration file
    #[arg(long, value_name = "NAME", conflicts_with_all = ["paths", "stdin", "stdin_from_command"])]
    source: Option<String>,
    /// Tag the snapshot (repeatable)
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Hostname to record
    #[arg(long)]
    host: Option<String>,
    /// Exclude paths matching a glob (a pattern without '/' matches names) (repeatable)
    #[arg(long = "exclude")]
    excludes: Vec<String>,
    /// Stay on the filesystem of each given path
    #[arg(short = 'x', long)]
    one_file_system: bool,
    /// Parent snapshot for change detection (default: latest with the same host and paths)
    #[arg(long)]
    parent: Option<String>,
    /// Re-read every file
    #[arg(long)]
    force: bool,
    /// Do not record extended attributes (nor the POSIX ACLs and capabilities kept in them)
    #[arg(long)]
    no_xattrs: bool,
    /// Back up standard input
    #[arg(long)]
    stdin: bool,
    /// File name for the stream
    #[arg(long)]
    stdin_name: Option<String>,
    /// Back up the standard output of the command given after --
    #[arg(long)]
    stdin_from_command: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// The command for --stdin-from-command
    #[arg(last = true)]
    command: Vec<String>,
}

/// Runs `lifeboat backup`.
pub fn run(s: &Session, a: &BackupArgs) -> Result<i32> {
    match &a.kind {
        Some(BackupKind::Postgres(pg)) => return postgres::backup(s, pg),
        Some(BackupKind::Sqlite(sq)) => return sqlite::backup(s, sq),
        None => {}
    }
    let f = &a.files;
    if let Some(name) = &f.source {
        return run_source(s, f, name);
    }
    let labels = SnapshotLabels {
        tags: f.tags.clone(),
        host: f.host.clone(),
    };
    let stream_mode = f.stdin || f.stdin_from_command;
    if stream_mode && !f.paths.is_empty() {
        bail!("give either paths or --stdin/--stdin-from-command, not both");
    }
    if f.stdin && f.stdin_from_command {
        bail!("--stdin and --stdin-from-command are exclusive");
    }
    if !stream_mode && f.paths.is_empty() {
        bail!("nothing to back up: give paths, --stdin, --stdin-from-command -- CMD, or --source NAME");
    }
    if stream_mode && f.stdin_name.is_none() {
        bail!("--stdin-name NAME is required with --stdin and --stdin-from-command");
    }
    if f.stdin_from_command && f.command.is_empty() {
        bail!("--stdin-from-command needs a command after --");
    }
    let repo = s.open()?;
    let display = s
        .show_progress()
        .then(|| ProgressDisplay::backup(s.ctx.progress.clone()));
    let report = if stream_mode {
        let req = StreamRequest {
            name: f.stdin_name.clone().unwrap_or_default(),
            command: f.command.clone(),
            content_type: None,
            labels,
        };
        if f.stdin_from_command {
            backup::command(&s.ctx, &repo, &req)?
        } else {
            backup::stream(&s.ctx, &repo, &req, std::io::stdin().lock())?
        }
    } else {
        backup::files(
            &s.ctx,
            &repo,
            &FilesRequest {
                paths: f.paths.clone(),
                excludes: f.excludes.clone(),
                one_file_system: f.one_file_system,
                parent: f.parent.clone(),
                force: f.force,
                no_xattrs: f.no_xattrs,
                labels,
            },
        )?
    };
    drop(display);
    Ok(print(s, &report, f.json))
}

/// Prints a file or stream backup's report; returns the exit code.
fn print(s: &Session, report: &BackupReport, json: bool) -> i32 {
    for sk in &report.skipped {
        eprintln!("warning: skipped {}: {}", sk.path.display(), sk.error);
    }
    if json {
        output::json(report);
    } else if !s.quiet {
        output::backup_summary(report);
    }
    if report.complete() {
        0
    } else {
        eprintln!(
            "warning: {} files or directories could not be read; the snapshot {} was saved without them",
            report.skipped.len(),
            &report.snapshot_id[..8]
        );
        EXIT_PARTIAL
    }
}

/// `lifeboat backup --source NAME`: the configured source, into its repository; tags, host,
/// excludes, `--one-file-system`, `--parent` and `--force` given on the command line add to
/// (or override) the configured ones.
fn run_source(s: &Session, f: &FilesArgs, name: &str) -> Result<i32> {
    let config = s.require_config("backup --source")?;
    let src = config.source(name)?;
    let named = match &s.repo {
        Some(r) => s.named(r)?,
        None => configured(config.repository(&src.repository)?)?,
    };
    let password = s.password(&named, false)?;
    let repo = lifeboat_ops::open::open(&named.location, &password)?;
    let mut req = SourceRequest::of(src)?;
    let labels = req.labels_mut();
    labels.tags.extend(f.tags.iter().cloned());
    if f.host.is_some() {
        labels.host = f.host.clone();
    }
    match &mut req {
        SourceRequest::Files(r) => {
            r.excludes.extend(f.excludes.iter().cloned());
            r.one_file_system |= f.one_file_system;
            r.parent = f.parent.clone();
            r.force = f.force;
            r.no_xattrs |= f.no_xattrs;
        }
        SourceRequest::PostgresPhysical(r) => r.force = f.force,
        SourceRequest::Command(_) | SourceRequest::Postgres(_) | SourceRequest::Sqlite(_) => {}
    }
    let display = s
        .show_progress()
        .then(|| ProgressDisplay::backup(s.ctx.progress.clone()));
    let report = sources::backup(&s.ctx, &repo, &req)?;
    drop(display);
    Ok(match &report {
        SourceReport::Snapshot(r) => print(s, r, f.json),
        SourceReport::Postgres(r) => {
            postgres::print_logical(s, r, f.json);
            0
        }
        SourceReport::PostgresPhysical(r) => {
            postgres::print_physical(s, r, f.json);
            0
        }
        SourceReport::Sqlite(r) => {
            sqlite::print_backup(s, r, f.json);
            0
        }
    })
}
