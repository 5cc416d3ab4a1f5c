//! Replacing a snapshot by a changed copy: new tags ([`retag`]) or files removed
//! ([`rewrite`]).
//!
//! Snapshots are content-addressed and never edited in place. The copy is a new snapshot object
//! that records the chain it stands in for (`original`, the first id, as restic does, and
//! `replaces`, every earlier id); the caller removes the old one afterwards (`tag` always,
//! `rewrite --forget-original` on request). Write order: the copy's new tree blobs go into new
//! packs, then the index naming them, then the copy — so a crash leaves either the old snapshot
//! alone or both, never a snapshot pointing at missing data. Unchanged subtrees are reused by id,
//! not re-encoded; data blobs are never rewritten, so the data of removed files becomes
//! unreferenced and `prune` frees it.

use crate::archiver::{BlobSaver, Progress, SaverTotals};
use crate::error::{Error, Result};
use crate::format::blob::{BlobId, BlobType};
use crate::format::index::Index;
use crate::format::snapshot::{Snapshot, SnapshotEntry};
use crate::format::tree::NodeKind;
use crate::patterns::PathPatterns;
use crate::repo::Repository;
use std::path::Path;
use std::sync::Arc;

/// How `tag` changes a snapshot's tags.
#[derive(Clone, Debug, Default)]
pub struct TagChange {
    /// Replace all tags by these (applied first).
    pub set: Option<Vec<String>>,
    /// Tags to add.
    pub add: Vec<String>,
    /// Tags to remove.
    pub remove: Vec<String>,
}

impl TagChange {
    /// The tags `old` has after the change (sorted, without duplicates).
    pub fn apply(&self, old: &[String]) -> Vec<String> {
        let mut tags: Vec<String> = self.set.clone().unwrap_or_else(|| old.to_vec());
        tags.extend(self.add.iter().cloned());
        tags.retain(|t| !self.remove.contains(t));
        tags.sort();
        tags.dedup();
        tags
    }
}

/// The snapshot `entry` stands in for, as a copy: records the chain it replaces.
fn successor(entry: &SnapshotEntry) -> Snapshot {
    let mut s = entry.snapshot.clone();
    s.original = Some(s.original.clone().unwrap_or_else(|| entry.id.clone()));
    s.replaces.push(entry.id.clone());
    s
}

/// Writes a copy of `entry` with its tags changed; `None` (and nothing written) when the tags
/// stay the same.
pub fn retag(
    repo: &Repository,
    entry: &SnapshotEntry,
    change: &TagChange,
) -> Result<Option<String>> {
    repo.require_writable("tag")?;
    let tags = change.apply(&entry.snapshot.tags);
    let mut old = entry.snapshot.tags.clone();
    old.sort();
    old.dedup();
    if tags == old {
        return Ok(None);
    }
    let mut s = successor(entry);
    s.tags = tags;
    Ok(Some(repo.save_snapshot(&s)?))
}

/// What [`rewrite`] removed from a snapshot.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Removed {
    /// Files, symlinks and special files removed (those inside removed directories included).
    pub files: u64,
    /// Directories removed.
    pub dirs: u64,
    /// Their bytes (file sizes).
    pub bytes: u64,
    /// The removed paths that matched a pattern (what is below them is not listed).
    pub paths: Vec<String>,
}

/// Writes a copy of `entry` without the entries `excludes` matches (full paths as the snapshot
/// records them, `/srv/app/customers/42`); returns the copy's id (`None` when nothing matched,
/// and for a dry run: nothing is written then) and what was (or would be) removed.
pub fn rewrite(
    repo: &Repository,
    entry: &SnapshotEntry,
    excludes: &PathPatterns,
    dry_run: bool,
) -> Result<(Option<String>, Removed)> {
    if entry.snapshot.source != "files" {
        return Err(Error::Invalid(format!(
            "snapshot {} is a {} backup: rewrite removes files from file backups only (forget the snapshot instead)",
            entry.short_id(),
            entry.snapshot.source
        )));
    }
    if !dry_run {
        repo.require_writable("rewrite")?;
    }
    let index = repo.load_index()?;
    let saver = BlobSaver::new(repo, &index, Arc::new(Progress::default()))?;
    let mut removed = Removed::default();
    let mut trimmer = Trimmer {
        repo,
        index: &index,
        saver: &saver,
        excludes,
        removed: &mut removed,
        dry_run,
    };
    let new_tree = trimmer.tree(&entry.snapshot.tree, Path::new("/"))?;
    // Nothing matched, or a dry run (which reports what would go): nothing is written.
    let Some(tree) = new_tree.filter(|_| !dry_run) else {
        drop(saver);
        return Ok((None, removed));
    };
    let SaverTotals { packs, .. } = saver.finish()?;
    if !packs.is_empty() {
        repo.write_index(packs, Vec::new())?;
    }
    let mut s = successor(entry);
    s.tree = tree;
    Ok((Some(repo.save_snapshot(&s)?), removed))
}

struct Trimmer<'a, 'b> {
    repo: &'a Repository,
    index: &'a Index,
    saver: &'a BlobSaver<'b>,
    excludes: &'a PathPatterns,
    removed: &'a mut Removed,
    dry_run: bool,
}

impl Trimmer<'_, '_> {
    /// The id of the tree `id` (at `path`) without the excluded entries; `None` when nothing in
    /// it changed (the caller keeps `id`).
    fn tree(&mut self, id: &BlobId, path: &Path) -> Result<Option<BlobId>> {
        let mut tree = self.repo.read_tree(self.index, id)?;
        let mut changed = false;
        let mut kept = Vec::with_capacity(tree.nodes.len());
        for mut node in std::mem::take(&mut tree.nodes) {
            let child = path.join(node.os_name());
            if self.excludes.matches(&child) {
                self.removed.paths.push(child.display().to_string());
                self.count(&node, &child)?;
                changed = true;
                continue;
            }
            if node.kind() == NodeKind::Dir {
                if let Some(sub) = node.subtree {
                    if let Some(new) = self.tree(&sub, &child)? {
                        node.subtree = Some(new);
                        changed = true;
                    }
                }
            }
            kept.push(node);
        }
        if !changed {
            return Ok(None);
        }
        tree.nodes = kept;
        if self.dry_run {
            // Any id will do: nothing is written.
            return Ok(Some(*id));
        }
        Ok(Some(self.saver.save(BlobType::Tree, tree.to_bytes())?))
    }

    /// Counts a removed node and everything below it.
    fn count(&mut self, node: &crate::format::tree::Node, path: &Path) -> Result<()> {
        if node.kind() != NodeKind::Dir {
            self.removed.files += 1;
            self.removed.bytes += node.size;
            return Ok(());
        }
        self.removed.dirs += 1;
        if let Some(sub) = node.subtree {
            for n in self.repo.read_tree(self.index, &sub)?.nodes {
                self.count(&n, &path.join(n.os_name()))?;
            }
        }
        Ok(())
    }
}
