//! `lifeboat rewrite`.

use super::FilterArgs;
use crate::output;
use crate::session::Session;
use anyhow::Result;
use clap::Args;
use lifeboat_ops::rewrite::RewriteRequest;

/// `lifeboat rewrite`.
#[derive(Args, Debug)]
pub struct RewriteArgs {
    /// Snapshots (ids, unique prefixes or `latest`); none: every file snapshot --tag/--host select
    snapshots: Vec<String>,
    /// Remove paths matching this glob (a pattern without '/' matches names) (repeatable)
    #[arg(long = "exclude", required = true)]
    excludes: Vec<String>,
    /// Remove each original snapshot once its copy is stored (then `prune` frees the data)
    #[arg(long)]
    forget_original: bool,
    /// Only show what would be removed
    #[arg(short = 'n', long)]
    dry_run: bool,
    #[command(flatten)]
    filter: FilterArgs,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat rewrite`: each snapshot holding matching files is replaced by a copy without
/// them (a new id; the original stays unless --forget-original).
pub fn run(s: &Session, a: &RewriteArgs) -> Result<i32> {
    let repo = s.open()?;
    let report = lifeboat_ops::rewrite::rewrite(
        &s.ctx,
        &repo,
        &RewriteRequest {
            snapshots: a.snapshots.clone(),
            filter: a.filter.filter(),
            excludes: a.excludes.clone(),
            forget_original: a.forget_original,
            dry_run: a.dry_run,
        },
    )?;
    if a.json {
        output::json(&report);
        return Ok(0);
    }
    if s.quiet {
        return Ok(0);
    }
    let mut touched = 0;
    for r in &report.snapshots {
        if r.removed.paths.is_empty() {
            continue;
        }
        touched += 1;
        let what = format!(
            "{} files, {} dirs, {}",
            r.removed.files,
            r.removed.dirs,
            output::human_bytes(r.removed.bytes)
        );
        match &r.new {
            Some(new) => println!(
                "snapshot {} rewritten as {}: removed {what}{}",
                &r.original[..8],
                &new[..8],
                if r.original_removed {
                    "; original removed"
                } else {
                    ""
                }
            ),
            None => println!("snapshot {}: would remove {what}", &r.original[..8]),
        }
        for p in &r.removed.paths {
            println!("  - {p}");
        }
    }
    println!(
        "{touched} of {} snapshots {}{}",
        report.snapshots.len(),
        if report.dry_run {
            "hold matching files (dry run: nothing was written)"
        } else {
            "rewritten"
        },
        if !report.dry_run && touched > 0 && a.forget_original {
            "; run `lifeboat prune` to free the removed data"
        } else {
            ""
        }
    );
    Ok(0)
}
