//! Backups of a directory as the snapshot's root, for sources that own its layout (a
//! PostgreSQL data directory).

use super::commit::{commit, new_snapshot};
use super::saver::BlobSaver;
use super::walker::Walker;
use super::{BackupOptions, BackupOutcome, Progress};
use crate::error::{Error, Result};
use crate::format::blob::BlobType;
use crate::format::snapshot::SnapshotEntry;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::governance::lock;
use crate::repo::Repository;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// A directory backed up as a snapshot's root by a source that owns its layout (a PostgreSQL
/// data directory): restoring the snapshot into a directory recreates the directory's
/// content there. Such sources are strict: an entry that vanishes while the backup runs
/// (a dropped table's file) is left out silently, while any other read error fails the
/// backup and records nothing, because a copy missing a file would not be usable.
pub struct DirSource<'a> {
    /// The directory.
    pub dir: &'a Path,
    /// Entries (full paths) for which this returns true are left out, a directory with
    /// everything below it.
    pub exclude: &'a (dyn Fn(&Path) -> bool + Sync),
    /// Symbolic links (full paths) for which this returns true are backed up as what they
    /// point to (a directory's content), not as links: a PostgreSQL tablespace's
    /// `pg_tblspc/<oid>`. Restores can write such a directory elsewhere
    /// ([`crate::restorer::RestoreOptions::redirects`]).
    pub follow: &'a (dyn Fn(&Path) -> bool + Sync),
    /// An earlier snapshot of the same directory and an instant (Unix ns) no later than the
    /// moment it started reading. A file whose size, mtime, ctime and inode match the earlier
    /// snapshot's *and* whose recorded ctime and mtime are before that instant reuses the
    /// earlier content without being read: any write after the earlier snapshot started
    /// would have set its ctime to a later time, so equal metadata means unchanged content
    /// (ctime cannot be set back from user space). Files changed shortly before or during the
    /// earlier snapshot are always read again.
    pub parent: Option<(SnapshotEntry, i64)>,
}

/// Files a [`DirSource`] adds to the snapshot's root once its directory has been read
/// (contents known only then, such as a base backup's `backup_label`), and metadata merged
/// into the snapshot's `extra`.
#[derive(Debug, Default)]
pub struct DirAdditions {
    /// `(name, content)`: regular files (mode 0600) in the root (`name`) or in a directory
    /// directly below it (`dir/name`), replacing entries of the same name.
    pub files: Vec<(String, Vec<u8>)>,
    /// Merged into the snapshot's `extra`.
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Backs up a directory as a snapshot's root (see [`DirSource`]); every file is read unless
/// [`DirSource::parent`] proves it unchanged (`opts.force` reads everything). `finished` runs after the directory was read and before anything is
/// indexed: its error aborts the backup with no snapshot; its additions are stored with it.
pub fn backup_dir_root(
    repo: &Repository,
    src: &DirSource<'_>,
    opts: &BackupOptions,
    progress: Arc<Progress>,
    finished: impl FnOnce() -> Result<DirAdditions>,
) -> Result<BackupOutcome> {
    let started = Instant::now();
    let dir = std::path::absolute(src.dir).map_err(|e| Error::io("resolving", src.dir, e))?;
    let dir_meta =
        std::fs::metadata(&dir).map_err(|e| Error::io("reading backup source", &dir, e))?;
    if !dir_meta.is_dir() {
        return Err(Error::Invalid(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    repo.require_writable("backup")?;
    let _lock = lock::acquire(repo, false, "backup", lock::wait_time())?;
    let index = repo.load_index()?;
    let parent = match &src.parent {
        Some((p, before)) if !opts.force => Some((
            p.id.clone(),
            repo.read_tree(&index, &p.snapshot.tree)?,
            *before,
        )),
        _ => None,
    };
    let saver = BlobSaver::new(repo, &index, progress.clone())?;
    let mut walker = Walker {
        filter: Some(src.exclude),
        strict: true,
        reuse_before_ns: Some(parent.as_ref().map_or(i64::MIN, |p| p.2)),
        follow: Some(src.follow),
        keep_below: Some(dir.clone()),
        ..Walker::new(repo, &index, &saver, opts, progress)?
    };
    let mut root = walker
        .save_dir(&dir, parent.as_ref().map(|p| &p.1), dir_meta.dev())?
        .ok_or_else(|| {
            Error::SourceFailed(format!("{} vanished during the backup", dir.display()))
        })?;
    let mut summary = std::mem::take(&mut walker.summary);
    let mut kept = std::mem::take(&mut walker.kept);
    drop(walker);
    let additions = finished()?;
    let mut changed_dirs: Vec<String> = Vec::new();
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    for (name, content) in additions.files {
        let size = content.len() as u64;
        let (ids, _) = saver
            .save_stream(
                std::io::Cursor::new(content),
                &repo.config().chunker,
                Some(size),
            )
            .map_err(|e| Error::io("storing", Path::new(&name), e))?;
        let mut node = Node {
            kind: Some(NodeKind::File),
            mode: 0o600,
            mtime_ns: now,
            ctime_ns: now,
            uid: dir_meta.uid(),
            gid: dir_meta.gid(),
            size,
            content: ids,
            ..Default::default()
        };
        let (tree, file) = match name.split_once('/') {
            None => (&mut root, name.as_str()),
            Some((d, file)) if !d.is_empty() && !file.is_empty() && !file.contains('/') => {
                let tree = kept.get_mut(&dir.join(d)).ok_or_else(|| {
                    Error::Invalid(format!(
                        "cannot add {name} to the backup of {}: {d} is not a directory in it",
                        dir.display()
                    ))
                })?;
                if !changed_dirs.iter().any(|c| c == d) {
                    changed_dirs.push(d.to_string());
                }
                (tree, file)
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "cannot add {name}: files are added to the root or one directory below it"
                )))
            }
        };
        node.set_name(std::ffi::OsStr::new(file));
        tree.nodes
            .retain(|n| n.os_name() != std::ffi::OsStr::new(file));
        tree.nodes.push(node);
        summary.files_new += 1;
        summary.total_bytes += size;
        summary.bytes_read += size;
    }
    for d in changed_dirs {
        let mut tree = kept.remove(&dir.join(&d)).expect("looked up above");
        sort_nodes(&mut tree);
        let id = saver.save(BlobType::Tree, tree.to_bytes())?;
        if let Some(n) = root
            .nodes
            .iter_mut()
            .find(|n| n.os_name() == std::ffi::OsStr::new(&d))
        {
            n.subtree = Some(id);
        }
    }
    sort_nodes(&mut root);
    let tree = saver.save(BlobType::Tree, root.to_bytes())?;
    let kind = opts.source_kind.clone().unwrap_or_else(|| "files".into());
    let mut snapshot = new_snapshot(opts, &kind, tree);
    snapshot.paths = vec![dir.to_string_lossy().into_owned()];
    snapshot.parent = parent.map(|p| p.0);
    snapshot.extra.extend(additions.extra);
    let (snapshot_id, snapshot) = commit(repo, saver, snapshot, summary, started)?;
    Ok(BackupOutcome {
        snapshot_id,
        snapshot,
        skipped: Vec::new(),
    })
}

/// Sorts a tree's entries by name bytes (the order trees are stored in).
fn sort_nodes(tree: &mut Tree) {
    use std::os::unix::ffi::OsStrExt;
    tree.nodes
        .sort_by(|a, b| a.os_name().as_bytes().cmp(b.os_name().as_bytes()));
}
