//! The compression dictionary during a backup: trained from the first new data chunks when the
//! repository has none ([`Trainer`]), and probed while in use to check it still pays off
//! ([`encode_data_or_tree`]). Format and rules: [`crate::format::dict`].

use super::saver::{Job, Shared};
use crate::format::blob::{self, BlobType};
use crate::format::dict;
use crate::format::zblob;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// How often a data blob is compressed both ways to check the dictionary still pays off.
pub(super) const DICT_PROBE_EVERY: u64 = 32;

/// Blobs probed before the dictionary may be turned off.
const DICT_PROBE_MIN: u32 = 8;

/// Data chunks collected to train a dictionary.
#[derive(Default)]
struct Samples {
    chunks: Vec<Vec<u8>>,
    bytes: usize,
}

/// Collects a backup's first new data chunks and trains a dictionary from them on its own
/// thread.
pub(super) struct Trainer {
    /// Chunks collected so far; `None` once training started, or when not collecting.
    samples: Mutex<Option<Samples>>,
    handle: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Trainer {
    /// A trainer that collects samples when `collect` (else it does nothing).
    pub(super) fn new(collect: bool) -> Self {
        Trainer {
            samples: Mutex::new(collect.then(Samples::default)),
            handle: Mutex::new(None),
        }
    }

    /// Keeps a copy of the first new data chunks; once there are enough, trains a dictionary
    /// on another thread, stores it, and hands it to the workers for the blobs that follow.
    pub(super) fn sample(&self, data: &[u8], shared: &Arc<Shared>) {
        let mut slot = self.samples.lock().expect("samples");
        let Some(s) = slot.as_mut() else { return };
        s.chunks.push(data.to_vec());
        s.bytes += data.len();
        if s.bytes < dict::TRAIN_SAMPLE_BYTES {
            return;
        }
        let chunks = std::mem::take(&mut s.chunks);
        *slot = None;
        let sh = shared.clone();
        let handle = std::thread::spawn(move || {
            let Some(prefix) = dict::train(&chunks) else {
                return;
            };
            drop(chunks);
            if sh.failed() {
                return;
            }
            match dict::store(&sh.storage, &sh.keys, &prefix) {
                // Stored before any blob uses it: the workers only see it from here on.
                Ok(id) => {
                    let _ = sh.dict.set(dict::EncoderDict { id, prefix });
                }
                Err(e) => sh.fail(e),
            }
        });
        *self.handle.lock().expect("trainer") = Some(handle);
    }

    /// Waits for the training thread, if one was started.
    pub(super) fn join(&self) {
        if let Some(t) = self.handle.lock().expect("trainer").take() {
            let _ = t.join();
        }
    }
}

/// Encodes a job's blob: data blobs with the dictionary while it pays off (see `dict_probe`).
pub(super) fn encode_data_or_tree(sh: &Shared, job: &Job) -> Vec<u8> {
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
