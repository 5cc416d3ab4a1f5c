//! The repository handle: open/init, keys, metadata objects, blob reads, and the checks every
//! write goes through (mode, key scope).

use crate::error::{Error, Hint, Result};
use crate::format::blob::{self, BlobId, BlobType};
use crate::format::config::{Config, CONFIG_KEY};
use crate::format::crypto::{sha256_hex, MasterKeys};
use crate::format::dict::{dict_key, DictId, DictSource, EncoderDict, DICT_CONTEXT};
use crate::format::drill::{DRILLS_PREFIX, DRILL_CONTEXT};
use crate::format::index::{Index, IndexFile, IndexPack, INDEX_CONTEXT};
use crate::format::json::{open_json, open_json_data, seal_json, seal_json_data};
use crate::format::keys::KeyFile;
use crate::format::mode::Mode;
use crate::format::pack::pack_key;
use crate::format::restore_point::{
    PINS_PREFIX, PIN_CONTEXT, RESTORE_POINTS_PREFIX, RESTORE_POINT_CONTEXT,
};
use crate::format::snapshot::{Snapshot, SnapshotEntry, SNAPSHOT_CONTEXT};
use crate::format::tree::Tree;
use crate::format::writeonly::KeyScope;
use crate::layers::object_lock;
use lifeboat_storage::{ErrorKind, Storage, WriteOptions};

// Stable path `lifeboat_core::repo::parallel_map` (the function lives in `crate::parallel`).
pub use crate::parallel::parallel_map;

/// An open repository: storage plus the unlocked keys.
#[derive(Debug)]
pub struct Repository {
    storage: Storage,
    config: Config,
    keys: MasterKeys,
    key_id: String,
    tree_packs: TreePackCache,
    dicts: crate::format::dict::DictCache,
}

/// Whole tree packs kept in memory while a command runs: directory listings are read many
/// times (change detection, restore planning, `ls`, `check`) and live together in small packs,
/// so one read per pack replaces one request per directory (which matters most on S3).
#[derive(Debug, Default)]
struct TreePackCache {
    /// Bytes cached, and the packs by id.
    packs: std::sync::Mutex<(usize, CachedPacks)>,
}

type CachedPacks = std::collections::HashMap<String, std::sync::Arc<Vec<u8>>>;

/// Tree packs larger than this are read by range instead of cached whole.
const TREE_PACK_CACHE_MAX_PACK: u64 = 32 << 20;
/// Total bytes of tree packs cached per process.
const TREE_PACK_CACHE_BUDGET: usize = 128 << 20;

impl TreePackCache {
    fn get_or_load(
        &self,
        storage: &Storage,
        pack: &str,
    ) -> lifeboat_storage::Result<std::sync::Arc<Vec<u8>>> {
        if let Some(p) = self.packs.lock().expect("tree cache").1.get(pack) {
            return Ok(p.clone());
        }
        let bytes = std::sync::Arc::new(storage.read(&pack_key(pack))?);
        let mut guard = self.packs.lock().expect("tree cache");
        if guard.0 + bytes.len() > TREE_PACK_CACHE_BUDGET {
            guard.1.clear();
            guard.0 = 0;
        }
        guard.0 += bytes.len();
        guard.1.insert(pack.to_string(), bytes.clone());
        Ok(bytes)
    }
}

/// A key file's public description (`key list`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyDescription {
    /// Key id (hex).
    pub id: String,
    /// True for the key this process opened the repository with.
    pub current: bool,
    /// Wrapping kind.
    pub kind: String,
    /// Creating user.
    pub username: String,
    /// Creating host.
    pub hostname: String,
    /// Creation time.
    pub created: String,
}

impl Repository {
    /// Creates a new repository at `storage` with one passphrase key.
    pub fn init(storage: Storage, password: &[u8], config: Config) -> Result<Repository> {
        if config.object_lock.is_some() {
            object_lock::require_capability(storage.as_ref())?;
        }
        let storage = object_lock::apply(storage, config.object_lock.as_ref());
        match storage.stat(CONFIG_KEY) {
            Ok(_) => {
                return Err(Error::AlreadyInitialized {
                    location: storage.location(),
                })
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        let keys = MasterKeys::generate();
        let (key_id, key_bytes) = KeyFile::wrap(&keys, &config.id, password)?;
        storage.write(
            &format!("keys/{key_id}"),
            &key_bytes,
            &WriteOptions::create_new(),
        )?;
        let config_bytes = serde_json::to_vec_pretty(&config).expect("config serializes");
        match storage.write(CONFIG_KEY, &config_bytes, &WriteOptions::create_new()) {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                let _ = storage.remove(&format!("keys/{key_id}"));
                return Err(Error::AlreadyInitialized {
                    location: storage.location(),
                });
            }
            Err(e) => {
                let _ = storage.remove(&format!("keys/{key_id}"));
                return Err(e.into());
            }
        }
        Ok(Repository {
            storage,
            config,
            keys,
            key_id,
            tree_packs: TreePackCache::default(),
            dicts: Default::default(),
        })
    }

    /// Reads the public config without a password.
    pub fn read_config(storage: &Storage) -> Result<Config> {
        let bytes = match storage.read(CONFIG_KEY) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                return Err(Error::NotARepository {
                    location: storage.location(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        let config: Config = serde_json::from_slice(&bytes)
            .map_err(|e| Error::corrupt(CONFIG_KEY, format!("bad config JSON: {e}")))?;
        if config.format != crate::format::config::FORMAT {
            return Err(Error::NotARepository {
                location: storage.location(),
            });
        }
        if config.version > crate::format::config::VERSION {
            return Err(Error::NewerFormat {
                found: config.version,
                supported: crate::format::config::VERSION,
            });
        }
        Ok(config)
    }

    /// Opens an existing repository with a password.
    pub fn open(storage: Storage, password: &[u8]) -> Result<Repository> {
        let config = Self::read_config(&storage)?;
        let storage = object_lock::apply(storage, config.object_lock.as_ref());
        let key_objects = storage.list("keys/")?;
        let mut tried = 0;
        for obj in &key_objects {
            let id = obj.key.trim_start_matches("keys/").to_string();
            let bytes = match storage.read(&obj.key) {
                Ok(b) => b,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            let Ok(file) = KeyFile::parse(&bytes, &id) else {
                tracing::warn!("skipping unreadable key file {}", obj.key);
                continue;
            };
            tried += 1;
            let keys = match file.unwrap(password, &config.id, &id)? {
                Some(keys) => Some(crate::format::writeonly::load_identity(
                    storage.as_ref(),
                    keys,
                )?),
                None => {
                    crate::format::writeonly::unwrap_write_only(&file, password, &config.id, &id)?
                }
            };
            if let Some(keys) = keys {
                return Ok(Repository {
                    storage,
                    config,
                    keys,
                    key_id: id,
                    tree_packs: TreePackCache::default(),
                    dicts: Default::default(),
                });
            }
        }
        Err(Error::WrongPassword {
            location: storage.location(),
            tried,
        })
    }

    /// The storage backend.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The public config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The unlocked keys.
    pub fn keys(&self) -> &MasterKeys {
        &self.keys
    }

    /// Id of the key file used to open the repository.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Refuses `operation`, a write that adds data, in read-only mode (see
    /// [`crate::governance::mode`]).
    pub fn require_writable(&self, operation: &str) -> Result<()> {
        self.require_mode(operation, &[Mode::Normal, Mode::Degraded])
    }

    /// Refuses `operation`, which destroys data, unless the repository is in normal mode
    /// (see [`crate::governance::mode`]).
    pub fn require_may_destroy(&self, operation: &str) -> Result<()> {
        self.require_mode(operation, &[Mode::Normal])
    }

    /// Refuses `operation` unless the current mode is one of `allowed`; an unreadable mode
    /// record refuses everything (fails closed).
    fn require_mode(&self, operation: &str, allowed: &[Mode]) -> Result<()> {
        let mode = crate::format::mode::read_newest(self.storage.as_ref(), &self.keys.meta_key)
            .map(|r| r.map_or(Mode::Normal, |r| r.mode))
            .map_err(|e| Error::ReadOnly {
                mode: format!("an unknown ({e})"),
                operation: format!("{operation} (refused until the mode record is readable again)"),
            })?;
        if allowed.contains(&mode) {
            Ok(())
        } else {
            Err(Error::ReadOnly {
                mode: mode.name().into(),
                operation: operation.into(),
            })
        }
    }

    /// Refuses `operation` unless the repository was opened with a full key (see
    /// [`crate::format::writeonly`]).
    pub fn require_full_key(&self, operation: &str) -> Result<()> {
        match self.keys.scope {
            KeyScope::Full => Ok(()),
            scope => Err(Error::InsufficientKey {
                operation: operation.into(),
                scope: scope.name().into(),
            }),
        }
    }

    /// True when the repository was opened with a write-only key.
    pub fn is_write_only(&self) -> bool {
        self.keys.scope == KeyScope::WriteOnly
    }

    // ---- keys ----

    /// Adds a passphrase key; returns its id.
    pub fn add_key(&self, password: &[u8]) -> Result<String> {
        self.require_writable("key add")?;
        self.require_full_key("add keys")?;
        let (id, bytes) = KeyFile::wrap(&self.keys, &self.config.id, password)?;
        self.storage
            .write(&format!("keys/{id}"), &bytes, &WriteOptions::create_new())?;
        Ok(id)
    }

    /// Describes every key file.
    pub fn list_keys(&self) -> Result<Vec<KeyDescription>> {
        let mut out = Vec::new();
        for obj in self.storage.list("keys/")? {
            let id = obj.key.trim_start_matches("keys/").to_string();
            let file = KeyFile::parse(&self.storage.read(&obj.key)?, &id)?;
            out.push(KeyDescription {
                current: id == self.key_id,
                id,
                kind: file.kind,
                username: file.username,
                hostname: file.hostname,
                created: file.created,
            });
        }
        out.sort_by(|a, b| a.created.cmp(&b.created));
        Ok(out)
    }

    /// Removes a key by id or unique prefix. The key in use cannot be removed.
    pub fn remove_key(&self, prefix: &str) -> Result<String> {
        self.require_may_destroy("key remove")?;
        self.require_full_key("remove keys")?;
        let keys = self.list_keys()?;
        let matching: Vec<_> = keys.iter().filter(|k| k.id.starts_with(prefix)).collect();
        let key = match matching.as_slice() {
            [] => {
                return Err(Error::guided(
                    format!("no key matches '{prefix}'"),
                    Hint::RunOperation {
                        operation: "key list",
                    },
                ))
            }
            [k] => *k,
            _ => {
                return Err(Error::guided(
                    format!("key prefix '{prefix}' is ambiguous"),
                    Hint::LongerPrefix,
                ))
            }
        };
        if key.current {
            return Err(Error::guided(
                "refusing to remove the key the repository was opened with: open it with another \
                 key to remove this one, or change this key's password instead",
                Hint::RunOperation {
                    operation: "key passwd",
                },
            ));
        }
        if keys.len() == 1 {
            return Err(Error::Invalid("refusing to remove the last key".into()));
        }
        self.storage.remove(&format!("keys/{}", key.id))?;
        Ok(key.id.clone())
    }

    /// Replaces the current key with a new password: adds the new key, then removes the old.
    pub fn change_password(&mut self, new_password: &[u8]) -> Result<String> {
        self.require_may_destroy("key passwd")?;
        let new_id = self.add_key(new_password)?;
        self.storage.remove(&format!("keys/{}", self.key_id))?;
        self.key_id = new_id.clone();
        Ok(new_id)
    }

    // ---- index ----

    /// Lists index object ids.
    pub fn list_index_ids(&self) -> Result<Vec<String>> {
        Ok(self
            .storage
            .list("index/")?
            .into_iter()
            .map(|o| o.key.trim_start_matches("index/").to_string())
            .collect())
    }

    /// Reads one index file.
    pub fn read_index_file(&self, id: &str) -> Result<IndexFile> {
        let key = format!("index/{id}");
        let bytes = self.storage.read(&key)?;
        if sha256_hex(&bytes) != id {
            return Err(Error::corrupt(
                &key,
                "content does not match its name (SHA-256)",
            ));
        }
        open_json(&self.keys.meta_key, INDEX_CONTEXT, &bytes, &key)
    }

    /// Loads every index file into memory (honouring `supersedes`).
    pub fn load_index(&self) -> Result<Index> {
        let ids = self.list_index_ids()?;
        let files = parallel_map(&ids, 8, |id| self.read_index_file(id));
        let mut loaded = Vec::with_capacity(files.len());
        for (id, f) in ids.into_iter().zip(files) {
            match f {
                Ok(f) => loaded.push((id, f)),
                // Deleted by a concurrent prune after we listed it: its packs are in a newer index.
                Err(Error::Storage(e)) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(Index::from_files(loaded).0)
    }

    /// Writes an index file; returns its id.
    pub fn write_index(&self, packs: Vec<IndexPack>, supersedes: Vec<String>) -> Result<String> {
        let bytes = seal_json(
            &self.keys.meta_key,
            INDEX_CONTEXT,
            &IndexFile { supersedes, packs },
        );
        let id = sha256_hex(&bytes);
        self.storage
            .write(&format!("index/{id}"), &bytes, &WriteOptions::default())?;
        Ok(id)
    }

    // ---- blobs ----

    /// Reads and verifies one blob.
    pub fn read_blob(&self, index: &Index, id: &BlobId) -> Result<Vec<u8>> {
        self.require_full_key("read data (restore, dump, ls, copy)")?;
        let loc = index.get(id).ok_or_else(|| Error::MissingBlob {
            blob: id.to_hex(),
            referenced_by: "a tree or snapshot".into(),
        })?;
        let pack = index.pack_id(loc);
        let info = &index.packs[loc.pack as usize];
        let stored = if info.tree_only && info.size <= TREE_PACK_CACHE_MAX_PACK {
            self.tree_packs
                .get_or_load(&self.storage, pack)
                .and_then(|bytes| {
                    let (start, end) = (
                        loc.offset as usize,
                        loc.offset as usize + loc.length as usize,
                    );
                    bytes.get(start..end).map(|b| b.to_vec()).ok_or_else(|| {
                        lifeboat_storage::StorageError::new(
                            ErrorKind::ShortRead,
                            "read",
                            self.storage.location(),
                            pack_key(pack),
                            "pack is shorter than its index entry",
                        )
                    })
                })
        } else {
            self.storage
                .read_range(&pack_key(pack), loc.offset as u64, loc.length as u64)
        }
        .map_err(|e| match e.kind {
            ErrorKind::NotFound | ErrorKind::ShortRead => Error::corrupt(
                format!("pack {pack}"),
                format!("cannot read blob {}: {e}", id.to_hex()),
            ),
            _ => Error::Storage(e),
        })?;
        blob::decode(
            &self.keys,
            self,
            id,
            &stored,
            loc.raw_length as usize,
            &format!("blob {} in pack {pack}", id.to_hex()),
        )
    }

    /// Reads one tree.
    pub fn read_tree(&self, index: &Index, id: &BlobId) -> Result<Tree> {
        if index.get(id).is_some_and(|l| l.kind != BlobType::Tree) {
            return Err(Error::corrupt(
                format!("blob {}", id.to_hex()),
                "expected a tree blob",
            ));
        }
        let bytes = self.read_blob(index, id)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::corrupt(
                format!("tree {}", id.to_hex()),
                format!("bad tree JSON: {e}"),
            )
        })
    }

    // ---- compression dictionaries ----

    /// Lists dictionary ids (sorted).
    pub fn list_dict_ids(&self) -> Result<Vec<DictId>> {
        let mut ids = Vec::new();
        for o in self.storage.list("dicts/")? {
            let name = o.key.trim_start_matches("dicts/");
            let mut id = [0u8; 32];
            if hex::decode_to_slice(name, &mut id).is_ok() {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Reads and verifies one dictionary object; returns its prefix bytes.
    pub fn read_dict(&self, id: &DictId) -> Result<Vec<u8>> {
        let key = dict_key(id);
        let bytes = self.storage.read(&key).map_err(|e| match e.kind {
            ErrorKind::NotFound => Error::corrupt(
                &key,
                "compression dictionary is missing; blobs compressed with it cannot be read",
            ),
            _ => Error::Storage(e),
        })?;
        if sha256_hex(&bytes) != hex::encode(id) {
            return Err(Error::corrupt(
                &key,
                "content does not match its name (SHA-256)",
            ));
        }
        self.keys.open_data(DICT_CONTEXT, &bytes, &key)
    }

    /// Stores a dictionary; returns its id. Idempotent: the same bytes sealed again get a
    /// new nonce and so a new id, which is harmless (a repository may hold several).
    pub fn write_dict(&self, dict: &[u8]) -> Result<DictId> {
        crate::format::dict::store(&self.storage, &self.keys, dict)
    }

    /// The dictionary new data blobs should be compressed with: the repository's first intact
    /// one (by id). `None` when the repository has none (or only damaged ones), does not use
    /// dictionaries, or this key cannot read them (write-only).
    pub fn current_encoder_dict(&self) -> Result<Option<EncoderDict>> {
        if !self.config.compression_dictionary
            || self.config.compression_level <= 0
            || self.is_write_only()
        {
            return Ok(None);
        }
        // A damaged dictionary must not stop backups: it is reported by `check` (the data that
        // used it is damaged too), and new data goes on with the next intact one, or none.
        // Storage errors (unreachable, denied) are not skipped: they would hide a dictionary
        // that is fine and make the next backup train another.
        for id in self.list_dict_ids()? {
            match self.read_dict(&id) {
                Ok(prefix) => return Ok(Some(EncoderDict { id, prefix })),
                Err(e @ Error::Corrupt { .. }) => {
                    tracing::warn!("skipping compression dictionary: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    // ---- sealed records (drill reports, restore points, pins) ----

    /// Writes a sealed JSON record under `prefix` (create-new; data key, associated data
    /// `context`); returns its id, the SHA-256 of the stored bytes.
    fn save_sealed<T: serde::Serialize>(
        &self,
        prefix: &str,
        context: &[u8],
        operation: &str,
        value: &T,
    ) -> Result<String> {
        self.require_writable(operation)?;
        let bytes = seal_json_data(&self.keys, context, value);
        let id = sha256_hex(&bytes);
        self.storage.write(
            &format!("{prefix}{id}"),
            &bytes,
            &WriteOptions {
                create_new: true,
                ..Default::default()
            },
        )?;
        Ok(id)
    }

    /// Reads sealed record `id` under `prefix`, checking that its content matches its name.
    fn read_sealed<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        context: &[u8],
        what: &str,
        id: &str,
    ) -> Result<T> {
        self.require_full_key(what)?;
        let key = format!("{prefix}{id}");
        let bytes = self.storage.read(&key)?;
        if sha256_hex(&bytes) != id {
            return Err(Error::corrupt(
                &key,
                "content does not match its name (SHA-256): the record was changed after it was written",
            ));
        }
        open_json_data(&self.keys, context, &bytes, &key)
    }

    /// The ids of the sealed records under `prefix`.
    fn list_sealed(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .storage
            .list(prefix)?
            .into_iter()
            .filter_map(|o| o.key.strip_prefix(prefix).map(str::to_string))
            .filter(|id| !id.contains('/'))
            .collect())
    }

    /// Writes a drill report (create-new); returns its id, the SHA-256 of the stored bytes.
    pub fn save_drill_report<T: serde::Serialize>(&self, report: &T) -> Result<String> {
        self.save_sealed(DRILLS_PREFIX, DRILL_CONTEXT, "drill", report)
    }

    /// Reads drill report `id` (a full id), checking that its content matches its name.
    pub fn read_drill_report<T: serde::de::DeserializeOwned>(&self, id: &str) -> Result<T> {
        self.read_sealed(DRILLS_PREFIX, DRILL_CONTEXT, "read drill reports", id)
    }

    /// Lists drill report ids.
    pub fn list_drill_report_ids(&self) -> Result<Vec<String>> {
        self.list_sealed(DRILLS_PREFIX)
    }

    /// Writes a restore point (create-new); returns its id.
    pub fn save_restore_point<T: serde::Serialize>(&self, point: &T) -> Result<String> {
        self.save_sealed(
            RESTORE_POINTS_PREFIX,
            RESTORE_POINT_CONTEXT,
            "restore-point create",
            point,
        )
    }

    /// Reads restore point `id` (a full id).
    pub fn read_restore_point<T: serde::de::DeserializeOwned>(&self, id: &str) -> Result<T> {
        self.read_sealed(
            RESTORE_POINTS_PREFIX,
            RESTORE_POINT_CONTEXT,
            "read restore points",
            id,
        )
    }

    /// Lists restore point ids.
    pub fn list_restore_point_ids(&self) -> Result<Vec<String>> {
        self.list_sealed(RESTORE_POINTS_PREFIX)
    }

    /// Removes restore point `id` (forget, once every member is gone). Refused unless the mode
    /// allows destroying data.
    pub fn remove_restore_point(&self, id: &str) -> Result<()> {
        self.require_may_destroy("forget")?;
        self.storage
            .remove(&format!("{RESTORE_POINTS_PREFIX}{id}"))?;
        Ok(())
    }

    /// Writes a pin of a restore point (create-new); returns its id.
    pub fn save_pin<T: serde::Serialize>(&self, pin: &T) -> Result<String> {
        self.save_sealed(PINS_PREFIX, PIN_CONTEXT, "restore-point pin", pin)
    }

    /// Reads pin `id`.
    pub fn read_pin<T: serde::de::DeserializeOwned>(&self, id: &str) -> Result<T> {
        self.read_sealed(PINS_PREFIX, PIN_CONTEXT, "read restore point pins", id)
    }

    /// Lists pin ids.
    pub fn list_pin_ids(&self) -> Result<Vec<String>> {
        self.list_sealed(PINS_PREFIX)
    }

    // ---- snapshots ----

    /// Writes a snapshot; returns its id.
    pub fn save_snapshot(&self, snapshot: &Snapshot) -> Result<String> {
        let bytes = seal_json_data(&self.keys, SNAPSHOT_CONTEXT, snapshot);
        let id = sha256_hex(&bytes);
        self.storage
            .write(&format!("snapshots/{id}"), &bytes, &WriteOptions::default())?;
        Ok(id)
    }

    /// Reads one snapshot by full id.
    pub fn read_snapshot(&self, id: &str) -> Result<Snapshot> {
        self.require_full_key(
            "read snapshots (snapshots, restore, dump, ls, forget, prune, check)",
        )?;
        let key = format!("snapshots/{id}");
        let bytes = self.storage.read(&key)?;
        if sha256_hex(&bytes) != id {
            return Err(Error::corrupt(
                &key,
                "content does not match its name (SHA-256)",
            ));
        }
        open_json_data(&self.keys, SNAPSHOT_CONTEXT, &bytes, &key)
    }

    /// Lists snapshot ids.
    pub fn list_snapshot_ids(&self) -> Result<Vec<String>> {
        Ok(self
            .storage
            .list("snapshots/")?
            .into_iter()
            .map(|o| o.key.trim_start_matches("snapshots/").to_string())
            .collect())
    }

    /// Reads every snapshot, oldest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotEntry>> {
        self.require_full_key(
            "read snapshots (snapshots, restore, dump, ls, forget, prune, check)",
        )?;
        let ids = self.list_snapshot_ids()?;
        let read = parallel_map(&ids, 8, |id| self.read_snapshot(id));
        let mut out = Vec::with_capacity(ids.len());
        for (id, r) in ids.into_iter().zip(read) {
            match r {
                Ok(snapshot) => out.push(SnapshotEntry { id, snapshot }),
                Err(Error::Storage(e)) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| {
            a.snapshot
                .timestamp()
                .cmp(&b.snapshot.timestamp())
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Resolves `latest`, a full id or a unique prefix.
    pub fn find_snapshot(&self, name: &str) -> Result<SnapshotEntry> {
        if name == "latest" {
            return self
                .snapshots()?
                .pop()
                .ok_or_else(|| Error::SnapshotNotFound(name.to_string()));
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::SnapshotNotFound(name.to_string()));
        }
        let ids = self.list_snapshot_ids()?;
        let matching: Vec<&String> = ids.iter().filter(|id| id.starts_with(name)).collect();
        match matching.as_slice() {
            [] => Err(Error::SnapshotNotFound(name.to_string())),
            [id] => Ok(SnapshotEntry {
                id: (*id).clone(),
                snapshot: self.read_snapshot(id)?,
            }),
            many => Err(Error::AmbiguousSnapshot {
                prefix: name.to_string(),
                candidates: many.iter().map(|i| &i[..12]).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Removes a snapshot object. Refused in read-only mode, and with [`Error::Retained`] while
    /// the snapshot is under object-lock retention (nothing is attempted then).
    pub fn remove_snapshot(&self, id: &str) -> Result<()> {
        self.require_may_destroy("forget")?;
        let key = format!("snapshots/{id}");
        if let Some(until) = object_lock::retained_until(self.storage.as_ref(), &key)? {
            return Err(Error::Retained {
                object: key,
                until: object_lock::format_time(until),
            });
        }
        self.storage.remove(&key)?;
        Ok(())
    }
}

impl DictSource for Repository {
    fn dict_prefix(&self, id: &DictId) -> Result<std::sync::Arc<Vec<u8>>> {
        self.dicts.get_or_load(id, || self.read_dict(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::object_lock::emulated::LockingMemory;
    use crate::layers::object_lock::parse_object_lock;
    use std::sync::Arc;

    #[test]
    fn init_requires_object_lock_capability() {
        std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
        let store = Arc::new(LockingMemory {
            no_lock: true,
            ..Default::default()
        });
        let mut config = Config::new();
        config.object_lock = Some(parse_object_lock("GOVERNANCE:1").unwrap());
        let e = Repository::init(store.clone(), b"pw", config).unwrap_err();
        assert!(e.to_string().contains("bucket without object lock"), "{e}");
        assert!(store.objects.lock().unwrap().is_empty(), "nothing written");
    }
}
