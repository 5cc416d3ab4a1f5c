//! `lifeboat dump`.

use crate::session::Session;
use anyhow::Result;
use clap::Args;

/// `lifeboat dump`.
#[derive(Args, Debug)]
pub struct DumpArgs {
    /// Snapshot id, unique prefix or `latest`
    snapshot: String,
    /// File inside the snapshot (optional for stream snapshots)
    path: Option<String>,
}

/// Runs `lifeboat dump`.
pub fn run(s: &Session, a: &DumpArgs) -> Result<i32> {
    let repo = s.open()?;
    let mut out = std::io::stdout().lock();
    lifeboat_ops::dump::dump(&s.ctx, &repo, &a.snapshot, a.path.as_deref(), &mut out)?;
    Ok(0)
}
