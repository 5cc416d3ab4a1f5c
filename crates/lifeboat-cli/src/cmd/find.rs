//! `lifeboat find`.

use crate::session::Session;
use anyhow::Result;
use clap::Args;
use lifeboat_ops::filter::SnapshotFilter;
use std::io::Write;

/// `lifeboat find`.
#[derive(Args, Debug)]
pub struct FindArgs {
    /// Glob patterns: without `/` they match names (`*.conf`), with `/` whole paths
    /// (`/etc/**/*.conf`)
    #[arg(required = true)]
    patterns: Vec<String>,
    /// Only look in this snapshot (id, unique prefix or `latest`; repeatable; default: all)
    #[arg(long = "snapshot", short = 's', value_name = "ID")]
    snapshots: Vec<String>,
    /// Only snapshots of this host
    #[arg(long)]
    host: Option<String>,
    /// Only snapshots with this tag (repeatable)
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Print JSON: one object per snapshot with matches
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat find`; exits 0 when something matched, 1 when nothing did (as grep).
pub fn run(s: &Session, a: &FindArgs) -> Result<i32> {
    let repo = s.open()?;
    let filter = SnapshotFilter {
        host: a.host.clone(),
        tags: a.tags.clone(),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut groups: Vec<(
        lifeboat_core::snapshot::SnapshotEntry,
        Vec<serde_json::Value>,
    )> = Vec::new();
    let mut count = 0u64;
    let json = a.json;
    lifeboat_ops::find::find(
        &s.ctx,
        &repo,
        &a.patterns,
        &a.snapshots,
        &filter,
        &mut |snap, path, node| {
            count += 1;
            let new_group = groups.last().is_none_or(|(g, _)| g.id != snap.id);
            if new_group {
                groups.push((snap.clone(), Vec::new()));
                if !json {
                    writeln!(
                        out,
                        "found in snapshot {} from {}:",
                        snap.short_id(),
                        snap.snapshot.time
                    )?;
                }
            }
            let kind = lifeboat_core::inspect::diff::kind_name(node);
            if json {
                groups
                    .last_mut()
                    .expect("a group")
                    .1
                    .push(crate::output::node_json(path, node));
                Ok(())
            } else {
                let size = if kind == "file" {
                    crate::output::human_bytes(node.size)
                } else {
                    kind.to_string()
                };
                writeln!(out, "  {}  ({size})", path.to_string_lossy())
            }
        },
    )?;
    if json {
        let v: Vec<serde_json::Value> = groups
            .iter()
            .map(|(snap, matches)| {
                serde_json::json!({
                    "snapshot": snap.id,
                    "short_id": snap.short_id(),
                    "time": snap.snapshot.time,
                    "hostname": snap.snapshot.hostname,
                    "matches": matches,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else if count == 0 {
        writeln!(out, "no match")?;
    }
    out.flush()?;
    Ok(if count == 0 { 1 } else { 0 })
}
