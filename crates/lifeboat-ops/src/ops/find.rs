//! `find`: which snapshots hold a file.

use crate::filter::SnapshotFilter;
use crate::modes::{self, Operation};
use crate::{Context, Result};
use lifeboat_core::inspect::find::{Finder, Patterns};
use lifeboat_core::snapshot::SnapshotEntry;
use lifeboat_core::tree::Node;
use lifeboat_core::Repository;
use std::path::Path;

/// Looks for `patterns` (a pattern without `/` matches names, one with `/` whole paths) in
/// the snapshots named in `snapshots` (ids, prefixes or `latest`), or in every snapshot
/// `filter` selects when none is named, oldest first. Calls `found` for every match.
pub fn find(
    _ctx: &Context,
    repo: &Repository,
    patterns: &[String],
    snapshots: &[String],
    filter: &SnapshotFilter,
    found: &mut dyn FnMut(&SnapshotEntry, &Path, &Node) -> std::io::Result<()>,
) -> Result<()> {
    modes::require(repo, Operation::List)?;
    let patterns = Patterns::new(patterns, "pattern")?;
    let chosen = if snapshots.is_empty() {
        filter.apply(repo.snapshots()?)
    } else {
        snapshots
            .iter()
            .map(|s| repo.find_snapshot(s))
            .collect::<lifeboat_core::Result<Vec<_>>>()?
    };
    let index = repo.load_index()?;
    let mut finder = Finder::new(repo, &index, patterns);
    for snap in &chosen {
        finder.find(&snap.snapshot.tree, &mut |p, n| {
            found(snap, p, n).map_err(|e| lifeboat_core::Error::io("writing", "stdout", e))
        })?;
    }
    Ok(())
}
