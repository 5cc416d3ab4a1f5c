//! Key files: each wraps the repository's master secret under one password (see design doc).
//!
//! Stored in plaintext JSON under `keys/<sha256 of the file>`; the `data` field is an envelope
//! (context `lifeboat key`) sealed with the Argon2id-derived key, holding the master payload.
//! `kind` names the wrapping; `passphrase` is the only kind today, and readers skip kinds they do
//! not know, so an `age` (X25519 recipient) kind can be added without a format break.

use crate::error::{Error, Result};
use crate::format::crypto::{sha256_hex, KdfParams, Key, MasterKeys, MasterPayload};
use serde::{Deserialize, Serialize};

const KEY_CONTEXT: &[u8] = b"lifeboat key";

/// A key file as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyFile {
    /// Wrapping kind: `passphrase`.
    pub kind: String,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Host that created it.
    pub hostname: String,
    /// User that created it.
    pub username: String,
    /// KDF parameters (for `passphrase`).
    pub kdf: KdfParams,
    /// Sealed master payload.
    #[serde(with = "crate::format::b64")]
    pub data: Vec<u8>,
}

impl KeyFile {
    /// Wraps `keys` under `password`.
    pub fn wrap(
        keys: &MasterKeys,
        repository_id: &str,
        password: &[u8],
    ) -> Result<(String, Vec<u8>)> {
        let master = keys.master().ok_or_else(|| Error::InsufficientKey {
            operation: "add keys".into(),
            scope: "write-only".into(),
        })?;
        let kdf = KdfParams::default_new();
        let wrapping = kdf.derive(password)?;
        let payload = MasterPayload {
            repository_id: repository_id.to_string(),
            scope: "full".into(),
            master: master.0.to_vec(),
        };
        let data = wrapping.seal(
            KEY_CONTEXT,
            &serde_json::to_vec(&payload).expect("payload serializes"),
        );
        let file = KeyFile {
            kind: "passphrase".into(),
            created: jiff::Timestamp::now().to_string(),
            hostname: crate::host::hostname(),
            username: crate::host::username(),
            kdf,
            data,
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("key file serializes");
        Ok((sha256_hex(&bytes), bytes))
    }

    /// Parses a stored key file; `id` names it in errors.
    pub fn parse(bytes: &[u8], id: &str) -> Result<KeyFile> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::corrupt(format!("keys/{id}"), format!("bad key file: {e}")))
    }

    /// Tries to unwrap the master keys with `password`: `Ok(None)` when the password is wrong.
    pub fn unwrap(
        &self,
        password: &[u8],
        repository_id: &str,
        id: &str,
    ) -> Result<Option<MasterKeys>> {
        if self.kind != "passphrase" {
            return Ok(None);
        }
        let wrapping = self.kdf.derive(password)?;
        let Ok(plain) = wrapping.open(KEY_CONTEXT, &self.data, id) else {
            return Ok(None);
        };
        let payload: MasterPayload = serde_json::from_slice(&plain).map_err(|e| {
            Error::corrupt(format!("keys/{id}"), format!("bad master payload: {e}"))
        })?;
        if payload.repository_id != repository_id {
            return Err(Error::corrupt(
                format!("keys/{id}"),
                "key file belongs to another repository",
            ));
        }
        let master: [u8; 32] = payload
            .master
            .try_into()
            .map_err(|_| Error::corrupt(format!("keys/{id}"), "master key has the wrong length"))?;
        Ok(Some(MasterKeys::from_master(Key(master))))
    }
}
