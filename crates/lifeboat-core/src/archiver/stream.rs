//! Backups of one stream (standard input, a dump command's output) as a single-file snapshot.

use super::commit::{commit, new_snapshot};
use super::saver::BlobSaver;
use super::{BackupOptions, BackupOutcome, Chunking, Progress, MAX_FIXED_BLOCK};
use crate::error::{Error, Result};
use crate::format::blob::BlobType;
use crate::format::snapshot::{StreamInfo, Summary};
use crate::format::tree::{Node, NodeKind, Tree};
use crate::governance::lock;
use crate::repo::Repository;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

/// Backs up one stream as a snapshot whose tree holds a single file named `name`, cut into
/// blobs as `opts.chunking` says (content-defined unless asked otherwise).
///
/// `finished` is called after the stream hit EOF and before anything is indexed, with the
/// stream's size and SHA-256: an error from it (for example a dump command that exited non-zero)
/// aborts the backup with no snapshot; the metadata it returns (known only once the source is
/// done, such as a base backup's stop LSN) is merged into the snapshot's `extra`.
pub fn backup_stream<R: Read>(
    repo: &Repository,
    name: &str,
    reader: R,
    opts: &BackupOptions,
    progress: Arc<Progress>,
    finished: impl FnOnce(&StreamInfo) -> Result<BTreeMap<String, serde_json::Value>>,
) -> Result<BackupOutcome> {
    if name.is_empty() || name.contains('/') {
        return Err(Error::Invalid(format!(
            "invalid stream name '{name}': give a non-empty file name without '/'"
        )));
    }
    if let Chunking::Fixed(block) = opts.chunking {
        if block == 0 || block > MAX_FIXED_BLOCK {
            return Err(Error::Invalid(format!(
                "invalid fixed block size {block}: give 1 to {MAX_FIXED_BLOCK} bytes"
            )));
        }
    }
    let started = Instant::now();
    repo.require_writable("backup")?;
    let _lock = lock::acquire(repo, false, "backup", lock::wait_time())?;
    let index = repo.load_index()?;
    let saver = BlobSaver::new(repo, &index, progress)?;
    let block = match opts.chunking {
        Chunking::ContentDefined => None,
        Chunking::Fixed(block) => Some(block as usize),
    };
    let saved = saver.save_stream_hashed(reader, &repo.config().chunker, block);
    let (content, size, digest) = match saved {
        Ok(r) => r,
        Err(e) => {
            saver.check_cancelled()?;
            return Err(Error::SourceFailed(format!(
                "reading stream '{name}' failed: {e}; nothing was recorded"
            )));
        }
    };
    saver.check_cancelled()?;
    let sha256 = hex::encode(digest);
    let info = StreamInfo {
        name: name.to_string(),
        size,
        sha256,
    };
    let extra_after = finished(&info)?;
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
    let kind = opts.source_kind.clone().unwrap_or_else(|| "stream".into());
    let mut snapshot = new_snapshot(opts, &kind, tree);
    snapshot.extra.extend(extra_after);
    snapshot.paths = opts.stream_paths.clone();
    snapshot.stream = Some(info);
    let summary = Summary {
        files_new: 1,
        total_bytes: size,
        bytes_read: size,
        ..Default::default()
    };
    let (snapshot_id, snapshot) = commit(repo, saver, snapshot, summary, started)?;
    Ok(BackupOutcome {
        snapshot_id,
        snapshot,
        skipped: Vec::new(),
    })
}
