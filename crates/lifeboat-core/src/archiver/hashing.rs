//! The SHA-256 of a stream, computed on its own thread while the stream is backed up.

use crate::error::{Error, Result};
use crossbeam_channel::{bounded, Sender};
use std::io::Read;

/// Counts and SHA-256-hashes what passes through it, hashing on its own thread: SHA-256 of a
/// stream costs about as much CPU as chunking and blob ids together, so keeping it off the
/// reading thread lets it overlap with them (the reader only copies the bytes it hands over).
pub(super) struct HashingReader<R> {
    inner: R,
    size: u64,
    pending: Vec<u8>,
    tx: Option<Sender<Vec<u8>>>,
    hasher: Option<std::thread::JoinHandle<[u8; 32]>>,
}

/// Bytes handed to the hashing thread at a time.
const HASH_BATCH: usize = 1 << 20;

impl<R: Read> HashingReader<R> {
    /// Starts the hashing thread.
    pub(super) fn new(inner: R) -> Self {
        let (tx, rx) = bounded::<Vec<u8>>(16);
        let hasher = std::thread::spawn(move || {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            for block in rx {
                h.update(&block);
            }
            h.finalize().into()
        });
        HashingReader {
            inner,
            size: 0,
            pending: Vec::with_capacity(HASH_BATCH),
            tx: Some(tx),
            hasher: Some(hasher),
        }
    }

    fn send(&mut self, block: Vec<u8>) {
        if let Some(tx) = &self.tx {
            // The hashing thread only stops when the channel closes; a send cannot fail
            // before `finish`, and if it did, `finish` reports the missing digest.
            let _ = tx.send(block);
        }
    }

    /// The stream's size and SHA-256 (hex) once it has been read to the end.
    pub(super) fn finish(&mut self) -> Result<(u64, String)> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.send(rest);
        }
        drop(self.tx.take());
        let digest = self
            .hasher
            .take()
            .and_then(|h| h.join().ok())
            .ok_or(Error::ThreadFailed {
                thread: "stream's SHA-256",
            })?;
        Ok((self.size, hex::encode(digest)))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.size += n as u64;
        if n >= HASH_BATCH && self.pending.is_empty() {
            self.send(buf[..n].to_vec());
        } else {
            self.pending.extend_from_slice(&buf[..n]);
            if self.pending.len() >= HASH_BATCH {
                let block = std::mem::replace(&mut self.pending, Vec::with_capacity(HASH_BATCH));
                self.send(block);
            }
        }
        Ok(n)
    }
}
