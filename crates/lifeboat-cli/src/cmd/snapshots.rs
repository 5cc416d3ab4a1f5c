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
    // Drill results mark the snapshots; a host whose key cannot read reports lists none.
    let drills = lifeboat_ops::drill::last_by_snapshot(&s.ctx, &repo).unwrap_or_default();
    if a.json {
        let list: Vec<serde_json::Value> = snaps
            .iter()
            .map(|e| {
                let mut v = output::snapshot_json(e);
                if let Some(d) = drills.get(&e.id) {
                    v["drill"] = serde_json::to_value(d).expect("serializes");
                }
                v
            })
            .collect();
        output::json(&list);
    } else {
        output::snapshot_table(&snaps, &drills);
    }
    Ok(0)
}
