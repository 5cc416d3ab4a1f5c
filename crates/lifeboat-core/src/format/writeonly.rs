//! Write-only keys: hosts that can back up (with deduplication) but cannot read back, list file
//! names, restore, forget or prune. Construction and threat model: `docs/design/writeonly.md`.
//!
//! - The repository gets one age X25519 identity, created by the first `key add --write-only`
//!   and stored in `writeonly/identity`, sealed under a key derived from the master secret
//!   (context `lifeboat identity`), so every full key can open it and no write-only key can.
//! - A write-only key file (kind `write-only`) wraps, under its passphrase, the repository id,
//!   the blob-id key, the metadata key, the chunker seed and the recipient (`age1...`), but
//!   neither the master secret nor the data key.
//! - A write-only host seals what full keys seal with the data key (blobs and snapshots) with a
//!   random per-process session key instead, and stores the session key wrapped to the recipient
//!   in every envelope: slot [`SLOT_RECIPIENT`]
//!   `0x02 || u16 LE length || age(session key) || symmetric envelope under the session key`.
//! - A full key opens slot 0x02 envelopes by unwrapping the session key with the identity
//!   (cached per wrapped key).
//!
//! This module holds the stored forms (the recipient envelope, the identity object, write-only
//! key files); issuing a key is `governance/writeonly.rs`, checking the identity is the
//! checker's (`checker/governance.rs`).

use crate::error::{Error, Result};
use crate::format::crypto::{Key, MasterKeys, SLOT_RECIPIENT};
use crate::format::json::{open_json, seal_json};
use crate::format::keys::KeyFile;
use age::secrecy::ExposeSecret;
use lifeboat_storage::{ReadStorage, WriteOptions, WriteStorage};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// Storage key of the sealed identity.
pub const IDENTITY_KEY: &str = "writeonly/identity";
const IDENTITY_CONTEXT: &[u8] = b"lifeboat identity";
const WRITE_ONLY_CONTEXT: &[u8] = b"lifeboat write-only key";
/// Key file kind of write-only keys.
pub const WRITE_ONLY_KIND: &str = "write-only";

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyScope {
    /// Everything.
    #[serde(rename = "full")]
    Full,
    /// Back up only: no reading of data, snapshots or file names.
    #[serde(rename = "write-only")]
    WriteOnly,
}

impl KeyScope {
    /// The scope's name.
    pub fn name(self) -> &'static str {
        match self {
            KeyScope::Full => "full",
            KeyScope::WriteOnly => "write-only",
        }
    }
}

/// Seals data to the recipient with one session key per process.
pub struct RecipientSealer {
    session: Key,
    wrapped: Vec<u8>,
}

impl std::fmt::Debug for RecipientSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecipientSealer(..)")
    }
}

impl RecipientSealer {
    /// A new session key wrapped to `recipient`.
    pub fn new(recipient: &age::x25519::Recipient) -> Result<Self> {
        let session = Key::random();
        let wrapped = age::encrypt(recipient, &session.0)
            .map_err(|e| Error::crypto("wrapping the session key to the recipient (age)", e))?;
        if wrapped.len() > u16::MAX as usize {
            return Err(Error::crypto(
                "wrapping the session key to the recipient (age)",
                format!(
                    "the wrapped key has {} bytes, more than the {} an envelope can hold",
                    wrapped.len(),
                    u16::MAX
                ),
            ));
        }
        Ok(RecipientSealer { session, wrapped })
    }

    /// Seals `plaintext` bound to `context` (slot 0x02 envelope).
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let inner = self.session.seal(context, plaintext);
        let mut out = Vec::with_capacity(3 + self.wrapped.len() + inner.len());
        out.push(SLOT_RECIPIENT);
        out.extend_from_slice(&(self.wrapped.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.wrapped);
        out.extend_from_slice(&inner);
        out
    }
}

/// Opens slot 0x02 envelopes with the identity.
pub struct IdentityOpener {
    identity: age::x25519::Identity,
    cache: Mutex<HashMap<[u8; 32], Key>>,
}

impl std::fmt::Debug for IdentityOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityOpener(..)")
    }
}

impl IdentityOpener {
    fn open(&self, context: &[u8], envelope: &[u8], object: &str) -> Result<Vec<u8>> {
        let (wrapped, inner) = split(envelope, object)?;
        let digest: [u8; 32] = blake3::hash(wrapped).into();
        let cached = self.cache.lock().expect("key cache").get(&digest).cloned();
        let session = match cached {
            Some(k) => k,
            None => {
                let plain = age::decrypt(&self.identity, wrapped).map_err(|e| {
                    Error::corrupt(object, format!("cannot unwrap its session key: {e}"))
                })?;
                let k = Key(plain.try_into().map_err(|_| {
                    Error::corrupt(object, "unwrapped session key has the wrong length")
                })?);
                self.cache
                    .lock()
                    .expect("key cache")
                    .insert(digest, k.clone());
                k
            }
        };
        session.open(context, inner, object)
    }
}

fn split<'a>(envelope: &'a [u8], object: &str) -> Result<(&'a [u8], &'a [u8])> {
    let bad = || Error::corrupt(object, "truncated recipient envelope");
    let len =
        u16::from_le_bytes(envelope.get(1..3).ok_or_else(bad)?.try_into().expect("2")) as usize;
    let wrapped = envelope.get(3..3 + len).ok_or_else(bad)?;
    Ok((wrapped, &envelope[3 + len..]))
}

impl MasterKeys {
    /// Seals data (blobs, snapshots): with the data key, or to the recipient for write-only keys.
    pub fn seal_data(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        match &self.sealer {
            Some(s) => s.seal(context, plaintext),
            None => self.data_key.seal(context, plaintext),
        }
    }

    /// Seals in place what [`MasterKeys::seal_data`] seals: `buf[at..at + HEAD]` is room for the
    /// envelope's head ([`crate::format::crypto::HEAD`]) and the rest the plaintext; afterwards
    /// `buf[at..]` is the envelope. Bytes before `at` are left alone.
    pub fn seal_data_in_place(&self, context: &[u8], buf: &mut Vec<u8>, at: usize) {
        match &self.sealer {
            Some(s) => {
                let sealed = s.seal(context, &buf[at + crate::format::crypto::HEAD..]);
                buf.truncate(at);
                buf.extend_from_slice(&sealed);
            }
            None => self.data_key.seal_in_place(context, buf, at),
        }
    }

    /// Opens data sealed by [`MasterKeys::seal_data`] under either slot.
    pub fn open_data(&self, context: &[u8], envelope: &[u8], object: &str) -> Result<Vec<u8>> {
        if envelope.first() != Some(&SLOT_RECIPIENT) {
            return self.data_key.open(context, envelope, object);
        }
        match (&self.opener, self.scope) {
            (Some(o), _) => o.open(context, envelope, object),
            (None, KeyScope::WriteOnly) => Err(Error::InsufficientKey {
                operation: "read data".into(),
                scope: "write-only".into(),
            }),
            (None, KeyScope::Full) => Err(Error::corrupt(
                object,
                "sealed to the repository's write-only recipient, but the repository has no identity \
                 (writeonly/identity missing or unreadable)",
            )),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct IdentityObject {
    identity: String,
    recipient: String,
}

#[derive(Serialize, Deserialize)]
struct WriteOnlyPayload {
    repository_id: String,
    scope: String,
    #[serde(with = "crate::format::b64")]
    id_key: Vec<u8>,
    #[serde(with = "crate::format::b64")]
    meta_key: Vec<u8>,
    chunker_seed: u64,
    recipient: String,
}

fn identity_key(master: &Key) -> Key {
    Key(blake3::derive_key("lifeboat 2026-11 identity", &master.0))
}

/// Loads the repository's identity into full `keys` (no-op when there is none).
pub fn load_identity(storage: &dyn ReadStorage, mut keys: MasterKeys) -> Result<MasterKeys> {
    let Some(master) = keys.master() else {
        return Ok(keys);
    };
    let bytes = match storage.read(IDENTITY_KEY) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Ok(keys),
        Err(e) => return Err(e.into()),
    };
    // A damaged identity must not lock full keys out of the data they wrote themselves: warn,
    // and let reads of recipient-sealed data fail (check reports it).
    let identity = match parse_identity(master, &bytes) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!("{e}; data written by write-only keys cannot be read");
            return Ok(keys);
        }
    };
    keys.opener = Some(std::sync::Arc::new(IdentityOpener {
        identity,
        cache: Mutex::new(HashMap::new()),
    }));
    Ok(keys)
}

/// Opens the identity object `bytes` with the master secret.
pub(crate) fn parse_identity(master: &Key, bytes: &[u8]) -> Result<age::x25519::Identity> {
    let obj: IdentityObject =
        open_json(&identity_key(master), IDENTITY_CONTEXT, bytes, IDENTITY_KEY)?;
    obj.identity
        .parse()
        .map_err(|e| Error::corrupt(IDENTITY_KEY, format!("bad age identity: {e}")))
}

/// The repository's recipient, creating the identity when there is none yet. Needs full keys.
pub(crate) fn ensure_identity(storage: &dyn WriteStorage, keys: &MasterKeys) -> Result<String> {
    let master = keys.master().ok_or_else(|| Error::InsufficientKey {
        operation: "create write-only keys".into(),
        scope: "write-only".into(),
    })?;
    let k = identity_key(master);
    loop {
        match storage.read(IDENTITY_KEY) {
            Ok(bytes) => {
                let obj: IdentityObject = open_json(&k, IDENTITY_CONTEXT, &bytes, IDENTITY_KEY)?;
                return Ok(obj.recipient);
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        let identity = age::x25519::Identity::generate();
        let obj = IdentityObject {
            recipient: identity.to_public().to_string(),
            identity: identity.to_string().expose_secret().to_string(),
        };
        let bytes = seal_json(&k, IDENTITY_CONTEXT, &obj);
        match storage.write(IDENTITY_KEY, &bytes, &WriteOptions::create_new()) {
            Ok(()) => return Ok(obj.recipient),
            // Another process created it first: use theirs.
            Err(e) if e.kind == lifeboat_storage::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A new write-only key file under `password` for the repository `repository_id` whose
/// recipient is `recipient` (made by `ensure_identity`): returns `(key id, file bytes)`.
pub fn wrap_write_only(
    keys: &MasterKeys,
    repository_id: &str,
    recipient: &str,
    password: &[u8],
) -> Result<(String, Vec<u8>)> {
    let payload = WriteOnlyPayload {
        repository_id: repository_id.to_string(),
        scope: KeyScope::WriteOnly.name().into(),
        id_key: keys.id_key.0.to_vec(),
        meta_key: keys.meta_key.0.to_vec(),
        chunker_seed: keys.chunker_seed,
        recipient: recipient.to_string(),
    };
    let kdf = crate::format::crypto::KdfParams::default_new();
    let wrapping = kdf.derive(password)?;
    let data = wrapping.seal(
        WRITE_ONLY_CONTEXT,
        &serde_json::to_vec(&payload).expect("payload serializes"),
    );
    let file = KeyFile {
        kind: WRITE_ONLY_KIND.into(),
        created: jiff::Timestamp::now().to_string(),
        hostname: crate::host::hostname(),
        username: crate::host::username(),
        kdf,
        data,
    };
    let bytes = serde_json::to_vec_pretty(&file).expect("key file serializes");
    Ok((crate::format::crypto::sha256_hex(&bytes), bytes))
}

/// Tries to open a write-only key file with `password`: `Ok(None)` when the password is wrong.
pub fn unwrap_write_only(
    file: &KeyFile,
    password: &[u8],
    repository_id: &str,
    id: &str,
) -> Result<Option<MasterKeys>> {
    if file.kind != WRITE_ONLY_KIND {
        return Ok(None);
    }
    let wrapping = file.kdf.derive(password)?;
    let Ok(plain) = wrapping.open(WRITE_ONLY_CONTEXT, &file.data, id) else {
        return Ok(None);
    };
    let object = format!("keys/{id}");
    let p: WriteOnlyPayload = serde_json::from_slice(&plain)
        .map_err(|e| Error::corrupt(&object, format!("bad write-only payload: {e}")))?;
    if p.repository_id != repository_id {
        return Err(Error::corrupt(
            &object,
            "key file belongs to another repository",
        ));
    }
    let key = |v: Vec<u8>| -> Result<Key> {
        Ok(Key(v.try_into().map_err(|_| {
            Error::corrupt(&object, "subkey has the wrong length")
        })?))
    };
    let recipient: age::x25519::Recipient = p
        .recipient
        .parse()
        .map_err(|e| Error::corrupt(&object, format!("bad recipient: {e}")))?;
    Ok(Some(MasterKeys::write_only(
        key(p.id_key)?,
        key(p.meta_key)?,
        p.chunker_seed,
        RecipientSealer::new(&recipient)?,
    )))
}
