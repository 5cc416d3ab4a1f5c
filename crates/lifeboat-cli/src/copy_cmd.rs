//! `lifeboat copy --to REPO2 [SNAPSHOT...]`: replicate snapshots into another repository.

use super::{journal_cmd, output, trim_newline, Cli};
use anyhow::{Context, Result};
use clap::Args;
use lifeboat_core::backup::Progress;
use lifeboat_core::{Error, Repository};
use lifeboat_postgres::physical::PhysicalMeta;
use lifeboat_postgres::wal::WalArchive;
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
    /// Do not copy the WAL archive of the clusters whose physical base backups are copied
    /// (by default it is copied, so the destination can restore to any point in time)
    #[arg(long)]
    pub no_wal: bool,
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
    // The WAL of every cluster with a physical base backup among the copied snapshots: a base
    // backup alone restores only to its end, the archive makes the copy PITR-capable.
    let mut wal = Vec::new();
    if !a.no_wal {
        let clusters: std::collections::BTreeSet<String> = snapshots
            .iter()
            .filter_map(|s| PhysicalMeta::from_snapshot(s).map(|m| m.cluster))
            .collect();
        let (from, to) = (WalArchive::from_repo(&src), WalArchive::from_repo(&dst));
        for c in clusters {
            wal.push(from.copy_to(&to, &c).with_context(|| {
                format!("copying the WAL archive of cluster '{c}' (the snapshots were copied; rerun copy to retry the WAL)")
            })?);
        }
    }
    let skipped = report.snapshots.len() - report.copied();
    let wal_copied: u64 = wal.iter().map(|w| w.copied).sum();
    journal_cmd::note(format!(
        "{} copied, {skipped} already there{}",
        report.copied(),
        if wal.is_empty() {
            String::new()
        } else {
            format!("; {wal_copied} WAL files copied")
        }
    ));
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("wal".into(), serde_json::to_value(&wal)?);
        }
        output::json(&v);
    } else if !cli.quiet {
        for w in &wal {
            println!(
                "WAL of cluster '{}' (system {}): {} files copied ({}), {} already there",
                w.cluster,
                w.system_identifier,
                w.copied,
                output::human_bytes(w.bytes),
                w.present
            );
        }
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
