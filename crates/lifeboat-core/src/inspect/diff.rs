//! `diff`: what changed between two snapshots, by walking their trees side by side.
//!
//! Subtrees with the same id are identical and are not read at all, so the cost of a diff
//! grows with what changed, not with the size of the snapshots.

use crate::error::Result;
use crate::format::blob::BlobId;
use crate::format::index::Index;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::repo::Repository;
use serde::Serialize;
use std::cmp::Ordering;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How a path differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Only in the second snapshot (`+`).
    Added,
    /// Only in the first snapshot (`-`).
    Removed,
    /// A file whose content differs (`M`).
    Modified,
    /// The same content, other metadata (`U`).
    Metadata,
    /// A different kind of node: a file became a directory, … (`T`).
    Type,
}

impl ChangeKind {
    /// restic's one-letter marker: `+`, `-`, `M`, `U`, `T`.
    pub fn marker(self) -> char {
        match self {
            ChangeKind::Added => '+',
            ChangeKind::Removed => '-',
            ChangeKind::Modified => 'M',
            ChangeKind::Metadata => 'U',
            ChangeKind::Type => 'T',
        }
    }
}

/// One changed path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Absolute path in the snapshot.
    pub path: PathBuf,
    /// How it changed.
    pub change: ChangeKind,
    /// `file`, `dir` or `symlink` (in the second snapshot when it is there).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// For `modified` and `metadata`: the fields that differ (`content`, `size`, `mode`,
    /// `mtime`, `uid`, `gid`, `link_target`, `rdev`, `xattrs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<&'static str>,
}

/// Totals of a diff.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DiffSummary {
    /// Files (and symlinks) only in the second snapshot.
    pub files_added: u64,
    /// Files (and symlinks) only in the first.
    pub files_removed: u64,
    /// Files whose content changed.
    pub files_modified: u64,
    /// Directories only in the second snapshot.
    pub dirs_added: u64,
    /// Directories only in the first.
    pub dirs_removed: u64,
    /// Paths whose metadata alone changed.
    pub metadata_changed: u64,
    /// Paths whose kind changed.
    pub type_changed: u64,
    /// Sum of the sizes of added files, and of the new sizes of modified ones.
    pub bytes_added: u64,
    /// Sum of the sizes of removed files, and of the old sizes of modified ones.
    pub bytes_removed: u64,
}

/// Kind name of a node, as `ls --json` prints it.
pub fn kind_name(n: &Node) -> &'static str {
    n.kind().name()
}

/// Compares the trees `a` and `b` (the root trees of two snapshots); calls `emit` for every
/// change in path order and returns the totals.
pub fn diff(
    repo: &Repository,
    index: &Index,
    a: &BlobId,
    b: &BlobId,
    emit: &mut dyn FnMut(&Change) -> Result<()>,
) -> Result<DiffSummary> {
    let mut d = Differ {
        repo,
        index,
        summary: DiffSummary::default(),
        emit,
    };
    d.trees(Some(a), Some(b), Path::new("/"))?;
    Ok(d.summary)
}

struct Differ<'a> {
    repo: &'a Repository,
    index: &'a Index,
    summary: DiffSummary,
    emit: &'a mut dyn FnMut(&Change) -> Result<()>,
}

impl Differ<'_> {
    fn read(&self, id: Option<&BlobId>) -> Result<Tree> {
        match id {
            Some(id) => self.repo.read_tree(self.index, id),
            None => Ok(Tree::default()),
        }
    }

    fn trees(&mut self, a: Option<&BlobId>, b: Option<&BlobId>, prefix: &Path) -> Result<()> {
        if a == b {
            return Ok(());
        }
        let (ta, tb) = (self.read(a)?, self.read(b)?);
        let (mut i, mut j) = (0, 0);
        while i < ta.nodes.len() || j < tb.nodes.len() {
            let order = match (ta.nodes.get(i), tb.nodes.get(j)) {
                (Some(x), Some(y)) => x.os_name().as_bytes().cmp(y.os_name().as_bytes()),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match order {
                Ordering::Less => {
                    let n = &ta.nodes[i];
                    self.one_side(n, &prefix.join(n.os_name()), ChangeKind::Removed)?;
                    i += 1;
                }
                Ordering::Greater => {
                    let n = &tb.nodes[j];
                    self.one_side(n, &prefix.join(n.os_name()), ChangeKind::Added)?;
                    j += 1;
                }
                Ordering::Equal => {
                    let (x, y) = (&ta.nodes[i], &tb.nodes[j]);
                    self.both(x, y, &prefix.join(y.os_name()))?;
                    i += 1;
                    j += 1;
                }
            }
        }
        Ok(())
    }

    /// A node (and everything under it) on one side only.
    fn one_side(&mut self, n: &Node, path: &Path, change: ChangeKind) -> Result<()> {
        let added = change == ChangeKind::Added;
        let s = &mut self.summary;
        match (n.kind(), added) {
            (NodeKind::Dir, true) => s.dirs_added += 1,
            (NodeKind::Dir, false) => s.dirs_removed += 1,
            (_, true) => {
                s.files_added += 1;
                s.bytes_added += n.size;
            }
            (_, false) => {
                s.files_removed += 1;
                s.bytes_removed += n.size;
            }
        }
        (self.emit)(&Change {
            path: path.to_path_buf(),
            change,
            kind: kind_name(n),
            fields: Vec::new(),
        })?;
        if n.kind() == NodeKind::Dir {
            let sub = n.subtree.as_ref();
            if added {
                self.trees(None, sub, path)?;
            } else {
                self.trees(sub, None, path)?;
            }
        }
        Ok(())
    }

    fn both(&mut self, x: &Node, y: &Node, path: &Path) -> Result<()> {
        if x.kind() != y.kind() {
            self.summary.type_changed += 1;
            (self.emit)(&Change {
                path: path.to_path_buf(),
                change: ChangeKind::Type,
                kind: kind_name(y),
                fields: Vec::new(),
            })?;
            // What was under the old directory is gone; what is under the new one is new.
            let (sa, sb) = (
                (x.kind() == NodeKind::Dir)
                    .then_some(x.subtree.as_ref())
                    .flatten(),
                (y.kind() == NodeKind::Dir)
                    .then_some(y.subtree.as_ref())
                    .flatten(),
            );
            if sa.is_some() || sb.is_some() {
                self.trees(sa, sb, path)?;
            }
            return Ok(());
        }
        let mut fields = Vec::new();
        let content = x.kind() == NodeKind::File && x.content != y.content;
        if content {
            fields.push("content");
        }
        if x.size != y.size && x.kind() != NodeKind::Dir {
            fields.push("size");
        }
        if x.mode != y.mode {
            fields.push("mode");
        }
        if x.mtime_ns != y.mtime_ns {
            fields.push("mtime");
        }
        if x.uid != y.uid {
            fields.push("uid");
        }
        if x.gid != y.gid {
            fields.push("gid");
        }
        if x.os_link_target() != y.os_link_target() {
            fields.push("link_target");
        }
        if x.rdev != y.rdev {
            fields.push("rdev");
        }
        if x.xattrs != y.xattrs {
            fields.push("xattrs");
        }
        let change =
            if content || (x.kind() == NodeKind::Symlink && fields.contains(&"link_target")) {
                self.summary.files_modified += 1;
                self.summary.bytes_added += y.size;
                self.summary.bytes_removed += x.size;
                Some(ChangeKind::Modified)
            } else if !fields.is_empty() {
                self.summary.metadata_changed += 1;
                Some(ChangeKind::Metadata)
            } else {
                None
            };
        if let Some(change) = change {
            (self.emit)(&Change {
                path: path.to_path_buf(),
                change,
                kind: kind_name(y),
                fields,
            })?;
        }
        if x.kind() == NodeKind::Dir {
            self.trees(x.subtree.as_ref(), y.subtree.as_ref(), path)?;
        }
        Ok(())
    }
}
