//! `stats`: repository size, deduplication and compression figures.

use crate::error::Result;
use crate::repo::Repository;

/// Repository statistics.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    /// Number of snapshots.
    pub snapshots: usize,
    /// Sum of the snapshots' file and stream sizes (what a restore of all of them would write).
    pub total_restore_size: u64,
    /// Distinct blobs stored.
    pub blobs: usize,
    /// Plaintext bytes of the distinct blobs (after deduplication, before compression).
    pub raw_data_size: u64,
    /// Bytes of packs in storage.
    pub packs_size: u64,
    /// Number of packs.
    pub packs: usize,
    /// Bytes of everything in the repository (packs, index, snapshots, keys, ...).
    pub repository_size: u64,
    /// total_restore_size / raw_data_size.
    pub dedup_ratio: f64,
    /// raw_data_size / packs_size.
    pub compression_ratio: f64,
}

/// Computes statistics.
pub fn stats(repo: &Repository) -> Result<Stats> {
    let index = repo.load_index()?;
    let snapshots = repo.snapshots()?;
    let mut s = Stats {
        snapshots: snapshots.len(),
        total_restore_size: snapshots
            .iter()
            .filter_map(|e| e.snapshot.summary.as_ref().map(|x| x.total_bytes))
            .sum(),
        blobs: index.len(),
        raw_data_size: index.iter().map(|(_, l)| l.raw_length as u64).sum(),
        packs_size: index.packs.iter().map(|p| p.size).sum(),
        packs: index.packs.len(),
        repository_size: repo.storage().list("")?.iter().map(|o| o.size).sum(),
        ..Default::default()
    };
    if s.raw_data_size > 0 {
        s.dedup_ratio = s.total_restore_size as f64 / s.raw_data_size as f64;
    }
    if s.packs_size > 0 {
        s.compression_ratio = s.raw_data_size as f64 / s.packs_size as f64;
    }
    Ok(s)
}
