//! `copy`: replicate snapshots (and what they reference) into another repository.
//!
//! Blob ids are keyed per repository (keyed BLAKE3 with each repository's own id key), so a copy
//! cannot move stored blobs as they are: every blob is read and verified with the source keys,
//! re-identified with the destination's id key, and stored (compressed and encrypted under the
//! destination keys) unless the destination already has it. Trees name their children by id, so
//! they are rewritten depth-first with the translated ids; an id map shared by all snapshots of
//! one run avoids translating a subtree twice.
//!
//! The translations of data blobs are kept in the destination (`copymap/<source repository
//! id>/...`, under the destination's metadata key, written after the snapshot using them), so a
//! later copy of a mostly unchanged snapshot reads only trees and new data from the source.
//!
//! Each copied snapshot records `extra.copied_from = <source snapshot id>`. A source snapshot
//! whose id is already some destination snapshot's `copied_from` (or whose own `copied_from` is
//! a destination snapshot, i.e. it was copied from there) is skipped, so copying twice never
//! duplicates snapshots.
//!
//! Write order per snapshot is the backup's: packs, then the index naming them, then the
//! snapshot ([`BlobSaver`]). When the source turns out damaged (a pack missing or failing
//! authentication), the copy stops with an error naming the pack; the snapshot being copied is
//! not written and its packs are not indexed (the next prune of the destination removes them).
//! Snapshots finished earlier in the same run stay: they are complete.

use crate::archiver::{BlobSaver, Progress};
use crate::error::{Error, Result};
use crate::format::blob::{BlobId, BlobType};
use crate::format::index::Index;
use crate::format::snapshot::SnapshotEntry;
use crate::format::tree::{NodeKind, Tree};
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
                NodeKind::Symlink => {}
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
    let _src_lock = crate::governance::lock::acquire(
        src,
        false,
        "copy (source)",
        crate::governance::lock::wait_time(),
    )?;
    let _dst_lock =
        crate::governance::lock::acquire(dst, false, "copy", crate::governance::lock::wait_time())?;
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
        let crate::archiver::SaverTotals {
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

/// Key prefix of the id maps a copy leaves in the destination (per source repository).
pub const COPYMAP_PREFIX: &str = "copymap/";
const COPYMAP_CONTEXT: &[u8] = b"lifeboat copy map";

/// Source blob id -> destination blob id, for blobs a copy stored (metadata envelope under the
/// destination's metadata key, stored under `copymap/<source repository id>/<sha256>`).
#[derive(serde::Serialize, serde::Deserialize)]
struct CopyMap {
    source: String,
    /// Concatenated pairs: 32-byte source id || 32-byte destination id.
    #[serde(with = "crate::format::b64")]
    pairs: Vec<u8>,
}

fn save_map(src: &Repository, dst: &Repository, added: &[(BlobId, BlobId)]) -> Result<()> {
    if added.is_empty() {
        return Ok(());
    }
    let mut pairs = Vec::with_capacity(added.len() * 64);
    for (s, d) in added {
        pairs.extend_from_slice(&s.0);
        pairs.extend_from_slice(&d.0);
    }
    let map = CopyMap {
        source: src.config().id.clone(),
        pairs,
    };
    let bytes = crate::format::json::seal_json(&dst.keys().meta_key, COPYMAP_CONTEXT, &map);
    let key = format!(
        "{COPYMAP_PREFIX}{}/{}",
        src.config().id,
        crate::format::crypto::sha256_hex(&bytes)
    );
    dst.storage()
        .write(&key, &bytes, &lifeboat_storage::WriteOptions::default())?;
    Ok(())
}

/// The data-blob translations earlier copies from `src` left in `dst`, restricted to blobs the
/// destination still has: later copies then read only trees and new data from the source.
fn load_maps(
    src: &Repository,
    dst: &Repository,
    dst_index: &Index,
) -> Result<HashMap<BlobId, BlobId>> {
    let prefix = format!("{COPYMAP_PREFIX}{}/", src.config().id);
    let keys: Vec<String> = dst
        .storage()
        .list(&prefix)?
        .into_iter()
        .map(|o| o.key)
        .collect();
    let read = parallel_map(&keys, 8, |k| -> Result<CopyMap> {
        let bytes = dst.storage().read(k)?;
        crate::format::json::open_json(&dst.keys().meta_key, COPYMAP_CONTEXT, &bytes, k)
    });
    let mut map = HashMap::new();
    for (k, m) in keys.iter().zip(read) {
        let m = match m {
            Ok(m) if m.source == src.config().id => m,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!("ignoring copy map {k}: {e}");
                continue;
            }
        };
        for pair in m.pairs.chunks_exact(64) {
            let s = BlobId(pair[..32].try_into().expect("32 bytes"));
            let d = BlobId(pair[32..].try_into().expect("32 bytes"));
            // Data blobs only: trees are small and re-translated (and deduplicated), so a tree
            // whose children a prune removed can never be taken for complete.
            if dst_index.get(&d).is_some_and(|l| l.kind == BlobType::Data) {
                map.insert(s, d);
            }
        }
    }
    Ok(map)
}

fn stopped(entry: &SnapshotEntry, dst: &Repository, e: Error) -> Error {
    let what = format!(
        "copy stopped at snapshot {}; nothing of it is referenced in {} (its partial packs are removed by the next prune there)",
        entry.short_id(),
        dst.storage().location()
    );
    match e {
        Error::Corrupt { object, detail } => Error::Corrupt {
            object: format!("source {object}"),
            detail: format!("{detail}; {what}"),
        },
        Error::MissingBlob {
            blob,
            referenced_by,
        } => Error::MissingBlob {
            blob,
            referenced_by: format!("{referenced_by} in the source; {what}"),
        },
        e @ Error::Cancelled { .. } => e,
        other => Error::Invalid(format!("{other}; {what}")),
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
