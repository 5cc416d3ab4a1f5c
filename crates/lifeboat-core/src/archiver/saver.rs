//! Backups of file trees and streams.
//!
//! Pipeline: the walking thread reads, chunks and hashes (blob ids); blobs not yet in the
//! repository go to worker threads that compress, encrypt and fill packs; finished packs go to
//! uploader threads. Write order (design doc, "Write ordering"): every pack is stored before the
//! index file naming it, and the index before the snapshot. Any failure before the snapshot is
//! written leaves at most unindexed packs, which `prune` removes.

use crate::error::{Error, Result};
use crate::format::blob::{self, BlobId, BlobType};
use crate::format::chunker;
use crate::format::crypto::MasterKeys;
use crate::format::index::{Index, IndexPack};
use crate::format::pack::{pack_key, PackBuilder};
use crate::format::snapshot::{Snapshot, StreamInfo, Summary};
use crate::format::tree::{Node, NodeKind, Tree};
use crate::format::zblob;
use crate::repo::Repository;
use crossbeam_channel::{bounded, Receiver, Sender};
use lifeboat_storage::{Storage, WriteOptions};
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Options shared by every kind of backup.
#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    /// Tags recorded in the snapshot.
    pub tags: Vec<String>,
    /// Hostname to record (default: this machine's).
    pub host: Option<String>,
    /// Glob patterns to exclude (a pattern without `/` matches names, else whole paths).
    pub excludes: Vec<String>,
    /// Do not cross filesystem boundaries.
    pub one_file_system: bool,
    /// Explicit parent snapshot for change detection (default: the latest with the same
    /// host and paths).
    pub parent: Option<String>,
    /// Re-read every file even if unchanged.
    pub force: bool,
    /// Source kind recorded for streams (default `stream`).
    pub source_kind: Option<String>,
    /// Source-specific metadata recorded in the snapshot.
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Live counters a front end can poll for progress display, and the cancellation token the
/// operation obeys (a cancelled backup stops before its index and snapshot are written).
#[derive(Debug, Default)]
pub struct Progress {
    /// Set by the front end to stop the operation ([`crate::cancel`]).
    pub cancel: crate::cancel::CancelToken,
    /// Files processed.
    pub files: AtomicU64,
    /// Bytes of file content processed (read or found unchanged).
    pub bytes: AtomicU64,
    /// Bytes written to the repository.
    pub bytes_written: AtomicU64,
}

/// What a backup produced.
#[derive(Debug)]
pub struct BackupOutcome {
    /// New snapshot id.
    pub snapshot_id: String,
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Files or directories skipped because they could not be read: `(path, reason)`.
    pub skipped: Vec<(PathBuf, String)>,
}

struct Job {
    kind: BlobType,
    id: BlobId,
    data: Vec<u8>,
}

/// Shared state of the writer pipeline.
struct Shared {
    storage: Storage,
    keys: MasterKeys,
    level: i32,
    pack_size: usize,
    new_packs: Mutex<Vec<IndexPack>>,
    error: Mutex<Option<Error>>,
    failed: std::sync::atomic::AtomicBool,
    error_text: Mutex<String>,
    bytes_written: AtomicU64,
    blobs_added: AtomicU64,
    raw_added: AtomicU64,
    progress: Arc<Progress>,
    /// The compression dictionary for data blobs, once there is one ([`crate::format::dict`]).
    dict: std::sync::OnceLock<crate::format::dict::EncoderDict>,
    /// Set once a blob has been compressed with `dict`.
    dict_used: std::sync::atomic::AtomicBool,
    /// Every [`DICT_PROBE_EVERY`]th data blob is compressed with and without the dictionary:
    /// bytes with, bytes without, blobs probed. When the dictionary costs more than it saves
    /// on this session's data, `dict_off` stops its use.
    dict_probe: Mutex<(u64, u64, u32)>,
    dict_off: std::sync::atomic::AtomicBool,
    data_blobs: AtomicU64,
}

/// How often a data blob is compressed both ways to check the dictionary still pays off.
const DICT_PROBE_EVERY: u64 = 32;

/// Blobs probed before the dictionary may be turned off.
const DICT_PROBE_MIN: u32 = 8;

impl Shared {
    fn fail(&self, e: Error) {
        let mut slot = self.error.lock().expect("error slot");
        if !self.failed.swap(true, Ordering::SeqCst) {
            *self.error_text.lock().expect("error text") = e.to_string();
            *slot = Some(e);
        }
    }
    fn failed(&self) -> bool {
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
    pub dictionary: Option<crate::format::dict::DictId>,
}

/// Deduplicating blob writer: compresses, encrypts, packs and uploads on background threads.
pub struct BlobSaver<'a> {
    index: &'a Index,
    known: Mutex<HashSet<BlobId>>,
    shared: Arc<Shared>,
    jobs: Option<Sender<Job>>,
    workers: Vec<std::thread::JoinHandle<()>>,
    uploaders: Vec<std::thread::JoinHandle<()>>,
    /// Data chunks collected to train a dictionary (when the repository has none yet).
    samples: Mutex<Option<Samples>>,
    trainer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Default)]
struct Samples {
    chunks: Vec<Vec<u8>>,
    bytes: usize,
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
            failed: std::sync::atomic::AtomicBool::new(false),
            error_text: Mutex::new(String::new()),
            bytes_written: AtomicU64::new(0),
            blobs_added: AtomicU64::new(0),
            raw_added: AtomicU64::new(0),
            progress,
            dict: std::sync::OnceLock::new(),
            dict_used: std::sync::atomic::AtomicBool::new(false),
            dict_probe: Mutex::new((0, 0, 0)),
            dict_off: std::sync::atomic::AtomicBool::new(false),
            data_blobs: AtomicU64::new(0),
        });
        let mut samples = None;
        match repo.current_encoder_dict()? {
            Some(d) => {
                let _ = shared.dict.set(d);
            }
            None if repo.config().compression_dictionary
                && repo.config().compression_level > 0
                && !repo.is_write_only() =>
            {
                samples = Some(Samples::default());
            }
            None => {}
        }
        let (job_tx, job_rx) = bounded::<Job>(threads * 16);
        let (pack_tx, pack_rx) = bounded::<crate::format::pack::FinishedPack>(2);
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
            shared,
            jobs: Some(job_tx),
            workers,
            uploaders,
            samples: Mutex::new(samples),
            trainer: Mutex::new(None),
        })
    }

    /// Keeps a copy of the first new data chunks; once there are enough, trains a dictionary
    /// on another thread, stores it, and hands it to the workers for the blobs that follow.
    fn sample(&self, data: &[u8]) {
        let mut slot = self.samples.lock().expect("samples");
        let Some(s) = slot.as_mut() else { return };
        s.chunks.push(data.to_vec());
        s.bytes += data.len();
        if s.bytes < crate::format::dict::TRAIN_SAMPLE_BYTES {
            return;
        }
        let chunks = std::mem::take(&mut s.chunks);
        *slot = None;
        let sh = self.shared.clone();
        let handle = std::thread::spawn(move || {
            let Some(prefix) = crate::format::dict::train(&chunks) else {
                return;
            };
            drop(chunks);
            if sh.failed() {
                return;
            }
            match crate::format::dict::store(&sh.storage, &sh.keys, &prefix) {
                // Stored before any blob uses it: the workers only see it from here on.
                Ok(id) => {
                    let _ = sh.dict.set(crate::format::dict::EncoderDict { id, prefix });
                }
                Err(e) => sh.fail(e),
            }
        });
        *self.trainer.lock().expect("trainer") = Some(handle);
    }

    fn join_trainer(&self) {
        if let Some(t) = self.trainer.lock().expect("trainer").take() {
            let _ = t.join();
        }
    }

    fn check_failed(&self) -> Result<()> {
        if self.shared.failed() {
            // The first caller gets the real error; later callers its text.
            let taken = self.shared.error.lock().expect("error slot").take();
            return Err(taken.unwrap_or_else(|| {
                Error::Invalid(self.shared.error_text.lock().expect("error text").clone())
            }));
        }
        Ok(())
    }

    /// Stores a blob unless the repository already has it; returns its id.
    pub fn save(&self, kind: BlobType, data: Vec<u8>) -> Result<BlobId> {
        let id = self.shared.keys.blob_id(&data);
        self.save_with_id(kind, id, data)?;
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

    fn save_with_id(&self, kind: BlobType, id: BlobId, data: Vec<u8>) -> Result<()> {
        self.check_cancelled()?;
        if self.index.contains(&id) || !self.known.lock().expect("known set").insert(id) {
            return Ok(());
        }
        if kind == BlobType::Data {
            self.sample(&data);
        }
        let sent = self
            .jobs
            .as_ref()
            .expect("saver is open")
            .send(Job { kind, id, data });
        if sent.is_err() {
            self.check_failed()?;
        }
        Ok(())
    }

    /// True when the blob is in the repository or queued in this session.
    pub fn has(&self, id: &BlobId) -> bool {
        self.index.contains(id) || self.known.lock().expect("known set").contains(id)
    }

    /// Chunks `reader` and stores every chunk; returns the content ids and byte count.
    /// `size_hint` (a file's size) lets small inputs use a small chunking window.
    pub fn save_stream<R: Read>(
        &self,
        reader: R,
        params: &crate::format::config::ChunkerParams,
        size_hint: Option<u64>,
    ) -> std::io::Result<(Vec<BlobId>, u64)> {
        let mut ids = Vec::new();
        let mut total = 0u64;
        let seed = self.shared.keys.chunker_seed;
        for chunk in chunker::stream_sized(reader, params, seed, size_hint) {
            let chunk = chunk?;
            total += chunk.len() as u64;
            self.shared
                .progress
                .bytes
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            let id = self.shared.keys.blob_id(&chunk);
            self.save_with_id(BlobType::Data, id, chunk)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            ids.push(id);
        }
        Ok((ids, total))
    }

    /// Waits for every blob to be stored and returns the new packs' index entries.
    /// On any failure returns the first error; nothing is indexed then.
    pub fn finish(mut self) -> Result<SaverTotals> {
        self.join_trainer();
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
        self.shared.fail(Error::Invalid("backup aborted".into()));
        self.join_trainer();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        for u in self.uploaders.drain(..) {
            let _ = u.join();
        }
    }
}

/// Compresses and encrypts blobs into packs. Tree blobs go to packs of their own, so that
/// reading directory listings (change detection, restore planning, `ls`) fetches small packs
/// instead of ranges scattered through data packs.
fn worker(rx: Receiver<Job>, tx: Sender<crate::format::pack::FinishedPack>, sh: Arc<Shared>) {
    let new_pack = |kind: BlobType| match kind {
        BlobType::Data => PackBuilder::with_capacity(sh.pack_size + (1 << 20)),
        BlobType::Tree => PackBuilder::with_capacity(1 << 20),
    };
    let mut packs = [new_pack(BlobType::Data), new_pack(BlobType::Tree)];
    for job in rx {
        if sh.failed() {
            continue; // drain so the sender never blocks
        }
        let stored = encode_data_or_tree(&sh, &job);
        let slot = job.kind.code() as usize;
        packs[slot].add(job.kind, job.id, &stored, job.data.len());
        sh.blobs_added.fetch_add(1, Ordering::Relaxed);
        sh.raw_added
            .fetch_add(job.data.len() as u64, Ordering::Relaxed);
        if packs[slot].len() >= sh.pack_size {
            let full = std::mem::replace(&mut packs[slot], new_pack(job.kind));
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

/// Encodes a job's blob: data blobs with the dictionary while it pays off (see `dict_probe`).
fn encode_data_or_tree(sh: &Shared, job: &Job) -> Vec<u8> {
    use blob::Compressed;
    let dict = sh
        .dict
        .get()
        .filter(|_| job.kind == BlobType::Data && sh.level > 0)
        .filter(|_| !sh.dict_off.load(Ordering::Relaxed));
    let Some(d) = dict else {
        return blob::encode(&sh.keys, &job.data, sh.level);
    };
    if !sh
        .data_blobs
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(DICT_PROBE_EVERY)
    {
        sh.dict_used.store(true, Ordering::SeqCst);
        return blob::encode_with(&sh.keys, &job.data, sh.level, Some(d));
    }
    let with = Compressed::WithDict(d.id, zblob::compress(&job.data, sh.level, &d.prefix));
    let without = Compressed::Plain(zblob::compress(&job.data, sh.level, &[]));
    let (w, wo) = (with.cost(), without.cost());
    {
        let mut p = sh.dict_probe.lock().expect("dict probe");
        p.0 += w.unwrap_or(job.data.len()) as u64;
        p.1 += wo.unwrap_or(job.data.len()) as u64;
        p.2 += 1;
        if p.2 >= DICT_PROBE_MIN && p.0 > p.1 {
            tracing::info!(
                with = p.0,
                without = p.1,
                "the compression dictionary does not pay off on this data; not using it"
            );
            sh.dict_off.store(true, Ordering::Relaxed);
        }
    }
    if w.is_some() && w <= wo.or(Some(usize::MAX)) {
        sh.dict_used.store(true, Ordering::SeqCst);
        blob::seal(&sh.keys, &job.data, with)
    } else {
        blob::seal(&sh.keys, &job.data, without)
    }
}

fn uploader(rx: Receiver<crate::format::pack::FinishedPack>, sh: Arc<Shared>) {
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
            }
            Err(e) => sh.fail(e.into()),
        }
    }
}

/// Writes the index for `packs` and then the snapshot; fills the summary's byte counters.
fn commit(
    repo: &Repository,
    saver: BlobSaver<'_>,
    mut snapshot: Snapshot,
    mut summary: Summary,
    started: Instant,
) -> Result<(String, Snapshot)> {
    saver.check_cancelled()?;
    let cancel = saver.shared.progress.cancel.clone();
    let SaverTotals {
        packs,
        bytes_written: written,
        blobs,
        raw,
        dictionary,
    } = saver.finish()?;
    // Last point at which a cancellation stops the backup: nothing refers to the packs yet.
    cancel.check("backup")?;
    snapshot.dictionary = dictionary.map(hex::encode);
    let mut index_bytes = 0;
    if !packs.is_empty() {
        let id = repo.write_index(packs, Vec::new())?;
        index_bytes = repo.storage().stat(&format!("index/{id}"))?.size;
    }
    summary.blobs_added = blobs;
    summary.bytes_added_raw = raw;
    summary.bytes_added = written + index_bytes;
    summary.duration_seconds = started.elapsed().as_secs_f64();
    snapshot.summary = Some(summary);
    let id = repo.save_snapshot(&snapshot)?;
    Ok((id, snapshot))
}

fn new_snapshot(opts: &BackupOptions, source: &str, tree: BlobId) -> Snapshot {
    Snapshot {
        time: jiff::Timestamp::now().to_string(),
        hostname: opts.host.clone().unwrap_or_else(crate::host::hostname),
        username: crate::host::username(),
        source: source.to_string(),
        paths: Vec::new(),
        stream: None,
        tags: opts.tags.clone(),
        parent: None,
        tree,
        summary: None,
        extra: opts.extra.clone(),
        dictionary: None,
        program_version: crate::PROGRAM_VERSION.to_string(),
    }
}

// ---------------------------------------------------------------- streams

/// Counts and SHA-256-hashes what passes through it, hashing on its own thread: SHA-256 of a
/// stream costs about as much CPU as chunking and blob ids together, so keeping it off the
/// reading thread lets it overlap with them (the reader only copies the bytes it hands over).
struct HashingReader<R> {
    inner: R,
    size: u64,
    pending: Vec<u8>,
    tx: Option<Sender<Vec<u8>>>,
    hasher: Option<std::thread::JoinHandle<[u8; 32]>>,
}

/// Bytes handed to the hashing thread at a time.
const HASH_BATCH: usize = 1 << 20;

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
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
    fn finish(&mut self) -> Result<(u64, String)> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.send(rest);
        }
        drop(self.tx.take());
        let digest = self
            .hasher
            .take()
            .and_then(|h| h.join().ok())
            .ok_or_else(|| Error::Invalid("the stream's SHA-256 thread failed".into()))?;
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

/// Backs up one stream as a snapshot whose tree holds a single file named `name`.
///
/// `finished` is called after the stream hit EOF and before anything is indexed, with the
/// stream's size and SHA-256: an error from it (for example a dump command that exited non-zero)
/// aborts the backup with no snapshot; the metadata it returns (known only once the source is
/// done, such as a base backup's stop LSN) is merged into the snapshot's `extra`.
pub fn backup_stream<R: Read>(
    repo: &Repository,
    name: &str,
    reader: R,
    opts: &BackupOptions,
    progress: Arc<Progress>,
    finished: impl FnOnce(&StreamInfo) -> Result<BTreeMap<String, serde_json::Value>>,
) -> Result<BackupOutcome> {
    if name.is_empty() || name.contains('/') {
        return Err(Error::Invalid(format!(
            "invalid stream name '{name}': give a non-empty file name without '/'"
        )));
    }
    let started = Instant::now();
    repo.require_writable("backup")?;
    let _lock = crate::governance::lock::acquire(
        repo,
        false,
        "backup",
        crate::governance::lock::wait_time(),
    )?;
    let index = repo.load_index()?;
    let saver = BlobSaver::new(repo, &index, progress)?;
    let mut hr = HashingReader::new(reader);
    let (content, size) = match saver.save_stream(&mut hr, &repo.config().chunker, None) {
        Ok(r) => r,
        Err(e) => {
            saver.check_cancelled()?;
            return Err(Error::SourceFailed(format!(
                "reading stream '{name}' failed: {e}; nothing was recorded"
            )));
        }
    };
    saver.check_cancelled()?;
    let (hashed, sha256) = hr.finish()?;
    debug_assert_eq!(hashed, size);
    let info = StreamInfo {
        name: name.to_string(),
        size,
        sha256,
    };
    let extra_after = finished(&info)?;
    let now = jiff::Timestamp::now();
    let mut node = Node {
        kind: Some(NodeKind::File),
        mode: 0o600,
        mtime_ns: now.as_nanosecond() as i64,
        ctime_ns: now.as_nanosecond() as i64,
        // SAFETY: getuid/getgid have no preconditions.
        uid: unsafe { libc::getuid() },
        gid: unsafe { libc::getgid() },
        size,
        content,
        ..Default::default()
    };
    node.set_name(std::ffi::OsStr::new(name));
    let tree = saver.save(BlobType::Tree, Tree { nodes: vec![node] }.to_bytes())?;
    let kind = opts.source_kind.clone().unwrap_or_else(|| "stream".into());
    let mut snapshot = new_snapshot(opts, &kind, tree);
    snapshot.extra.extend(extra_after);
    snapshot.stream = Some(info);
    let summary = Summary {
        files_new: 1,
        total_bytes: size,
        bytes_read: size,
        ..Default::default()
    };
    let (snapshot_id, snapshot) = commit(repo, saver, snapshot, summary, started)?;
    Ok(BackupOutcome {
        snapshot_id,
        snapshot,
        skipped: Vec::new(),
    })
}

/// Backs up the standard output of a command. If the command exits non-zero (or is killed),
/// nothing is recorded and the error carries the tail of its standard error.
pub fn backup_command(
    repo: &Repository,
    name: &str,
    command: &[String],
    opts: &BackupOptions,
    progress: Arc<Progress>,
) -> Result<BackupOutcome> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::Invalid("--stdin-from-command needs a command after --".into()))?;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::SourceFailed(format!("cannot start command `{}`: {e}", command.join(" ")))
        })?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let tail = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 64 * 1024 {
                buf.drain(..buf.len() - 16 * 1024);
            }
        }
        buf
    });
    let child = Mutex::new(child);
    let result = backup_stream(repo, name, stdout, opts, progress, |_| {
        let status = child.lock().expect("child").wait().map_err(|e| {
            Error::SourceFailed(format!("waiting for `{}` failed: {e}", command.join(" ")))
        })?;
        if status.success() {
            return Ok(BTreeMap::new());
        }
        Err(Error::SourceFailed(String::new()))
    });
    // Make sure the child is gone whatever happened (a failed backup must not leave it running).
    let mut child = child.into_inner().expect("child");
    let _ = child.kill();
    let status = child.wait().ok();
    let stderr_tail = tail.join().unwrap_or_default();
    match result {
        Err(Error::SourceFailed(msg)) if msg.is_empty() || status.is_some_and(|s| !s.success()) => {
            let text = String::from_utf8_lossy(&stderr_tail);
            let lines: Vec<&str> = text.lines().collect();
            let tail_text = lines[lines.len().saturating_sub(20)..].join("\n");
            let how = match status {
                Some(s) => match s.code() {
                    Some(c) => format!("exited with status {c}"),
                    None => "was killed by a signal".into(),
                },
                None => "failed".into(),
            };
            Err(Error::SourceFailed(format!(
                "command `{}` {how}; no snapshot was written{}{}",
                command.join(" "),
                if tail_text.is_empty() {
                    ""
                } else {
                    ". Its stderr ended with:\n"
                },
                tail_text
            )))
        }
        other => other,
    }
}

// ---------------------------------------------------------------- files

struct Excludes {
    names: globset::GlobSet,
    paths: globset::GlobSet,
}

impl Excludes {
    fn new(patterns: &[String]) -> Result<Self> {
        let mut names = globset::GlobSetBuilder::new();
        let mut paths = globset::GlobSetBuilder::new();
        for p in patterns {
            let glob = globset::GlobBuilder::new(p)
                .literal_separator(p.contains('/'))
                .build()
                .map_err(|e| Error::Invalid(format!("bad --exclude pattern '{p}': {e}")))?;
            if p.contains('/') {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        Ok(Excludes {
            names: names.build().map_err(|e| Error::Invalid(e.to_string()))?,
            paths: paths.build().map_err(|e| Error::Invalid(e.to_string()))?,
        })
    }

    fn excluded(&self, path: &Path) -> bool {
        path.file_name().is_some_and(|n| self.names.is_match(n)) || self.paths.is_match(path)
    }
}

struct Walker<'a, 'b> {
    repo: &'a Repository,
    index: &'a Index,
    saver: &'a BlobSaver<'b>,
    excludes: Excludes,
    opts: &'a BackupOptions,
    summary: Summary,
    skipped: Vec<(PathBuf, String)>,
    progress: Arc<Progress>,
    /// Entries (full paths) the source leaves out, besides `excludes`.
    filter: Option<&'a (dyn Fn(&Path) -> bool + Sync)>,
    /// Strict sources: a vanished entry is left out silently, any other read error fails
    /// the backup (see [`DirSource`]).
    strict: bool,
    /// When set, a file's content is taken from the parent only if the parent recorded its
    /// ctime and mtime before this instant (ns): see [`DirSource::parent`].
    reuse_before_ns: Option<i64>,
    /// Symbolic links (full paths) backed up as what they point to ([`DirSource::follow`]).
    follow: Option<&'a (dyn Fn(&Path) -> bool + Sync)>,
    /// Directories directly below this one keep their tree in `kept`, so files can be added
    /// to them after the walk ([`DirAdditions::files`]).
    keep_below: Option<PathBuf>,
    kept: std::collections::HashMap<PathBuf, Tree>,
}

fn node_from_meta(name: &std::ffi::OsStr, meta: &std::fs::Metadata) -> Node {
    let mut node = Node {
        mode: meta.mode() & 0o7777,
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        uid: meta.uid(),
        gid: meta.gid(),
        inode: meta.ino(),
        device: meta.dev(),
        ..Default::default()
    };
    node.set_name(name);
    node
}

impl<'a, 'b> Walker<'a, 'b> {
    /// A walker for tree backups (skips unreadable entries, keeps symbolic links).
    fn new(
        repo: &'a Repository,
        index: &'a Index,
        saver: &'a BlobSaver<'b>,
        opts: &'a BackupOptions,
        progress: Arc<Progress>,
    ) -> Result<Self> {
        Ok(Walker {
            repo,
            index,
            saver,
            excludes: Excludes::new(&opts.excludes)?,
            opts,
            summary: Summary::default(),
            skipped: Vec::new(),
            progress,
            filter: None,
            strict: false,
            reuse_before_ns: None,
            follow: None,
            keep_below: None,
            kept: Default::default(),
        })
    }
}

impl Walker<'_, '_> {
    fn skip(&mut self, path: &Path, why: String) {
        tracing::warn!("skipping {}: {why}", path.display());
        self.summary.files_skipped += 1;
        self.skipped.push((path.to_path_buf(), why));
    }

    /// An entry could not be read: skipped with a warning, or for strict sources left out if
    /// it vanished (deleted while the backup ran) and an error otherwise.
    fn unreadable(&mut self, path: &Path, e: std::io::Error) -> Result<()> {
        if !self.strict {
            self.skip(path, e.to_string());
            return Ok(());
        }
        if e.kind() == std::io::ErrorKind::NotFound {
            tracing::debug!("{} vanished during the backup", path.display());
            return Ok(());
        }
        Err(Error::io("reading backup source", path, e))
    }

    /// Saves one filesystem entry; `None` when it was skipped.
    fn save_entry(
        &mut self,
        path: &Path,
        name: &std::ffi::OsStr,
        parent: Option<&Node>,
        root_dev: u64,
    ) -> Result<Option<Node>> {
        self.saver.check_cancelled()?;
        let mut meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.unreadable(path, e)?;
                return Ok(None);
            }
        };
        if meta.file_type().is_symlink() && self.follow.is_some_and(|f| f(path)) {
            meta = match std::fs::metadata(path) {
                Ok(m) => m,
                Err(e) => {
                    self.unreadable(path, e)?;
                    return Ok(None);
                }
            };
        }
        let mut node = node_from_meta(name, &meta);
        let ft = meta.file_type();
        if ft.is_symlink() {
            node.kind = Some(NodeKind::Symlink);
            match std::fs::read_link(path) {
                Ok(t) => node.set_link_target(t.as_os_str()),
                Err(e) => {
                    self.unreadable(path, e)?;
                    return Ok(None);
                }
            }
        } else if ft.is_dir() {
            node.kind = Some(NodeKind::Dir);
            self.summary.dirs += 1;
            let parent_tree =
                match parent.and_then(|p| p.subtree.filter(|_| p.kind() == NodeKind::Dir)) {
                    Some(id) => self.repo.read_tree(self.index, &id).ok(),
                    None => None,
                };
            let crosses = self.opts.one_file_system && meta.dev() != root_dev;
            let tree = if crosses {
                Tree::default()
            } else {
                match self.save_dir(path, parent_tree.as_ref(), root_dev)? {
                    Some(t) => t,
                    None => return Ok(None),
                }
            };
            node.subtree = Some(self.saver.save(BlobType::Tree, tree.to_bytes())?);
            if self.keep_below.is_some() && path.parent() == self.keep_below.as_deref() {
                self.kept.insert(path.to_path_buf(), tree);
            }
        } else if ft.is_file() {
            node.kind = Some(NodeKind::File);
            node.size = meta.len();
            self.summary.total_bytes += meta.len();
            self.progress.files.fetch_add(1, Ordering::Relaxed);
            let unchanged = !self.opts.force
                && parent.is_some_and(|p| {
                    p.kind() == NodeKind::File
                        && p.size == node.size
                        && p.mtime_ns == node.mtime_ns
                        && p.ctime_ns == node.ctime_ns
                        && p.inode == node.inode
                        && self
                            .reuse_before_ns
                            .is_none_or(|t| p.ctime_ns < t && p.mtime_ns < t)
                        && p.content.iter().all(|id| self.saver.has(id))
                });
            if unchanged {
                node.content = parent.expect("checked").content.clone();
                self.summary.files_unchanged += 1;
                self.progress.bytes.fetch_add(node.size, Ordering::Relaxed);
            } else {
                let file = match std::fs::File::open(path) {
                    Ok(f) => f,
                    Err(e) => {
                        self.unreadable(path, e)?;
                        return Ok(None);
                    }
                };
                let hint = Some(meta.len());
                match self
                    .saver
                    .save_stream(file, &self.repo.config().chunker, hint)
                {
                    Ok((content, read)) => {
                        node.content = content;
                        node.size = read;
                        self.summary.bytes_read += read;
                    }
                    Err(e) => {
                        self.saver.check_failed()?;
                        if self.strict {
                            return Err(Error::io("reading backup source", path, e));
                        }
                        self.skip(path, e.to_string());
                        return Ok(None);
                    }
                }
                if parent.is_some_and(|p| p.kind() == NodeKind::File) {
                    self.summary.files_changed += 1;
                } else {
                    self.summary.files_new += 1;
                }
            }
        } else {
            self.skip(
                path,
                "special files (devices, fifos, sockets) are not backed up".into(),
            );
            return Ok(None);
        }
        Ok(Some(node))
    }

    /// Reads a directory into a tree; `None` when it cannot be listed.
    fn save_dir(
        &mut self,
        path: &Path,
        parent: Option<&Tree>,
        root_dev: u64,
    ) -> Result<Option<Tree>> {
        let entries = match std::fs::read_dir(path) {
            Ok(rd) => rd,
            Err(e) => {
                self.unreadable(path, e)?;
                return Ok(None);
            }
        };
        let mut names: Vec<OsString> = Vec::new();
        for e in entries {
            match e {
                Ok(e) => names.push(e.file_name()),
                Err(e) => self.unreadable(path, e)?,
            }
        }
        names.sort_by(|a, b| {
            use std::os::unix::ffi::OsStrExt;
            a.as_bytes().cmp(b.as_bytes())
        });
        let mut tree = Tree::default();
        for name in names {
            let child = path.join(&name);
            if self.excludes.excluded(&child) || self.filter.is_some_and(|f| f(&child)) {
                continue;
            }
            let pnode = parent.and_then(|t| t.find(&name));
            if let Some(node) = self.save_entry(&child, &name, pnode, root_dev)? {
                tree.nodes.push(node);
            }
        }
        Ok(Some(tree))
    }
}

/// A trie of the backed-up paths' components, so the snapshot tree mirrors absolute paths.
#[derive(Default)]
struct PathTrie {
    children: BTreeMap<OsString, PathTrie>,
    leaf: bool,
}

impl Walker<'_, '_> {
    fn save_trie(&mut self, dir: &Path, trie: &PathTrie, parent: Option<&Tree>) -> Result<Tree> {
        let mut tree = Tree::default();
        for (name, sub) in &trie.children {
            let path = dir.join(name);
            let pnode = parent.and_then(|t| t.find(name));
            if sub.leaf {
                let meta =
                    std::fs::symlink_metadata(&path).map_err(|e| Error::io("reading", &path, e))?;
                if let Some(node) = self.save_entry(&path, name, pnode, meta.dev())? {
                    tree.nodes.push(node);
                }
            } else {
                let meta =
                    std::fs::symlink_metadata(&path).map_err(|e| Error::io("reading", &path, e))?;
                let mut node = node_from_meta(name, &meta);
                node.kind = Some(NodeKind::Dir);
                let ptree = match pnode.and_then(|p| p.subtree) {
                    Some(id) => self.repo.read_tree(self.index, &id).ok(),
                    None => None,
                };
                let subtree = self.save_trie(&path, sub, ptree.as_ref())?;
                node.subtree = Some(self.saver.save(BlobType::Tree, subtree.to_bytes())?);
                tree.nodes.push(node);
            }
        }
        Ok(tree)
    }
}

/// Backs up files and directories. Unreadable entries are skipped and listed in the outcome.
pub fn backup_paths(
    repo: &Repository,
    paths: &[PathBuf],
    opts: &BackupOptions,
    progress: Arc<Progress>,
) -> Result<BackupOutcome> {
    let started = Instant::now();
    if paths.is_empty() {
        return Err(Error::Invalid("no paths to back up given".into()));
    }
    let mut abs = Vec::new();
    for p in paths {
        let a = std::path::absolute(p).map_err(|e| Error::io("resolving", p, e))?;
        std::fs::symlink_metadata(&a).map_err(|e| Error::io("reading backup source", &a, e))?;
        abs.push(normalize(&a));
    }
    abs.sort();
    abs.dedup();
    let mut trie = PathTrie::default();
    for a in &abs {
        let mut t = &mut trie;
        for c in a.components().skip(1) {
            if t.leaf {
                break; // an ancestor is already backed up whole
            }
            t = t.children.entry(c.as_os_str().to_os_string()).or_default();
        }
        t.leaf = true;
        t.children.clear();
    }
    let path_strings: Vec<String> = abs
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let host = opts.host.clone().unwrap_or_else(crate::host::hostname);

    repo.require_writable("backup")?;
    let _lock = crate::governance::lock::acquire(
        repo,
        false,
        "backup",
        crate::governance::lock::wait_time(),
    )?;
    let index = repo.load_index()?;
    // A write-only key cannot read snapshots: no parent, every file is read (and deduplicated).
    let parent = if opts.force || repo.is_write_only() {
        None
    } else if let Some(p) = &opts.parent {
        Some(repo.find_snapshot(p)?)
    } else {
        repo.snapshots()?.into_iter().rev().find(|s| {
            s.snapshot.source == "files"
                && s.snapshot.hostname == host
                && s.snapshot.paths == path_strings
        })
    };
    let parent_tree = match &parent {
        Some(p) => Some(repo.read_tree(&index, &p.snapshot.tree)?),
        None => None,
    };
    let saver = BlobSaver::new(repo, &index, progress.clone())?;
    let mut walker = Walker::new(repo, &index, &saver, opts, progress)?;
    let root = walker.save_trie(Path::new("/"), &trie, parent_tree.as_ref())?;
    let (summary, skipped) = (
        std::mem::take(&mut walker.summary),
        std::mem::take(&mut walker.skipped),
    );
    drop(walker);
    let tree = saver.save(BlobType::Tree, root.to_bytes())?;
    let mut snapshot = new_snapshot(opts, "files", tree);
    snapshot.paths = path_strings;
    snapshot.parent = parent.map(|p| p.id);
    let (snapshot_id, snapshot) = commit(repo, saver, snapshot, summary, started)?;
    Ok(BackupOutcome {
        snapshot_id,
        snapshot,
        skipped,
    })
}

/// A directory backed up as a snapshot's root by a source that owns its layout (a PostgreSQL
/// data directory): restoring the snapshot into a directory recreates the directory's
/// content there. Such sources are strict: an entry that vanishes while the backup runs
/// (a dropped table's file) is left out silently, while any other read error fails the
/// backup and records nothing, because a copy missing a file would not be usable.
pub struct DirSource<'a> {
    /// The directory.
    pub dir: &'a Path,
    /// Entries (full paths) for which this returns true are left out, a directory with
    /// everything below it.
    pub exclude: &'a (dyn Fn(&Path) -> bool + Sync),
    /// Symbolic links (full paths) for which this returns true are backed up as what they
    /// point to (a directory's content), not as links: a PostgreSQL tablespace's
    /// `pg_tblspc/<oid>`. Restores can write such a directory elsewhere
    /// ([`crate::restorer::RestoreOptions::redirects`]).
    pub follow: &'a (dyn Fn(&Path) -> bool + Sync),
    /// An earlier snapshot of the same directory and an instant (Unix ns) no later than the
    /// moment it started reading. A file whose size, mtime, ctime and inode match the earlier
    /// snapshot's *and* whose recorded ctime and mtime are before that instant reuses the
    /// earlier content without being read: any write after the earlier snapshot started
    /// would have set its ctime to a later time, so equal metadata means unchanged content
    /// (ctime cannot be set back from user space). Files changed shortly before or during the
    /// earlier snapshot are always read again.
    pub parent: Option<(crate::format::snapshot::SnapshotEntry, i64)>,
}

/// Files a [`DirSource`] adds to the snapshot's root once its directory has been read
/// (contents known only then, such as a base backup's `backup_label`), and metadata merged
/// into the snapshot's `extra`.
#[derive(Debug, Default)]
pub struct DirAdditions {
    /// `(name, content)`: regular files (mode 0600) in the root (`name`) or in a directory
    /// directly below it (`dir/name`), replacing entries of the same name.
    pub files: Vec<(String, Vec<u8>)>,
    /// Merged into the snapshot's `extra`.
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Backs up a directory as a snapshot's root (see [`DirSource`]); every file is read unless
/// [`DirSource::parent`] proves it unchanged (`opts.force` reads everything). `finished` runs after the directory was read and before anything is
/// indexed: its error aborts the backup with no snapshot; its additions are stored with it.
pub fn backup_dir_root(
    repo: &Repository,
    src: &DirSource<'_>,
    opts: &BackupOptions,
    progress: Arc<Progress>,
    finished: impl FnOnce() -> Result<DirAdditions>,
) -> Result<BackupOutcome> {
    let started = Instant::now();
    let dir = std::path::absolute(src.dir).map_err(|e| Error::io("resolving", src.dir, e))?;
    let dir_meta =
        std::fs::metadata(&dir).map_err(|e| Error::io("reading backup source", &dir, e))?;
    if !dir_meta.is_dir() {
        return Err(Error::Invalid(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    repo.require_writable("backup")?;
    let _lock = crate::governance::lock::acquire(
        repo,
        false,
        "backup",
        crate::governance::lock::wait_time(),
    )?;
    let index = repo.load_index()?;
    let parent = match &src.parent {
        Some((p, before)) if !opts.force => Some((
            p.id.clone(),
            repo.read_tree(&index, &p.snapshot.tree)?,
            *before,
        )),
        _ => None,
    };
    let saver = BlobSaver::new(repo, &index, progress.clone())?;
    let mut walker = Walker {
        filter: Some(src.exclude),
        strict: true,
        reuse_before_ns: Some(parent.as_ref().map_or(i64::MIN, |p| p.2)),
        follow: Some(src.follow),
        keep_below: Some(dir.clone()),
        ..Walker::new(repo, &index, &saver, opts, progress)?
    };
    let mut root = walker
        .save_dir(&dir, parent.as_ref().map(|p| &p.1), dir_meta.dev())?
        .ok_or_else(|| {
            Error::SourceFailed(format!("{} vanished during the backup", dir.display()))
        })?;
    let mut summary = std::mem::take(&mut walker.summary);
    let mut kept = std::mem::take(&mut walker.kept);
    drop(walker);
    let additions = finished()?;
    let mut changed_dirs: Vec<String> = Vec::new();
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    for (name, content) in additions.files {
        let size = content.len() as u64;
        let (ids, _) = saver
            .save_stream(
                std::io::Cursor::new(content),
                &repo.config().chunker,
                Some(size),
            )
            .map_err(|e| Error::io("storing", Path::new(&name), e))?;
        let mut node = Node {
            kind: Some(NodeKind::File),
            mode: 0o600,
            mtime_ns: now,
            ctime_ns: now,
            uid: dir_meta.uid(),
            gid: dir_meta.gid(),
            size,
            content: ids,
            ..Default::default()
        };
        let (tree, file) = match name.split_once('/') {
            None => (&mut root, name.as_str()),
            Some((d, file)) if !d.is_empty() && !file.is_empty() && !file.contains('/') => {
                let tree = kept.get_mut(&dir.join(d)).ok_or_else(|| {
                    Error::Invalid(format!(
                        "cannot add {name} to the backup of {}: {d} is not a directory in it",
                        dir.display()
                    ))
                })?;
                if !changed_dirs.iter().any(|c| c == d) {
                    changed_dirs.push(d.to_string());
                }
                (tree, file)
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "cannot add {name}: files are added to the root or one directory below it"
                )))
            }
        };
        node.set_name(std::ffi::OsStr::new(file));
        tree.nodes
            .retain(|n| n.os_name() != std::ffi::OsStr::new(file));
        tree.nodes.push(node);
        summary.files_new += 1;
        summary.total_bytes += size;
        summary.bytes_read += size;
    }
    for d in changed_dirs {
        let mut tree = kept.remove(&dir.join(&d)).expect("looked up above");
        sort_nodes(&mut tree);
        let id = saver.save(BlobType::Tree, tree.to_bytes())?;
        if let Some(n) = root
            .nodes
            .iter_mut()
            .find(|n| n.os_name() == std::ffi::OsStr::new(&d))
        {
            n.subtree = Some(id);
        }
    }
    sort_nodes(&mut root);
    let tree = saver.save(BlobType::Tree, root.to_bytes())?;
    let kind = opts.source_kind.clone().unwrap_or_else(|| "files".into());
    let mut snapshot = new_snapshot(opts, &kind, tree);
    snapshot.paths = vec![dir.to_string_lossy().into_owned()];
    snapshot.parent = parent.map(|p| p.0);
    snapshot.extra.extend(additions.extra);
    let (snapshot_id, snapshot) = commit(repo, saver, snapshot, summary, started)?;
    Ok(BackupOutcome {
        snapshot_id,
        snapshot,
        skipped: Vec::new(),
    })
}

/// Sorts a tree's entries by name bytes (the order trees are stored in).
fn sort_nodes(tree: &mut Tree) {
    use std::os::unix::ffi::OsStrExt;
    tree.nodes
        .sort_by(|a, b| a.os_name().as_bytes().cmp(b.os_name().as_bytes()));
}

/// Removes `.` and `..` components lexically.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
