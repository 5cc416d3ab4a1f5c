//! `lifeboat copy --to REPO2 [SNAPSHOT...]`: replicate snapshots into another repository.

use super::{journal_cmd, output, trim_newline, Cli};
use anyhow::{Context, Result};
use clap::Args;
use lifeboat_core::backup::Progress;
use lifeboat_core::{Error, Repository};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// `lifeboat copy`.
#[derive(Args, Debug)]
pub struct CopyArgs {
    /// Destination repository (same forms as -r/--repo)
    #[arg(long, env = "LIFEBOAT_TO_REPOSITORY")]
    pub to: String,
    /// Read the destination's password from this file (else LIFEBOAT_TO_PASSWORD, else the
    /// source's password)
    #[arg(long, env = "LIFEBOAT_TO_PASSWORD_FILE")]
    pub to_password_file: Option<PathBuf>,
    /// Snapshots to copy (id, unique prefix or `latest`); default: all
    pub snapshots: Vec<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

fn destination_password(cli: &Cli, a: &CopyArgs) -> Result<Vec<u8>> {
    if let Ok(p) = std::env::var("LIFEBOAT_TO_PASSWORD") {
        return Ok(p.into_bytes());
    }
    if let Some(f) = &a.to_password_file {
        let s = std::fs::read(f)
            .with_context(|| format!("reading destination password file {}", f.display()))?;
        return Ok(trim_newline(s));
    }
    super::read_password(cli)
}

/// Runs `lifeboat copy`.
pub fn run(cli: &Cli, a: &CopyArgs) -> Result<i32> {
    let src = super::open_repo(cli)?;
    let storage = lifeboat_storage::choose::open(&a.to).map_err(Error::from)?;
    let dst = Repository::open(storage, &destination_password(cli, a)?)
        .with_context(|| format!("opening the destination repository {}", a.to))?;
    let pos = journal_cmd::remember_with(
        &dst,
        BTreeMap::from([
            ("role".to_string(), "destination".to_string()),
            ("from".to_string(), src.storage().location()),
        ]),
    );
    let snapshots = if a.snapshots.is_empty() {
        src.snapshots()?
    } else {
        a.snapshots
            .iter()
            .map(|s| src.find_snapshot(s))
            .collect::<lifeboat_core::Result<Vec<_>>>()?
    };
    let progress = Arc::new(Progress::default());
    let report = lifeboat_core::copy::copy(&src, &dst, &snapshots, progress)?;
    for s in report.snapshots.iter().filter(|s| !s.skipped) {
        journal_cmd::affected(&s.source);
        journal_cmd::affected_in(pos, &s.destination);
    }
    let skipped = report.snapshots.len() - report.copied();
    journal_cmd::note(format!(
        "{} copied, {skipped} already there",
        report.copied()
    ));
    if a.json {
        output::json(&report);
    } else if !cli.quiet {
        for s in &report.snapshots {
            println!(
                "{} snapshot {} -> {}",
                if s.skipped {
                    "already there:"
                } else {
                    "copied:"
                },
                &s.source[..8],
                &s.destination[..8]
            );
        }
        println!(
            "copied {} snapshots to {} ({skipped} already there); added {} blobs, {} stored",
            report.copied(),
            dst.storage().location(),
            report.blobs_added,
            output::human_bytes(report.bytes_added)
        );
    }
    Ok(0)
}
