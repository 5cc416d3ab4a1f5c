//! Repository locks (see design doc, "Concurrency").
//!
//! A lock is a metadata envelope (context `lifeboat lock`) under `locks/<random id>`. Backups and
//! other writers that only add data take a shared lock; prune (which deletes) takes an exclusive
//! one. A lock is stale when its `time` is older than [`STALE_AFTER`] (holders refresh it every
//! [`REFRESH_EVERY`]) or when it was taken on this host by a process that no longer exists.
//! Acquisition: write our lock, then list the others; on conflict with a live lock, remove ours
//! and retry until the deadline.

use crate::error::{Error, Result};
use crate::format::json::{open_json, seal_json};
use crate::repo::Repository;
use lifeboat_storage::{Storage, WriteOptions};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LOCK_CONTEXT: &[u8] = b"lifeboat lock";
/// A lock not refreshed for this long is stale.
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);
/// Holders rewrite their lock this often.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);

/// How long to wait for conflicting locks: `LIFEBOAT_LOCK_WAIT` seconds, default 60.
pub fn wait_time() -> Duration {
    let secs = std::env::var("LIFEBOAT_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// Lock contents.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LockInfo {
    /// Last refresh (RFC 3339).
    pub time: String,
    /// Exclusive (prune) or shared (backup).
    pub exclusive: bool,
    /// Holder's host.
    pub hostname: String,
    /// Holder's user.
    pub username: String,
    /// Holder's pid.
    pub pid: u32,
    /// What the holder is doing.
    pub operation: String,
}

impl LockInfo {
    fn describe(&self) -> String {
        format!(
            "{} lock held by pid {} on {} (user {}) for '{}', last refreshed {}",
            if self.exclusive {
                "exclusive"
            } else {
                "shared"
            },
            self.pid,
            self.hostname,
            self.username,
            self.operation,
            self.time
        )
    }

    /// True when the lock's holder is known to be gone or it has not been refreshed in time.
    pub fn is_stale(&self) -> bool {
        let age = self
            .time
            .parse::<jiff::Timestamp>()
            .map(|t| jiff::Timestamp::now().duration_since(t))
            .unwrap_or(jiff::SignedDuration::MAX);
        if age > jiff::SignedDuration::try_from(STALE_AFTER).expect("fits") {
            return true;
        }
        if self.hostname == crate::host::hostname() {
            // SAFETY: kill with signal 0 only checks for existence.
            let alive = unsafe { libc::kill(self.pid as i32, 0) } == 0
                || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            return !alive;
        }
        false
    }
}

/// A held lock; released on drop.
pub struct LockGuard {
    storage: Storage,
    key: String,
    stop: Arc<AtomicBool>,
    refresher: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LockGuard({})", self.key)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.refresher.lock().expect("lock guard").take() {
            h.thread().unpark();
            let _ = h.join();
        }
        let _ = self.storage.remove(&self.key);
    }
}

/// Reads every lock in the repository: `(key, info)`; unreadable locks are reported as stale
/// placeholders so that `unlock` can remove them.
pub fn list_locks(repo: &Repository) -> Result<Vec<(String, Option<LockInfo>)>> {
    let mut out = Vec::new();
    for obj in repo.storage().list("locks/")? {
        match repo.storage().read(&obj.key) {
            Ok(bytes) => {
                let info =
                    open_json::<LockInfo>(&repo.keys().meta_key, LOCK_CONTEXT, &bytes, &obj.key)
                        .ok();
                out.push((obj.key, info));
            }
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Takes a lock, waiting up to `wait` for conflicting locks to go away.
pub fn acquire(
    repo: &Repository,
    exclusive: bool,
    operation: &str,
    wait: Duration,
) -> Result<LockGuard> {
    let deadline = std::time::Instant::now() + wait;
    let key = format!("locks/{}", hex::encode(rand::random::<[u8; 16]>()));
    let operation = operation.to_string();
    let make = move || LockInfo {
        time: jiff::Timestamp::now().to_string(),
        exclusive,
        hostname: crate::host::hostname(),
        username: crate::host::username(),
        pid: std::process::id(),
        operation: operation.clone(),
    };
    loop {
        let bytes = seal_json(&repo.keys().meta_key, LOCK_CONTEXT, &make());
        repo.storage()
            .write(&key, &bytes, &WriteOptions::create_new())?;
        let conflict = list_locks(repo)?.into_iter().find_map(|(k, info)| {
            let info = info?;
            (k != key && (exclusive || info.exclusive) && !info.is_stale()).then_some(info)
        });
        match conflict {
            None => break,
            Some(info) => {
                repo.storage().remove(&key)?;
                if std::time::Instant::now() >= deadline {
                    return Err(Error::Locked(info.describe()));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let storage = repo.storage().clone();
    let meta_key = repo.keys().meta_key.clone();
    let (k2, stop2) = (key.clone(), stop.clone());
    let refresher = std::thread::spawn(move || loop {
        std::thread::park_timeout(REFRESH_EVERY);
        if stop2.load(Ordering::SeqCst) {
            return;
        }
        let bytes = seal_json(&meta_key, LOCK_CONTEXT, &make());
        if let Err(e) = storage.write(&k2, &bytes, &WriteOptions::default()) {
            tracing::warn!("refreshing lock {k2} failed: {e}");
        }
    });
    Ok(LockGuard {
        storage: repo.storage().clone(),
        key,
        stop,
        refresher: Mutex::new(Some(refresher)),
    })
}

/// Removes stale locks (or all locks with `all`); returns how many were removed.
pub fn unlock(repo: &Repository, all: bool) -> Result<usize> {
    let mut n = 0;
    for (key, info) in list_locks(repo)? {
        if all || info.as_ref().is_none_or(|i| i.is_stale()) {
            repo.storage().remove(&key)?;
            n += 1;
        }
    }
    Ok(n)
}
