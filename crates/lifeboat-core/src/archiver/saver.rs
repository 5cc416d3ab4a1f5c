//! The saver pipeline: deduplicates blobs, and compresses, encrypts, packs and uploads them on
//! background threads.

use super::dictionary::{encode_data_or_tree_into, Trainer};
use super::Progress;
use crate::error::{Error, Result};
use crate::format::blob::{BlobId, BlobType};
use crate::format::chunker;
use crate::format::crypto::MasterKeys;
use crate::format::dict::{self, DictId, EncoderDict};
use crate::format::index::{Index, IndexPack};
use crate::format::pack::{pack_key, FinishedPack, PackBuilder};
use crate::format::plain::Plain;
use crate::repo::Repository;
use crossbeam_channel::{bounded, Receiver, Sender};
use lifeboat_storage::{Storage, WriteOptions};
use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// One blob for the workers.
pub(super) struct Job {
    pub(super) kind: BlobType,
    pub(super) id: BlobId,
    pub(super) data: Plain,
}

/// Shared state of the writer pipeline.
pub(super) struct Shared {
    pub(super) storage: Storage,
    pub(super) keys: MasterKeys,
    pub(super) level: i32,
    pub(super) pack_size: usize,
    pub(super) new_packs: Mutex<Vec<IndexPack>>,
    pub(super) error: Mutex<Option<Error>>,
    pub(super) failed: AtomicBool,
    pub(super) error_text: Mutex<String>,
    pub(super) bytes_written: AtomicU64,
    pub(super) blobs_added: AtomicU64,
    pub(super) raw_added: AtomicU64,
    pub(super) progress: Arc<Progress>,
    /// The compression dictionary for data blobs, once there is one ([`crate::format::dict`]).
    pub(super) dict: OnceLock<EncoderDict>,
    /// Set once a blob has been compressed with `dict`.
    pub(super) dict_used: AtomicBool,
    /// Some data blobs ([`is_probe`](super::dictionary::is_probe)) are
    /// compressed with and without the dictionary: bytes with, bytes without, blobs probed.
    /// When the dictionary costs more than it saves on this session's data, `dict_off` stops
    /// its use.
    pub(super) dict_probe: Mutex<(u64, u64, u32)>,
    pub(super) dict_off: AtomicBool,
    pub(super) data_blobs: AtomicU64,
    /// Buffers of data packs already uploaded, for the workers to build new packs in.
    spare_packs: (Sender<Vec<u8>>, Receiver<Vec<u8>>),
}

impl Shared {
    pub(super) fn fail(&self, e: Error) {
        let mut slot = self.error.lock().expect("error slot");
        if !self.failed.swap(true, Ordering::SeqCst) {
            *self.error_text.lock().expect("error text") = e.to_string();
            *slot = Some(e);
        }
    }
    pub(super) fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

/// What a [`BlobSaver`] stored.
#[derive(Debug)]
pub struct SaverTotals {
    /// Index entries of the new packs.
    pub packs: Vec<IndexPack>,
    /// Bytes of packs written.
    pub bytes_written: u64,
    /// Blobs added.
    pub blobs: u64,
    /// Plaintext bytes of the blobs added.
    pub raw: u64,
    /// The compression dictionary data blobs were compressed with, if any.
    pub dictionary: Option<DictId>,
}

/// Deduplicating blob writer: compresses, encrypts, packs and uploads on background threads.
pub struct BlobSaver<'a> {
    index: &'a Index,
    known: Mutex<HashSet<BlobId>>,
    /// Ids of all-zero blobs by length (see [`BlobSaver::zero_blob`]).
    zeros: Mutex<std::collections::HashMap<usize, BlobId>>,
    pub(super) shared: Arc<Shared>,
    jobs: Option<Sender<Job>>,
    workers: Vec<std::thread::JoinHandle<()>>,
    uploaders: Vec<std::thread::JoinHandle<()>>,
    /// Trains a compression dictionary (when the repository has none yet).
    trainer: Trainer,
    /// True when data blobs may be compressed with a dictionary in this session.
    dict_possible: bool,
}

impl<'a> BlobSaver<'a> {
    /// Starts the pipeline for `repo`, deduplicating against `index`. Fails only when the
    /// repository's compression dictionary cannot be read.
    pub fn new(repo: &Repository, index: &'a Index, progress: Arc<Progress>) -> Result<Self> {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 8);
        let shared = Arc::new(Shared {
            storage: repo.storage().clone(),
            keys: repo.keys().clone(),
            level: repo.config().compression_level,
            pack_size: repo.config().pack_size as usize,
            new_packs: Mutex::new(Vec::new()),
            error: Mutex::new(None),
            failed: AtomicBool::new(false),
            error_text: Mutex::new(String::new()),
            bytes_written: AtomicU64::new(0),
            blobs_added: AtomicU64::new(0),
            raw_added: AtomicU64::new(0),
            progress,
            dict: OnceLock::new(),
            dict_used: AtomicBool::new(false),
            dict_probe: Mutex::new((0, 0, 0)),
            dict_off: AtomicBool::new(false),
            data_blobs: AtomicU64::new(0),
            spare_packs: bounded(SPARE_PACKS),
        });
        let mut collect_samples = false;
        match repo.current_encoder_dict()? {
            Some(d) => {
                let _ = shared.dict.set(d);
            }
            None if repo.config().compression_dictionary
                && repo.config().compression_level > 0
                && !repo.is_write_only() =>
            {
                collect_samples = true;
            }
            None => {}
        }
        let dict_possible = collect_samples || (shared.dict.get().is_some() && shared.level > 0);
        let (job_tx, job_rx) = bounded::<Job>(threads * 16);
        let (pack_tx, pack_rx) = bounded::<FinishedPack>(2);
        let workers = (0..threads)
            .map(|_| {
                let (rx, tx, sh) = (job_rx.clone(), pack_tx.clone(), shared.clone());
                std::thread::spawn(move || worker(rx, tx, sh))
            })
            .collect();
        drop(pack_tx);
        let uploaders = (0..3)
            .map(|_| {
                let (rx, sh) = (pack_rx.clone(), shared.clone());
                std::thread::spawn(move || uploader(rx, sh))
            })
            .collect();
        Ok(BlobSaver {
            index,
            known: Mutex::new(HashSet::new()),
            zeros: Mutex::new(std::collections::HashMap::new()),
            shared,
            jobs: Some(job_tx),
            workers,
            uploaders,
            trainer: Trainer::new(collect_samples),
            dict_possible,
        })
    }

    pub(super) fn check_failed(&self) -> Result<()> {
        if self.shared.failed() {
            if self.shared.progress.cancel.is_cancelled() {
                return Err(Error::Cancelled {
                    operation: "backup".into(),
                });
            }
            // The first caller gets the real error; later callers its text.
            let taken = self.shared.error.lock().expect("error slot").take();
            return Err(taken.unwrap_or_else(|| Error::SaverStopped {
                reason: self.shared.error_text.lock().expect("error text").clone(),
            }));
        }
        Ok(())
    }

    /// Stores a blob unless the repository already has it; returns its id.
    pub fn save(&self, kind: BlobType, data: Vec<u8>) -> Result<BlobId> {
        self.store(kind, data, true)
    }

    /// [`BlobSaver::save`], sampling new data for the dictionary only when `sample`.
    fn store(&self, kind: BlobType, data: Vec<u8>, sample: bool) -> Result<BlobId> {
        let id = self.shared.keys.blob_id(&data);
        if self.admit(kind, id, &data, sample)? {
            self.send(Job {
                kind,
                id,
                data: Plain::from_vec(data),
            })?;
        }
        Ok(id)
    }

    /// Fails with [`Error::Cancelled`] (and stops the pipeline) once the backup is cancelled.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.shared.progress.cancel.is_cancelled() {
            self.shared.fail(Error::Cancelled {
                operation: "backup".into(),
            });
        }
        self.check_failed()
    }

    /// True when blob `id` is new to the repository and this session (it is then counted as
    /// queued, and new data is sampled for the dictionary when `sample`); fails once the backup
    /// is cancelled or the pipeline failed.
    fn admit(&self, kind: BlobType, id: BlobId, data: &[u8], sample: bool) -> Result<bool> {
        self.check_cancelled()?;
        if self.index.contains(&id) || !self.known.lock().expect("known set").insert(id) {
            return Ok(false);
        }
        if sample && kind == BlobType::Data {
            self.trainer.sample(data, &self.shared);
        }
        Ok(true)
    }

    fn send(&self, job: Job) -> Result<()> {
        let sent = self.jobs.as_ref().expect("saver is open").send(job);
        if sent.is_err() {
            self.check_failed()?;
        }
        Ok(())
    }

    /// Stores (once per session) the blob of `len` zero bytes; returns its id. Holes of sparse
    /// files refer to it many times over without reading or hashing their zeros again. The
    /// zeros are not sampled for the dictionary: they say nothing about the data.
    pub(super) fn zero_blob(&self, len: usize) -> Result<BlobId> {
        if let Some(id) = self.zeros.lock().expect("zero blobs").get(&len) {
            return Ok(*id);
        }
        let id = self.store(BlobType::Data, vec![0u8; len], false)?;
        self.zeros.lock().expect("zero blobs").insert(len, id);
        Ok(id)
    }

    /// True when the blob is in the repository or queued in this session.
    pub fn has(&self, id: &BlobId) -> bool {
        self.index.contains(id) || self.known.lock().expect("known set").contains(id)
    }

    /// Room to keep in front of data chunks: the dictionary's prefix, when blobs may be
    /// compressed with one ([`Plain`]).
    fn chunk_room(&self) -> usize {
        if self.dict_possible {
            dict::PREFIX_SIZE
        } else {
            0
        }
    }

    /// Chunks `reader` and stores every chunk; returns the content ids and byte count.
    /// `size_hint` (a file's size) lets small inputs use a small chunking window.
    pub fn save_stream<R: Read>(
        &self,
        reader: R,
        params: &crate::format::config::ChunkerParams,
        size_hint: Option<u64>,
    ) -> std::io::Result<(Vec<BlobId>, u64)> {
        let seed = self.shared.keys.chunker_seed;
        let mut chunks = chunker::stream_sized(reader, params, seed, size_hint);
        let room = self.chunk_room();
        self.save_chunks(std::iter::from_fn(|| chunks.next_chunk(room)), |c, new| {
            self.send_new(c, new)
        })
    }

    /// Cuts `reader` into blocks of `block` bytes (the last one may be shorter) and stores every
    /// block; returns the content ids and byte count (see [`super::Chunking::Fixed`]).
    pub fn save_fixed<R: Read>(
        &self,
        reader: R,
        block: usize,
    ) -> std::io::Result<(Vec<BlobId>, u64)> {
        let blocks = chunker::fixed(reader, block).map(|b| b.map(Plain::from_vec));
        self.save_chunks(blocks, |c, new| self.send_new(c, new))
    }

    /// Queues a data chunk for the workers when it is new (`new` is its id then).
    fn send_new(&self, data: Plain, new: Option<BlobId>) -> Result<()> {
        match new {
            Some(id) => self.send(Job {
                kind: BlobType::Data,
                id,
                data,
            }),
            None => Ok(()),
        }
    }

    /// Counts and admits data chunks in order and hands each to `pass`, with its id when it is
    /// new (to be stored); returns the ids and byte count.
    fn save_chunks(
        &self,
        chunks: impl Iterator<Item = std::io::Result<Plain>>,
        mut pass: impl FnMut(Plain, Option<BlobId>) -> Result<()>,
    ) -> std::io::Result<(Vec<BlobId>, u64)> {
        let mut ids = Vec::new();
        let mut total = 0u64;
        for chunk in chunks {
            let chunk = chunk?;
            total += chunk.len() as u64;
            self.shared
                .progress
                .bytes
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            let id = self.shared.keys.blob_id(&chunk);
            let new = self
                .admit(BlobType::Data, id, &chunk, true)
                .map_err(io_err)?;
            pass(chunk, new.then_some(id)).map_err(io_err)?;
            ids.push(id);
        }
        Ok((ids, total))
    }

    /// Like [`BlobSaver::save_stream`] (or [`BlobSaver::save_fixed`] when `block` is given),
    /// also returning the stream's SHA-256. Every chunk passes through a hashing thread, in
    /// order, before new ones go on to the workers: SHA-256 of a stream costs about as much
    /// CPU as chunking and blob ids together, and this way it overlaps with them without a copy
    /// of the stream.
    pub(super) fn save_stream_hashed<R: Read>(
        &self,
        reader: R,
        params: &crate::format::config::ChunkerParams,
        block: Option<usize>,
    ) -> std::io::Result<(Vec<BlobId>, u64, [u8; 32])> {
        let jobs = self.jobs.as_ref().expect("saver is open").clone();
        std::thread::scope(|scope| {
            // Chunks with their id when new: ~32 chunks in flight.
            let (tx, rx) = bounded::<(Plain, Option<BlobId>)>(32);
            let hasher = scope.spawn(move || {
                use sha2::Digest;
                let mut h = sha2::Sha256::new();
                for (data, new) in rx {
                    h.update(data.bytes());
                    if let Some(id) = new {
                        // Workers only stop when the pipeline failed, which the reading
                        // thread reports; keep hashing so it never blocks.
                        let kind = BlobType::Data;
                        let _ = jobs.send(Job { kind, id, data });
                    }
                }
                <[u8; 32]>::from(h.finalize())
            });
            let pass = |c, new| {
                tx.send((c, new)).map_err(|_| Error::ThreadFailed {
                    thread: "stream's SHA-256",
                })
            };
            let read = match block {
                Some(b) => {
                    let blocks = chunker::fixed(reader, b).map(|c| c.map(Plain::from_vec));
                    self.save_chunks(blocks, pass)
                }
                None => {
                    let seed = self.shared.keys.chunker_seed;
                    let mut chunks = chunker::stream(reader, params, seed);
                    let room = self.chunk_room();
                    self.save_chunks(std::iter::from_fn(|| chunks.next_chunk(room)), pass)
                }
            };
            drop(tx);
            let digest = hasher.join().map_err(|_| {
                std::io::Error::other("the thread computing the stream's SHA-256 failed")
            })?;
            read.map(|(ids, total)| (ids, total, digest))
        })
    }

    /// Waits for every blob to be stored and returns the new packs' index entries.
    /// On any failure returns the first error; nothing is indexed then.
    pub fn finish(mut self) -> Result<SaverTotals> {
        self.trainer.join();
        drop(self.jobs.take());
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        for u in self.uploaders.drain(..) {
            let _ = u.join();
        }
        self.check_failed()?;
        let sh = &self.shared;
        Ok(SaverTotals {
            packs: std::mem::take(&mut *sh.new_packs.lock().expect("packs")),
            bytes_written: sh.bytes_written.load(Ordering::Relaxed),
            blobs: sh.blobs_added.load(Ordering::Relaxed),
            raw: sh.raw_added.load(Ordering::Relaxed),
            dictionary: sh
                .dict
                .get()
                .filter(|_| sh.dict_used.load(Ordering::SeqCst))
                .map(|d| d.id),
        })
    }
}

impl Drop for BlobSaver<'_> {
    fn drop(&mut self) {
        drop(self.jobs.take());
        self.shared.fail(Error::SaverStopped {
            reason: "the blob saver was dropped before it finished".into(),
        });
        self.trainer.join();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        for u in self.uploaders.drain(..) {
            let _ = u.join();
        }
    }
}

/// Uploaded data-pack buffers kept for reuse: about as many as are in flight at once (packs
/// being filled, queued and uploading).
const SPARE_PACKS: usize = 8;

fn io_err(e: Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Compresses and encrypts blobs into packs. Tree blobs go to packs of their own, so that
/// reading directory listings (change detection, restore planning, `ls`) fetches small packs
/// instead of ranges scattered through data packs.
fn worker(rx: Receiver<Job>, tx: Sender<FinishedPack>, sh: Arc<Shared>) {
    let new_pack = |kind: BlobType| match kind {
        BlobType::Data => match sh.spare_packs.1.try_recv() {
            Ok(buffer) => PackBuilder::in_buffer(buffer),
            Err(_) => PackBuilder::with_capacity(sh.pack_size + (1 << 20)),
        },
        BlobType::Tree => PackBuilder::with_capacity(1 << 20),
    };
    let mut packs = [new_pack(BlobType::Data), new_pack(BlobType::Tree)];
    for job in rx {
        if sh.failed() {
            continue; // drain so the sender never blocks
        }
        let slot = job.kind.code() as usize;
        let raw = job.data.len();
        let Job { kind, id, mut data } = job;
        packs[slot].add_encoded(kind, id, raw, |out| {
            encode_data_or_tree_into(&sh, kind, &mut data, out)
        });
        sh.blobs_added.fetch_add(1, Ordering::Relaxed);
        sh.raw_added.fetch_add(raw as u64, Ordering::Relaxed);
        if packs[slot].len() >= sh.pack_size {
            let full = std::mem::replace(&mut packs[slot], new_pack(kind));
            if tx.send(full.finish(&sh.keys.meta_key)).is_err() {
                return;
            }
        }
    }
    for pack in packs {
        if !pack.is_empty() && !sh.failed() {
            let _ = tx.send(pack.finish(&sh.keys.meta_key));
        }
    }
}

fn uploader(rx: Receiver<FinishedPack>, sh: Arc<Shared>) {
    for pack in rx {
        if sh.failed() {
            continue;
        }
        match sh
            .storage
            .write(&pack_key(&pack.id), &pack.bytes, &WriteOptions::default())
        {
            Ok(()) => {
                sh.bytes_written
                    .fetch_add(pack.bytes.len() as u64, Ordering::Relaxed);
                sh.progress
                    .bytes_written
                    .fetch_add(pack.bytes.len() as u64, Ordering::Relaxed);
                sh.new_packs.lock().expect("packs").push(pack.index);
                if pack.bytes.capacity() >= sh.pack_size {
                    let _ = sh.spare_packs.0.try_send(pack.bytes);
                }
            }
            Err(e) => sh.fail(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::config::Config;

    fn repo() -> Repository {
        std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
        let store = Arc::new(lifeboat_storage::memory::MemoryStorage::default());
        Repository::init(store, b"pw", Config::new()).unwrap()
    }

    #[test]
    fn zero_blobs_of_sparse_holes_are_not_dictionary_samples() {
        let repo = repo();
        let index = repo.load_index().unwrap();
        let saver = BlobSaver::new(&repo, &index, Default::default()).unwrap();
        let a = saver.zero_blob(512 << 10).unwrap();
        assert_eq!(
            saver.zero_blob(512 << 10).unwrap(),
            a,
            "stored once per session"
        );
        assert_eq!(saver.trainer.sampled_bytes(), 0);
        // Real data is sampled.
        saver.save(BlobType::Data, b"some data".to_vec()).unwrap();
        assert_eq!(saver.trainer.sampled_bytes(), 9);
        let totals = saver.finish().unwrap();
        assert_eq!(totals.blobs, 2);
    }

    #[test]
    fn streams_hashed_from_their_chunks_have_the_sha256_of_the_stream() {
        use sha2::Digest;
        let repo = repo();
        let index = repo.load_index().unwrap();
        let saver = BlobSaver::new(&repo, &index, Default::default()).unwrap();
        let data: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let params = repo.config().chunker.clone();
        for block in [None, Some(65536)] {
            let (ids, n, digest) = saver.save_stream_hashed(&data[..], &params, block).unwrap();
            assert_eq!(n, data.len() as u64);
            assert!(ids.len() > 1);
            assert_eq!(digest, <[u8; 32]>::from(sha2::Sha256::digest(&data)));
        }
        saver.finish().unwrap();
    }
}
