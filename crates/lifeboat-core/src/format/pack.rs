//! Pack files: many encrypted blobs in one storage object.
//!
//! Layout: `blob_0 || blob_1 || ... || blob_n-1 || header || header_len (u32 LE)`, where each
//! `blob_i` is a blob envelope (see [`crate::format::blob`]) and `header` is a metadata envelope (metadata
//! key, context `lifeboat pack header`) whose plaintext is
//! `"LBP1" || count (u32 LE) || count × (type u8 || id [32] || length u32 LE || raw_length u32 LE)`.
//! Offsets are implicit: blobs are stored back to back in header order. The pack is stored under
//! `data/<first two hex digits>/<sha256 of the whole pack, hex>`.

use crate::error::{Error, Result};
use crate::format::blob::{BlobId, BlobType};
use crate::format::crypto::{sha256_hex, Key};
use crate::format::index::{IndexBlob, IndexPack};

const HEADER_CONTEXT: &[u8] = b"lifeboat pack header";
const MAGIC: &[u8; 4] = b"LBP1";
const ENTRY_LEN: usize = 1 + 32 + 4 + 4;

/// The storage key of a pack.
pub fn pack_key(pack_id: &str) -> String {
    format!("data/{}/{}", &pack_id[..2], pack_id)
}

/// Accumulates blobs into one pack.
#[derive(Default)]
pub struct PackBuilder {
    bytes: Vec<u8>,
    blobs: Vec<IndexBlob>,
}

/// A finished pack, ready to upload.
pub struct FinishedPack {
    /// SHA-256 hex of `bytes`.
    pub id: String,
    /// The pack's bytes.
    pub bytes: Vec<u8>,
    /// Its index entry.
    pub index: IndexPack,
}

impl PackBuilder {
    /// An empty pack with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        PackBuilder {
            bytes: Vec::with_capacity(capacity),
            blobs: Vec::new(),
        }
    }

    /// An empty pack built in `buffer` (a finished pack's bytes, recycled: its memory is
    /// already mapped, which saves faulting in a new pack's worth of pages).
    pub fn in_buffer(mut buffer: Vec<u8>) -> Self {
        buffer.clear();
        PackBuilder {
            bytes: buffer,
            blobs: Vec::new(),
        }
    }

    /// Appends one encoded blob.
    pub fn add(&mut self, kind: BlobType, id: BlobId, stored: &[u8], raw_length: usize) {
        self.blobs.push(IndexBlob {
            id,
            kind,
            offset: self.bytes.len() as u32,
            length: stored.len() as u32,
            raw_length: raw_length as u32,
        });
        self.bytes.extend_from_slice(stored);
    }

    /// Appends one blob that `encode` writes straight into the pack (see
    /// [`crate::format::blob::encode_into`]): the stored bytes are not copied again.
    pub fn add_encoded(
        &mut self,
        kind: BlobType,
        id: BlobId,
        raw_length: usize,
        encode: impl FnOnce(&mut Vec<u8>),
    ) {
        let offset = self.bytes.len();
        encode(&mut self.bytes);
        self.blobs.push(IndexBlob {
            id,
            kind,
            offset: offset as u32,
            length: (self.bytes.len() - offset) as u32,
            raw_length: raw_length as u32,
        });
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when no blob was added.
    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    /// Appends the header and names the pack.
    pub fn finish(mut self, meta_key: &Key) -> FinishedPack {
        let mut header = Vec::with_capacity(8 + self.blobs.len() * ENTRY_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&(self.blobs.len() as u32).to_le_bytes());
        for b in &self.blobs {
            header.push(b.kind.code());
            header.extend_from_slice(&b.id.0);
            header.extend_from_slice(&b.length.to_le_bytes());
            header.extend_from_slice(&b.raw_length.to_le_bytes());
        }
        let sealed = meta_key.seal(HEADER_CONTEXT, &header);
        self.bytes.extend_from_slice(&sealed);
        self.bytes
            .extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        let id = sha256_hex(&self.bytes);
        FinishedPack {
            index: IndexPack {
                id: id.clone(),
                size: self.bytes.len() as u64,
                blobs: self.blobs,
            },
            id,
            bytes: self.bytes,
        }
    }
}

/// Parses the header of a whole pack; `pack_id` names it in errors.
pub fn read_header(meta_key: &Key, pack: &[u8], pack_id: &str) -> Result<Vec<IndexBlob>> {
    let object = format!("pack {pack_id}");
    if pack.len() < 4 {
        return Err(Error::corrupt(&object, "pack shorter than its trailer"));
    }
    let hlen = u32::from_le_bytes(pack[pack.len() - 4..].try_into().expect("4 bytes")) as usize;
    if hlen + 4 > pack.len() {
        return Err(Error::corrupt(
            &object,
            "header length points outside the pack",
        ));
    }
    let start = pack.len() - 4 - hlen;
    let header = meta_key.open(HEADER_CONTEXT, &pack[start..pack.len() - 4], &object)?;
    if header.len() < 8 || &header[..4] != MAGIC {
        return Err(Error::corrupt(&object, "bad pack header magic"));
    }
    let count = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) as usize;
    if header.len() != 8 + count * ENTRY_LEN {
        return Err(Error::corrupt(&object, "pack header length mismatch"));
    }
    let mut offset = 0u32;
    let mut out = Vec::with_capacity(count);
    for e in header[8..].chunks_exact(ENTRY_LEN) {
        let kind = BlobType::from_code(e[0])
            .ok_or_else(|| Error::corrupt(&object, "unknown blob type in header"))?;
        let id = BlobId(e[1..33].try_into().expect("32 bytes"));
        let length = u32::from_le_bytes(e[33..37].try_into().expect("4 bytes"));
        let raw_length = u32::from_le_bytes(e[37..41].try_into().expect("4 bytes"));
        out.push(IndexBlob {
            id,
            kind,
            offset,
            length,
            raw_length,
        });
        offset = offset
            .checked_add(length)
            .ok_or_else(|| Error::corrupt(&object, "blob offsets overflow"))?;
    }
    if offset as usize != start {
        return Err(Error::corrupt(
            &object,
            "blob lengths do not add up to the header position",
        ));
    }
    Ok(out)
}
