//! `lifeboat tag`.

use super::FilterArgs;
use crate::output;
use crate::session::Session;
use anyhow::Result;
use clap::Args;
use lifeboat_ops::rewrite::TagRequest;

/// `lifeboat tag`.
#[derive(Args, Debug)]
pub struct TagArgs {
    /// Snapshots (ids, unique prefixes or `latest`); none: every snapshot --tag/--host select
    snapshots: Vec<String>,
    /// Add this tag (repeatable)
    #[arg(long = "add")]
    add: Vec<String>,
    /// Remove this tag (repeatable)
    #[arg(long = "remove")]
    remove: Vec<String>,
    /// Replace all tags by these (repeatable; `--set ''` alone removes every tag)
    #[arg(long = "set")]
    set: Vec<String>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat tag`: each changed snapshot is replaced by a retagged copy (a new id).
pub fn run(s: &Session, a: &TagArgs) -> Result<i32> {
    let repo = s.open()?;
    let set = (!a.set.is_empty()).then(|| {
        a.set
            .iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect::<Vec<_>>()
    });
    let report = lifeboat_ops::rewrite::tag(
        &s.ctx,
        &repo,
        &TagRequest {
            snapshots: a.snapshots.clone(),
            filter: a.filter.filter(),
            set,
            add: a.add.clone(),
            remove: a.remove.clone(),
        },
    )?;
    if a.json {
        output::json(&report);
    } else if !s.quiet {
        for c in &report.changed {
            println!("snapshot {} is now {}", &c.old[..8], &c.new[..8]);
        }
        println!(
            "{} snapshots changed, {} already had those tags",
            report.changed.len(),
            report.unchanged.len()
        );
    }
    Ok(0)
}
