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

use crate::error::{PgError, Result};
use crate::lsn::{parse_long_header, parse_wal_file_name, WalFileKind, WalFileName};
use lifeboat_core::crypto::{Key, MasterKeys};
use lifeboat_core::Repository;
use lifeboat_storage::{ErrorKind, Storage, WriteOptions};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Object magic.
pub const MAGIC: &[u8; 4] = b"LBWL";
/// Object format version.
pub const VERSION: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 56;
/// Envelope associated-data prefix.
const AAD_PREFIX: &[u8] = b"lifeboat wal v1\0";
/// Context of cluster binding envelopes.
const BINDING_CONTEXT: &[u8] = b"lifeboat wal cluster";
/// Default cluster name.
pub const DEFAULT_CLUSTER: &str = "main";

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
    fn content_id(&self, data: &[u8]) -> [u8; 32] {
        *blake3::keyed_hash(&self.id_key.0, data).as_bytes()
    }
}

/// A cluster binding: which database system a cluster name archives for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Binding {
    /// Cluster name (`--cluster`, default `main`).
    pub cluster: String,
    /// Database system identifier (decimal string: JSON numbers lose u64 precision elsewhere).
    pub system_identifier: String,
    /// WAL segment size in bytes.
    pub wal_segment_size: u64,
    /// When the binding was made.
    pub created: String,
    /// Host that made it.
    pub hostname: String,
}

impl Binding {
    /// The system identifier as a number.
    pub fn sysid(&self) -> u64 {
        self.system_identifier.parse().unwrap_or(0)
    }
}

/// The parsed header of a stored WAL object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectHeader {
    /// 0 = stored, 1 = zstd.
    pub compression: u8,
    /// Unix time in milliseconds when it was archived.
    pub archived_at_ms: u64,
    /// Plaintext length.
    pub length: u64,
    /// Keyed BLAKE3 of the plaintext.
    pub content_id: [u8; 32],
}

impl ObjectHeader {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(MAGIC);
        h[4] = VERSION;
        h[5] = self.compression;
        h[8..16].copy_from_slice(&self.archived_at_ms.to_le_bytes());
        h[16..24].copy_from_slice(&self.length.to_le_bytes());
        h[24..56].copy_from_slice(&self.content_id);
        h
    }

    /// Parses a header; `key` names the object in errors.
    pub fn decode(b: &[u8], key: &str) -> Result<Self> {
        let corrupt = |d: &str| PgError::Corrupt {
            key: key.to_string(),
            detail: d.to_string(),
        };
        if b.len() < HEADER_LEN {
            return Err(corrupt("shorter than the header"));
        }
        if &b[0..4] != MAGIC {
            return Err(corrupt("bad magic"));
        }
        if b[4] != VERSION {
            return Err(corrupt(&format!("unknown WAL object version {}", b[4])));
        }
        if b[5] > 1 {
            return Err(corrupt(&format!("unknown compression {}", b[5])));
        }
        Ok(ObjectHeader {
            compression: b[5],
            archived_at_ms: u64::from_le_bytes(b[8..16].try_into().expect("8")),
            length: u64::from_le_bytes(b[16..24].try_into().expect("8")),
            content_id: b[24..56].try_into().expect("32"),
        })
    }

    /// Archive time.
    pub fn archived_at(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.archived_at_ms as i64)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Archive time as RFC 3339.
    pub fn archived_at_string(&self) -> String {
        self.archived_at().to_string()
    }
}

/// One archived file as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivedFile {
    /// Parsed name.
    pub file: WalFileName,
    /// Storage key.
    pub key: String,
    /// Stored size.
    pub size: u64,
}

/// Storage key of a WAL file of system `sysid`.
pub fn object_key(sysid: u64, tli: u32, name: &str) -> String {
    format!("wal/{sysid}/{tli:08X}/{name}")
}

fn aad(key: &str, header: &[u8; HEADER_LEN]) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_PREFIX.len() + key.len() + 1 + HEADER_LEN);
    a.extend_from_slice(AAD_PREFIX);
    a.extend_from_slice(key.as_bytes());
    a.push(0);
    a.extend_from_slice(header);
    a
}

/// Encodes a WAL object.
pub fn encode_object(keys: &WalKeys, key: &str, data: &[u8], level: i32) -> Vec<u8> {
    let compressed = zstd::bulk::compress(data, level).ok();
    let (compression, body) = match &compressed {
        Some(c) if c.len() < data.len() => (1u8, &c[..]),
        _ => (0u8, data),
    };
    let header = ObjectHeader {
        compression,
        archived_at_ms: jiff::Timestamp::now().as_millisecond().max(0) as u64,
        length: data.len() as u64,
        content_id: keys.content_id(data),
    };
    seal_object(keys, key, &header, body)
}

/// Header plus the sealed (possibly compressed) body.
fn seal_object(keys: &WalKeys, key: &str, header: &ObjectHeader, body: &[u8]) -> Vec<u8> {
    let header = header.encode();
    let sealed = keys.data_key.seal(&aad(key, &header), body);
    let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&sealed);
    out
}

/// Re-encodes a stored object for another repository's keys: verified in full with `from`
/// (authenticated, decompressed, content id checked), then its compressed body is sealed with
/// `to` under the same key, keeping the original archive time.
fn reencode_object(
    from: &WalKeys,
    to: &WalKeys,
    key: &str,
    bytes: &[u8],
) -> Result<(Vec<u8>, Vec<u8>)> {
    let (header, body) = open_sealed(from, key, bytes)?;
    let data = verified_plaintext(from, key, &header, &body)?;
    let out = seal_object(
        to,
        key,
        &ObjectHeader {
            content_id: to.content_id(&data),
            ..header
        },
        &body,
    );
    Ok((out, data))
}

/// What copying one cluster's WAL archive into another repository did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WalCopyReport {
    /// Cluster name.
    pub cluster: String,
    /// Its system identifier (decimal).
    pub system_identifier: String,
    /// Files copied.
    pub copied: u64,
    /// Files the destination already had (same content).
    pub present: u64,
    /// Plaintext bytes copied.
    pub bytes: u64,
}

/// Decodes and verifies a WAL object.
pub fn decode_object(keys: &WalKeys, key: &str, bytes: &[u8]) -> Result<(ObjectHeader, Vec<u8>)> {
    let (header, body) = open_sealed(keys, key, bytes)?;
    let data = verified_plaintext(keys, key, &header, &body)?;
    Ok((header, data))
}

/// The header and the authenticated stored body (compressed or not) of a WAL object.
fn open_sealed(keys: &WalKeys, key: &str, bytes: &[u8]) -> Result<(ObjectHeader, Vec<u8>)> {
    let header = ObjectHeader::decode(bytes, key)?;
    let hbytes: [u8; HEADER_LEN] = bytes[..HEADER_LEN].try_into().expect("header");
    let body = keys
        .data_key
        .open(&aad(key, &hbytes), &bytes[HEADER_LEN..], key)
        .map_err(|e| PgError::Corrupt {
            key: key.to_string(),
            detail: e.to_string(),
        })?;
    Ok((header, body))
}

/// The plaintext of a stored body, checked against the header's length and content id.
fn verified_plaintext(
    keys: &WalKeys,
    key: &str,
    header: &ObjectHeader,
    body: &[u8],
) -> Result<Vec<u8>> {
    let data = if header.compression == 1 {
        zstd::bulk::decompress(body, header.length as usize).map_err(|e| PgError::Corrupt {
            key: key.to_string(),
            detail: format!("decompression failed: {e}"),
        })?
    } else {
        body.to_vec()
    };
    if data.len() as u64 != header.length || keys.content_id(&data) != header.content_id {
        return Err(PgError::Corrupt {
            key: key.to_string(),
            detail: "content does not match its recorded length and content id".into(),
        });
    }
    Ok(data)
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

/// Handle on the WAL archive of one repository.
#[derive(Clone, Debug)]
pub struct WalArchive {
    storage: Storage,
    keys: WalKeys,
    repository_id: String,
    /// How the keys were obtained.
    pub key_source: KeySource,
}

/// What a push did.
#[derive(Clone, Debug, Serialize)]
pub struct PushOutcome {
    /// The WAL file name.
    pub name: String,
    /// The storage key.
    pub key: String,
    /// False when an identical copy was already archived.
    pub stored: bool,
    /// Plaintext bytes.
    pub bytes: u64,
    /// Bytes written to storage (0 when already archived).
    pub stored_bytes: u64,
    /// Seconds spent.
    pub seconds: f64,
}

/// Options of a push.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Cluster name.
    pub cluster: String,
    /// Expected system identifier (refuse others).
    pub system_id: Option<u64>,
    /// zstd level.
    pub compression_level: i32,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            cluster: DEFAULT_CLUSTER.into(),
            system_id: None,
            compression_level: 1,
        }
    }
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

    fn binding_key(&self, cluster: &str) -> String {
        let k = blake3::derive_key("lifeboat 2026-11 wal cluster name", &self.keys.meta_key.0);
        let h = blake3::keyed_hash(&k, cluster.as_bytes());
        format!("wal/clusters/{}", &h.to_hex()[..32])
    }

    /// Reads the binding of `cluster`, if any.
    pub fn binding(&self, cluster: &str) -> Result<Option<Binding>> {
        let key = self.binding_key(cluster);
        let bytes = match self.storage.read(&key) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let b: Binding =
            lifeboat_core::util::open_json(&self.keys.meta_key, BINDING_CONTEXT, &bytes, &key)?;
        if b.cluster != cluster {
            return Err(PgError::Corrupt {
                key,
                detail: format!(
                    "binding names cluster '{}', expected '{cluster}'",
                    b.cluster
                ),
            });
        }
        Ok(Some(b))
    }

    /// Every binding in the repository.
    pub fn bindings(&self) -> Result<Vec<Binding>> {
        let mut out = Vec::new();
        for o in self.storage.list("wal/clusters/")? {
            let bytes = match self.storage.read(&o.key) {
                Ok(b) => b,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            out.push(lifeboat_core::util::open_json(
                &self.keys.meta_key,
                BINDING_CONTEXT,
                &bytes,
                &o.key,
            )?);
        }
        out.sort_by(|a: &Binding, b| a.cluster.cmp(&b.cluster));
        Ok(out)
    }

    /// Binds `cluster` to system `sysid` if unbound; refuses another system if bound.
    pub fn bind(&self, cluster: &str, sysid: u64, seg_size: u64) -> Result<Binding> {
        validate_cluster_name(cluster)?;
        if let Some(b) = self.binding(cluster)? {
            return check_binding(b, cluster, sysid, seg_size);
        }
        let b = Binding {
            cluster: cluster.to_string(),
            system_identifier: sysid.to_string(),
            wal_segment_size: seg_size,
            created: jiff::Timestamp::now().to_string(),
            hostname: lifeboat_core::util::hostname(),
        };
        let key = self.binding_key(cluster);
        let bytes = lifeboat_core::util::seal_json(&self.keys.meta_key, BINDING_CONTEXT, &b);
        match self
            .storage
            .write(&key, &bytes, &WriteOptions::create_new())
        {
            Ok(()) => Ok(b),
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                // Lost a race with another first push: the winner's binding decides.
                let b = self.binding(cluster)?.ok_or_else(|| {
                    PgError::Invalid(format!(
                        "cluster binding for '{cluster}' vanished while being created; retry"
                    ))
                })?;
                check_binding(b, cluster, sysid, seg_size)
            }
            Err(e) => Err(e.into()),
        }
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
        let refused = |detail: String| {
            PgError::Core(lifeboat_core::Error::Invalid(format!(
                "cannot tell the repository mode ({detail}); {operation} is refused until the mode record is readable"
            )))
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
            Mode::Normal => Ok(()),
            Mode::ReadOnly => Err(PgError::Core(lifeboat_core::Error::ReadOnly {
                mode: rec.mode.name().into(),
                operation: operation.into(),
            })),
        }
    }

    /// Archives the WAL file at `path` (as handed over by `archive_command`'s `%p`).
    /// Returns only after the object is durably stored (or an identical copy was found).
    pub fn push(&self, path: &Path, opts: &PushOptions) -> Result<PushOutcome> {
        let started = Instant::now();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| PgError::Invalid(format!("{} is not a WAL file path", path.display())))?
            .to_string();
        self.require_writable("wal-push")?;
        let data = std::fs::read(path).map_err(|e| PgError::io("reading WAL file", path, e))?;
        // The segment size and system id come from the segment header when there is one,
        // else from the binding (history and backup-history files carry neither).
        let header = if name.ends_with(".history") || name.ends_with(".backup") {
            None
        } else {
            Some(parse_long_header(&data).map_err(|e| {
                PgError::Invalid(format!("{} is not a WAL segment: {e}", path.display()))
            })?)
        };
        let binding = self.binding(&opts.cluster)?;
        let (sysid, seg_size) = match (&header, &binding) {
            (Some(h), _) => (h.system_identifier, h.seg_size as u64),
            (None, Some(b)) => (b.sysid(), b.wal_segment_size),
            (None, None) => {
                // History files may arrive before any segment (a freshly promoted clone):
                // archive_command runs in the data directory, whose pg_control names the system.
                let sysid = crate::tools::read_control_system_id(Path::new(".")).ok_or_else(|| {
                    PgError::Invalid(format!(
                        "cannot archive {name}: cluster '{}' has no archived segment or base backup yet, so its system identifier is unknown; pass --system-id",
                        opts.cluster
                    ))
                })?;
                (opts.system_id.unwrap_or(sysid), 16 << 20)
            }
        };
        let file = parse_wal_file_name(&name, seg_size).ok_or_else(|| {
            PgError::Invalid(format!(
                "'{name}' is not a WAL, history or backup history file name"
            ))
        })?;
        if let Some(expected) = opts.system_id {
            if expected != sysid {
                return Err(PgError::WrongSystem {
                    what: format!("WAL file {name}"),
                    expected,
                    expected_from: "--system-id".into(),
                    found: sysid,
                });
            }
        }
        if let Some(h) = &header {
            if file.kind == WalFileKind::Segment || file.kind == WalFileKind::Partial {
                let expect_addr = file.segno * seg_size;
                if h.page_addr.0 != expect_addr {
                    return Err(PgError::Invalid(format!(
                        "{name}: its header says it starts at {}, but the name means {}; refusing a renamed or recycled file",
                        h.page_addr,
                        crate::lsn::Lsn(expect_addr)
                    )));
                }
                if data.len() as u64 != seg_size && file.kind == WalFileKind::Segment {
                    return Err(PgError::Invalid(format!(
                        "{name} is {} bytes but segments of this cluster are {seg_size}; refusing a truncated segment",
                        data.len()
                    )));
                }
            }
        }
        match binding {
            Some(b) => {
                check_binding(b, &opts.cluster, sysid, seg_size)?;
            }
            None => {
                self.bind(&opts.cluster, sysid, seg_size)?;
            }
        }
        let key = object_key(sysid, file.tli, &name);
        let bytes = encode_object(&self.keys, &key, &data, opts.compression_level);
        match self
            .storage
            .write(&key, &bytes, &WriteOptions::create_new())
        {
            Ok(()) => Ok(PushOutcome {
                name,
                key,
                stored: true,
                bytes: data.len() as u64,
                stored_bytes: bytes.len() as u64,
                seconds: started.elapsed().as_secs_f64(),
            }),
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                let existing = self.storage.read_range(&key, 0, HEADER_LEN as u64)?;
                let h = ObjectHeader::decode(&existing, &key)?;
                if h.content_id == self.keys.content_id(&data) && h.length == data.len() as u64 {
                    Ok(PushOutcome {
                        name,
                        key,
                        stored: false,
                        bytes: data.len() as u64,
                        stored_bytes: 0,
                        seconds: started.elapsed().as_secs_f64(),
                    })
                } else {
                    Err(PgError::WalConflict {
                        name,
                        archived_at: h.archived_at_string(),
                    })
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Pushes `path`, and meanwhile up to `ahead` further complete segments that PostgreSQL has
    /// marked ready for archiving (`archive_status/*.ready` next to `path`), in parallel. The
    /// later `wal-push` calls for those find them archived and only compare content ids, so a
    /// burst of WAL is archived at the pace of parallel uploads. Returns the outcome for
    /// `path` (an error there is the call's error) and the names pushed ahead; a failure of an
    /// ahead push is ignored (PostgreSQL will ask for that file and get the error then).
    pub fn push_with_ahead(
        &self,
        path: &Path,
        opts: &PushOptions,
        ahead: usize,
    ) -> Result<(PushOutcome, Vec<String>)> {
        let candidates = if ahead == 0 {
            Vec::new()
        } else {
            ready_after(path, ahead)
        };
        if candidates.is_empty() {
            return Ok((self.push(path, opts)?, Vec::new()));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::thread::scope(|s| {
            let handles: Vec<_> = candidates
                .iter()
                .map(|name| {
                    let p = dir.join(name);
                    s.spawn(move || self.push(&p, opts))
                })
                .collect();
            let own = self.push(path, opts);
            let mut pushed = Vec::new();
            for (name, h) in candidates.iter().zip(handles) {
                match h.join() {
                    Ok(Ok(o)) if o.stored => pushed.push(name.clone()),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::debug!("pushing {name} ahead failed: {e}"),
                    Err(_) => tracing::debug!("pushing {name} ahead panicked"),
                }
            }
            Ok((own?, pushed))
        })
    }

    /// Resolves the system identifier for fetching: explicit, else the data directory's
    /// `global/pg_control` (restore_command runs in the data directory), else the binding.
    pub fn resolve_sysid(&self, explicit: Option<u64>, cluster: &str) -> Result<u64> {
        if let Some(s) = explicit {
            return Ok(s);
        }
        if let Some(s) = crate::tools::read_control_system_id(Path::new(".")) {
            return Ok(s);
        }
        match self.binding(cluster)? {
            Some(b) => Ok(b.sysid()),
            None => Err(PgError::Invalid(format!(
                "no WAL archived for cluster '{cluster}' in this repository; pass --system-id or --cluster"
            ))),
        }
    }

    /// Reads and verifies one archived file.
    pub fn read_file(&self, sysid: u64, name: &str) -> Result<(ObjectHeader, Vec<u8>)> {
        let file = parse_wal_file_name(name, 16 << 20)
            .or_else(|| parse_wal_file_name(name, 1 << 30))
            .ok_or_else(|| PgError::Invalid(format!("'{name}' is not a WAL file name")))?;
        let key = object_key(sysid, file.tli, name);
        let bytes = match self.storage.read(&key) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                return Err(PgError::WalNotFound {
                    name: name.to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        decode_object(&self.keys, &key, &bytes)
    }

    /// Fetches `name` into `dest` atomically (temporary file, fsync, rename).
    pub fn fetch(&self, sysid: u64, name: &str, dest: &Path) -> Result<u64> {
        let (_, data) = self.read_file(sysid, name)?;
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.lifeboat-{:08x}",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("wal"),
            rand::random::<u32>()
        ));
        let result = (|| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, dest)?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(PgError::io("writing fetched WAL to", dest, e));
        }
        Ok(data.len() as u64)
    }

    /// Lists the archived files of system `sysid` (unparseable names are ignored).
    pub fn list(&self, sysid: u64, seg_size: u64) -> Result<Vec<ArchivedFile>> {
        let mut out: Vec<ArchivedFile> = self
            .storage
            .list(&format!("wal/{sysid}/"))?
            .into_iter()
            .filter_map(|o| {
                let name = o.key.rsplit('/').next()?.to_string();
                let file = parse_wal_file_name(&name, seg_size)?;
                (o.key == object_key(sysid, file.tli, &name)).then_some(ArchivedFile {
                    file,
                    key: o.key,
                    size: o.size,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            (a.file.segno, a.file.tli, &a.file.name).cmp(&(b.file.segno, b.file.tli, &b.file.name))
        });
        Ok(out)
    }

    /// Reads the header of one stored object.
    pub fn header(&self, key: &str) -> Result<ObjectHeader> {
        let b = self.storage.read_range(key, 0, HEADER_LEN as u64)?;
        ObjectHeader::decode(&b, key)
    }

    /// Copies the WAL archive of `cluster` (segments, history and backup-history files) into
    /// `dst`, binding the cluster there to the same system (a destination bound to another
    /// system is refused). Files the destination has are skipped when their content matches and
    /// refused when it differs ([`PgError::WalConflict`]); every copied file is verified first.
    /// A cluster without archived WAL copies nothing.
    pub fn copy_to(&self, dst: &WalArchive, cluster: &str) -> Result<WalCopyReport> {
        let Some(b) = self.binding(cluster)? else {
            return Ok(WalCopyReport {
                cluster: cluster.to_string(),
                ..Default::default()
            });
        };
        dst.require_writable("copy WAL into")?;
        let (sysid, seg) = (b.sysid(), b.wal_segment_size);
        dst.bind(cluster, sysid, seg)?;
        let have: std::collections::HashSet<String> =
            dst.list(sysid, seg)?.into_iter().map(|f| f.key).collect();
        let (present, todo): (Vec<ArchivedFile>, Vec<ArchivedFile>) = self
            .list(sysid, seg)?
            .into_iter()
            .partition(|f| have.contains(&f.key));
        let same_keys =
            self.keys.data_key.0 == dst.keys.data_key.0 && self.keys.id_key.0 == dst.keys.id_key.0;
        let results = lifeboat_core::repo::parallel_map(&todo, 4, |f| -> Result<u64> {
            let bytes = self.storage.read(&f.key)?;
            let (out, data) = if same_keys {
                let (_, data) = decode_object(&self.keys, &f.key, &bytes)?;
                (bytes, data)
            } else {
                reencode_object(&self.keys, &dst.keys, &f.key, &bytes)?
            };
            match dst.storage.write(&f.key, &out, &WriteOptions::create_new()) {
                Ok(()) => Ok(data.len() as u64),
                Err(e) if e.kind == ErrorKind::AlreadyExists => {
                    let h = dst.header(&f.key)?;
                    if h.content_id == dst.keys.content_id(&data) && h.length == data.len() as u64 {
                        Ok(0)
                    } else {
                        Err(PgError::WalConflict {
                            name: f.file.name.clone(),
                            archived_at: h.archived_at_string(),
                        })
                    }
                }
                Err(e) => Err(e.into()),
            }
        });
        let mut report = WalCopyReport {
            cluster: cluster.to_string(),
            system_identifier: sysid.to_string(),
            present: present.len() as u64,
            ..Default::default()
        };
        for r in results {
            report.bytes += r?;
            report.copied += 1;
        }
        Ok(report)
    }

    /// Waits until every segment of `names` is archived, up to `timeout`.
    pub fn wait_for(
        &self,
        sysid: u64,
        seg_size: u64,
        names: &[String],
        timeout: Duration,
    ) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            let have: std::collections::HashSet<String> = self
                .list(sysid, seg_size)?
                .into_iter()
                .map(|f| f.file.name)
                .collect();
            let missing: Vec<String> = names
                .iter()
                .filter(|n| !have.contains(*n))
                .cloned()
                .collect();
            if missing.is_empty() || Instant::now() >= deadline {
                return Ok(missing);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Up to `n` segment names after `path`'s that have a `.ready` status file, oldest first.
fn ready_after(path: &Path, n: usize) -> Vec<String> {
    let Some(name) = path.file_name().and_then(|f| f.to_str()) else {
        return Vec::new();
    };
    let Some(me) = parse_wal_file_name(name, 16 << 20) else {
        return Vec::new();
    };
    if me.kind != WalFileKind::Segment {
        return Vec::new();
    }
    let status = path
        .parent()
        .unwrap_or(Path::new("."))
        .join("archive_status");
    let Ok(rd) = std::fs::read_dir(status) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let f = e.file_name().to_str()?.strip_suffix(".ready")?.to_string();
            let w = parse_wal_file_name(&f, 16 << 20)?;
            (w.kind == WalFileKind::Segment && w.tli == me.tli && w.name > me.name).then_some(f)
        })
        .collect();
    names.sort();
    names.truncate(n);
    names
}

fn check_binding(b: Binding, cluster: &str, sysid: u64, seg_size: u64) -> Result<Binding> {
    if b.sysid() != sysid {
        return Err(PgError::WrongSystem {
            what: format!("WAL or backup for cluster '{cluster}'"),
            expected: b.sysid(),
            expected_from: format!(
                "cluster '{cluster}' in this repository (bound {})",
                b.created
            ),
            found: sysid,
        });
    }
    if b.wal_segment_size != seg_size {
        return Err(PgError::Invalid(format!(
            "cluster '{cluster}' uses {}-byte WAL segments, this file says {seg_size}",
            b.wal_segment_size
        )));
    }
    Ok(b)
}

/// Checks a cluster name (letters, digits, `-`, `_`, `.`; 1..=64 characters).
pub fn validate_cluster_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(PgError::Invalid(format!(
            "invalid cluster name '{name}': use 1 to 64 letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
}

/// The opt-in key cache (see [`WalArchive::open`]).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> WalKeys {
        WalKeys::from(&MasterKeys::generate())
    }

    #[test]
    fn object_round_trip_and_binding() {
        let k = keys();
        let data = vec![7u8; 100_000];
        let obj = encode_object(&k, "wal/1/00000001/000000010000000000000001", &data, 1);
        assert!(obj.len() < 2000, "compressible data is compressed");
        let (h, back) = decode_object(&k, "wal/1/00000001/000000010000000000000001", &obj).unwrap();
        assert_eq!(back, data);
        assert_eq!(h.length, 100_000);
        // Moving the object to another name breaks authentication.
        assert!(decode_object(&k, "wal/1/00000001/000000010000000000000002", &obj).is_err());
        // Editing the header breaks it too.
        let mut bad = obj.clone();
        bad[8] ^= 1;
        assert!(decode_object(&k, "wal/1/00000001/000000010000000000000001", &bad).is_err());
        // Another repository's keys cannot read it.
        assert!(decode_object(&keys(), "wal/1/00000001/000000010000000000000001", &obj).is_err());
    }

    #[test]
    fn incompressible_is_stored() {
        let k = keys();
        let data: Vec<u8> = (0..50_000).map(|_| rand::random::<u8>()).collect();
        let obj = encode_object(&k, "x", &data, 1);
        assert_eq!(ObjectHeader::decode(&obj, "x").unwrap().compression, 0);
        assert_eq!(decode_object(&k, "x", &obj).unwrap().1, data);
    }

    #[test]
    fn ready_segments_after_the_current_one() {
        let d = tempfile::tempdir().unwrap();
        let st = d.path().join("archive_status");
        std::fs::create_dir(&st).unwrap();
        for n in [
            "000000010000000000000003.ready",
            "000000010000000000000005.ready",
            "000000010000000000000006.ready",
            "000000010000000000000007.ready",
            "000000010000000000000004.done",
            "000000020000000000000009.ready",
            "00000002.history.ready",
        ] {
            std::fs::write(st.join(n), b"").unwrap();
        }
        let me = d.path().join("000000010000000000000004");
        assert_eq!(
            ready_after(&me, 2),
            vec!["000000010000000000000005", "000000010000000000000006"]
        );
        assert!(ready_after(&d.path().join("00000002.history"), 2).is_empty());
        assert!(ready_after(&d.path().join("x").join("000000010000000000000004"), 2).is_empty());
    }

    #[test]
    fn cluster_names() {
        assert!(validate_cluster_name("main").is_ok());
        assert!(validate_cluster_name("prod-eu.1").is_ok());
        assert!(validate_cluster_name("").is_err());
        assert!(validate_cluster_name("a/b").is_err());
    }
}
