//! Streaming a stream snapshot out with several blobs in flight.
//!
//! Same verification as `lifeboat_core::restore::dump` (every blob authenticated and checked
//! against its id, then the stream's size and SHA-256), but blobs are read, decrypted and
//! decompressed by worker threads a bounded window ahead of the writer, in order. Restores of
//! base backups are dominated by this work, and one core leaves the other idle.

use crate::error::{PgError, Result};
use lifeboat_core::snapshot::SnapshotEntry;
use lifeboat_core::{Error, Repository};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Condvar, Mutex};

/// The thread that computes the stream's SHA-256.
const HASHER: &str = "stream hashing";

/// Blobs decoded ahead of the writer, at most.
const WINDOW: usize = 32;

struct State {
    next: usize,
    written: usize,
    ready: BTreeMap<usize, lifeboat_core::Result<Vec<u8>>>,
    stop: bool,
}

/// Writes the stream of a stream snapshot to `out`; returns its size.
pub fn dump_stream(repo: &Repository, snap: &SnapshotEntry, out: &mut dyn Write) -> Result<u64> {
    use sha2::Digest;
    let stream = snap.snapshot.stream.as_ref().ok_or_else(|| {
        PgError::Invalid(format!(
            "snapshot {} is not a stream snapshot",
            snap.short_id()
        ))
    })?;
    let index = repo.load_index()?;
    let node = lifeboat_core::restore::find_node(repo, &index, snap, &stream.name)?;
    let ids = &node.content;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8);
    let state = Mutex::new(State {
        next: 0,
        written: 0,
        ready: BTreeMap::new(),
        stop: false,
    });
    let cv = Condvar::new();
    let mut total = 0u64;
    let result: Result<String> = std::thread::scope(|s| {
        // The stream's SHA-256 is computed on its own thread, off the writer's path.
        let (hash_tx, hash_rx) = std::sync::mpsc::sync_channel::<std::sync::Arc<Vec<u8>>>(WINDOW);
        let hasher = s.spawn(move || {
            let mut h = sha2::Sha256::new();
            for d in hash_rx {
                h.update(&d[..]);
            }
            hex::encode(h.finalize())
        });
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = {
                    let mut st = state.lock().expect("dump state");
                    loop {
                        if st.stop || st.next >= ids.len() {
                            return;
                        }
                        if st.next < st.written + WINDOW {
                            break;
                        }
                        st = cv.wait(st).expect("dump state");
                    }
                    st.next += 1;
                    st.next - 1
                };
                let r = repo.read_blob(&index, &ids[i]);
                state.lock().expect("dump state").ready.insert(i, r);
                cv.notify_all();
            });
        }
        let stop = || {
            state.lock().expect("dump state").stop = true;
            cv.notify_all();
        };
        for i in 0..ids.len() {
            let r = {
                let mut st = state.lock().expect("dump state");
                loop {
                    if let Some(r) = st.ready.remove(&i) {
                        break r;
                    }
                    st = cv.wait(st).expect("dump state");
                }
            };
            let data = match r {
                Ok(d) => d,
                Err(Error::Corrupt { object, detail }) => {
                    stop();
                    return Err(Error::corrupt(
                        object,
                        format!("{detail} (while reading {})", stream.name),
                    )
                    .into());
                }
                Err(e) => {
                    stop();
                    return Err(e.into());
                }
            };
            let data = std::sync::Arc::new(data);
            if hash_tx.send(data.clone()).is_err() {
                stop();
                return Err(PgError::ThreadFailed { thread: HASHER });
            }
            total += data.len() as u64;
            if let Err(e) = out.write_all(&data) {
                stop();
                return Err(Error::io("writing output of", &stream.name, e).into());
            }
            {
                state.lock().expect("dump state").written = i + 1;
            }
            cv.notify_all();
        }
        drop(hash_tx);
        hasher
            .join()
            .map_err(|_| PgError::ThreadFailed { thread: HASHER })
    });
    let got = result?;
    out.flush()
        .map_err(|e| PgError::Core(Error::io("writing output of", &stream.name, e)))?;
    if total != node.size || total != stream.size || got != stream.sha256 {
        return Err(PgError::Core(Error::VerificationFailed {
            what: format!("stream {}", stream.name),
            detail: format!(
                "recorded sha256 {} ({} bytes), got {got} ({total} bytes)",
                stream.sha256, stream.size
            ),
        }));
    }
    Ok(total)
}
