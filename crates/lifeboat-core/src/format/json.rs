//! JSON objects as stored: serialised, zstd-compressed and sealed in an envelope.
//!
//! Metadata objects (index files, locks, journal and mode records, copy maps, the write-only
//! identity) are sealed under a symmetric key with [`seal_json`]; snapshots are sealed as data
//! with [`seal_json_data`], which write-only keys seal to the repository's recipient
//! ([`MasterKeys::seal_data`]).

use crate::error::{Error, Result};
use crate::format::crypto::{Key, MasterKeys};
use serde::de::DeserializeOwned;
use serde::Serialize;

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

/// Seals a JSON value as data (see [`seal_json`]).
pub fn seal_json_data<T: Serialize>(keys: &MasterKeys, context: &[u8], value: &T) -> Vec<u8> {
    let json = serde_json::to_vec(value).expect("metadata serializes");
    let compressed = zstd::bulk::compress(&json, 3).expect("zstd compression of a buffer");
    keys.seal_data(context, &compressed)
}

/// Opens a JSON value sealed by [`seal_json_data`].
pub fn open_json_data<T: DeserializeOwned>(
    keys: &MasterKeys,
    context: &[u8],
    bytes: &[u8],
    object: &str,
) -> Result<T> {
    let compressed = keys.open_data(context, bytes, object)?;
    let json = zstd::stream::decode_all(&compressed[..])
        .map_err(|e| Error::corrupt(object, format!("decompression failed: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| Error::corrupt(object, format!("bad JSON: {e}")))
}
