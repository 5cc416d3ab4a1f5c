//! `prune`: removes data no snapshot references, repacking partly used packs.
//!
//! Runs under the exclusive lock, so no backup is adding data meanwhile. Order (design doc,
//! "Write ordering"): repacked packs are stored, then one new index naming every surviving pack
//! (and superseding all old index files), then old index files are deleted, then unused packs.
//! A crash at any point leaves a repository where every snapshot's data is indexed.

use crate::error::{Error, Hint, Result};
use crate::format::blob::BlobId;
use crate::format::index::{IndexBlob, IndexPack};
use crate::format::pack::{pack_key, PackBuilder};
use crate::format::tree::NodeKind;
use crate::governance::lock;
use crate::layers::object_lock::{self, RetainedObject};
use crate::repo::Repository;
use lifeboat_storage::WriteOptions;
use std::collections::{HashMap, HashSet};

/// Prune options.
#[derive(Clone, Debug, Default)]
pub struct PruneOptions {
    /// Report what would be done without changing anything.
    pub dry_run: bool,
    /// Stops the prune before its new index is written, or between deletions.
    pub cancel: crate::cancel::CancelToken,
}

/// What prune did (or would do).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PruneReport {
    /// Packs before.
    pub packs_before: usize,
    /// Packs deleted whole (no used blob).
    pub packs_deleted: usize,
    /// Packs rewritten because some of their blobs were unused.
    pub packs_repacked: usize,
    /// Packs in storage but in no index (left by interrupted backups), deleted.
    pub packs_unindexed: usize,
    /// Blobs still used.
    pub blobs_used: usize,
    /// Blobs removed.
    pub blobs_removed: usize,
    /// Bytes freed in storage (approximate when repacking).
    pub bytes_freed: u64,
    /// Index files replaced.
    pub index_files_replaced: usize,
    /// True when nothing was changed (dry run).
    pub dry_run: bool,
    /// Objects that would have been deleted but are under object-lock retention: kept (and
    /// still indexed) until a later run after the date given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retained: Vec<RetainedObject>,
}

/// Collects every blob reachable from every snapshot (trees and data).
pub fn used_blobs(
    repo: &Repository,
    index: &crate::format::index::Index,
) -> Result<HashSet<BlobId>> {
    let mut used = HashSet::new();
    for s in repo.snapshots()? {
        let mut stack = vec![s.snapshot.tree];
        while let Some(t) = stack.pop() {
            if !used.insert(t) {
                continue;
            }
            let tree = repo.read_tree(index, &t).map_err(|e| Error::PruneRefused {
                snapshot: s.short_id().to_string(),
                cause: Box::new(e),
            })?;
            for n in tree.nodes {
                match n.kind() {
                    NodeKind::Dir => stack.extend(n.subtree),
                    NodeKind::File => {
                        for id in n.content {
                            if !index.contains(&id) {
                                return Err(Error::MissingBlob {
                                    blob: id.to_hex(),
                                    referenced_by: format!("snapshot {}", s.short_id()),
                                });
                            }
                            used.insert(id);
                        }
                    }
                    NodeKind::Symlink
                    | NodeKind::Fifo
                    | NodeKind::Socket
                    | NodeKind::CharDevice
                    | NodeKind::BlockDevice => {}
                }
            }
        }
    }
    Ok(used)
}

/// Runs prune.
pub fn prune(repo: &Repository, opts: &PruneOptions) -> Result<PruneReport> {
    prune_then(repo, opts, |_| Ok::<(), Error>(())).map(|(r, ())| r)
}

/// Runs prune, then `hook` while the exclusive lock is still held (so nothing can add a
/// snapshot between the two): source hooks such as WAL expiry, which must see the same set of
/// snapshots prune saw.
pub fn prune_then<T, E: From<Error>>(
    repo: &Repository,
    opts: &PruneOptions,
    hook: impl FnOnce(&PruneReport) -> std::result::Result<T, E>,
) -> std::result::Result<(PruneReport, T), E> {
    let wait = lock::wait_time();
    if !opts.dry_run {
        repo.require_may_destroy("prune")?;
    }
    let _lock = lock::acquire(repo, true, "prune", wait)?;
    let report = prune_locked(repo, opts)?;
    opts.cancel.check("prune")?;
    let after = hook(&report)?;
    Ok((report, after))
}

fn prune_locked(repo: &Repository, opts: &PruneOptions) -> Result<PruneReport> {
    opts.cancel.check("prune")?;
    let index = repo.load_index()?;
    let used = used_blobs(repo, &index)?;
    let mut report = PruneReport {
        packs_before: index.packs.len(),
        blobs_used: used.len(),
        dry_run: opts.dry_run,
        ..Default::default()
    };

    // Per pack: which of its blobs are the canonical, used copies.
    let mut pack_blobs: HashMap<String, Vec<IndexBlob>> = HashMap::new();
    for f in &index.files {
        for p in repo.read_index_file(f)?.packs {
            pack_blobs.entry(p.id.clone()).or_insert(p.blobs);
        }
    }
    let mut keep: Vec<IndexPack> = Vec::new();
    let mut delete: Vec<String> = Vec::new();
    let mut repack: Vec<(String, Vec<IndexBlob>)> = Vec::new();
    for p in &index.packs {
        let blobs = pack_blobs.remove(&p.id).unwrap_or_default();
        let live: Vec<IndexBlob> = blobs
            .iter()
            .filter(|b| {
                used.contains(&b.id) && index.get(&b.id).is_some_and(|l| index.pack_id(l) == p.id)
            })
            .cloned()
            .collect();
        report.blobs_removed += blobs.len() - live.len();
        if live.len() == blobs.len() {
            keep.push(IndexPack {
                id: p.id.clone(),
                size: p.size,
                blobs,
            });
        } else if let Some(until) = retained(repo, &pack_key(&p.id))? {
            // Under object-lock retention: stays, indexed as it is, until a later run.
            report.blobs_removed -= blobs.len() - live.len();
            report.retained.push(until);
            keep.push(IndexPack {
                id: p.id.clone(),
                size: p.size,
                blobs,
            });
        } else if live.is_empty() {
            report.packs_deleted += 1;
            report.bytes_freed += p.size;
            delete.push(p.id.clone());
        } else {
            report.packs_repacked += 1;
            let live_bytes: u64 = live.iter().map(|b| b.length as u64).sum();
            report.bytes_freed += p.size.saturating_sub(live_bytes);
            repack.push((p.id.clone(), live));
        }
    }
    let indexed: HashSet<&str> = index.packs.iter().map(|p| p.id.as_str()).collect();
    let stored_packs = repo.storage().list("data/")?;
    let stored: HashSet<&str> = stored_packs
        .iter()
        .filter_map(|o| o.key.rsplit('/').next())
        .collect();
    if let Some(missing) = keep
        .iter()
        .map(|p| p.id.as_str())
        .chain(repack.iter().map(|(id, _)| id.as_str()))
        .find(|id| !stored.contains(id))
    {
        return Err(Error::corrupt(
            format!("pack {missing}"),
            "it holds data of existing snapshots but is missing from storage; prune changes nothing until the repository passes a check",
        ));
    }
    let mut unindexed = Vec::new();
    for o in &stored_packs {
        let name = o.key.rsplit('/').next().unwrap_or_default().to_string();
        if !indexed.contains(name.as_str()) {
            if let Some(until) = retained(repo, &o.key)? {
                report.retained.push(until);
                continue;
            }
            report.packs_unindexed += 1;
            report.bytes_freed += o.size;
            unindexed.push(name);
        }
    }
    // Every index file present is superseded by the new one, including files superseded earlier
    // that are still there (kept by object-lock retention), so none of them comes back to life.
    let all_index = repo.list_index_ids()?;
    let leftover_index = all_index.iter().any(|f| !index.files.contains(f));
    let nothing_to_do =
        delete.is_empty() && repack.is_empty() && unindexed.is_empty() && !leftover_index;
    if opts.dry_run || nothing_to_do {
        return Ok(report);
    }
    // Fail before changing anything when the credentials cannot delete (append-only).
    probe_delete(repo)?;

    // 1. Repack: copy the still-used stored blobs (already encrypted) into new packs.
    let pack_size = repo.config().pack_size as usize;
    let mut builder = PackBuilder::with_capacity(pack_size);
    let flush = |b: PackBuilder, keep: &mut Vec<IndexPack>| -> Result<()> {
        let fin = b.finish(&repo.keys().meta_key);
        repo.storage()
            .write(&pack_key(&fin.id), &fin.bytes, &WriteOptions::default())?;
        keep.push(fin.index);
        Ok(())
    };
    for (id, live) in &repack {
        opts.cancel.check("prune")?;
        let bytes = repo.storage().read(&pack_key(id))?;
        for b in live {
            let end = b.offset as usize + b.length as usize;
            let stored = bytes.get(b.offset as usize..end).ok_or_else(|| {
                Error::corrupt(format!("pack {id}"), "shorter than its index entry")
            })?;
            crate::format::blob::decode(
                repo.keys(),
                repo,
                &b.id,
                stored,
                b.raw_length as usize,
                &format!("pack {id}"),
            )?;
            builder.add(b.kind, b.id, stored, b.raw_length as usize);
            if builder.len() >= pack_size {
                let full = std::mem::replace(&mut builder, PackBuilder::with_capacity(pack_size));
                flush(full, &mut keep)?;
            }
        }
        delete.push(id.clone());
    }
    if !builder.is_empty() {
        flush(builder, &mut keep)?;
    }

    // 2. One index for everything that survives, superseding every old index file.
    opts.cancel.check("prune")?;
    let old_index = all_index;
    repo.write_index(keep, old_index.clone())?;
    report.index_files_replaced = old_index.len();

    // 3. Old index files, then 4. unused packs. A refused delete leaves a consistent
    // repository: the new index no longer names what was to be deleted.
    let remove = |key: String, report: &mut PruneReport| -> Result<()> {
        if let Some(until) = retained(repo, &key)? {
            report.retained.push(until);
            return Ok(());
        }
        repo.storage()
            .remove(&key)
            .map_err(|e| explain_refused_delete(&key, e))
    };
    // From here a cancellation leaves only objects nothing refers to (a later prune removes them).
    for f in &old_index {
        opts.cancel.check("prune")?;
        remove(format!("index/{f}"), &mut report)?;
    }
    for id in delete.iter().chain(unindexed.iter()) {
        opts.cancel.check("prune")?;
        remove(pack_key(id), &mut report)?;
    }
    Ok(report)
}

/// When object lock is configured and `key` is still retained: what to report.
fn retained(repo: &Repository, key: &str) -> Result<Option<RetainedObject>> {
    if repo.config().object_lock.is_none() {
        return Ok(None);
    }
    Ok(
        object_lock::retained_until(repo.storage().as_ref(), key)?.map(|t| RetainedObject {
            object: key.to_string(),
            until: object_lock::format_time(t),
        }),
    )
}

/// Makes sure the store lets us delete before prune changes anything: writes and removes a
/// probe under `locks/` (never retained). Append-only credentials fail here, with nothing changed.
pub fn probe_delete(repo: &Repository) -> Result<()> {
    let key = format!(
        "locks/delete-probe-{}",
        hex::encode(rand::random::<[u8; 8]>())
    );
    repo.storage()
        .write(&key, b"probe", &WriteOptions::create_new())?;
    match repo.storage().remove(&key) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.kind,
                lifeboat_storage::ErrorKind::PermissionDenied | lifeboat_storage::ErrorKind::Locked
            ) =>
        {
            Err(Error::guided(
                format!(
                    "prune needs to delete objects, but {} refuses deletes ({e}); this looks like an \
                     append-only deployment: run prune with credentials that may delete. Nothing was \
                     changed (the probe object {key} may remain; removing stale locks removes it)",
                    repo.storage().location()
                ),
                Hint::RunOperation {
                    operation: "unlock",
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Explains a delete that the store refused in the middle of prune (after the new index was
/// written, so the repository is consistent).
pub fn explain_refused_delete(key: &str, e: lifeboat_storage::StorageError) -> Error {
    match e.kind {
        lifeboat_storage::ErrorKind::PermissionDenied | lifeboat_storage::ErrorKind::Locked => {
            Error::DeleteRefused {
                object: key.to_string(),
                cause: Box::new(e),
            }
        }
        _ => Error::Storage(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{backup, locked_repo};
    use std::time::Duration;

    /// Check passes, but for retention "shorter than configured": the emulation's clock jump
    /// ages retention dates, not the write times recorded in the objects.
    fn assert_consistent(repo: &Repository) {
        let check = crate::checker::check(repo, &Default::default()).unwrap();
        let errors: Vec<_> = check
            .errors
            .iter()
            .filter(|e| !e.contains("shorter than configured"))
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn forget_and_prune_wait_for_retention() {
        let (store, repo) = locked_repo();
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let old = backup(&repo, &data);
        backup(&repo, b"something else entirely");
        let e = repo.remove_snapshot(&old).unwrap_err();
        assert!(matches!(e, Error::Retained { .. }), "{e}");
        assert_eq!(repo.snapshots().unwrap().len(), 2);
        // Time passes beyond the retention: forget works; prune deletes the unused data.
        store.age(Duration::from_secs(31 * 86400));
        repo.remove_snapshot(&old).unwrap();
        let before = store.objects.lock().unwrap().len();
        let report = prune(&repo, &Default::default()).unwrap();
        assert!(
            report.packs_deleted + report.packs_repacked > 0,
            "{report:?}"
        );
        assert!(store.objects.lock().unwrap().len() < before);
        assert_consistent(&repo);
    }

    #[test]
    fn prune_keeps_retained_packs_and_reports_them() {
        let (store, repo) = locked_repo();
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let old = backup(&repo, &data);
        backup(&repo, b"something else entirely");
        // The snapshot object's retention ended, the packs' did not.
        let key = format!("snapshots/{old}");
        store.objects.lock().unwrap().get_mut(&key).unwrap().1 = None;
        repo.remove_snapshot(&old).unwrap();
        let report = prune(&repo, &Default::default()).unwrap();
        assert!(!report.retained.is_empty(), "{report:?}");
        assert_eq!(
            report.packs_deleted + report.packs_repacked,
            0,
            "{report:?}"
        );
        assert_consistent(&repo);
        // Later run after the retention ended: deleted.
        store.age(Duration::from_secs(31 * 86400));
        let report = prune(&repo, &Default::default()).unwrap();
        assert!(report.retained.is_empty(), "{report:?}");
        assert!(
            report.packs_deleted + report.packs_repacked > 0,
            "{report:?}"
        );
        assert_consistent(&repo);
    }

    #[test]
    fn append_only_store_fails_prune_before_changing_anything() {
        let (store, repo) = locked_repo();
        let old = backup(&repo, b"first");
        backup(&repo, b"second");
        store.age(Duration::from_secs(31 * 86400));
        repo.remove_snapshot(&old).unwrap();
        store
            .deny_removes
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let before: Vec<String> = {
            let mut k: Vec<String> = store
                .objects
                .lock()
                .unwrap()
                .keys()
                .filter(|k| !k.starts_with("locks/"))
                .cloned()
                .collect();
            k.sort();
            k
        };
        let e = prune(&repo, &Default::default()).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
        let mut after: Vec<String> = store
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| !k.starts_with("locks/"))
            .cloned()
            .collect();
        after.sort();
        assert_eq!(before, after);
    }
}
