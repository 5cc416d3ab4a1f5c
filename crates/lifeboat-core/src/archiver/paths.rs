//! Backups of files and directories given by path: the snapshot tree mirrors absolute paths.

use super::commit::{commit, new_snapshot};
use super::saver::BlobSaver;
use super::walker::{node_from_meta, Walker};
use super::{BackupOptions, BackupOutcome, Progress};
use crate::error::{Error, Result};
use crate::format::blob::BlobType;
use crate::format::tree::{NodeKind, Tree};
use crate::governance::lock;
use crate::repo::Repository;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A trie of the backed-up paths' components, so the snapshot tree mirrors absolute paths.
#[derive(Default)]
struct PathTrie {
    children: BTreeMap<OsString, PathTrie>,
    leaf: bool,
}

impl Walker<'_, '_> {
    fn save_trie(&mut self, dir: &Path, trie: &PathTrie, parent: Option<&Tree>) -> Result<Tree> {
        let mut tree = Tree::default();
        for (name, sub) in &trie.children {
            let path = dir.join(name);
            let pnode = parent.and_then(|t| t.find(name));
            if sub.leaf {
                let meta =
                    std::fs::symlink_metadata(&path).map_err(|e| Error::io("reading", &path, e))?;
                if let Some(node) = self.save_entry(&path, name, pnode, meta.dev())? {
                    tree.nodes.push(node);
                }
            } else {
                let meta =
                    std::fs::symlink_metadata(&path).map_err(|e| Error::io("reading", &path, e))?;
                let mut node = node_from_meta(name, &meta);
                node.kind = Some(NodeKind::Dir);
                let ptree = match pnode.and_then(|p| p.subtree) {
                    Some(id) => self.repo.read_tree(self.index, &id).ok(),
                    None => None,
                };
                let subtree = self.save_trie(&path, sub, ptree.as_ref())?;
                node.subtree = Some(self.saver.save(BlobType::Tree, subtree.to_bytes())?);
                tree.nodes.push(node);
            }
        }
        Ok(tree)
    }
}

/// Backs up files and directories. Unreadable entries are skipped and listed in the outcome.
pub fn backup_paths(
    repo: &Repository,
    paths: &[PathBuf],
    opts: &BackupOptions,
    progress: Arc<Progress>,
) -> Result<BackupOutcome> {
    let started = Instant::now();
    if paths.is_empty() {
        return Err(Error::Invalid("no paths to back up given".into()));
    }
    let mut abs = Vec::new();
    for p in paths {
        let a = std::path::absolute(p).map_err(|e| Error::io("resolving", p, e))?;
        std::fs::symlink_metadata(&a).map_err(|e| Error::io("reading backup source", &a, e))?;
        abs.push(normalize(&a));
    }
    abs.sort();
    abs.dedup();
    let mut trie = PathTrie::default();
    for a in &abs {
        let mut t = &mut trie;
        for c in a.components().skip(1) {
            if t.leaf {
                break; // an ancestor is already backed up whole
            }
            t = t.children.entry(c.as_os_str().to_os_string()).or_default();
        }
        t.leaf = true;
        t.children.clear();
    }
    let path_strings: Vec<String> = abs
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let host = opts.host.clone().unwrap_or_else(crate::host::hostname);

    repo.require_writable("backup")?;
    let _lock = lock::acquire(repo, false, "backup", lock::wait_time())?;
    let index = repo.load_index()?;
    // A write-only key cannot read snapshots: no parent, every file is read (and deduplicated).
    let parent = if opts.force || repo.is_write_only() {
        None
    } else if let Some(p) = &opts.parent {
        Some(repo.find_snapshot(p)?)
    } else {
        repo.snapshots()?.into_iter().rev().find(|s| {
            s.snapshot.source == "files"
                && s.snapshot.hostname == host
                && s.snapshot.paths == path_strings
        })
    };
    let parent_tree = match &parent {
        Some(p) => Some(repo.read_tree(&index, &p.snapshot.tree)?),
        None => None,
    };
    let saver = BlobSaver::new(repo, &index, progress.clone())?;
    let mut walker = Walker::new(repo, &index, &saver, opts, progress)?;
    let root = walker.save_trie(Path::new("/"), &trie, parent_tree.as_ref())?;
    let (summary, skipped) = (
        std::mem::take(&mut walker.summary),
        std::mem::take(&mut walker.skipped),
    );
    drop(walker);
    let tree = saver.save(BlobType::Tree, root.to_bytes())?;
    let mut snapshot = new_snapshot(opts, "files", tree);
    snapshot.paths = path_strings;
    snapshot.parent = parent.map(|p| p.id);
    let (snapshot_id, snapshot) = commit(repo, saver, snapshot, summary, started)?;
    Ok(BackupOutcome {
        snapshot_id,
        snapshot,
        skipped,
    })
}

/// Removes `.` and `..` components lexically.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
