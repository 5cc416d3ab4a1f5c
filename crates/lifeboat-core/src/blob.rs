//! Blobs: the unit of deduplication. A blob is a chunk of file data or a serialized tree.
//!
//! Stored form inside a pack: `envelope(data_key, "blob", flag || body)` where `flag` is
//! 0 (body is the plaintext) or 1 (body is the zstd-compressed plaintext).

use crate::crypto::MasterKeys;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Associated data of blob envelopes.
pub const BLOB_CONTEXT: &[u8] = b"lifeboat blob";

/// A blob id: keyed BLAKE3 of the blob's plaintext.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// Lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the hex form.
    pub fn from_hex(s: &str) -> Result<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| Error::Invalid(format!("'{s}' is not a 64-digit hex blob id")))?;
        Ok(BlobId(out))
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.to_hex()[..12])
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for BlobId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BlobId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BlobId::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// What a blob holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BlobType {
    /// File or stream content.
    #[serde(rename = "data")]
    Data,
    /// A serialized directory listing.
    #[serde(rename = "tree")]
    Tree,
}

impl BlobType {
    /// One-byte code used in pack headers.
    pub fn code(self) -> u8 {
        match self {
            BlobType::Data => 0,
            BlobType::Tree => 1,
        }
    }

    /// Inverse of [`BlobType::code`].
    pub fn from_code(c: u8) -> Option<Self> {
        match c {
            0 => Some(BlobType::Data),
            1 => Some(BlobType::Tree),
            _ => None,
        }
    }
}

thread_local! {
    static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::stream::raw::Encoder<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// zstd-compresses `plaintext` at `level` with a per-thread reusable context.
///
/// The input is fed as a stream of unknown size on purpose: zstd then uses its parameters for
/// large inputs instead of the small-input tables it picks for a known size of 16–256 KiB, which
/// compress chunk-sized blobs 3–6 % worse at the same speed (measured in docs/benchmarks.md).
fn compress(plaintext: &[u8], level: i32) -> Option<Vec<u8>> {
    use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().map(|(l, _)| *l) != Some(level) {
            let mut enc = zstd::stream::raw::Encoder::new(level).ok()?;
            enc.set_parameter(zstd::zstd_safe::CParameter::ContentSizeFlag(false))
                .ok()?;
            enc.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(false))
                .ok()?;
            *slot = Some((level, enc));
        }
        let (_, enc) = slot.as_mut()?;
        enc.reinit().ok()?;
        let mut out: Vec<u8> =
            Vec::with_capacity(zstd::zstd_safe::compress_bound(plaintext.len()) + 64);
        {
            let mut ob = OutBuffer::around(&mut out);
            let mut ib = InBuffer::around(plaintext);
            while ib.pos() < plaintext.len() {
                enc.run(&mut ib, &mut ob).ok()?;
            }
            while enc.finish(&mut ob, true).ok()? != 0 {}
        }
        Some(out)
    })
}

/// Compresses (when it helps) and encrypts a blob's plaintext.
pub fn encode(keys: &MasterKeys, plaintext: &[u8], level: i32) -> Vec<u8> {
    let mut body;
    match compress(plaintext, level).filter(|c| level > 0 && c.len() < plaintext.len()) {
        Some(c) => {
            body = Vec::with_capacity(c.len() + 1);
            body.push(1u8);
            body.extend_from_slice(&c);
        }
        None => {
            body = Vec::with_capacity(plaintext.len() + 1);
            body.push(0u8);
            body.extend_from_slice(plaintext);
        }
    }
    keys.seal_data(BLOB_CONTEXT, &body)
}

/// Decrypts, decompresses and verifies a stored blob against its id.
/// `object` names the blob's location for error messages.
pub fn decode(
    keys: &MasterKeys,
    id: &BlobId,
    stored: &[u8],
    raw_len: usize,
    object: &str,
) -> Result<Vec<u8>> {
    let body = keys.open_data(BLOB_CONTEXT, stored, object)?;
    let plain = match body.first() {
        Some(0) => body[1..].to_vec(),
        Some(1) => {
            let mut out = Vec::with_capacity(raw_len);
            zstd::stream::copy_decode(&body[1..], &mut out)
                .map_err(|e| Error::corrupt(object, format!("zstd decompression failed: {e}")))?;
            out
        }
        _ => return Err(Error::corrupt(object, "unknown blob encoding flag")),
    };
    if keys.blob_id(&plain) != *id {
        return Err(Error::corrupt(
            object,
            format!("content does not match blob id {}", id.to_hex()),
        ));
    }
    Ok(plain)
}
