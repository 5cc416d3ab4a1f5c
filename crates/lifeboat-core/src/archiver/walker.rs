//! The tree walker: reads a directory tree into trees, with change detection against the
//! parent snapshot's trees.

use super::saver::BlobSaver;
use super::sparse;
use super::{BackupOptions, Progress};
use crate::error::{Error, Result};
use crate::format::blob::BlobType;
use crate::format::index::Index;
use crate::format::snapshot::Summary;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::patterns::PathPatterns;
use crate::repo::Repository;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Reads directories into trees, saving what changed through a [`BlobSaver`].
pub(super) struct Walker<'a, 'b> {
    pub(super) repo: &'a Repository,
    pub(super) index: &'a Index,
    pub(super) saver: &'a BlobSaver<'b>,
    pub(super) excludes: PathPatterns,
    pub(super) opts: &'a BackupOptions,
    pub(super) summary: Summary,
    pub(super) skipped: Vec<(PathBuf, String)>,
    pub(super) progress: Arc<Progress>,
    /// Entries (full paths) the source leaves out, besides `excludes`.
    pub(super) filter: Option<&'a (dyn Fn(&Path) -> bool + Sync)>,
    /// Strict sources: a vanished entry is left out silently, any other read error fails
    /// the backup (see [`DirSource`](super::DirSource)).
    pub(super) strict: bool,
    /// When set, a file's content is taken from the parent only if the parent recorded its
    /// ctime and mtime before this instant (ns): see
    /// [`DirSource::parent`](super::DirSource::parent).
    pub(super) reuse_before_ns: Option<i64>,
    /// Symbolic links (full paths) backed up as what they point to
    /// ([`DirSource::follow`](super::DirSource::follow)).
    pub(super) follow: Option<&'a (dyn Fn(&Path) -> bool + Sync)>,
    /// Directories directly below this one keep their tree in `kept`, so files can be added
    /// to them after the walk ([`DirAdditions::files`](super::DirAdditions::files)).
    pub(super) keep_below: Option<PathBuf>,
    pub(super) kept: std::collections::HashMap<PathBuf, Tree>,
    /// Content of the hard-linked files already read, by `(device, inode)`: the other links
    /// of the group are not read again.
    pub(super) linked:
        std::collections::HashMap<(u64, u64), (Vec<crate::format::blob::BlobId>, u64)>,
}

/// A node with `name` and the metadata every kind records.
pub(super) fn node_from_meta(name: &std::ffi::OsStr, meta: &std::fs::Metadata) -> Node {
    let mut node = Node {
        mode: meta.mode() & 0o7777,
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        uid: meta.uid(),
        gid: meta.gid(),
        inode: meta.ino(),
        device: meta.dev(),
        ..Default::default()
    };
    node.set_name(name);
    node
}

impl<'a, 'b> Walker<'a, 'b> {
    /// A walker for tree backups (skips unreadable entries, keeps symbolic links).
    pub(super) fn new(
        repo: &'a Repository,
        index: &'a Index,
        saver: &'a BlobSaver<'b>,
        opts: &'a BackupOptions,
        progress: Arc<Progress>,
    ) -> Result<Self> {
        Ok(Walker {
            repo,
            index,
            saver,
            excludes: PathPatterns::new(&opts.excludes, "exclude pattern")?,
            opts,
            summary: Summary::default(),
            skipped: Vec::new(),
            progress,
            filter: None,
            strict: false,
            reuse_before_ns: None,
            follow: None,
            keep_below: None,
            kept: Default::default(),
            linked: Default::default(),
        })
    }
}

impl Walker<'_, '_> {
    fn skip(&mut self, path: &Path, why: String) {
        tracing::warn!("skipping {}: {why}", path.display());
        self.summary.files_skipped += 1;
        self.skipped.push((path.to_path_buf(), why));
    }

    /// An entry could not be read: skipped with a warning, or for strict sources left out if
    /// it vanished (deleted while the backup ran) and an error otherwise.
    fn unreadable(&mut self, path: &Path, e: std::io::Error) -> Result<()> {
        if !self.strict {
            self.skip(path, e.to_string());
            return Ok(());
        }
        if e.kind() == std::io::ErrorKind::NotFound {
            tracing::debug!("{} vanished during the backup", path.display());
            return Ok(());
        }
        Err(Error::io("reading backup source", path, e))
    }

    /// Saves one filesystem entry; `None` when it was skipped.
    pub(super) fn save_entry(
        &mut self,
        path: &Path,
        name: &std::ffi::OsStr,
        parent: Option<&Node>,
        root_dev: u64,
    ) -> Result<Option<Node>> {
        self.saver.check_cancelled()?;
        let mut meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.unreadable(path, e)?;
                return Ok(None);
            }
        };
        let followed = meta.file_type().is_symlink() && self.follow.is_some_and(|f| f(path));
        if followed {
            meta = match std::fs::metadata(path) {
                Ok(m) => m,
                Err(e) => {
                    self.unreadable(path, e)?;
                    return Ok(None);
                }
            };
        }
        let mut node = node_from_meta(name, &meta);
        let ft = meta.file_type();
        if ft.is_symlink() {
            node.kind = Some(NodeKind::Symlink);
            match std::fs::read_link(path) {
                Ok(t) => node.set_link_target(t.as_os_str()),
                Err(e) => {
                    self.unreadable(path, e)?;
                    return Ok(None);
                }
            }
        } else if ft.is_dir() {
            node.kind = Some(NodeKind::Dir);
            self.summary.dirs += 1;
            let parent_tree =
                match parent.and_then(|p| p.subtree.filter(|_| p.kind() == NodeKind::Dir)) {
                    Some(id) => self.repo.read_tree(self.index, &id).ok(),
                    None => None,
                };
            let crosses = self.opts.one_file_system && meta.dev() != root_dev;
            let tree = if crosses {
                Tree::default()
            } else {
                match self.save_dir(path, parent_tree.as_ref(), root_dev)? {
                    Some(t) => t,
                    None => return Ok(None),
                }
            };
            node.subtree = Some(self.saver.save(BlobType::Tree, tree.to_bytes())?);
            if self.keep_below.is_some() && path.parent() == self.keep_below.as_deref() {
                self.kept.insert(path.to_path_buf(), tree);
            }
        } else if ft.is_file() {
            node.kind = Some(NodeKind::File);
            node.size = meta.len();
            if meta.nlink() > 1 {
                node.links = meta.nlink();
            }
            self.summary.total_bytes += meta.len();
            self.progress.files.fetch_add(1, Ordering::Relaxed);
            let unchanged = !self.opts.force
                && parent.is_some_and(|p| {
                    p.kind() == NodeKind::File
                        && p.size == node.size
                        && p.mtime_ns == node.mtime_ns
                        && p.ctime_ns == node.ctime_ns
                        && p.inode == node.inode
                        && self
                            .reuse_before_ns
                            .is_none_or(|t| p.ctime_ns < t && p.mtime_ns < t)
                        && p.content.iter().all(|id| self.saver.has(id))
                });
            let group = node.link_group();
            let linked = group.and_then(|g| self.linked.get(&g)).cloned();
            if unchanged {
                node.content = parent.expect("checked").content.clone();
                self.summary.files_unchanged += 1;
                self.progress.bytes.fetch_add(node.size, Ordering::Relaxed);
            } else if let Some((content, size)) = linked {
                // Another link of a file read a moment ago: the same inode, the same bytes.
                node.content = content;
                node.size = size;
                self.summary.files_unchanged += 1;
                self.progress.bytes.fetch_add(node.size, Ordering::Relaxed);
            } else {
                let mut file = match std::fs::File::open(path) {
                    Ok(f) => f,
                    Err(e) => {
                        self.unreadable(path, e)?;
                        return Ok(None);
                    }
                };
                let params = &self.repo.config().chunker;
                let extents = if sparse::looks_sparse(&meta) {
                    sparse::map(&file, meta.len())
                } else {
                    None
                };
                let saved = match extents {
                    Some(extents) => sparse::save(self.saver, &mut file, &extents, params),
                    None => self
                        .saver
                        .save_stream(file, params, Some(meta.len()))
                        .map(|(content, read)| (content, read, read)),
                };
                match saved {
                    Ok((content, size, read)) => {
                        node.content = content;
                        node.size = size;
                        self.summary.bytes_read += read;
                        if size > read {
                            self.summary.sparse_bytes += size - read;
                            self.progress
                                .bytes
                                .fetch_add(size - read, Ordering::Relaxed);
                        }
                    }
                    Err(e) => {
                        self.saver.check_failed()?;
                        if self.strict {
                            return Err(Error::io("reading backup source", path, e));
                        }
                        self.skip(path, e.to_string());
                        return Ok(None);
                    }
                }
                if parent.is_some_and(|p| p.kind() == NodeKind::File) {
                    self.summary.files_changed += 1;
                } else {
                    self.summary.files_new += 1;
                }
            }
            if let Some(g) = group {
                self.linked
                    .entry(g)
                    .or_insert_with(|| (node.content.clone(), node.size));
            }
        } else {
            // FIFOs, sockets and devices are stored as nodes and never opened (a FIFO would
            // block the backup, a device would be read to its end).
            use std::os::unix::fs::FileTypeExt;
            node.kind = Some(if ft.is_fifo() {
                NodeKind::Fifo
            } else if ft.is_socket() {
                NodeKind::Socket
            } else if ft.is_char_device() {
                NodeKind::CharDevice
            } else if ft.is_block_device() {
                NodeKind::BlockDevice
            } else {
                self.skip(path, "unknown kind of file".into());
                return Ok(None);
            });
            if ft.is_char_device() || ft.is_block_device() {
                node.rdev = meta.rdev();
            }
        }
        if !self.opts.no_xattrs {
            self.read_xattrs(path, followed, &mut node)?;
        }
        Ok(Some(node))
    }

    /// Records the extended attributes of the entry at `path` (of what it points to when a
    /// followed symbolic link). One that cannot be read leaves the node without attributes
    /// and is reported like an unreadable file, so the backup does not claim completeness.
    fn read_xattrs(&mut self, path: &Path, followed: bool, node: &mut Node) -> Result<()> {
        let read = if followed {
            std::fs::canonicalize(path).and_then(|p| super::xattrs::read(&p))
        } else {
            super::xattrs::read(path)
        };
        match read {
            Ok(x) => node.xattrs = x,
            Err(e) if self.strict && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if self.strict => {
                return Err(Error::io("reading extended attributes of", path, e));
            }
            Err(e) => {
                let why = format!("reading extended attributes: {e}");
                tracing::warn!("{}: {why}", path.display());
                self.skipped.push((path.to_path_buf(), why));
            }
        }
        Ok(())
    }

    /// Reads a directory into a tree; `None` when it cannot be listed.
    pub(super) fn save_dir(
        &mut self,
        path: &Path,
        parent: Option<&Tree>,
        root_dev: u64,
    ) -> Result<Option<Tree>> {
        let entries = match std::fs::read_dir(path) {
            Ok(rd) => rd,
            Err(e) => {
                self.unreadable(path, e)?;
                return Ok(None);
            }
        };
        let mut names: Vec<OsString> = Vec::new();
        for e in entries {
            match e {
                Ok(e) => names.push(e.file_name()),
                Err(e) => self.unreadable(path, e)?,
            }
        }
        names.sort_by(|a, b| {
            use std::os::unix::ffi::OsStrExt;
            a.as_bytes().cmp(b.as_bytes())
        });
        let mut tree = Tree::default();
        for name in names {
            let child = path.join(&name);
            if self.excludes.matches(&child) || self.filter.is_some_and(|f| f(&child)) {
                continue;
            }
            let pnode = parent.and_then(|t| t.find(&name));
            if let Some(node) = self.save_entry(&child, &name, pnode, root_dev)? {
                tree.nodes.push(node);
            }
        }
        Ok(Some(tree))
    }
}
