//! `lifeboat prune`.

use crate::{output, session::Session};
use anyhow::Result;
use clap::Args;

/// `lifeboat prune`.
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Show what would be removed
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat prune`.
pub fn run(s: &Session, a: &PruneArgs) -> Result<i32> {
    let repo = s.open()?;
    let out = lifeboat_ops::prune::prune(&s.ctx, &repo, a.dry_run)?;
    if a.json {
        output::json(&out);
    } else {
        output::prune_report(&out);
    }
    Ok(0)
}
