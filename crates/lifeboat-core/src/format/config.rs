//! The repository config: the only object stored in plaintext (see design doc, "config").

use serde::{Deserialize, Serialize};

/// Storage key of the config object.
pub const CONFIG_KEY: &str = "config";

/// Format marker.
pub const FORMAT: &str = "lifeboat-repository";

/// Current format version.
pub const VERSION: u32 = 1;

/// Content-defined chunking parameters (FastCDC 2020, normalization level 1; the gear-table
/// seed is secret and derived from the master key).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkerParams {
    /// Always `fastcdc-2020`.
    pub algorithm: String,
    /// Minimum chunk size in bytes.
    pub min_size: u32,
    /// Average (target) chunk size.
    pub avg_size: u32,
    /// Maximum chunk size.
    pub max_size: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams {
            algorithm: "fastcdc-2020".into(),
            min_size: 32 * 1024,
            avg_size: 128 * 1024,
            max_size: 512 * 1024,
        }
    }
}

/// S3 Object Lock settings applied to every object written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectLock {
    /// `COMPLIANCE` or `GOVERNANCE`.
    pub mode: String,
    /// Retention period in days from the write.
    pub days: u32,
}

/// The public repository config.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Config {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version.
    pub version: u32,
    /// Random repository id (hex).
    pub id: String,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Chunking parameters.
    pub chunker: ChunkerParams,
    /// zstd level for blobs (0 disables compression).
    pub compression_level: i32,
    /// Target pack size in bytes.
    pub pack_size: u32,
    /// Object lock, when the repository was created with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLock>,
    /// Compress data blobs with a zstd dictionary trained on the repository's data
    /// ([`crate::format::dict`]). Absent (false) in repositories created before dictionaries existed.
    #[serde(default)]
    pub compression_dictionary: bool,
}

impl Config {
    /// A config with default parameters and a fresh id.
    pub fn new() -> Self {
        Config {
            format: FORMAT.into(),
            version: VERSION,
            id: hex::encode(rand::random::<[u8; 16]>()),
            created: jiff::Timestamp::now().to_string(),
            chunker: ChunkerParams::default(),
            compression_level: 3,
            pack_size: 16 * 1024 * 1024,
            object_lock: None,
            compression_dictionary: true,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}
