//! The archive's keys: the subkeys it uses, how they were obtained, and the opt-in key cache
//! that lets `wal-push`/`wal-fetch` skip the password derivation.

use lifeboat_core::crypto::{Key, MasterKeys};
use lifeboat_storage::Storage;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The subkeys the WAL archive needs (a subset of the repository's [`MasterKeys`]).
#[derive(Clone, Debug)]
pub struct WalKeys {
    /// Encrypts WAL objects.
    pub data_key: Key,
    /// Keyed hash for content ids.
    pub id_key: Key,
    /// Encrypts cluster bindings.
    pub meta_key: Key,
}

impl From<&MasterKeys> for WalKeys {
    fn from(k: &MasterKeys) -> Self {
        WalKeys {
            data_key: k.data_key.clone(),
            id_key: k.id_key.clone(),
            meta_key: k.meta_key.clone(),
        }
    }
}

impl WalKeys {
    /// Keyed BLAKE3 content id of a WAL file's plaintext.
    pub(super) fn content_id(&self, data: &[u8]) -> [u8; 32] {
        *blake3::keyed_hash(&self.id_key.0, data).as_bytes()
    }
}

/// How the keys were obtained (for latency reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum KeySource {
    /// Derived from the password (Argon2id).
    Password,
    /// Read from the key cache.
    Cache,
    /// Taken from an already open repository.
    Repository,
}

/// The opt-in key cache (see [`WalArchive::open`](super::WalArchive::open)).
pub struct KeyCache;

#[derive(Serialize, Deserialize)]
struct CacheFile {
    format: String,
    repository_id: String,
    key_id: String,
    password_check: String,
    data_key: String,
    id_key: String,
    meta_key: String,
    created: String,
}

fn password_check(meta_key: &Key, password: &[u8]) -> String {
    let k = blake3::derive_key("lifeboat 2026-11 key cache password check", &meta_key.0);
    blake3::keyed_hash(&k, password).to_hex().to_string()
}

fn key_from_hex(s: &str) -> Option<Key> {
    let v = hex::decode(s).ok()?;
    Some(Key(v.try_into().ok()?))
}

impl KeyCache {
    fn path(dir: &Path, repository_id: &str) -> PathBuf {
        dir.join(format!("{repository_id}.key"))
    }

    /// Loads cached keys when valid for this repository, password and an existing key file.
    pub fn load(
        dir: &Path,
        repository_id: &str,
        password: &[u8],
        storage: &Storage,
    ) -> Option<WalKeys> {
        use std::os::unix::fs::MetadataExt;
        let path = Self::path(dir, repository_id);
        let meta = std::fs::metadata(&path).ok()?;
        // SAFETY: geteuid has no preconditions.
        if meta.mode() & 0o077 != 0 || meta.uid() != unsafe { libc::geteuid() } {
            tracing::warn!(
                "ignoring key cache {}: it must be owned by this user with mode 0600",
                path.display()
            );
            return None;
        }
        let f: CacheFile = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        if f.format != "lifeboat-key-cache-v1" || f.repository_id != repository_id {
            return None;
        }
        let keys = WalKeys {
            data_key: key_from_hex(&f.data_key)?,
            id_key: key_from_hex(&f.id_key)?,
            meta_key: key_from_hex(&f.meta_key)?,
        };
        if password_check(&keys.meta_key, password) != f.password_check {
            return None;
        }
        // A removed key file (revoked password) invalidates the cache.
        if f.key_id.is_empty() || !f.key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        storage.stat(&format!("keys/{}", f.key_id)).ok()?;
        Some(keys)
    }

    /// Writes the cache file (directory 0700, file 0600, atomic rename).
    pub fn store(
        dir: &Path,
        repository_id: &str,
        key_id: &str,
        password: &[u8],
        keys: &WalKeys,
    ) -> std::io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let f = CacheFile {
            format: "lifeboat-key-cache-v1".into(),
            repository_id: repository_id.into(),
            key_id: key_id.into(),
            password_check: password_check(&keys.meta_key, password),
            data_key: hex::encode(keys.data_key.0),
            id_key: hex::encode(keys.id_key.0),
            meta_key: hex::encode(keys.meta_key.0),
            created: jiff::Timestamp::now().to_string(),
        };
        let path = Self::path(dir, repository_id);
        let tmp = dir.join(format!(
            ".{repository_id}.{:08x}.tmp",
            rand::random::<u32>()
        ));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&serde_json::to_vec(&f).expect("cache serializes"))?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &path)
    }
}
