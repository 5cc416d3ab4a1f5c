//! Blobs: the unit of deduplication. A blob is a chunk of file data or a serialized tree.
//!
//! Stored form inside a pack: `envelope(data_key, "blob", flag || body)` where `flag` is
//! 0 (body is the plaintext), 1 (body is the zstd-compressed plaintext) or 2 (body is the
//! 32-byte id of a compression dictionary followed by the plaintext zstd-compressed with it;
//! see [`crate::format::dict`]).

use crate::error::{Error, Result};
use crate::format::crypto::MasterKeys;
use crate::format::dict::{DictId, DictSource, EncoderDict};
use crate::format::plain::Plain;
use crate::format::zblob;
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

/// Largest plaintext a blob may claim (a sanity bound for damaged index entries).
pub const MAX_BLOB_LEN: usize = 1 << 32;

/// Compresses (when it helps) and encrypts a blob's plaintext.
pub fn encode(keys: &MasterKeys, plaintext: &[u8], level: i32) -> Vec<u8> {
    encode_with(keys, plaintext, level, None)
}

/// Like [`encode`], compressing with the dictionary `dict` as history when given (flag 2).
pub fn encode_with(
    keys: &MasterKeys,
    plaintext: &[u8],
    level: i32,
    dict: Option<&EncoderDict>,
) -> Vec<u8> {
    let mut out = Vec::new();
    encode_source_into(keys, &mut out, Source::Slice(plaintext), level, dict);
    out
}

/// Appends what [`encode_with`] returns for `plain` to `out` (a pack being built), compressing
/// the plaintext where it is (using its room for the dictionary's prefix) and sealing in place:
/// the compressed bytes are written once, into `out`.
pub fn encode_into(
    keys: &MasterKeys,
    out: &mut Vec<u8>,
    plain: &mut Plain,
    level: i32,
    dict: Option<&EncoderDict>,
) {
    encode_source_into(keys, out, Source::Plain(plain), level, dict);
}

/// Bytes in front of an envelope's body that [`MasterKeys::seal_data_in_place`] fills in.
const ENVELOPE_HEAD: usize = crate::format::crypto::HEAD;

/// Plaintext to encode: borrowed, or in a buffer with room for the dictionary's prefix.
enum Source<'a> {
    Slice(&'a [u8]),
    Plain(&'a mut Plain),
}

impl Source<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Source::Slice(s) => s,
            Source::Plain(p) => p.bytes(),
        }
    }

    fn compress_into(&mut self, out: &mut Vec<u8>, level: i32, prefix: &[u8]) -> bool {
        match self {
            Source::Slice(s) => zblob::compress_into(out, s, level, prefix),
            Source::Plain(p) => zblob::compress_plain_into(out, p, level, prefix),
        }
    }
}

/// Appends the room for the envelope's head and the body's flag (and dictionary id) to `out`;
/// returns where the envelope starts.
fn begin_body(out: &mut Vec<u8>, dict: Option<&DictId>) -> usize {
    let at = out.len();
    out.resize(at + ENVELOPE_HEAD, 0);
    match dict {
        Some(id) => {
            out.push(2);
            out.extend_from_slice(id);
        }
        None => out.push(1),
    }
    at
}

/// Seals the envelope begun at `at`. Unless `compressed` (a frame follows the flag and is
/// smaller than the plaintext), the body is replaced by flag 0 and the plaintext.
fn finish_body(
    keys: &MasterKeys,
    out: &mut Vec<u8>,
    at: usize,
    plaintext: &[u8],
    compressed: bool,
) {
    if !compressed || out.len() - (at + ENVELOPE_HEAD) > plaintext.len() {
        out.truncate(at + ENVELOPE_HEAD);
        out.push(0);
        out.extend_from_slice(plaintext);
    }
    keys.seal_data_in_place(BLOB_CONTEXT, out, at);
}

fn encode_source_into(
    keys: &MasterKeys,
    out: &mut Vec<u8>,
    mut src: Source,
    level: i32,
    dict: Option<&EncoderDict>,
) {
    let at = begin_body(out, dict.map(|d| &d.id));
    let compressed = level > 0 && {
        let prefix = dict.map_or(&[][..], |d| &d.prefix[..]);
        src.compress_into(out, level, prefix)
    };
    finish_body(keys, out, at, src.bytes(), compressed);
}

/// A compressed form of a blob's plaintext, ready to seal (`None` inside: zstd failed).
#[derive(Debug)]
pub enum Compressed {
    /// Store the plaintext (flag 0).
    None,
    /// A zstd frame without dictionary (flag 1).
    Plain(Option<Vec<u8>>),
    /// A zstd frame made with dictionary `id` (flag 2).
    WithDict(DictId, Option<Vec<u8>>),
}

impl Compressed {
    /// Stored bytes this form costs beyond the envelope, if it is usable.
    pub fn cost(&self) -> Option<usize> {
        match self {
            Compressed::None => None,
            Compressed::Plain(c) => c.as_ref().map(|c| c.len()),
            Compressed::WithDict(_, c) => c.as_ref().map(|c| c.len() + 32),
        }
    }
}

/// Appends the stored blob to `out`: sealed in the given compressed form, or as plaintext when
/// that form is not smaller.
pub fn seal_into(keys: &MasterKeys, out: &mut Vec<u8>, plaintext: &[u8], compressed: Compressed) {
    let (dict, frame) = match &compressed {
        Compressed::None => (None, None),
        Compressed::Plain(c) => (None, c.as_ref()),
        Compressed::WithDict(id, c) => (Some(id), c.as_ref()),
    };
    let at = begin_body(out, dict);
    if let Some(f) = frame {
        out.extend_from_slice(f);
    }
    finish_body(keys, out, at, plaintext, frame.is_some());
}

/// Decrypts, decompresses and verifies a stored blob against its id.
/// `object` names the blob's location for error messages.
pub fn decode(
    keys: &MasterKeys,
    dicts: &dyn DictSource,
    id: &BlobId,
    stored: &[u8],
    raw_len: usize,
    object: &str,
) -> Result<Vec<u8>> {
    let body = keys.open_data(BLOB_CONTEXT, stored, object)?;
    if raw_len > MAX_BLOB_LEN {
        return Err(Error::corrupt(
            object,
            format!("index claims a blob of {raw_len} bytes; blobs are at most {MAX_BLOB_LEN}"),
        ));
    }
    let plain = match body.first() {
        Some(0) => body[1..].to_vec(),
        Some(1) => zblob::decompress(&body[1..], raw_len, &[])
            .map_err(|e| Error::corrupt(object, format!("zstd decompression failed: {e}")))?,
        Some(2) if body.len() > 33 => {
            let dict_id: DictId = body[1..33].try_into().expect("32 bytes");
            let prefix = dicts.dict_prefix(&dict_id)?;
            zblob::decompress(&body[33..], raw_len, &prefix).map_err(|e| {
                Error::corrupt(
                    object,
                    format!(
                        "zstd decompression with dictionary {} failed: {e}",
                        &hex::encode(dict_id)[..12]
                    ),
                )
            })?
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
