//! The WAL archive: standalone encrypted objects, one per WAL file, outside packs and index.
//!
//! Layout and object format are specified in `docs/design/postgres.md`. In short:
//! - `wal/clusters/<id>`: a cluster binding (cluster name → database system identifier and
//!   segment size), sealed with the metadata key; `<id>` is a keyed hash of the name.
//! - `wal/<sysid>/<TLI>/<file name>`: one WAL segment, partial segment, timeline history file
//!   or backup history file. Bytes: a 56-byte header (magic `LBWL`, version, compression,
//!   archive time, plaintext length, keyed BLAKE3 content id) followed by an XChaCha20-Poly1305
//!   envelope (data key) of the (zstd-compressed) file, whose associated data binds the
//!   storage key and the header, so objects cannot be swapped or their headers edited.
//!
//! `wal-push` and `wal-fetch` never load the repository index: they read the config, unlock a
//! key (or use the opt-in key cache) and touch one or two objects.
//!
//! The code is cut by concern, lower levels first: `keys` (subkeys, key cache), `object` (the
//! object format), `binding` (cluster bindings), `list`, `push`, `fetch` and `copy` (the
//! operations), `points` (named restore points found in archived segments). Everything public is re-exported here, so paths stay `wal::X`.

mod binding;
mod copy;
mod fetch;
mod keys;
mod list;
mod object;
mod points;
mod push;

pub use binding::{validate_cluster_name, Binding, DEFAULT_CLUSTER};
pub use copy::WalCopyReport;
pub use keys::{KeyCache, KeySource, WalKeys};
pub use list::ArchivedFile;
pub use object::{
    decode_object, encode_object, object_key, ObjectHeader, HEADER_LEN, MAGIC, VERSION,
};
pub use points::{scan_segment, FoundRestorePoint};
pub use push::{PushOptions, PushOutcome};

use crate::error::{PgError, Result};
use lifeboat_core::Repository;
use lifeboat_storage::Storage;
use std::path::Path;

/// Handle on the WAL archive of one repository.
#[derive(Clone, Debug)]
pub struct WalArchive {
    storage: Storage,
    keys: WalKeys,
    repository_id: String,
    /// How the keys were obtained.
    pub key_source: KeySource,
}

impl WalArchive {
    /// Uses the keys of an open repository.
    pub fn from_repo(repo: &Repository) -> Self {
        WalArchive {
            storage: repo.storage().clone(),
            keys: WalKeys::from(repo.keys()),
            repository_id: repo.config().id.clone(),
            key_source: KeySource::Repository,
        }
    }

    /// Opens the archive with a password, without loading anything but the config and a key.
    /// With `cache` (a directory), unlocked keys are kept in `<cache>/<repository id>.key`
    /// (mode 0600) and reused while the password matches and the key file still exists: this
    /// skips the Argon2id derivation on every later call. See the design doc for the trade-off.
    pub fn open(storage: Storage, password: &[u8], cache: Option<&Path>) -> Result<Self> {
        let config = Repository::read_config(&storage)?;
        // Object lock: WAL objects get the same retention as everything else.
        let storage = lifeboat_core::retention_layer::apply(storage, config.object_lock.as_ref());
        if let Some(dir) = cache {
            if let Some(keys) = KeyCache::load(dir, &config.id, password, &storage) {
                return Ok(WalArchive {
                    storage,
                    keys,
                    repository_id: config.id,
                    key_source: KeySource::Cache,
                });
            }
        }
        let repo = Repository::open(storage.clone(), password)?;
        // WAL objects are sealed with the data key, which write-only keys do not have.
        repo.require_full_key("archive or fetch WAL")?;
        let keys = WalKeys::from(repo.keys());
        if let Some(dir) = cache {
            if let Err(e) = KeyCache::store(dir, &config.id, repo.key_id(), password, &keys) {
                tracing::warn!("cannot write the key cache in {}: {e}", dir.display());
            }
        }
        Ok(WalArchive {
            storage,
            keys,
            repository_id: config.id,
            key_source: KeySource::Password,
        })
    }

    /// The storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The keys.
    pub fn keys(&self) -> &WalKeys {
        &self.keys
    }

    /// The repository id.
    pub fn repository_id(&self) -> &str {
        &self.repository_id
    }

    /// Refuses writes while the repository is in read-only mode (see `lifeboat_core::mode`);
    /// reads the newest mode record with the cached keys, without opening the repository.
    pub fn require_writable(&self, operation: &str) -> Result<()> {
        use lifeboat_core::mode::{Mode, ModeRecord, MODE_CONTEXT, MODE_PREFIX};
        let newest = self
            .storage
            .list(MODE_PREFIX)?
            .into_iter()
            .filter_map(|o| {
                let n = o.key.strip_prefix(MODE_PREFIX)?;
                (n.len() == 20)
                    .then(|| n.parse::<u64>().ok())
                    .flatten()
                    .map(|s| (s, o.key))
            })
            .max();
        let Some((seq, key)) = newest else {
            return Ok(());
        };
        let refused = |detail: String| PgError::ModeUnreadable {
            operation: operation.to_string(),
            detail,
        };
        let bytes = self
            .storage
            .read(&key)
            .map_err(|e| refused(e.to_string()))?;
        let rec: ModeRecord =
            lifeboat_core::util::open_json(&self.keys.meta_key, MODE_CONTEXT, &bytes, &key)
                .map_err(|e| refused(e.to_string()))?;
        if rec.seq != seq {
            return Err(refused(format!("{key} says it is record {}", rec.seq)));
        }
        match rec.mode {
            Mode::Normal | Mode::Degraded => Ok(()),
            Mode::ReadOnly => Err(PgError::Core(lifeboat_core::Error::ReadOnly {
                mode: rec.mode.name().into(),
                operation: operation.into(),
            })),
        }
    }
}
