//! `copy`: replicate snapshots (and what they reference) into another repository (see the
//! folder's documentation, [`crate::replication`]).

use super::copymap::{load_maps, save_map};
use crate::archiver::{BlobSaver, Progress, SaverTotals};
use crate::error::{Error, Result};
use crate::format::blob::{BlobId, BlobType};
use crate::format::index::Index;
use crate::format::snapshot::SnapshotEntry;
use crate::format::tree::{NodeKind, Tree};
use crate::governance::lock;
use crate::parallel::parallel_map;
use crate::repo::Repository;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Key in [`crate::format::snapshot::Snapshot::extra`] naming the source snapshot of a copy.
pub const COPIED_FROM: &str = "copied_from";

/// Content blobs read from the source at a time (per file).
const READ_BATCH: usize = 16;

/// One snapshot handled by [`copy`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct CopiedSnapshot {
    /// Source snapshot id.
    pub source: String,
    /// Snapshot id in the destination (new, or the existing copy when skipped).
    pub destination: String,
    /// True when the destination already had it.
    pub skipped: bool,
}

/// What [`copy`] did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CopyReport {
    /// Every snapshot asked for, in order.
    pub snapshots: Vec<CopiedSnapshot>,
    /// Blobs stored in the destination (not already there).
    pub blobs_added: u64,
    /// Plaintext bytes of those blobs.
    pub bytes_added_raw: u64,
    /// Bytes written to the destination (packs and index files).
    pub bytes_added: u64,
}

impl CopyReport {
    /// Number of snapshots newly copied.
    pub fn copied(&self) -> usize {
        self.snapshots.iter().filter(|s| !s.skipped).count()
    }
}

struct Translator<'a, 'b> {
    src: &'a Repository,
    src_index: &'a Index,
    saver: &'a BlobSaver<'b>,
    map: &'a mut HashMap<BlobId, BlobId>,
    added: &'a mut Vec<(BlobId, BlobId)>,
}

impl Translator<'_, '_> {
    fn read(&self, id: &BlobId) -> Result<Vec<u8>> {
        self.src.read_blob(self.src_index, id)
    }

    fn data(&mut self, ids: &[BlobId]) -> Result<Vec<BlobId>> {
        let mut out = Vec::with_capacity(ids.len());
        for batch in ids.chunks(READ_BATCH) {
            let todo: Vec<BlobId> = batch
                .iter()
                .filter(|id| !self.map.contains_key(id))
                .copied()
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let read = parallel_map(&todo, 8, |id| self.read(id));
            for (id, plain) in todo.iter().zip(read) {
                let new = self.saver.save(BlobType::Data, plain?)?;
                self.map.insert(*id, new);
                self.added.push((*id, new));
            }
            out.extend(batch.iter().map(|id| self.map[id]));
        }
        Ok(out)
    }

    fn tree(&mut self, id: &BlobId) -> Result<BlobId> {
        if let Some(new) = self.map.get(id) {
            return Ok(*new);
        }
        let mut tree: Tree = self.src.read_tree(self.src_index, id)?;
        for node in &mut tree.nodes {
            match node.kind() {
                NodeKind::Dir => {
                    if let Some(sub) = node.subtree {
                        node.subtree = Some(self.tree(&sub)?);
                    }
                }
                NodeKind::File => {
                    let content = std::mem::take(&mut node.content);
                    node.content = self.data(&content)?;
                }
                NodeKind::Symlink
                | NodeKind::Fifo
                | NodeKind::Socket
                | NodeKind::CharDevice
                | NodeKind::BlockDevice => {}
            }
        }
        let new = self.saver.save(BlobType::Tree, tree.to_bytes())?;
        self.map.insert(*id, new);
        Ok(new)
    }
}

/// Copies `snapshots` of `src` into `dst` (see the module documentation).
pub fn copy(
    src: &Repository,
    dst: &Repository,
    snapshots: &[SnapshotEntry],
    progress: Arc<Progress>,
) -> Result<CopyReport> {
    dst.require_writable("copy into this repository")?;
    dst.require_full_key("copy")?;
    if src.config().id == dst.config().id {
        return Err(Error::Invalid(format!(
            "{} and {} are the same repository (id {}); copy needs two repositories",
            src.storage().location(),
            dst.storage().location(),
            &src.config().id[..10]
        )));
    }
    let _src_lock = lock::acquire(src, false, "copy (source)", lock::wait_time())?;
    let _dst_lock = lock::acquire(dst, false, "copy", lock::wait_time())?;
    let src_index = src.load_index()?;
    let mut dst_index = dst.load_index()?;

    // Source snapshot id -> destination snapshot id, for what the destination already has.
    let mut have: HashMap<String, String> = HashMap::new();
    let mut dst_ids: HashSet<String> = HashSet::new();
    for s in dst.snapshots()? {
        if let Some(origin) = s.snapshot.extra.get(COPIED_FROM).and_then(|v| v.as_str()) {
            have.insert(origin.to_string(), s.id.clone());
        }
        dst_ids.insert(s.id);
    }

    let mut report = CopyReport::default();
    let mut map = load_maps(src, dst, &dst_index)?;
    let mut ordered: Vec<&SnapshotEntry> = snapshots.iter().collect();
    ordered.sort_by(|a, b| {
        a.snapshot
            .timestamp()
            .cmp(&b.snapshot.timestamp())
            .then(a.id.cmp(&b.id))
    });
    ordered.dedup_by(|a, b| a.id == b.id);
    for entry in ordered {
        progress.cancel.check("copy")?;
        let back_origin = entry
            .snapshot
            .extra
            .get(COPIED_FROM)
            .and_then(|v| v.as_str())
            .filter(|o| dst_ids.contains(*o));
        if let Some(existing) = have
            .get(&entry.id)
            .cloned()
            .or(back_origin.map(String::from))
        {
            report.snapshots.push(CopiedSnapshot {
                source: entry.id.clone(),
                destination: existing,
                skipped: true,
            });
            continue;
        }
        let saver = BlobSaver::new(dst, &dst_index, progress.clone())?;
        let mut added = Vec::new();
        let tree = {
            let mut t = Translator {
                src,
                src_index: &src_index,
                saver: &saver,
                map: &mut map,
                added: &mut added,
            };
            t.tree(&entry.snapshot.tree)
        };
        let tree = match tree {
            Ok(t) => t,
            Err(e) => {
                drop(saver);
                return Err(stopped(entry, dst, e));
            }
        };
        let SaverTotals {
            packs,
            bytes_written: written,
            blobs,
            raw,
            dictionary,
        } = saver.finish().map_err(|e| stopped(entry, dst, e))?;
        if !packs.is_empty() {
            let id = dst.write_index(packs.clone(), Vec::new())?;
            report.bytes_added += dst
                .storage()
                .stat(&format!("index/{id}"))
                .map(|o| o.size)
                .unwrap_or(0);
            dst_index.add_packs(&packs);
        }
        report.blobs_added += blobs;
        report.bytes_added_raw += raw;
        report.bytes_added += written;
        let mut snap = entry.snapshot.clone();
        snap.tree = tree;
        // The source's dictionary means nothing here; name the destination's, if used.
        snap.dictionary = dictionary.map(hex::encode);
        snap.parent = snap.parent.as_ref().and_then(|p| have.get(p).cloned());
        snap.extra.insert(
            COPIED_FROM.to_string(),
            serde_json::Value::String(entry.id.clone()),
        );
        let new_id = dst.save_snapshot(&snap)?;
        have.insert(entry.id.clone(), new_id.clone());
        // Only now (blobs indexed, snapshot written) may the translations be reused later.
        if let Err(e) = save_map(src, dst, &added) {
            tracing::warn!("could not save the copy id map (the next copy re-reads more): {e}");
        }
        dst_ids.insert(new_id.clone());
        report.snapshots.push(CopiedSnapshot {
            source: entry.id.clone(),
            destination: new_id,
            skipped: false,
        });
    }
    Ok(report)
}

/// The error of a copy that stopped at `entry`: a cancellation as it is, anything else as
/// [`Error::CopyStopped`] (which keeps the cause's exit code and hint). Damage can only be
/// read in the source (the destination is only written), so the cause says so.
fn stopped(entry: &SnapshotEntry, dst: &Repository, e: Error) -> Error {
    let cause = match e {
        e @ Error::Cancelled { .. } => return e,
        Error::Corrupt { object, detail } => Error::Corrupt {
            object: format!("source {object}"),
            detail,
        },
        Error::MissingBlob {
            blob,
            referenced_by,
        } => Error::MissingBlob {
            blob,
            referenced_by: format!("{referenced_by} in the source"),
        },
        other => other,
    };
    Error::CopyStopped {
        snapshot: entry.short_id().to_string(),
        destination: dst.storage().location(),
        cause: Box::new(cause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::config::Config;
    use lifeboat_storage::memory::MemoryStorage;

    fn repo() -> Repository {
        std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
        Repository::init(Arc::new(MemoryStorage::new()), b"pw", Config::new()).unwrap()
    }

    #[test]
    fn copies_streams_once_and_reencrypts() {
        let (a, b) = (repo(), repo());
        let data: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let opts = crate::archiver::BackupOptions::default();
        let p = Arc::new(Progress::default());
        crate::archiver::backup_stream(&a, "s", &data[..], &opts, p.clone(), |_| {
            Ok(Default::default())
        })
        .unwrap();
        let snaps = a.snapshots().unwrap();
        let r1 = copy(&a, &b, &snaps, p.clone()).unwrap();
        assert_eq!(r1.copied(), 1);
        assert!(r1.blobs_added > 0);
        let r2 = copy(&a, &b, &snaps, p.clone()).unwrap();
        assert_eq!(r2.copied(), 0);
        let copied = b.snapshots().unwrap();
        assert_eq!(copied.len(), 1);
        let mut out = Vec::new();
        crate::restorer::dump(&b, &copied[0], None, &mut out).unwrap();
        assert_eq!(out, data);
        // And back: the copy is recognised as the original.
        let r3 = copy(&b, &a, &copied, p).unwrap();
        assert_eq!(r3.copied(), 0);
        assert_eq!(a.snapshots().unwrap().len(), 1);
    }
}
