//! `diff`: what changed between two snapshots.

use crate::modes::{self, Operation};
use crate::{Context, Result};
use lifeboat_core::inspect::diff::{Change, DiffSummary};
use lifeboat_core::snapshot::SnapshotEntry;
use lifeboat_core::Repository;

/// Compares snapshot `a` with snapshot `b` (ids, unique prefixes or `latest`): calls `emit`
/// for every changed path in path order, returns both snapshots and the totals.
pub fn diff(
    _ctx: &Context,
    repo: &Repository,
    a: &str,
    b: &str,
    emit: &mut dyn FnMut(&Change) -> std::io::Result<()>,
) -> Result<(SnapshotEntry, SnapshotEntry, DiffSummary)> {
    modes::require(repo, Operation::List)?;
    let (sa, sb) = (repo.find_snapshot(a)?, repo.find_snapshot(b)?);
    let index = repo.load_index()?;
    let summary = lifeboat_core::inspect::diff::diff(
        repo,
        &index,
        &sa.snapshot.tree,
        &sb.snapshot.tree,
        &mut |c| emit(c).map_err(|e| lifeboat_core::Error::io("writing", "stdout", e)),
    )?;
    Ok((sa, sb, summary))
}
