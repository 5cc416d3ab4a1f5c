//! Walking a snapshot's trees: listing (`ls`) and finding one path.

use crate::error::{Error, Result};
use crate::format::blob::BlobId;
use crate::format::index::Index;
use crate::format::snapshot::SnapshotEntry;
use crate::format::tree::{Node, NodeKind};
use crate::repo::Repository;
use std::path::Path;

/// Visits every node under `tree`, depth first, with its path relative to the snapshot root.
/// The callback returns `false` to skip a directory's contents.
pub fn walk(
    repo: &Repository,
    index: &Index,
    tree: &BlobId,
    prefix: &Path,
    f: &mut dyn FnMut(&Path, &Node) -> Result<bool>,
) -> Result<()> {
    let t = repo.read_tree(index, tree)?;
    for node in &t.nodes {
        let path = prefix.join(node.os_name());
        let descend = f(&path, node)?;
        if descend && node.kind() == NodeKind::Dir {
            if let Some(sub) = &node.subtree {
                walk(repo, index, sub, &path, f)?;
            }
        }
    }
    Ok(())
}

/// Finds the node at `path` (absolute, as in the snapshot) under the root tree.
pub fn find_node(
    repo: &Repository,
    index: &Index,
    snapshot: &SnapshotEntry,
    path: &str,
) -> Result<Node> {
    let mut tree = repo.read_tree(index, &snapshot.snapshot.tree)?;
    let not_found = || Error::PathNotInSnapshot {
        path: path.to_string(),
        snapshot: snapshot.short_id().to_string(),
    };
    let comps: Vec<_> = Path::new(path)
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    if comps.is_empty() {
        return Err(not_found());
    }
    for (i, c) in comps.iter().enumerate() {
        let node = tree.find(c.as_os_str()).ok_or_else(not_found)?.clone();
        if i + 1 == comps.len() {
            return Ok(node);
        }
        let sub = node.subtree.ok_or_else(not_found)?;
        tree = repo.read_tree(index, &sub)?;
    }
    Err(not_found())
}
