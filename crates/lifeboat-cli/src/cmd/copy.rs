//! `lifeboat copy --to REPO2 [SNAPSHOT...]`: replicate snapshots into another repository.

use crate::{output, session::Session};
use anyhow::{Context, Result};
use clap::Args;
use lifeboat_config::PasswordSource;
use lifeboat_ops::copy::CopyRequest;
use std::path::PathBuf;

/// `lifeboat copy`.
#[derive(Args, Debug)]
pub struct CopyArgs {
    /// Destination repository (same forms as -r/--repo, including @NAME)
    #[arg(long, env = "LIFEBOAT_TO_REPOSITORY")]
    to: String,
    /// Read the destination's password from this file (else LIFEBOAT_TO_PASSWORD, else the
    /// destination's configured password, else the source's password)
    #[arg(long, env = "LIFEBOAT_TO_PASSWORD_FILE")]
    to_password_file: Option<PathBuf>,
    /// Snapshots to copy (id, unique prefix or `latest`); default: all
    snapshots: Vec<String>,
    /// Do not copy the WAL archive of the clusters whose physical base backups are copied
    /// (by default it is copied, so the destination can restore to any point in time)
    #[arg(long)]
    no_wal: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat copy`.
pub fn run(s: &Session, a: &CopyArgs) -> Result<i32> {
    let src_named = s.target()?;
    let src_password = s.password(&src_named, false)?;
    let src = lifeboat_ops::open::open(&src_named.location, &src_password)?;
    let dst_named = s.named(&a.to)?;
    let source = if std::env::var_os("LIFEBOAT_TO_PASSWORD").is_some() {
        Some(PasswordSource::Env("LIFEBOAT_TO_PASSWORD".into()))
    } else {
        a.to_password_file
            .clone()
            .map(PasswordSource::File)
            .or(dst_named.password.clone())
    };
    let dst_password = match source {
        Some(p) => p.read()?,
        None => src_password,
    };
    let dst = lifeboat_ops::open::open(&dst_named.location, &dst_password)
        .with_context(|| format!("opening the destination repository {}", a.to))?;
    let out = lifeboat_ops::copy::copy(
        &s.ctx,
        &src,
        &dst,
        &CopyRequest {
            snapshots: a.snapshots.clone(),
            wal: !a.no_wal,
        },
    )?;
    if a.json {
        output::json(&out);
    } else if !s.quiet {
        for w in &out.wal {
            println!(
                "WAL of cluster '{}' (system {}): {} files copied ({}), {} already there",
                w.cluster,
                w.system_identifier,
                w.copied,
                output::human_bytes(w.bytes),
                w.present
            );
        }
        let report = &out.report;
        for c in &report.snapshots {
            println!(
                "{} snapshot {} -> {}",
                if c.skipped {
                    "already there:"
                } else {
                    "copied:"
                },
                &c.source[..8],
                &c.destination[..8]
            );
        }
        println!(
            "copied {} snapshots to {} ({} already there); added {} blobs, {} stored",
            report.copied(),
            dst.storage().location(),
            report.snapshots.len() - report.copied(),
            report.blobs_added,
            output::human_bytes(report.bytes_added)
        );
    }
    Ok(0)
}
