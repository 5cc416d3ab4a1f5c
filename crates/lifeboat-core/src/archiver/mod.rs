//! Backups of file trees, directories and streams.
//!
//! Pipeline: the walking thread reads, chunks and hashes (blob ids); blobs not yet in the
//! repository go to worker threads that compress, encrypt and fill packs; finished packs go to
//! uploader threads. Write order (design doc, "Write ordering"): every pack is stored before the
//! index file naming it, and the index before the snapshot. Any failure before the snapshot is
//! written leaves at most unindexed packs, which `prune` removes.
//!
//! - `saver.rs`: the pipeline ([`BlobSaver`]: deduplication, workers, uploaders);
//!   `dictionary.rs`: training the compression dictionary and checking it pays off;
//!   `commit.rs`: the index and then the snapshot.
//! - `stream.rs` ([`backup_stream`]; the stream's SHA-256 is computed on its own thread from
//!   the chunks, [`BlobSaver`]), `command.rs` ([`backup_command`]: a child process's standard output).
//! - `walker.rs`: reading a directory tree into trees, with change detection against a parent;
//!   exclude patterns are `crate::patterns`; `sparse.rs`: holes of sparse files found with
//!   `SEEK_DATA`/`SEEK_HOLE` and stored as all-zero blobs without being read; `paths.rs` ([`backup_paths`]); `dir_root.rs`
//!   ([`backup_dir_root`]: a directory as the snapshot's root, for PostgreSQL data directories).

mod command;
mod commit;
mod dictionary;
mod dir_root;
mod paths;
mod saver;
mod sparse;
mod stream;
mod walker;
mod xattrs;

pub use command::backup_command;
pub use dir_root::{backup_dir_root, DirAdditions, DirSource};
pub use paths::backup_paths;
pub use saver::{BlobSaver, SaverTotals};
pub use stream::backup_stream;

/// How a stream backup cuts the stream into blobs.
///
/// Every blob is content-addressed either way, so a reader needs to know nothing about how a
/// snapshot was chunked: restoring, checking and copying treat both the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Chunking {
    /// Content-defined chunking with the repository's parameters (`config.chunker`): chunk
    /// boundaries follow the content, so insertions and deletions shift no other chunk. The
    /// default, and what file backups always use.
    #[default]
    ContentDefined,
    /// Fixed-size blocks of this many bytes, aligned to the start of the stream (the last one
    /// may be shorter). For page-structured files (SQLite databases), whose changes rewrite
    /// pages in place: a changed page then re-stores one block, not a content-defined chunk
    /// many times larger. Must be between 1 byte and [`MAX_FIXED_BLOCK`].
    Fixed(u32),
}

/// The largest block [`Chunking::Fixed`] accepts (8 MiB).
pub const MAX_FIXED_BLOCK: u32 = 8 << 20;

use crate::format::snapshot::Snapshot;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

/// Options shared by every kind of backup.
#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    /// Tags recorded in the snapshot.
    pub tags: Vec<String>,
    /// Hostname to record (default: this machine's).
    pub host: Option<String>,
    /// Glob patterns to exclude (a pattern without `/` matches names, else whole paths).
    pub excludes: Vec<String>,
    /// Do not cross filesystem boundaries.
    pub one_file_system: bool,
    /// Explicit parent snapshot for change detection (default: the latest with the same
    /// host and paths).
    pub parent: Option<String>,
    /// Re-read every file even if unchanged.
    pub force: bool,
    /// Do not record extended attributes (nor the POSIX ACLs and capabilities kept in them).
    pub no_xattrs: bool,
    /// Source kind recorded for streams (default `stream`).
    pub source_kind: Option<String>,
    /// Source-specific metadata recorded in the snapshot.
    pub extra: BTreeMap<String, serde_json::Value>,
    /// Stream backups only: how the stream is cut into blobs (default: content-defined).
    pub chunking: Chunking,
    /// Stream backups only: recorded as the snapshot's `paths`, where the stream came from (a
    /// database file's absolute path). Retention groups snapshots by source and paths, so two
    /// databases with the same file name in different directories are kept apart. Empty (the
    /// default) for streams that come from standard input or a command.
    pub stream_paths: Vec<String>,
}

/// Live counters a front end can poll for progress display, and the cancellation token the
/// operation obeys (a cancelled backup stops before its index and snapshot are written).
#[derive(Debug, Default)]
pub struct Progress {
    /// Set by the front end to stop the operation ([`crate::cancel`]).
    pub cancel: crate::cancel::CancelToken,
    /// Files processed.
    pub files: AtomicU64,
    /// Bytes of file content processed (read or found unchanged).
    pub bytes: AtomicU64,
    /// Bytes written to the repository.
    pub bytes_written: AtomicU64,
}

/// What a backup produced.
#[derive(Debug)]
pub struct BackupOutcome {
    /// New snapshot id.
    pub snapshot_id: String,
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Files or directories skipped because they could not be read: `(path, reason)`.
    pub skipped: Vec<(PathBuf, String)>,
}
