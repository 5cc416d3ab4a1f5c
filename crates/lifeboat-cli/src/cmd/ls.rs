//! `lifeboat ls`.

use crate::{output, session::Session};
use anyhow::Result;
use clap::Args;
use std::io::Write;

/// `lifeboat ls`.
#[derive(Args, Debug)]
pub struct LsArgs {
    /// Snapshot id, unique prefix or `latest`
    snapshot: String,
    /// Only list below this path
    path: Option<String>,
    /// Print JSON lines
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat ls`.
pub fn run(s: &Session, a: &LsArgs) -> Result<i32> {
    let repo = s.open()?;
    let snap = lifeboat_ops::list::snapshot(&s.ctx, &repo, &a.snapshot)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !a.json {
        writeln!(
            out,
            "snapshot {} of {} at {}:",
            snap.short_id(),
            output::snapshot_what(&snap.snapshot),
            snap.snapshot.time
        )?;
    }
    lifeboat_ops::list::files(&s.ctx, &repo, &snap, a.path.as_deref(), &mut |p, node| {
        output::ls_line(&mut out, p, node, a.json)
    })?;
    out.flush()?;
    Ok(0)
}
