//! `check`: verifies the repository's structure and, with `read_data`, every blob.
//!
//! Structure: every index file decrypts and matches its name; every indexed pack exists with the
//! indexed size, its bytes hash to its name (SHA-256, checkable without the key) and its header
//! agrees with the index; every snapshot decrypts; every tree is readable and every blob a
//! snapshot references is indexed. Read-data: additionally every blob of the selected packs is
//! decrypted, decompressed and checked against its id. Damaged packs are mapped to the snapshots
//! and files they affect.

use crate::error::Result;
use crate::format::blob::{self, BlobId, BlobType};
use crate::format::crypto::sha256_hex;
use crate::format::index::Index;
use crate::format::pack::{pack_key, read_header};
use crate::format::tree::NodeKind;
use crate::parallel::parallel_map;
use crate::repo::Repository;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Decrypt and verify every blob.
    pub read_data: bool,
    /// Decrypt and verify the blobs of this percentage of packs (chosen at random).
    pub read_data_subset: Option<f64>,
    /// Stops the check between packs (a check writes nothing, so stopping is always safe).
    pub cancel: crate::cancel::CancelToken,
}

/// A file or directory affected by damage.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Affected {
    /// Snapshot id.
    pub snapshot: String,
    /// Path in the snapshot.
    pub path: String,
}

/// The check result. The repository is healthy when `errors` is empty.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CheckReport {
    /// Problems that make data unrestorable or the repository inconsistent.
    pub errors: Vec<String>,
    /// Harmless findings (leftover packs prune will remove, stale locks).
    pub warnings: Vec<String>,
    /// Packs found damaged or missing.
    pub damaged_packs: Vec<String>,
    /// Snapshots and paths affected by damaged or missing data.
    pub affected: Vec<Affected>,
    /// Snapshots checked.
    pub snapshots: usize,
    /// Packs checked.
    pub packs: usize,
    /// Blobs decrypted and verified.
    pub blobs_verified: u64,
}

/// Runs the check.
pub fn check(repo: &Repository, opts: &CheckOptions) -> Result<CheckReport> {
    repo.require_full_key("check")?;
    let mut report = CheckReport::default();

    // Index files.
    let ids = repo.list_index_ids()?;
    let files = parallel_map(&ids, 8, |id| repo.read_index_file(id));
    let mut good = Vec::new();
    for (id, f) in ids.iter().zip(files) {
        match f {
            Ok(f) => good.push((id.clone(), f)),
            Err(e) => report.errors.push(format!("index {id}: {e}")),
        }
    }
    let (index, live) = Index::from_files(good);
    let indexed_blobs: HashMap<String, Vec<crate::format::index::IndexBlob>> = live
        .iter()
        .flat_map(|(_, f)| f.packs.iter().map(|p| (p.id.clone(), p.blobs.clone())))
        .collect();

    // Packs present versus indexed.
    let stored: HashMap<String, u64> = repo
        .storage()
        .list("data/")?
        .into_iter()
        .filter_map(|o| o.key.rsplit('/').next().map(|n| (n.to_string(), o.size)))
        .collect();
    let mut damaged: HashSet<String> = HashSet::new();
    for p in &index.packs {
        match stored.get(&p.id) {
            None => {
                report.errors.push(format!(
                    "pack {} is in the index but missing from storage",
                    p.id
                ));
                damaged.insert(p.id.clone());
            }
            Some(size) if *size != p.size => {
                report.errors.push(format!(
                    "pack {} has size {size} but the index says {} (truncated or replaced)",
                    p.id, p.size
                ));
                damaged.insert(p.id.clone());
            }
            _ => {}
        }
    }
    for id in stored.keys() {
        if index.pack_position(id).is_none() {
            report.warnings.push(format!(
                "pack {id} is not in any index (left by an interrupted backup; prune removes it)"
            ));
        }
    }

    // Pack contents.
    let subset: Option<HashSet<String>> = opts.read_data_subset.map(|pct| {
        index
            .packs
            .iter()
            .filter(|_| rand::random::<f64>() * 100.0 < pct)
            .map(|p| p.id.clone())
            .collect()
    });
    let to_read: Vec<String> = index
        .packs
        .iter()
        .filter(|p| !damaged.contains(&p.id))
        .map(|p| p.id.clone())
        .collect();
    report.packs = index.packs.len();
    let results = parallel_map(&to_read, 4, |id| -> (Vec<String>, Vec<BlobId>, u64) {
        let mut errs = Vec::new();
        let mut bad_blobs = Vec::new();
        let mut verified = 0;
        if opts.cancel.is_cancelled() {
            return (errs, bad_blobs, 0);
        }
        let bytes = match repo.storage().read(&pack_key(id)) {
            Ok(b) => b,
            Err(e) => return (vec![format!("pack {id}: {e}")], bad_blobs, 0),
        };
        if sha256_hex(&bytes) != *id {
            errs.push(format!("pack {id}: content does not match its name (SHA-256 mismatch: damaged or tampered)"));
        }
        match read_header(&repo.keys().meta_key, &bytes, id) {
            Ok(header) => {
                if indexed_blobs.get(id).is_some_and(|b| *b != header) {
                    errs.push(format!("pack {id}: header does not match the index"));
                }
            }
            Err(e) => errs.push(format!("pack {id}: {e}")),
        }
        let decode_all = opts.read_data || subset.as_ref().is_some_and(|s| s.contains(id));
        if decode_all {
            for b in indexed_blobs.get(id).map(|v| v.as_slice()).unwrap_or(&[]) {
                let end = b.offset as usize + b.length as usize;
                let ok = end <= bytes.len()
                    && blob::decode(
                        repo.keys(),
                        repo,
                        &b.id,
                        &bytes[b.offset as usize..end],
                        b.raw_length as usize,
                        id,
                    )
                    .is_ok();
                if ok {
                    verified += 1;
                } else {
                    bad_blobs.push(b.id);
                    errs.push(format!(
                        "pack {id}: blob {} is damaged (decryption or hash check failed)",
                        b.id.to_hex()
                    ));
                }
            }
        }
        (errs, bad_blobs, verified)
    });
    opts.cancel.check("check")?;
    let mut bad_blobs: HashSet<BlobId> = HashSet::new();
    for (id, (errs, blobs, verified)) in to_read.iter().zip(results) {
        if !errs.is_empty() {
            damaged.insert(id.clone());
        }
        report.errors.extend(errs);
        bad_blobs.extend(blobs);
        report.blobs_verified += verified;
    }
    let blob_damaged = |id: &BlobId, index: &Index| -> bool {
        match index.get(id) {
            None => true,
            Some(loc) => bad_blobs.contains(id) || damaged.contains(index.pack_id(loc)),
        }
    };

    // Compression dictionaries: every stored one must be intact.
    let mut good_dicts: HashSet<String> = HashSet::new();
    for id in repo.list_dict_ids()? {
        match repo.read_dict(&id) {
            Ok(_) => {
                good_dicts.insert(hex::encode(id));
            }
            Err(e) => report
                .errors
                .push(format!("dictionary {}: {e}", hex::encode(id))),
        }
    }

    // Snapshots and trees.
    let snap_ids = repo.list_snapshot_ids()?;
    report.snapshots = snap_ids.len();
    let mut trees_ok: HashSet<BlobId> = HashSet::new();
    let mut missing_reported: HashSet<BlobId> = HashSet::new();
    for sid in &snap_ids {
        let snap = match repo.read_snapshot(sid) {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(format!("snapshot {sid}: {e}"));
                continue;
            }
        };
        let short = &sid[..8];
        if let Some(d) = snap
            .dictionary
            .as_ref()
            .filter(|d| !good_dicts.contains(*d))
        {
            report.errors.push(format!(
                "snapshot {short}: its compression dictionary dicts/{d} is missing or damaged; \
                 data compressed with it cannot be restored"
            ));
            report.affected.push(Affected {
                snapshot: sid.clone(),
                path: "/".to_string(),
            });
        }
        let mut stack = vec![(snap.tree, "/".to_string())];
        while let Some((tid, path)) = stack.pop() {
            let tree_damaged = blob_damaged(&tid, &index);
            if tree_damaged {
                report.affected.push(Affected {
                    snapshot: sid.clone(),
                    path: path.clone(),
                });
                if index.get(&tid).is_none() && missing_reported.insert(tid) {
                    report.errors.push(format!(
                        "snapshot {short}: tree {} for {path} is not indexed",
                        tid.to_hex()
                    ));
                }
                continue;
            }
            let fresh = trees_ok.insert(tid);
            let tree = match repo.read_tree(&index, &tid) {
                Ok(t) => t,
                Err(e) => {
                    report
                        .errors
                        .push(format!("snapshot {short}: tree for {path}: {e}"));
                    report.affected.push(Affected {
                        snapshot: sid.clone(),
                        path: path.clone(),
                    });
                    continue;
                }
            };
            for node in &tree.nodes {
                let child = Path::new(&path)
                    .join(node.os_name())
                    .to_string_lossy()
                    .into_owned();
                match node.kind() {
                    NodeKind::Dir => {
                        if let Some(sub) = node.subtree {
                            stack.push((sub, child));
                        }
                    }
                    NodeKind::File => {
                        let mut hit = false;
                        for id in &node.content {
                            if index.get(id).is_none() {
                                if fresh && missing_reported.insert(*id) {
                                    report.errors.push(format!("snapshot {short}: file {child}: data blob {} is not indexed", id.to_hex()));
                                }
                                hit = true;
                            } else if index.get(id).is_some_and(|l| l.kind != BlobType::Data) {
                                report.errors.push(format!(
                                    "snapshot {short}: file {child}: blob {} is not a data blob",
                                    id.to_hex()
                                ));
                                hit = true;
                            } else if blob_damaged(id, &index) {
                                hit = true;
                            }
                        }
                        if hit {
                            report.affected.push(Affected {
                                snapshot: sid.clone(),
                                path: child,
                            });
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
    let mut damaged: Vec<String> = damaged.into_iter().collect();
    damaged.sort();
    report.damaged_packs = damaged;
    report
        .affected
        .sort_by(|a, b| (&a.snapshot, &a.path).cmp(&(&b.snapshot, &b.path)));
    report
        .affected
        .dedup_by(|a, b| a.snapshot == b.snapshot && a.path == b.path);
    super::retention::check_retention(repo, &index, &mut report)?;
    super::governance::check_records(repo, &mut report)?;
    super::governance::check_locks(repo, &mut report)?;
    Ok(report)
}
