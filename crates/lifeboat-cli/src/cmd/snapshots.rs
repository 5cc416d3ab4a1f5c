//! `lifeboat snapshots`.

use super::FilterArgs;
use crate::{output, session::Session};
use anyhow::Result;
use clap::Args;

/// `lifeboat snapshots`.
#[derive(Args, Debug)]
pub struct SnapshotsArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat snapshots`.
pub fn run(s: &Session, a: &SnapshotsArgs) -> Result<i32> {
    let repo = s.open()?;
    let snaps = lifeboat_ops::list::snapshots(&s.ctx, &repo, &a.filter.filter())?;
    if a.json {
        output::json(&snaps.iter().map(output::snapshot_json).collect::<Vec<_>>());
    } else {
        output::snapshot_table(&snaps);
    }
    Ok(0)
}
