//! Storing one stream as a snapshot, with metadata that is only known after the stream ended.
//!
//! The engine's stream backup (packs, then index, then snapshot; a single-file tree) with the
//! PostgreSQL source's error type: metadata known only after the stream ended (a base backup's
//! stop LSN) is merged into the snapshot. An error from `finished`, or from reading, writes no
//! snapshot.

use crate::error::{PgError, Result};
use lifeboat_core::backup::{backup_stream, BackupOptions, BackupOutcome, Progress};
use lifeboat_core::Repository;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

/// Stores `reader` as a stream snapshot named `name` through the engine's
/// [`lifeboat_core::backup::backup_stream`].
///
/// `finished` runs after end of stream and before anything is indexed; its error aborts the
/// backup (nothing recorded) and is returned as is; its map is merged into the snapshot's
/// `extra`, and the source metadata object under [`crate::physical::EXTRA_KEY`] also gets the
/// stream's size and SHA-256.
pub fn store_stream<R: Read>(
    repo: &Repository,
    name: &str,
    reader: R,
    opts: &BackupOptions,
    progress: Arc<Progress>,
    finished: impl FnOnce() -> Result<BTreeMap<String, Value>>,
) -> Result<BackupOutcome> {
    let mut source_error: Option<PgError> = None;
    let outcome = backup_stream(repo, name, reader, opts, progress, |info| {
        let mut extra = match finished() {
            Ok(extra) => extra,
            Err(e) => {
                let text = e.to_string();
                source_error = Some(e);
                return Err(lifeboat_core::Error::SourceFailed(text));
            }
        };
        // Source metadata objects carry the stream's size and digest too.
        let key = crate::physical::EXTRA_KEY;
        let mut meta = extra.remove(key).or_else(|| opts.extra.get(key).cloned());
        if let Some(Value::Object(m)) = &mut meta {
            m.insert("size".into(), Value::from(info.size));
            m.insert("sha256".into(), Value::from(info.sha256.clone()));
        }
        if let Some(meta) = meta {
            extra.insert(key.to_string(), meta);
        }
        Ok(extra)
    });
    match (outcome, source_error) {
        (_, Some(e)) => Err(e),
        (Ok(o), None) => Ok(o),
        (Err(e), None) => Err(PgError::Core(e)),
    }
}
