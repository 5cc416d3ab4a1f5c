//! `lifeboat restore`: a snapshot into a directory, PostgreSQL (`lifeboat restore postgres`) or
//! a SQLite database (`lifeboat restore sqlite`).

use super::{postgres, sqlite};
use crate::output::{self, human_bytes, ProgressDisplay};
use crate::session::Session;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use lifeboat_ops::restore::{self, RestoreRequest};
use std::path::PathBuf;

/// `lifeboat restore`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RestoreArgs {
    #[command(subcommand)]
    kind: Option<RestoreKind>,
    #[command(flatten)]
    files: FilesArgs,
}

#[derive(Subcommand, Debug)]
enum RestoreKind {
    /// Restore PostgreSQL: a logical dump into a server, or a physical backup to a point in time
    Postgres(Box<postgres::PgRestoreArgs>),
    /// Restore a SQLite database to a file: written beside it, checked with integrity_check,
    /// renamed into place; never over a database another process has open
    Sqlite(sqlite::SqliteRestoreArgs),
}

#[derive(Args, Debug)]
struct FilesArgs {
    /// Snapshot id, unique prefix or `latest`
    snapshot: Option<String>,
    /// Directory to restore into
    #[arg(short, long)]
    target: Option<PathBuf>,
    /// Only restore this path (repeatable)
    #[arg(long = "include")]
    includes: Vec<String>,
    /// Allow restoring into a non-empty directory
    #[arg(long)]
    overwrite: bool,
    /// Leave all-zero blocks of files as holes (the default)
    #[arg(long, overrides_with = "no_sparse")]
    sparse: bool,
    /// Write all-zero blocks out instead of leaving holes
    #[arg(long, overrides_with = "sparse")]
    no_sparse: bool,
    /// Do not restore extended attributes (nor the ACLs and capabilities kept in them)
    #[arg(long)]
    no_xattrs: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat restore`.
pub fn run(s: &Session, a: &RestoreArgs) -> Result<i32> {
    match &a.kind {
        Some(RestoreKind::Postgres(pg)) => return postgres::restore(s, pg),
        Some(RestoreKind::Sqlite(sq)) => return sqlite::restore(s, sq),
        None => {}
    }
    let f = &a.files;
    let (Some(snapshot), Some(target)) = (&f.snapshot, &f.target) else {
        bail!("give the snapshot and the target: lifeboat restore SNAPSHOT --target DIR");
    };
    let repo = s.open()?;
    let display = s
        .show_progress()
        .then(|| ProgressDisplay::bytes("restoring", 0, s.ctx.restored_bytes.clone()));
    let report = restore::files(
        &s.ctx,
        &repo,
        &RestoreRequest {
            snapshot: snapshot.clone(),
            target: target.clone(),
            includes: f.includes.clone(),
            overwrite: f.overwrite,
            no_sparse: f.no_sparse && !f.sparse,
            no_xattrs: f.no_xattrs,
        },
    )?;
    drop(display);
    if f.json {
        output::json(&report);
    } else if !s.quiet {
        let sum = &report.summary;
        println!(
            "restored snapshot {} to {}: {} files, {} dirs, {} symlinks, {} in {:.2}s (all blobs verified)",
            &report.snapshot_id[..8],
            target.display(),
            sum.files,
            sum.dirs,
            sum.symlinks,
            human_bytes(sum.bytes),
            sum.duration_seconds
        );
    }
    Ok(0)
}
