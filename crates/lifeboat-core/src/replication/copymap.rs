//! Copy maps: the blob-id translations a copy leaves in the destination, so a later copy of a
//! mostly unchanged snapshot reads only trees and new data from the source.

use crate::error::Result;
use crate::format::blob::{BlobId, BlobType};
use crate::format::index::Index;
use crate::parallel::parallel_map;
use crate::repo::Repository;
use std::collections::HashMap;

/// Key prefix of the id maps a copy leaves in the destination (per source repository).
pub const COPYMAP_PREFIX: &str = "copymap/";
const COPYMAP_CONTEXT: &[u8] = b"lifeboat copy map";

/// Source blob id -> destination blob id, for blobs a copy stored (metadata envelope under the
/// destination's metadata key, stored under `copymap/<source repository id>/<sha256>`).
#[derive(serde::Serialize, serde::Deserialize)]
struct CopyMap {
    source: String,
    /// Concatenated pairs: 32-byte source id || 32-byte destination id.
    #[serde(with = "crate::format::b64")]
    pairs: Vec<u8>,
}

/// Stores the translations `added` (source id, destination id) of one copied snapshot.
pub(super) fn save_map(
    src: &Repository,
    dst: &Repository,
    added: &[(BlobId, BlobId)],
) -> Result<()> {
    if added.is_empty() {
        return Ok(());
    }
    let mut pairs = Vec::with_capacity(added.len() * 64);
    for (s, d) in added {
        pairs.extend_from_slice(&s.0);
        pairs.extend_from_slice(&d.0);
    }
    let map = CopyMap {
        source: src.config().id.clone(),
        pairs,
    };
    let bytes = crate::format::json::seal_json(&dst.keys().meta_key, COPYMAP_CONTEXT, &map);
    let key = format!(
        "{COPYMAP_PREFIX}{}/{}",
        src.config().id,
        crate::format::crypto::sha256_hex(&bytes)
    );
    dst.storage()
        .write(&key, &bytes, &lifeboat_storage::WriteOptions::default())?;
    Ok(())
}

/// The data-blob translations earlier copies from `src` left in `dst`, restricted to blobs the
/// destination still has: later copies then read only trees and new data from the source.
pub(super) fn load_maps(
    src: &Repository,
    dst: &Repository,
    dst_index: &Index,
) -> Result<HashMap<BlobId, BlobId>> {
    let prefix = format!("{COPYMAP_PREFIX}{}/", src.config().id);
    let keys: Vec<String> = dst
        .storage()
        .list(&prefix)?
        .into_iter()
        .map(|o| o.key)
        .collect();
    let read = parallel_map(&keys, 8, |k| -> Result<CopyMap> {
        let bytes = dst.storage().read(k)?;
        crate::format::json::open_json(&dst.keys().meta_key, COPYMAP_CONTEXT, &bytes, k)
    });
    let mut map = HashMap::new();
    for (k, m) in keys.iter().zip(read) {
        let m = match m {
            Ok(m) if m.source == src.config().id => m,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!("ignoring copy map {k}: {e}");
                continue;
            }
        };
        for pair in m.pairs.chunks_exact(64) {
            let s = BlobId(pair[..32].try_into().expect("32 bytes"));
            let d = BlobId(pair[32..].try_into().expect("32 bytes"));
            // Data blobs only: trees are small and re-translated (and deduplicated), so a tree
            // whose children a prune removed can never be taken for complete.
            if dst_index.get(&d).is_some_and(|l| l.kind == BlobType::Data) {
                map.insert(s, d);
            }
        }
    }
    Ok(map)
}
