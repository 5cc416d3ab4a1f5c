//! Finishing a backup: the index naming the new packs, then the snapshot (write ordering).

use super::saver::{BlobSaver, SaverTotals};
use super::BackupOptions;
use crate::error::Result;
use crate::format::blob::BlobId;
use crate::format::snapshot::{Snapshot, Summary};
use crate::repo::Repository;
use std::time::Instant;

/// Writes the index for `packs` and then the snapshot; fills the summary's byte counters.
pub(super) fn commit(
    repo: &Repository,
    saver: BlobSaver<'_>,
    mut snapshot: Snapshot,
    mut summary: Summary,
    started: Instant,
) -> Result<(String, Snapshot)> {
    saver.check_cancelled()?;
    let cancel = saver.shared.progress.cancel.clone();
    let SaverTotals {
        packs,
        bytes_written: written,
        blobs,
        raw,
        dictionary,
    } = saver.finish()?;
    // Last point at which a cancellation stops the backup: nothing refers to the packs yet.
    cancel.check("backup")?;
    snapshot.dictionary = dictionary.map(hex::encode);
    let mut index_bytes = 0;
    if !packs.is_empty() {
        let id = repo.write_index(packs, Vec::new())?;
        index_bytes = repo.storage().stat(&format!("index/{id}"))?.size;
    }
    summary.blobs_added = blobs;
    summary.bytes_added_raw = raw;
    summary.bytes_added = written + index_bytes;
    summary.duration_seconds = started.elapsed().as_secs_f64();
    snapshot.summary = Some(summary);
    let id = repo.save_snapshot(&snapshot)?;
    Ok((id, snapshot))
}

/// A snapshot of `tree` from `source`, with the options' host, tags and extra metadata.
pub(super) fn new_snapshot(opts: &BackupOptions, source: &str, tree: BlobId) -> Snapshot {
    Snapshot {
        time: jiff::Timestamp::now().to_string(),
        hostname: opts.host.clone().unwrap_or_else(crate::host::hostname),
        username: crate::host::username(),
        source: source.to_string(),
        paths: Vec::new(),
        stream: None,
        tags: opts.tags.clone(),
        parent: None,
        tree,
        summary: None,
        extra: opts.extra.clone(),
        dictionary: None,
        program_version: crate::PROGRAM_VERSION.to_string(),
        original: None,
        replaces: Vec::new(),
    }
}
