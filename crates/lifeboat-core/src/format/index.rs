//! Index files: which pack holds each blob, at which offset.
//!
//! An index file is a metadata envelope (metadata key, context `lifeboat index`) holding
//! zstd-compressed JSON [`IndexFile`], stored under `index/<sha256 of stored bytes>`. Several
//! index files may list the same blob; any of the packs may be used. An index file may name
//! older index files it `supersedes` (written by prune), which readers then ignore.

use crate::format::blob::{BlobId, BlobType};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Associated data of index envelopes.
pub const INDEX_CONTEXT: &[u8] = b"lifeboat index";

/// One blob's location inside a pack.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexBlob {
    /// Blob id.
    pub id: BlobId,
    /// Blob type.
    #[serde(rename = "type")]
    pub kind: BlobType,
    /// Byte offset of the blob envelope in the pack.
    pub offset: u32,
    /// Length of the blob envelope.
    pub length: u32,
    /// Length of the plaintext.
    pub raw_length: u32,
}

/// One pack's entry in an index file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexPack {
    /// Pack id (SHA-256 hex of its bytes).
    pub id: String,
    /// Pack size in bytes.
    pub size: u64,
    /// The blobs in it, in pack order.
    pub blobs: Vec<IndexBlob>,
}

/// The serialized index file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IndexFile {
    /// Index files this one replaces (prune).
    #[serde(default)]
    pub supersedes: Vec<String>,
    /// Packs described.
    pub packs: Vec<IndexPack>,
}

/// Where a blob lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    /// Position of the pack in [`Index::packs`].
    pub pack: u32,
    /// Offset in the pack.
    pub offset: u32,
    /// Stored length.
    pub length: u32,
    /// Plaintext length.
    pub raw_length: u32,
    /// Blob type.
    pub kind: BlobType,
}

/// A pack known to the in-memory index.
#[derive(Clone, Debug)]
pub struct PackInfo {
    /// Pack id.
    pub id: String,
    /// Size in bytes.
    pub size: u64,
    /// True when every blob in the pack is a tree blob.
    pub tree_only: bool,
}

/// The in-memory union of all index files.
#[derive(Default, Debug)]
pub struct Index {
    /// Known packs.
    pub packs: Vec<PackInfo>,
    pack_pos: HashMap<String, u32>,
    blobs: HashMap<BlobId, BlobLocation>,
    /// Ids of the index files loaded.
    pub files: Vec<String>,
}

impl Index {
    /// Builds the in-memory index from loaded index files `(id, file)`, skipping every file
    /// that another one `supersedes`. Returns the index and the files it used.
    pub fn from_files(loaded: Vec<(String, IndexFile)>) -> (Index, Vec<(String, IndexFile)>) {
        let superseded: std::collections::HashSet<String> = loaded
            .iter()
            .flat_map(|(_, f)| f.supersedes.iter().cloned())
            .collect();
        let live: Vec<(String, IndexFile)> = loaded
            .into_iter()
            .filter(|(id, _)| !superseded.contains(id))
            .collect();
        let mut index = Index::default();
        for (id, f) in &live {
            index.add_packs(&f.packs);
            index.files.push(id.clone());
        }
        (index, live)
    }

    /// Adds every pack and blob of one index file.
    pub fn add_packs(&mut self, packs: &[IndexPack]) {
        for p in packs {
            let pos = match self.pack_pos.get(&p.id) {
                Some(pos) => *pos,
                None => {
                    let pos = self.packs.len() as u32;
                    self.packs.push(PackInfo {
                        id: p.id.clone(),
                        size: p.size,
                        tree_only: !p.blobs.is_empty()
                            && p.blobs.iter().all(|b| b.kind == BlobType::Tree),
                    });
                    self.pack_pos.insert(p.id.clone(), pos);
                    pos
                }
            };
            for b in &p.blobs {
                self.blobs.entry(b.id).or_insert(BlobLocation {
                    pack: pos,
                    offset: b.offset,
                    length: b.length,
                    raw_length: b.raw_length,
                    kind: b.kind,
                });
            }
        }
    }

    /// Location of a blob.
    pub fn get(&self, id: &BlobId) -> Option<&BlobLocation> {
        self.blobs.get(id)
    }

    /// True when the blob is indexed.
    pub fn contains(&self, id: &BlobId) -> bool {
        self.blobs.contains_key(id)
    }

    /// The pack id of a location.
    pub fn pack_id(&self, loc: &BlobLocation) -> &str {
        &self.packs[loc.pack as usize].id
    }

    /// Position of a pack by id.
    pub fn pack_position(&self, id: &str) -> Option<u32> {
        self.pack_pos.get(id).copied()
    }

    /// Iterates over every indexed blob.
    pub fn iter(&self) -> impl Iterator<Item = (&BlobId, &BlobLocation)> {
        self.blobs.iter()
    }

    /// Number of indexed blobs.
    pub fn len(&self) -> usize {
        self.blobs.len()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }
}
