//! Layers: wrappers that add one cross-cutting behaviour to any backend.
//!
//! Backends implement only moving bytes; retries and concurrency limits live here so that every
//! backend gets the same behaviour. Stack them with [`crate::choose::open`].

use crate::{
    Capabilities, ObjectInfo, ReadStorage, Result, Retention, StorageError, WriteOptions,
    WriteStorage,
};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Retries operations that failed with a retryable error ([`StorageError::is_retryable`]),
/// with exponential backoff. Non-retryable errors (not found, permission, no space) pass
/// through at once. All storage operations are idempotent (see [`WriteStorage`]), except a
/// `create_new` write whose first attempt may have landed: a retry that then sees
/// `AlreadyExists` is reported as success only when the stored bytes equal ours.
#[derive(Debug)]
pub struct Retry<S> {
    inner: S,
    attempts: u32,
    base_delay: Duration,
}

impl<S> Retry<S> {
    /// Wraps `inner`, trying each operation up to `attempts` times in all.
    pub fn new(inner: S, attempts: u32, base_delay: Duration) -> Self {
        Retry {
            inner,
            attempts: attempts.max(1),
            base_delay,
        }
    }

    fn run<T>(&self, mut f: impl FnMut(u32) -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            match f(attempt) {
                Err(e) if e.is_retryable() && attempt + 1 < self.attempts => {
                    let delay = self.base_delay * 2u32.saturating_pow(attempt).min(64);
                    tracing::warn!("{e}; retrying in {delay:?}");
                    std::thread::sleep(delay);
                    attempt += 1;
                }
                Err(mut e) if e.is_retryable() => {
                    e.message = format!("{} (gave up after {} attempts)", e.message, attempt + 1);
                    return Err(e);
                }
                other => return other,
            }
        }
    }
}

impl<S: ReadStorage> ReadStorage for Retry<S> {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn read(&self, key: &str) -> Result<Vec<u8>> {
        self.run(|_| self.inner.read(key))
    }
    fn read_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        self.run(|_| self.inner.read_range(key, offset, length))
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.run(|_| self.inner.list(prefix))
    }
    fn stat(&self, key: &str) -> Result<ObjectInfo> {
        self.run(|_| self.inner.stat(key))
    }
    fn retention(&self, key: &str) -> Result<Option<Retention>> {
        self.run(|_| self.inner.retention(key))
    }
}

impl<S: WriteStorage> WriteStorage for Retry<S> {
    fn write(&self, key: &str, data: &[u8], options: &WriteOptions) -> Result<()> {
        self.run(|attempt| match self.inner.write(key, data, options) {
            Err(e) if attempt > 0 && e.kind == crate::ErrorKind::AlreadyExists => {
                // Our earlier attempt may have landed before the connection failed.
                match self.inner.read(key) {
                    Ok(existing) if existing == data => Ok(()),
                    _ => Err(e),
                }
            }
            other => other,
        })
    }
    fn remove(&self, key: &str) -> Result<()> {
        self.run(|_| self.inner.remove(key))
    }
}

/// Bounds the number of operations in flight against the wrapped backend.
#[derive(Debug)]
pub struct Limit<S> {
    inner: S,
    slots: Arc<(Mutex<usize>, Condvar)>,
}

impl<S> Limit<S> {
    /// Wraps `inner`, allowing at most `max` concurrent operations.
    pub fn new(inner: S, max: usize) -> Self {
        Limit {
            inner,
            slots: Arc::new((Mutex::new(max.max(1)), Condvar::new())),
        }
    }

    fn with_slot<T>(&self, f: impl FnOnce() -> T) -> T {
        let (lock, cv) = &*self.slots;
        {
            let mut free = lock.lock().expect("limit lock");
            while *free == 0 {
                free = cv.wait(free).expect("limit lock");
            }
            *free -= 1;
        }
        let out = f();
        *lock.lock().expect("limit lock") += 1;
        cv.notify_one();
        out
    }
}

impl<S: ReadStorage> ReadStorage for Limit<S> {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn read(&self, key: &str) -> Result<Vec<u8>> {
        self.with_slot(|| self.inner.read(key))
    }
    fn read_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        self.with_slot(|| self.inner.read_range(key, offset, length))
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.with_slot(|| self.inner.list(prefix))
    }
    fn stat(&self, key: &str) -> Result<ObjectInfo> {
        self.with_slot(|| self.inner.stat(key))
    }
    fn retention(&self, key: &str) -> Result<Option<Retention>> {
        self.with_slot(|| self.inner.retention(key))
    }
}

impl<S: WriteStorage> WriteStorage for Limit<S> {
    fn write(&self, key: &str, data: &[u8], options: &WriteOptions) -> Result<()> {
        self.with_slot(|| self.inner.write(key, data, options))
    }
    fn remove(&self, key: &str) -> Result<()> {
        self.with_slot(|| self.inner.remove(key))
    }
}

impl<T: ReadStorage + ?Sized> ReadStorage for Arc<T> {
    fn location(&self) -> String {
        (**self).location()
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    fn read(&self, key: &str) -> Result<Vec<u8>> {
        (**self).read(key)
    }
    fn read_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        (**self).read_range(key, offset, length)
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        (**self).list(prefix)
    }
    fn stat(&self, key: &str) -> Result<ObjectInfo> {
        (**self).stat(key)
    }
    fn retention(&self, key: &str) -> Result<Option<Retention>> {
        (**self).retention(key)
    }
}

impl<T: WriteStorage + ?Sized> WriteStorage for Arc<T> {
    fn write(&self, key: &str, data: &[u8], options: &WriteOptions) -> Result<()> {
        (**self).write(key, data, options)
    }
    fn remove(&self, key: &str) -> Result<()> {
        (**self).remove(key)
    }
}

/// Keeps the compiler honest that errors stay `Send + Sync` for use across worker threads.
#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<StorageError>();
}
