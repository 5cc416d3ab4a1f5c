//! The WAL object format: storage keys, the 56-byte header, and sealing/opening the
//! XChaCha20-Poly1305 envelope whose associated data binds the storage key and the header.

use super::keys::WalKeys;
use crate::error::{PgError, Result};

/// Object magic.
pub const MAGIC: &[u8; 4] = b"LBWL";
/// Object format version.
pub const VERSION: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 56;
/// Envelope associated-data prefix.
const AAD_PREFIX: &[u8] = b"lifeboat wal v1\0";

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

/// Inputs at least this large are compressed in parts on several threads.
const PARALLEL_PART: usize = 4 << 20;

/// Encodes a WAL object. A segment is compressed as consecutive zstd frames, one per core
/// (parts of at least [`PARALLEL_PART`] bytes), while its content id is hashed on another
/// thread: `wal-push` latency is what PostgreSQL waits for. Concatenated frames are one valid
/// zstd body, so readers need nothing new.
pub fn encode_object(keys: &WalKeys, key: &str, data: &[u8], level: i32) -> Vec<u8> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = (data.len() / PARALLEL_PART).clamp(1, threads.clamp(1, 4));
    let (content_id, compressed) = if parts == 1 {
        (keys.content_id(data), compress_parts(&[data], level))
    } else {
        let size = data.len().div_ceil(parts);
        let pieces: Vec<&[u8]> = data.chunks(size).collect();
        std::thread::scope(|s| {
            let id = s.spawn(|| keys.content_id(data));
            let c = compress_parts(&pieces, level);
            (id.join().expect("hashing thread"), c)
        })
    };
    let frames_len: usize = compressed.iter().flatten().map(Vec::len).sum();
    let compression = u8::from(compressed.is_some() && frames_len < data.len());
    let header = ObjectHeader {
        compression,
        archived_at_ms: jiff::Timestamp::now().as_millisecond().max(0) as u64,
        length: data.len() as u64,
        content_id,
    }
    .encode();
    // One buffer: header, room for the envelope's slot and nonce, the body (copied once), then
    // sealed in place.
    let body_len = if compression == 1 {
        frames_len
    } else {
        data.len()
    };
    let mut out =
        Vec::with_capacity(HEADER_LEN + lifeboat_core::format::crypto::OVERHEAD + body_len);
    out.extend_from_slice(&header);
    out.extend_from_slice(&[0u8; lifeboat_core::format::crypto::HEAD]);
    match compressed {
        Some(frames) if compression == 1 => frames.iter().for_each(|f| out.extend_from_slice(f)),
        _ => out.extend_from_slice(data),
    }
    keys.data_key
        .seal_in_place(&aad(key, &header), &mut out, HEADER_LEN);
    out
}

/// Compresses each piece as its own zstd frame (the first on this thread, the others on
/// their own); the frames in order, or `None` when compression failed.
fn compress_parts(pieces: &[&[u8]], level: i32) -> Option<Vec<Vec<u8>>> {
    let (first, rest) = pieces.split_first()?;
    std::thread::scope(|s| {
        let others: Vec<_> = rest
            .iter()
            .map(|p| s.spawn(move || zstd::bulk::compress(p, level).ok()))
            .collect();
        let mut frames = vec![zstd::bulk::compress(first, level).ok()?];
        for h in others {
            frames.push(h.join().expect("compression thread")?);
        }
        Some(frames)
    })
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
pub(super) fn reencode_object(
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

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat_core::crypto::MasterKeys;

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
    fn a_segment_compressed_in_parallel_parts_decodes_as_one_zstd_body() {
        let k = keys();
        // 16 MiB of compressible, varied bytes (a WAL segment's size).
        let data: Vec<u8> = (0..16u32 << 20)
            .map(|i| ((i / 7) % 251) as u8 ^ (i >> 20) as u8)
            .collect();
        let key = "wal/1/00000001/000000010000000000000003";
        let obj = encode_object(&k, key, &data, 1);
        let h = ObjectHeader::decode(&obj, key).unwrap();
        assert_eq!(h.compression, 1);
        assert!(obj.len() < data.len() / 4, "{}", obj.len());
        let (_, back) = decode_object(&k, key, &obj).unwrap();
        assert!(back == data, "the frames decode to the segment");
        // The bytes a one-part encoder (older lifeboat) writes decode the same way, and
        // several frames decode with the single-call decompressor readers use.
        let parts = compress_parts(&[&data[..8 << 20], &data[8 << 20..]], 1)
            .unwrap()
            .concat();
        assert!(zstd::bulk::decompress(&parts, data.len()).unwrap() == data);
    }

    #[test]
    fn incompressible_is_stored() {
        let k = keys();
        let data: Vec<u8> = (0..50_000).map(|_| rand::random::<u8>()).collect();
        let obj = encode_object(&k, "x", &data, 1);
        assert_eq!(ObjectHeader::decode(&obj, "x").unwrap().compression, 0);
        assert_eq!(decode_object(&k, "x", &obj).unwrap().1, data);
    }
}
