//! The compression dictionary during a backup: trained from the first new data chunks when the
//! repository has none ([`Trainer`]), and probed while in use to check it still pays off
//! ([`encode_data_or_tree_into`]). Format and rules: [`crate::format::dict`].

use super::saver::Shared;
use crate::format::blob::{self, BlobType};
use crate::format::dict;
use crate::format::plain::Plain;
use crate::format::zblob;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// How often a data blob is compressed both ways to check the dictionary still pays off: every
/// 32nd blob at first, every 256th once [`DICT_PROBE_SETTLED`] blobs were probed (a probe
/// compresses its blob twice; 3 % more compression work at 32, 0.4 % at 256).
pub(super) fn is_probe(blob: u64) -> bool {
    let every = if blob < DICT_PROBE_SETTLED * 32 {
        32
    } else {
        256
    };
    blob.is_multiple_of(every)
}

/// Probes after which the dictionary's verdict is checked less often.
const DICT_PROBE_SETTLED: u64 = 64;

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

    /// Bytes collected so far (tests).
    #[cfg(test)]
    pub(super) fn sampled_bytes(&self) -> usize {
        self.samples
            .lock()
            .expect("samples")
            .as_ref()
            .map_or(0, |s| s.bytes)
    }

    /// Waits for the training thread, if one was started.
    pub(super) fn join(&self) {
        if let Some(t) = self.handle.lock().expect("trainer").take() {
            let _ = t.join();
        }
    }
}

/// Encodes a blob into `out` (a pack being built): data blobs with the dictionary while it
/// pays off (see `dict_probe`).
pub(super) fn encode_data_or_tree_into(
    sh: &Shared,
    kind: BlobType,
    data: &mut Plain,
    out: &mut Vec<u8>,
) {
    use blob::Compressed;
    let dict = sh
        .dict
        .get()
        .filter(|_| kind == BlobType::Data && sh.level > 0)
        .filter(|_| !sh.dict_off.load(Ordering::Relaxed));
    let Some(d) = dict else {
        return blob::encode_into(&sh.keys, out, data, sh.level, None);
    };
    if !is_probe(sh.data_blobs.fetch_add(1, Ordering::Relaxed)) {
        sh.dict_used.store(true, Ordering::SeqCst);
        return blob::encode_into(&sh.keys, out, data, sh.level, Some(d));
    }
    let with = Compressed::WithDict(d.id, zblob::compress(data, sh.level, &d.prefix));
    let without = Compressed::Plain(zblob::compress(data, sh.level, &[]));
    let (w, wo) = (with.cost(), without.cost());
    {
        let mut p = sh.dict_probe.lock().expect("dict probe");
        p.0 += w.unwrap_or(data.len()) as u64;
        p.1 += wo.unwrap_or(data.len()) as u64;
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
        blob::seal_into(&sh.keys, out, data, with)
    } else {
        blob::seal_into(&sh.keys, out, data, without)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_thin_out_once_the_verdict_settled() {
        let probes = |range: std::ops::Range<u64>| range.filter(|b| is_probe(*b)).count();
        assert_eq!(
            probes(0..DICT_PROBE_SETTLED * 32),
            DICT_PROBE_SETTLED as usize
        );
        assert_eq!(
            probes(DICT_PROBE_SETTLED * 32..DICT_PROBE_SETTLED * 32 + 2560),
            10
        );
        assert!(is_probe(0), "the first blob is probed");
    }
}
