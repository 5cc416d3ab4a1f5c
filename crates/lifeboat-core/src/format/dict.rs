//! Compression dictionaries (repository format: `dicts/<id>`).
//!
//! Every data blob is compressed on its own so that it can be read alone, which costs ratio on
//! chunk-sized blobs: each one starts with an empty history. A dictionary — 16 KiB of the
//! repository's own data, picked by zstd's trainer — is given to every blob as a raw-content
//! prefix, i.e. history it can match against ([`crate::format::zblob`]): −4 % repository size on the
//! benchmark's SQL dump at 128 KiB chunks, at the same compression speed.
//!
//! Format and rules (docs/design/repository.md, "Compression dictionaries"):
//! - a dictionary object is `envelope(data, "lifeboat dict", prefix bytes)`, named
//!   `dicts/<SHA-256 of the object's bytes>` like snapshots, so storage-level integrity is
//!   checkable without the key;
//! - a data blob compressed with a dictionary has body flag 2 followed by the 32-byte
//!   dictionary id and the zstd frame;
//! - write ordering: a dictionary object is stored before the first pack holding a blob that
//!   uses it; dictionaries are never deleted (prune keeps them), so a blob never outlives its
//!   dictionary.
//!
//! A backup uses the repository's first dictionary (lowest id) when there is one. When there is
//! none, it trains one in the background from the first [`TRAIN_SAMPLE_BYTES`] of new data
//! chunks, stores it, and compresses the rest of its blobs with it.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Associated data of dictionary envelopes.
pub const DICT_CONTEXT: &[u8] = b"lifeboat dict";

/// Bytes of new data chunks collected before a dictionary is trained.
pub const TRAIN_SAMPLE_BYTES: usize = 8 << 20;

/// Size of the dictionary zstd's trainer builds; the prefix is its content's last part.
pub const TRAINED_SIZE: usize = 64 << 10;

/// Bytes of prefix kept: the trainer puts the most useful content last, and 16 KiB of it
/// compressed better than 8, 32 or the whole 64 KiB (measured on the benchmark dump).
pub const PREFIX_SIZE: usize = 16 << 10;

/// A dictionary id: SHA-256 of the sealed dictionary object.
pub type DictId = [u8; 32];

/// Storage key of a dictionary object.
pub fn dict_key(id: &DictId) -> String {
    format!("dicts/{}", hex::encode(id))
}

/// Trains a prefix from sample chunks with zstd's fastCover trainer (fixed parameters:
/// k=200, d=8, which trains 8 MiB of samples in about 0.2 s) and keeps the last
/// [`PREFIX_SIZE`] bytes of the dictionary it builds.
///
/// A prefix does not help all data: on very regular rows, matches into it can displace the
/// cheap repeat matches zstd finds within the chunk and cost more than they save. So the last
/// quarter of the samples is held out of training and compressed with and without the prefix;
/// the prefix is kept only if it saves at least [`MIN_GAIN`] there. Returns `None` when zstd
/// cannot build a dictionary or it does not pay off.
pub fn train(samples: &[Vec<u8>]) -> Option<Vec<u8>> {
    let held = samples.len() / 4;
    let (training, holdout) = samples.split_at(samples.len() - held);
    let dict = train_zstd(training, TRAINED_SIZE)?;
    let prefix = dict[dict.len().saturating_sub(PREFIX_SIZE)..].to_vec();
    let size = |p: &[u8]| -> Option<usize> {
        holdout
            .iter()
            .map(|c| crate::format::zblob::compress(c, 3, p).map(|z| z.len()))
            .sum()
    };
    let (with, without) = (size(&prefix)?, size(&[])?);
    ((with as f64) < (1.0 - MIN_GAIN) * without as f64).then_some(prefix)
}

/// Smallest saving (fraction of compressed bytes) for which a prefix is used.
pub const MIN_GAIN: f64 = 0.01;

fn train_zstd(samples: &[Vec<u8>], max_size: usize) -> Option<Vec<u8>> {
    use zstd::zstd_safe::zstd_sys;
    if samples.len() < 8 {
        return None;
    }
    let mut flat = Vec::with_capacity(samples.iter().map(|s| s.len()).sum());
    let mut sizes = Vec::with_capacity(samples.len());
    for s in samples {
        flat.extend_from_slice(s);
        sizes.push(s.len());
    }
    let mut dict = vec![0u8; max_size];
    let params = zstd_sys::ZDICT_fastCover_params_t {
        k: 200,
        d: 8,
        f: 20,
        steps: 0,
        nbThreads: 1,
        splitPoint: 1.0,
        accel: 1,
        shrinkDict: 0,
        shrinkDictMaxRegression: 0,
        zParams: zstd_sys::ZDICT_params_t {
            compressionLevel: 3,
            notificationLevel: 0,
            dictID: 0,
        },
    };
    // SAFETY: every pointer/length pair describes a live buffer owned by this function:
    // `dict` (capacity `dict.len()`), `flat` (the concatenated samples) and `sizes` (one entry
    // per sample, summing to `flat.len()`); zstd reads the samples and writes at most
    // `dict.len()` bytes into `dict`.
    let n = unsafe {
        zstd_sys::ZDICT_trainFromBuffer_fastCover(
            dict.as_mut_ptr().cast(),
            dict.len(),
            flat.as_ptr().cast(),
            sizes.as_ptr(),
            sizes.len() as u32,
            params,
        )
    };
    // SAFETY: ZDICT_isError only inspects the returned code.
    if unsafe { zstd_sys::ZDICT_isError(n) } != 0 || n == 0 {
        return None;
    }
    dict.truncate(n);
    Some(dict)
}

/// Seals and stores a dictionary; returns its id (a new one each time: the seal's nonce is
/// random, and a repository may hold several dictionaries).
pub fn store(
    storage: &lifeboat_storage::Storage,
    keys: &crate::format::crypto::MasterKeys,
    dict: &[u8],
) -> Result<DictId> {
    let bytes = keys.seal_data(DICT_CONTEXT, dict);
    let id: DictId = <sha2::Sha256 as sha2::Digest>::digest(&bytes).into();
    storage.write(
        &dict_key(&id),
        &bytes,
        &lifeboat_storage::WriteOptions::default(),
    )?;
    Ok(id)
}

/// A dictionary ready for compression.
pub struct EncoderDict {
    /// Its id.
    pub id: DictId,
    /// The prefix bytes.
    pub prefix: Vec<u8>,
}

impl std::fmt::Debug for EncoderDict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncoderDict({})", &hex::encode(self.id)[..12])
    }
}

/// Where blob decoding finds dictionaries.
pub trait DictSource {
    /// The prefix of dictionary `id`; errors name the missing or damaged object.
    fn dict_prefix(&self, id: &DictId) -> Result<Arc<Vec<u8>>>;
}

/// A source without dictionaries (for blobs known not to use any, and tests).
pub struct NoDicts;

impl DictSource for NoDicts {
    fn dict_prefix(&self, id: &DictId) -> Result<Arc<Vec<u8>>> {
        Err(Error::corrupt(
            dict_key(id),
            "blob uses a compression dictionary but none is available here",
        ))
    }
}

/// Dictionaries loaded by a repository handle, by id.
#[derive(Default, Debug)]
pub struct DictCache {
    loaded: Mutex<HashMap<DictId, Arc<Vec<u8>>>>,
}

impl DictCache {
    /// The cached dictionary `id`, or the one `load` returns (then cached).
    pub fn get_or_load(
        &self,
        id: &DictId,
        load: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<Arc<Vec<u8>>> {
        if let Some(d) = self.loaded.lock().expect("dict cache").get(id) {
            return Ok(d.clone());
        }
        let d = Arc::new(load()?);
        self.loaded
            .lock()
            .expect("dict cache")
            .insert(*id, d.clone());
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Vec<u8>> {
        (0..64)
            .map(|i| {
                (0..2000)
                    .map(|r| {
                        format!(
                            "{r}\tevent_{}\t{{\"user\": {}, \"kind\": \"click\"}}\n",
                            r % 7,
                            i * r
                        )
                    })
                    .collect::<String>()
                    .into_bytes()
            })
            .collect()
    }

    /// Rows with a vocabulary larger than one chunk sees at its start (like SQL dumps of
    /// JSON events): the case a prefix is for.
    fn varied_rows(n: usize, seed: u64) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let words: Vec<String> = (0..400)
            .map(|_| {
                (0..4 + next() % 7)
                    .map(|_| (b'a' + (next() % 26) as u8) as char)
                    .collect()
            })
            .collect();
        let templates: Vec<String> = (0..300)
            .map(|_| {
                (0..6)
                    .map(|_| {
                        let mut w = || words[(next() % 400) as usize].clone();
                        format!("\"{}_{}\": \"{} {}\"", w(), w(), w(), w())
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        let mut y = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
        (0..n)
            .map(|r| {
                y ^= y << 13;
                y ^= y >> 7;
                y ^= y << 17;
                format!("{r}\t{y:016x}\t{{{}}}\n", templates[(y % 300) as usize])
            })
            .collect::<String>()
            .into_bytes()
    }

    fn chunked(data: &[u8]) -> Vec<Vec<u8>> {
        data.chunks(128 << 10).map(|c| c.to_vec()).collect()
    }

    #[test]
    fn a_trained_prefix_makes_later_chunks_of_varied_rows_smaller() {
        let prefix = train(&chunked(&varied_rows(40_000, 1))).expect("a useful prefix");
        let later = chunked(&varied_rows(40_000, 2));
        let size = |p: &[u8]| -> usize {
            later
                .iter()
                .map(|c| {
                    crate::format::zblob::compress(c, 3, p)
                        .expect("compress")
                        .len()
                })
                .sum()
        };
        let (with, without) = (size(&prefix), size(&[]));
        assert!(
            (with as f64) < 0.95 * without as f64,
            "with prefix {with} bytes, without {without}"
        );
    }

    #[test]
    fn a_prefix_that_does_not_pay_off_is_not_kept() {
        // Very regular rows compress better on their own (see `train`).
        let regular: Vec<u8> = (0..200_000)
            .map(|r| {
                format!(
                    "{r}\tevent_{}\t{{\"user\": {}, \"kind\": \"click\"}}\n",
                    r % 5,
                    r * 31
                )
            })
            .collect::<String>()
            .into_bytes();
        assert!(train(&chunked(&regular)).is_none());
    }

    #[test]
    fn too_few_samples_train_nothing() {
        assert!(train(&samples()[..3]).is_none());
    }
}
