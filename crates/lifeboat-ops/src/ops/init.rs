//! `init`: create a repository.

use crate::modes::Operation;
use crate::open::{self, Location, RepositoryInfo};
use crate::record::Recorder;
use crate::{journaled, Context, OpsError, Result};
use lifeboat_core::config::Config;
use lifeboat_core::Repository;
use serde::Deserialize;

/// What kind of repository to create.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitRequest {
    /// Minimum chunk size in KiB.
    pub chunk_min_kib: u32,
    /// Average chunk size in KiB.
    pub chunk_avg_kib: u32,
    /// Maximum chunk size in KiB.
    pub chunk_max_kib: u32,
    /// zstd level (0 = off).
    pub compression: i32,
    /// Target pack size in MiB.
    pub pack_size_mib: u32,
    /// Train a compression dictionary from the first backup's data.
    pub compression_dictionary: bool,
    /// Object-lock retention for every object: `MODE:DAYS`.
    pub object_lock: Option<String>,
}

impl Default for InitRequest {
    fn default() -> Self {
        InitRequest {
            chunk_min_kib: 32,
            chunk_avg_kib: 128,
            chunk_max_kib: 512,
            compression: 3,
            pack_size_mib: 16,
            compression_dictionary: true,
            object_lock: None,
        }
    }
}

/// Creates a repository at `location` protected by `password`; returns it opened.
pub fn init(
    ctx: &Context,
    location: &Location,
    password: &[u8],
    req: &InitRequest,
) -> Result<(Repository, RepositoryInfo)> {
    let mut rec = Recorder::new(ctx, Operation::Init.name());
    rec.arg("object_lock", req.object_lock.clone());
    if password.is_empty() {
        return Err(OpsError::invalid("password", "refusing an empty password"));
    }
    let mut config = Config::new();
    config.chunker.min_size = req.chunk_min_kib * 1024;
    config.chunker.avg_size = req.chunk_avg_kib * 1024;
    config.chunker.max_size = req.chunk_max_kib * 1024;
    if !(config.chunker.min_size < config.chunker.avg_size
        && config.chunker.avg_size < config.chunker.max_size)
    {
        return Err(OpsError::invalid(
            "chunk sizes",
            "they must satisfy min < avg < max",
        ));
    }
    config.compression_level = req.compression;
    config.pack_size = req.pack_size_mib * 1024 * 1024;
    config.compression_dictionary = req.compression_dictionary;
    config.object_lock = req
        .object_lock
        .as_deref()
        .map(lifeboat_core::retention_layer::parse_object_lock)
        .transpose()?;
    let repo = Repository::init(open::storage(location)?, password, config)?;
    rec.add(&repo);
    let info = RepositoryInfo::of(&repo);
    journaled(ctx, rec, |_| Ok(()))?;
    Ok((repo, info))
}
