//! Content-defined chunking with FastCDC (2020 variant, normalization level 1), seeded with a
//! secret per-repository gear seed so that chunk boundaries reveal nothing about content to
//! someone who knows the algorithm; and fixed-size blocks ([`fixed`]) for page-structured files
//! whose changes overwrite pages in place.

use crate::format::config::ChunkerParams;
use crate::format::plain::Plain;
use fastcdc::v2020::{FastCDC, Normalization};
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

/// Bytes read from the source per refill; chunks are cut inside this window, and only the
/// unfinished tail (less than `max_size`) is moved to the front between refills.
const WINDOW: usize = 8 << 20;

/// A streaming chunker over any reader. Boundaries are identical to [`boundaries`] over the
/// whole input: a cut is only searched for when at least `max_size` bytes (or the end of the
/// input) are in the window, so every cut sees the same bytes it would see in memory.
///
/// (fastcdc's own `StreamCDC` moves the whole rest of its buffer after every chunk, which
/// halves throughput; this keeps the same cut function and moves data once per window.)
pub struct Chunks<R> {
    reader: R,
    params: ChunkerParams,
    seed: u64,
    buf: Vec<u8>,
    len: usize,
    pos: usize,
    cuts: std::collections::VecDeque<usize>,
    eof: bool,
}

impl<R: Read> Chunks<R> {
    fn refill(&mut self) -> std::io::Result<()> {
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        loop {
            while !self.eof && self.len < self.buf.len() {
                match self.reader.read(&mut self.buf[self.len..]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => self.len += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            // A window sized by a hint that turned out short grows to the full window, so
            // every cut still sees `max_size` bytes (or the end of the input).
            let full = full_window(&self.params);
            if self.eof || self.buf.len() >= full {
                break;
            }
            self.buf.resize(full, 0);
        }
        let cdc = FastCDC::with_level_and_seed(
            &self.buf[..self.len],
            self.params.min_size as usize,
            self.params.avg_size as usize,
            self.params.max_size as usize,
            Normalization::Level1,
            self.seed,
        );
        let mut p = 0;
        while p < self.len {
            if !self.eof && self.len - p < self.params.max_size as usize {
                break;
            }
            let (_, cut) = cdc.cut(p, self.len - p);
            if cut <= p {
                break;
            }
            self.cuts.push_back(cut);
            p = cut;
        }
        Ok(())
    }
}

impl<R: Read> Chunks<R> {
    /// The next chunk, copied out of the window into a buffer with `room` spare bytes in front
    /// (see [`Plain`]); `None` at the end of the input.
    pub fn next_chunk(&mut self, room: usize) -> Option<std::io::Result<Plain>> {
        if self.cuts.is_empty() {
            if self.eof && self.pos == self.len {
                return None;
            }
            if let Err(e) = self.refill() {
                return Some(Err(e));
            }
            if self.cuts.is_empty() {
                return None;
            }
        }
        let cut = self.cuts.pop_front()?;
        let chunk = Plain::with_room(room, &self.buf[self.pos..cut]);
        self.pos = cut;
        Some(Ok(chunk))
    }
}

impl<R: Read> Iterator for Chunks<R> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk(0).map(|c| c.map(Plain::into_vec))
    }
}

fn full_window(params: &ChunkerParams) -> usize {
    WINDOW.max(4 * params.max_size as usize)
}

/// Splits a stream into chunks.
pub fn stream<R: Read>(reader: R, params: &ChunkerParams, seed: u64) -> Chunks<R> {
    stream_sized(reader, params, seed, None)
}

/// Like [`stream`], with the input's expected size: a small file then gets a window of its
/// own size instead of the full 8 MiB one (allocating and faulting in 8 MiB per small file
/// tripled the time to back up a tree of 50k files). The window grows if the input is longer.
pub fn stream_sized<R: Read>(
    reader: R,
    params: &ChunkerParams,
    seed: u64,
    size_hint: Option<u64>,
) -> Chunks<R> {
    let full = full_window(params);
    let window = size_hint.map_or(full, |n| (n as usize).saturating_add(1).clamp(4096, full));
    Chunks {
        reader,
        params: params.clone(),
        seed,
        buf: vec![0u8; window],
        len: 0,
        pos: 0,
        cuts: Default::default(),
        eof: false,
    }
}

/// Fixed-size blocks of a stream: every block but the last is exactly `block` bytes, aligned to
/// the start of the stream (a short read from the source never cuts a block early).
pub struct FixedChunks<R> {
    reader: R,
    block: usize,
    done: bool,
}

impl<R: Read> Iterator for FixedChunks<R> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = vec![0u8; self.block];
        let mut len = 0;
        while len < self.block {
            match self.reader.read(&mut buf[len..]) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        if len == 0 {
            return None;
        }
        buf.truncate(len);
        Some(Ok(buf))
    }
}

/// Splits a stream into blocks of `block` bytes (`block` > 0; the last block may be shorter).
pub fn fixed<R: Read>(reader: R, block: usize) -> FixedChunks<R> {
    assert!(block > 0, "a fixed block size must be positive");
    FixedChunks {
        reader,
        block,
        done: false,
    }
}
