//! Storing one stream as a snapshot, with metadata that is only known after the stream ended.
//!
//! Same layout and write order as `lifeboat_core::backup::backup_stream` (packs, then index,
//! then snapshot; a single-file tree), but the `finished` callback returns extra metadata that
//! is merged into the snapshot (a base backup's stop LSN is only known once pg_basebackup is
//! done). An error from `finished`, or from reading, writes no snapshot.

use crate::error::{PgError, Result};
use lifeboat_core::backup::{BackupOptions, BackupOutcome, BlobSaver, Progress};
use lifeboat_core::blob::BlobType;
use lifeboat_core::snapshot::{Snapshot, StreamInfo, Summary};
use lifeboat_core::tree::{Node, NodeKind, Tree};
use lifeboat_core::Repository;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

struct HashingReader<R> {
    inner: R,
    hasher: sha2::Sha256,
    size: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

fn lock_wait() -> std::time::Duration {
    std::time::Duration::from_secs(
        std::env::var("LIFEBOAT_LOCK_WAIT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60),
    )
}

/// Stores `reader` as a stream snapshot named `name`.
///
/// `finished` runs after end of stream and before anything is indexed; its error aborts the
/// backup (nothing recorded), its map is merged into the snapshot's `extra`.
pub fn store_stream<R: Read>(
    repo: &Repository,
    name: &str,
    reader: R,
    opts: &BackupOptions,
    progress: Arc<Progress>,
    finished: impl FnOnce() -> Result<BTreeMap<String, Value>>,
) -> Result<BackupOutcome> {
    use sha2::Digest;
    if name.is_empty() || name.contains('/') {
        return Err(PgError::Invalid(format!(
            "invalid stream name '{name}': give a non-empty file name without '/'"
        )));
    }
    let started = Instant::now();
    repo.require_writable("backup")?;
    let _lock = lifeboat_core::lock::acquire(repo, false, "backup", lock_wait())?;
    let index = repo.load_index()?;
    let saver = BlobSaver::new(repo, &index, progress);
    let mut hr = HashingReader {
        inner: reader,
        hasher: sha2::Sha256::new(),
        size: 0,
    };
    let (content, size) = match saver.save_stream(&mut hr, &repo.config().chunker) {
        Ok(r) => r,
        Err(e) => {
            // Our side failed (storage, pipeline). The source may be blocked writing into the
            // pipe: the caller kills it; do not wait for it here.
            return Err(PgError::Core(lifeboat_core::Error::SourceFailed(format!(
                "storing stream '{name}' failed: {e}; nothing was recorded"
            ))));
        }
    };
    // End of stream: the source must have succeeded (a dying pg_dump also ends the stream).
    let extra_after = finished()?;
    let sha256 = hex::encode(hr.hasher.finalize());
    let now = jiff::Timestamp::now();
    let mut node = Node {
        kind: Some(NodeKind::File),
        mode: 0o600,
        mtime_ns: now.as_nanosecond() as i64,
        ctime_ns: now.as_nanosecond() as i64,
        // SAFETY: getuid/getgid have no preconditions.
        uid: unsafe { libc::getuid() },
        gid: unsafe { libc::getgid() },
        size,
        content,
        ..Default::default()
    };
    node.set_name(std::ffi::OsStr::new(name));
    let tree = saver.save(BlobType::Tree, Tree { nodes: vec![node] }.to_bytes())?;
    let mut extra = opts.extra.clone();
    extra.extend(extra_after);
    // Source metadata objects carry the stream's size and digest too.
    if let Some(Value::Object(m)) = extra.get_mut(crate::physical::EXTRA_KEY) {
        m.insert("size".into(), Value::from(size));
        m.insert("sha256".into(), Value::from(sha256.clone()));
    }
    let mut snapshot = Snapshot {
        time: jiff::Timestamp::now().to_string(),
        hostname: opts
            .host
            .clone()
            .unwrap_or_else(lifeboat_core::util::hostname),
        username: lifeboat_core::util::username(),
        source: opts.source_kind.clone().unwrap_or_else(|| "stream".into()),
        paths: Vec::new(),
        stream: Some(StreamInfo {
            name: name.to_string(),
            size,
            sha256,
        }),
        tags: opts.tags.clone(),
        parent: None,
        tree,
        summary: None,
        extra,
        program_version: lifeboat_core::PROGRAM_VERSION.to_string(),
    };
    let (packs, written, blobs, raw) = saver.finish()?;
    let mut index_bytes = 0;
    if !packs.is_empty() {
        let id = repo.write_index(packs, Vec::new())?;
        index_bytes = repo.storage().stat(&format!("index/{id}"))?.size;
    }
    snapshot.summary = Some(Summary {
        files_new: 1,
        total_bytes: size,
        bytes_read: size,
        blobs_added: blobs,
        bytes_added_raw: raw,
        bytes_added: written + index_bytes,
        duration_seconds: started.elapsed().as_secs_f64(),
        ..Default::default()
    });
    let snapshot_id = repo.save_snapshot(&snapshot)?;
    Ok(BackupOutcome {
        snapshot_id,
        snapshot,
        skipped: Vec::new(),
    })
}
