//! Content-defined chunking with FastCDC (2020 variant, normalization level 1), seeded with a
//! secret per-repository gear seed so that chunk boundaries reveal nothing about content to
//! someone who knows the algorithm.

use crate::config::ChunkerParams;
use fastcdc::v2020::{FastCDC, Normalization, StreamCDC};
use std::io::Read;

/// Chunk boundaries of an in-memory buffer: the end offset of each chunk.
pub fn boundaries(data: &[u8], params: &ChunkerParams, seed: u64) -> Vec<usize> {
    FastCDC::with_level_and_seed(
        data,
        params.min_size as usize,
        params.avg_size as usize,
        params.max_size as usize,
        Normalization::Level1,
        seed,
    )
    .map(|c| c.offset + c.length)
    .collect()
}

/// Splits a stream into chunks.
pub fn stream<R: Read>(
    reader: R,
    params: &ChunkerParams,
    seed: u64,
) -> impl Iterator<Item = std::io::Result<Vec<u8>>> {
    StreamCDC::with_level_and_seed(
        reader,
        params.min_size as usize,
        params.avg_size as usize,
        params.max_size as usize,
        Normalization::Level1,
        seed,
    )
    .map(|r| match r {
        Ok(c) => Ok(c.data),
        Err(fastcdc::v2020::Error::IoError(e)) => Err(e),
        Err(e) => Err(std::io::Error::other(e.to_string())),
    })
}
