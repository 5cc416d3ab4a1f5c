//! Snapshots: encrypted manifests naming a root tree and describing the backup.
//!
//! Stored as a metadata envelope (data key, context `lifeboat snapshot`) of zstd JSON under
//! `snapshots/<sha256 of stored bytes>`. The snapshot id is that SHA-256.

use crate::format::blob::BlobId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Associated data of snapshot envelopes.
pub const SNAPSHOT_CONTEXT: &[u8] = b"lifeboat snapshot";

/// What a stream snapshot recorded about its stream.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream name (also the single file name in the snapshot's tree).
    pub name: String,
    /// Total bytes.
    pub size: u64,
    /// SHA-256 of the stream, hex.
    pub sha256: String,
}

/// Counters of one backup run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Files seen for the first time.
    pub files_new: u64,
    /// Files whose metadata changed since the parent (re-read).
    pub files_changed: u64,
    /// Files unchanged since the parent (not re-read).
    pub files_unchanged: u64,
    /// Directories.
    pub dirs: u64,
    /// Files that could not be read and were skipped.
    pub files_skipped: u64,
    /// Total bytes of the files and streams in the snapshot.
    pub total_bytes: u64,
    /// Bytes read from the source.
    pub bytes_read: u64,
    /// Bytes of sparse files' holes recorded without being read (absent in older snapshots).
    #[serde(default)]
    pub sparse_bytes: u64,
    /// Blobs added to the repository.
    pub blobs_added: u64,
    /// Plaintext bytes of the blobs added.
    pub bytes_added_raw: u64,
    /// Bytes written to the repository (packs + index), after dedup and compression.
    pub bytes_added: u64,
    /// Wall-clock seconds.
    pub duration_seconds: f64,
}

/// A snapshot manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// Time of the backup (RFC 3339, UTC).
    pub time: String,
    /// Host that made it.
    pub hostname: String,
    /// User that made it.
    pub username: String,
    /// Source kind: `files`, `stream`, or a source-specific kind such as `postgres-logical`.
    pub source: String,
    /// Absolute paths backed up (files).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Stream details (streams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamInfo>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Parent snapshot id used for change detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Root tree.
    pub tree: BlobId,
    /// Counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Source-specific metadata (server version, LSNs, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// The compression dictionary (`dicts/<id>`, hex) this backup compressed new data with,
    /// if any; `check` verifies it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<String>,
    /// Version of the program that wrote it.
    pub program_version: String,
    /// For a snapshot written by `tag` or `rewrite` in place of another: the id of the first
    /// snapshot of the chain (restic's `original`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// Every snapshot id this one stands in for, oldest first (so `replaces[0]` is
    /// `original`): a restore point naming one of them means this snapshot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
}

impl Snapshot {
    /// Parsed time.
    pub fn timestamp(&self) -> jiff::Timestamp {
        self.time.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// The grouping key used by `forget` by default: host and source (paths or stream name).
    pub fn source_label(&self) -> String {
        match &self.stream {
            // A stream that came from a file (a SQLite database) is told apart by its path.
            Some(s) if !self.paths.is_empty() => {
                format!("{}:{}:{}", self.source, s.name, self.paths.join(","))
            }
            Some(s) => format!("{}:{}", self.source, s.name),
            None => format!("{}:{}", self.source, self.paths.join(",")),
        }
    }
}

/// A snapshot together with its id.
#[derive(Clone, Debug)]
pub struct SnapshotEntry {
    /// Snapshot id (hex).
    pub id: String,
    /// The manifest.
    pub snapshot: Snapshot,
}

impl SnapshotEntry {
    /// First 8 hex digits of the id.
    pub fn short_id(&self) -> &str {
        &self.id[..8.min(self.id.len())]
    }
}
