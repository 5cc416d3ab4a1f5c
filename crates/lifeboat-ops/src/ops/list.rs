//! Listing: snapshots, the files of a snapshot, repository statistics.

use crate::filter::SnapshotFilter;
use crate::modes::{self, Operation};
use crate::{Context, Result};
use lifeboat_core::snapshot::SnapshotEntry;
use lifeboat_core::stats::Stats;
use lifeboat_core::tree::Node;
use lifeboat_core::Repository;
use std::path::{Path, PathBuf};

/// The snapshots `filter` selects, oldest first.
pub fn snapshots(
    _ctx: &Context,
    repo: &Repository,
    filter: &SnapshotFilter,
) -> Result<Vec<SnapshotEntry>> {
    modes::require(repo, Operation::List)?;
    Ok(filter.apply(repo.snapshots()?))
}

/// One snapshot by id, unique prefix or `latest`.
pub fn snapshot(_ctx: &Context, repo: &Repository, name: &str) -> Result<SnapshotEntry> {
    modes::require(repo, Operation::List)?;
    Ok(repo.find_snapshot(name)?)
}

/// Calls `visit` for every entry of `snapshot` at or below `path` (every entry without it),
/// in tree order; fails when `path` is not in the snapshot.
pub fn files(
    _ctx: &Context,
    repo: &Repository,
    snapshot: &SnapshotEntry,
    path: Option<&str>,
    visit: &mut dyn FnMut(&Path, &Node) -> std::io::Result<()>,
) -> Result<()> {
    modes::require(repo, Operation::List)?;
    let index = repo.load_index()?;
    let prefix = path.map(|p| PathBuf::from("/").join(p.trim_start_matches('/')));
    let mut found = prefix.is_none();
    lifeboat_core::restore::walk(
        repo,
        &index,
        &snapshot.snapshot.tree,
        Path::new("/"),
        &mut |p, node| {
            let inside = prefix.as_ref().is_none_or(|x| p.starts_with(x));
            let above = prefix.as_ref().is_some_and(|x| x.starts_with(p));
            if inside {
                found = true;
                visit(p, node).map_err(|e| lifeboat_core::Error::io("writing", "stdout", e))?;
            }
            Ok(inside || above)
        },
    )?;
    if !found {
        return Err(lifeboat_core::Error::PathNotInSnapshot {
            path: path.unwrap_or_default().to_string(),
            snapshot: snapshot.short_id().to_string(),
        }
        .into());
    }
    Ok(())
}

/// Repository statistics.
pub fn stats(_ctx: &Context, repo: &Repository) -> Result<Stats> {
    modes::require(repo, Operation::List)?;
    Ok(lifeboat_core::stats::stats(repo)?)
}

/// The stable JSON form of a snapshot (documented in README).
pub fn snapshot_json(e: &SnapshotEntry) -> serde_json::Value {
    let s = &e.snapshot;
    serde_json::json!({
        "id": e.id,
        "short_id": e.short_id(),
        "time": s.time,
        "hostname": s.hostname,
        "username": s.username,
        "source": s.source,
        "paths": s.paths,
        "stream": s.stream,
        "tags": s.tags,
        "parent": s.parent,
        "tree": s.tree.to_hex(),
        "summary": s.summary,
        "extra": s.extra,
        "dictionary": s.dictionary,
        "program_version": s.program_version,
        "original": s.original,
        "replaces": s.replaces,
    })
}
