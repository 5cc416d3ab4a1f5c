//! Keys and the authenticated-encryption envelope (see `docs/design/repository.md`, "Crypto").
//!
//! One random 32-byte master secret per repository. Subkeys are derived with BLAKE3's
//! `derive_key` under fixed context strings:
//! - the blob-id key (keyed BLAKE3 of a blob's plaintext gives its id),
//! - the data key (XChaCha20-Poly1305 for blobs and snapshots),
//! - the metadata key (index files, pack headers, locks, journal records),
//! - the chunker seed (FastCDC gear-table seed, so chunk boundaries do not leak content).
//!
//! Envelope: `slot (1 byte) || nonce (24) || ciphertext || tag (16)`, with the object kind as
//! associated data, so an index file cannot be passed off as a snapshot.

use crate::error::{Error, Result};
use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Envelope slot: sealed with a symmetric repository subkey.
pub const SLOT_SYMMETRIC: u8 = 0x01;
/// Envelope slot: sealed with a session key that is itself wrapped to the repository's age
/// X25519 recipient and stored in the envelope (written by write-only keys; see
/// [`crate::format::writeonly`]).
pub const SLOT_RECIPIENT: u8 = 0x02;
/// Envelope overhead: slot byte, nonce and tag.
pub const OVERHEAD: usize = HEAD + 16;
/// Bytes an envelope has before its ciphertext: the slot byte and the 24-byte nonce (the room
/// [`Key::seal_in_place`] needs in front of the plaintext).
pub const HEAD: usize = 1 + 24;

/// A 32-byte symmetric key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(pub [u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut k);
        Key(k)
    }

    /// Seals `plaintext` into an envelope bound to `context`.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
        out.push(SLOT_SYMMETRIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Seals in place, for large objects: `buf[at..at + HEAD]` is room for the slot and nonce
    /// and `buf[at + HEAD..]` the plaintext. Afterwards `buf[at..]` is the envelope [`Key::seal`]
    /// makes (the tag is appended); bytes before `at` are left alone. Saves copying the
    /// plaintext and the ciphertext into new buffers.
    pub fn seal_in_place(&self, context: &[u8], buf: &mut Vec<u8>, at: usize) {
        assert!(
            buf.len() >= at + HEAD,
            "no room for the envelope's slot and nonce"
        );
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        buf[at] = SLOT_SYMMETRIC;
        buf[at + 1..at + HEAD].copy_from_slice(&nonce);
        let tag = cipher
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), context, &mut buf[at + HEAD..])
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        buf.extend_from_slice(&tag);
    }

    /// Opens an envelope sealed by [`Key::seal`] with the same `context`.
    /// `object` names the object in the error.
    pub fn open(&self, context: &[u8], envelope: &[u8], object: &str) -> Result<Vec<u8>> {
        if envelope.len() < OVERHEAD {
            return Err(Error::corrupt(
                object,
                format!("encrypted object too short ({} bytes)", envelope.len()),
            ));
        }
        if envelope[0] != SLOT_SYMMETRIC {
            return Err(Error::corrupt(
                object,
                format!("unknown key slot {:#04x}", envelope[0]),
            ));
        }
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher
            .decrypt(
                XNonce::from_slice(&envelope[1..25]),
                Payload {
                    msg: &envelope[25..],
                    aad: context,
                },
            )
            .map_err(|_| Error::corrupt(object, "authentication failed (damaged or tampered)"))
    }
}

/// The secrets a repository key file unlocks.
///
/// A full key holds all of them (derived from the master secret), plus the age identity when the
/// repository has write-only keys. A write-only key holds the blob-id key, the metadata key and
/// the chunker seed, but no data key: its `data_key` is a random key nobody else knows, and
/// everything it seals as data goes to the recipient instead ([`MasterKeys::seal_data`]).
#[derive(Clone, Debug)]
pub struct MasterKeys {
    /// Keyed-BLAKE3 key for blob ids.
    pub id_key: Key,
    /// Key for blob and snapshot contents.
    pub data_key: Key,
    /// Key for index files, pack headers, locks and journal records.
    pub meta_key: Key,
    /// FastCDC gear seed.
    pub chunker_seed: u64,
    /// What the key may do.
    pub scope: crate::format::writeonly::KeyScope,
    /// Write-only keys: seals data to the recipient.
    pub(crate) sealer: Option<std::sync::Arc<crate::format::writeonly::RecipientSealer>>,
    /// Full keys of repositories with write-only keys: opens data sealed to the recipient.
    pub(crate) opener: Option<std::sync::Arc<crate::format::writeonly::IdentityOpener>>,
    master: Option<Key>,
}

/// Serialized form of the master secret inside a key file.
#[derive(Serialize, Deserialize)]
pub(crate) struct MasterPayload {
    pub repository_id: String,
    pub scope: String,
    #[serde(with = "crate::format::b64")]
    pub master: Vec<u8>,
}

impl MasterKeys {
    /// Derives every subkey from a 32-byte master secret.
    pub fn from_master(master: Key) -> Self {
        let d = |ctx: &str| Key(blake3::derive_key(ctx, &master.0));
        let seed = blake3::derive_key("lifeboat 2026-11 chunker seed", &master.0);
        MasterKeys {
            id_key: d("lifeboat 2026-11 blob id"),
            data_key: d("lifeboat 2026-11 data"),
            meta_key: d("lifeboat 2026-11 metadata"),
            chunker_seed: u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")),
            scope: crate::format::writeonly::KeyScope::Full,
            sealer: None,
            opener: None,
            master: Some(master),
        }
    }

    /// The keys of a write-only key file: no master secret, no data key.
    pub(crate) fn write_only(
        id_key: Key,
        meta_key: Key,
        chunker_seed: u64,
        sealer: crate::format::writeonly::RecipientSealer,
    ) -> Self {
        MasterKeys {
            id_key,
            data_key: Key::random(),
            meta_key,
            chunker_seed,
            scope: crate::format::writeonly::KeyScope::WriteOnly,
            sealer: Some(std::sync::Arc::new(sealer)),
            opener: None,
            master: None,
        }
    }

    /// A new random master secret.
    pub fn generate() -> Self {
        Self::from_master(Key::random())
    }

    /// The master secret (only key files store it); `None` for write-only keys.
    pub(crate) fn master(&self) -> Option<&Key> {
        self.master.as_ref()
    }

    /// The blob id of `plaintext`.
    pub fn blob_id(&self, plaintext: &[u8]) -> crate::format::blob::BlobId {
        crate::format::blob::BlobId(*blake3::keyed_hash(&self.id_key.0, plaintext).as_bytes())
    }
}

/// Argon2id parameters stored in each key file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KdfParams {
    /// Always `argon2id`.
    pub algorithm: String,
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Random salt.
    #[serde(with = "crate::format::b64")]
    pub salt: Vec<u8>,
}

impl KdfParams {
    /// Default parameters (64 MiB, 3 passes), or cheap ones when `LIFEBOAT_INSECURE_TEST_KDF=1`
    /// (tests only: key files then fall to brute force quickly).
    pub fn default_new() -> Self {
        let cheap = std::env::var("LIFEBOAT_INSECURE_TEST_KDF").is_ok_and(|v| v == "1");
        let mut salt = vec![0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        KdfParams {
            algorithm: "argon2id".into(),
            memory_kib: if cheap { 64 } else { 64 * 1024 },
            iterations: if cheap { 1 } else { 3 },
            parallelism: 1,
            salt,
        }
    }

    /// Derives the 32-byte wrapping key from a password.
    pub fn derive(&self, password: &[u8]) -> Result<Key> {
        if self.algorithm != "argon2id" {
            return Err(Error::crypto(
                "key derivation",
                format!("the key file uses the unknown KDF '{}'", self.algorithm),
            ));
        }
        let params =
            argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
                .map_err(|e| {
                    Error::crypto(
                        "key derivation",
                        format!("bad argon2id parameters in the key file: {e}"),
                    )
                })?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = [0u8; 32];
        argon
            .hash_password_into(password, &self.salt, &mut out)
            .map_err(|e| Error::crypto("key derivation (argon2id)", e))?;
        Ok(Key(out))
    }
}

/// SHA-256 of `data` as lowercase hex (pack and metadata object names).
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sealing_in_place_gives_an_envelope_open_reads() {
        let k = Key::random();
        let mut buf = b"HEADER".to_vec();
        buf.extend_from_slice(&[0u8; 25]);
        buf.extend_from_slice(b"the plaintext");
        k.seal_in_place(b"ctx", &mut buf, 6);
        assert_eq!(&buf[..6], b"HEADER");
        assert_eq!(buf.len(), 6 + OVERHEAD + 13);
        assert_eq!(k.open(b"ctx", &buf[6..], "x").unwrap(), b"the plaintext");
        assert!(k.open(b"other", &buf[6..], "x").is_err());
    }

    use super::*;

    #[test]
    fn seal_open_round_trip_and_context_binding() {
        let k = Key::random();
        let env = k.seal(b"index", b"hello");
        assert_eq!(k.open(b"index", &env, "x").unwrap(), b"hello");
        assert!(k.open(b"snapshot", &env, "x").is_err());
        let mut bad = env.clone();
        bad[30] ^= 1;
        assert!(k.open(b"index", &bad, "x").is_err());
    }
}
