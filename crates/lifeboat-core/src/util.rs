//! Small shared helpers: serde adapters and metadata (de)serialisation.

use crate::error::{Error, Result};
use crate::format::crypto::Key;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Serde adapter: bytes as standard base64.
pub mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes bytes as base64.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    /// Deserializes base64 into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

/// Encodes a metadata object: JSON, zstd-compressed, sealed under `key` with `context`.
pub fn seal_json<T: Serialize>(key: &Key, context: &[u8], value: &T) -> Vec<u8> {
    let json = serde_json::to_vec(value).expect("metadata serializes");
    let compressed = zstd::bulk::compress(&json, 3).expect("zstd compression of a buffer");
    key.seal(context, &compressed)
}

/// Decodes a metadata object written by [`seal_json`]; `object` names it in errors.
pub fn open_json<T: DeserializeOwned>(
    key: &Key,
    context: &[u8],
    bytes: &[u8],
    object: &str,
) -> Result<T> {
    let compressed = key.open(context, bytes, object)?;
    let json = zstd::stream::decode_all(&compressed[..])
        .map_err(|e| Error::corrupt(object, format!("decompression failed: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| Error::corrupt(object, format!("bad JSON: {e}")))
}

/// The current user's name (best effort).
pub fn username() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            // SAFETY: getuid has no preconditions.
            let uid = unsafe { libc::getuid() };
            if uid == 0 {
                "root".to_string()
            } else {
                uid.to_string()
            }
        })
}

/// This machine's hostname.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}
