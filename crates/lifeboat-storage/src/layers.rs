//! Layers: wrappers that add one cross-cutting behaviour to any backend.
//!
//! Backends implement only moving bytes; retries and concurrency limits live here so that every
//! backend gets the same behaviour. Stack them with [`crate::choose::open`].
//!
//! [`Faults`] is for tests only: it injects failures into any backend (see
//! [`crate::choose::FAULTS_ENV`] for turning it on in the binary).

use crate::{
    Capabilities, ErrorKind, ObjectInfo, ReadStorage, Result, Retention, StorageError,
    WriteOptions, WriteStorage,
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Retries operations that failed with a retryable error ([`StorageError::is_retryable`]),
/// with exponential backoff and jitter. Non-retryable errors (not found, permission, no space) pass
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
                    // Exponential backoff with jitter (50% to 150%), so that many workers
                    // hitting one rate limit do not retry in lock-step.
                    let delay = (self.base_delay * 2u32.saturating_pow(attempt).min(64))
                        .mul_f64(rand::thread_rng().gen_range(0.5..1.5));
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

/// What [`Faults`] injects: a plan, built with [`Faults`]' methods or parsed from a spec string
/// ([`FaultPlan::parse`], the format of [`crate::choose::FAULTS_ENV`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// The first `n` writes succeed; every later write fails (until [`Self::max_failures`]).
    pub write_after: Option<u64>,
    /// The first `n` reads (`read` and `read_range`) succeed; later ones fail.
    pub read_after: Option<u64>,
    /// The first `n` removes succeed; later ones fail.
    pub remove_after: Option<u64>,
    /// The kind of the errors injected by the `*_after` rules (default [`ErrorKind::Transient`]).
    pub kind: ErrorKind,
    /// After this many injected failures in all, the store heals. `None`: it never does.
    pub max_failures: Option<u64>,
    /// Probability (0.0 to 1.0) that any data operation (read, ranged read, stat, list, write,
    /// remove) fails with [`ErrorKind::Transient`], independently of the `*_after` rules.
    pub fraction: f64,
    /// Seed of the random choices of [`Self::fraction`], so a failing run can be replayed.
    pub seed: u64,
    /// A failing write first lands in the wrapped store, then reports the error: a lost
    /// acknowledgement, as when the connection drops after the server stored the object.
    pub lost_ack: bool,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan {
            write_after: None,
            read_after: None,
            remove_after: None,
            kind: ErrorKind::Transient,
            max_failures: None,
            fraction: 0.0,
            seed: 0,
            lost_ack: false,
        }
    }
}

impl FaultPlan {
    /// Parses a comma-separated spec such as `write-after=5,kind=nospace`.
    ///
    /// | item | meaning |
    /// |---|---|
    /// | `write-after=N`, `read-after=N`, `remove-after=N` | the first N such calls succeed, later ones fail |
    /// | `kind=transient\|nospace\|permission\|locked\|other` | kind of those failures (default `transient`) |
    /// | `failures=N` | heal after N injected failures |
    /// | `fraction=F` | fail any data call with probability F (transient) |
    /// | `seed=N` | seed for `fraction` |
    /// | `lost-ack` | failing writes land before the error is returned |
    pub fn parse(spec: &str) -> std::result::Result<FaultPlan, String> {
        let mut plan = FaultPlan::default();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            let num = || -> std::result::Result<u64, String> {
                value
                    .parse()
                    .map_err(|_| format!("'{item}': expected a whole number"))
            };
            match name {
                "write-after" => plan.write_after = Some(num()?),
                "read-after" => plan.read_after = Some(num()?),
                "remove-after" => plan.remove_after = Some(num()?),
                "failures" => plan.max_failures = Some(num()?),
                "seed" => plan.seed = num()?,
                "fraction" => {
                    let f: f64 = value
                        .parse()
                        .map_err(|_| format!("'{item}': expected a number from 0 to 1"))?;
                    if !(0.0..=1.0).contains(&f) {
                        return Err(format!("'{item}': expected a number from 0 to 1"));
                    }
                    plan.fraction = f;
                }
                "kind" => {
                    plan.kind = match value {
                        "transient" => ErrorKind::Transient,
                        "nospace" => ErrorKind::NoSpace,
                        "permission" => ErrorKind::PermissionDenied,
                        "locked" => ErrorKind::Locked,
                        "other" => ErrorKind::Other,
                        _ => {
                            return Err(format!(
                        "'{item}': kind is one of transient, nospace, permission, locked, other"
                    ))
                        }
                    }
                }
                "lost-ack" => plan.lost_ack = value.is_empty() || value == "1" || value == "true",
                _ => {
                    return Err(format!(
                        "unknown item '{item}' (known: write-after, read-after, remove-after, \
                         kind, failures, fraction, seed, lost-ack)"
                    ))
                }
            }
        }
        Ok(plan)
    }
}

#[derive(Clone, Copy)]
enum FaultOp {
    Read,
    Write,
    Remove,
    Other,
}

/// Test-only fault injection: wraps any backend and makes chosen calls fail.
///
/// Rules (combine freely; see [`FaultPlan`]):
/// - [`Faults::fail_writes_after`] (and `fail_reads_after`, `fail_removes_after`): the first `n`
///   calls succeed, every later one fails with [`Faults::with_kind`]'s kind — a disk that fills
///   up ([`ErrorKind::NoSpace`]) or a flaky link ([`ErrorKind::Transient`], the default).
/// - [`Faults::max_failures`]: the store heals after that many injected failures, so
///   `fail_writes_after(5).max_failures(1)` fails exactly the 6th write.
/// - [`Faults::fail_fraction`]: every data call fails transiently with a probability.
/// - [`Faults::lose_acks`]: a failing write lands before its error is reported.
///
/// Every call counts, including failed ones and retries. Injected failures happen before the
/// wrapped store is touched (except with `lose_acks`), so they never leave partial objects.
/// Put it *under* [`Retry`] to test retrying: `Retry::new(Faults::new(store).fail_writes_after(0).max_failures(2), 3, ..)`.
///
/// ```
/// use lifeboat_storage::{layers::Faults, memory::MemoryStorage, ErrorKind, WriteOptions, WriteStorage};
/// let store = Faults::new(MemoryStorage::new())
///     .fail_writes_after(1)
///     .with_kind(ErrorKind::NoSpace);
/// store.write("a", b"1", &WriteOptions::default()).unwrap();
/// let err = store.write("b", b"2", &WriteOptions::default()).unwrap_err();
/// assert_eq!(err.kind, ErrorKind::NoSpace);
/// ```
#[derive(Debug)]
pub struct Faults<S> {
    inner: S,
    plan: FaultPlan,
    reads: AtomicU64,
    writes: AtomicU64,
    removes: AtomicU64,
    injected: AtomicU64,
    rng: Mutex<StdRng>,
}

impl<S> Faults<S> {
    /// Wraps `inner` without any fault yet.
    pub fn new(inner: S) -> Self {
        Self::with_plan(inner, FaultPlan::default())
    }

    /// Wraps `inner` with a ready plan (for example from [`FaultPlan::parse`]).
    pub fn with_plan(inner: S, plan: FaultPlan) -> Self {
        let rng = Mutex::new(StdRng::seed_from_u64(plan.seed));
        Faults {
            inner,
            plan,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            rng,
        }
    }

    /// The first `n` writes succeed, later ones fail.
    pub fn fail_writes_after(mut self, n: u64) -> Self {
        self.plan.write_after = Some(n);
        self
    }

    /// The first `n` reads (`read`, `read_range`) succeed, later ones fail.
    pub fn fail_reads_after(mut self, n: u64) -> Self {
        self.plan.read_after = Some(n);
        self
    }

    /// The first `n` removes succeed, later ones fail.
    pub fn fail_removes_after(mut self, n: u64) -> Self {
        self.plan.remove_after = Some(n);
        self
    }

    /// The kind of the errors of the `fail_*_after` rules (default [`ErrorKind::Transient`]).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.plan.kind = kind;
        self
    }

    /// Stop injecting after `n` failures in all.
    pub fn max_failures(mut self, n: u64) -> Self {
        self.plan.max_failures = Some(n);
        self
    }

    /// Fail any data call transiently with probability `fraction`, drawn from a generator
    /// seeded with `seed`.
    pub fn fail_fraction(mut self, fraction: f64, seed: u64) -> Self {
        self.plan.fraction = fraction.clamp(0.0, 1.0);
        self.plan.seed = seed;
        self.rng = Mutex::new(StdRng::seed_from_u64(seed));
        self
    }

    /// Failing writes land in the wrapped store before their error is returned.
    pub fn lose_acks(mut self) -> Self {
        self.plan.lost_ack = true;
        self
    }

    /// How many failures were injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// The plan in force.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// The wrapped store (to inspect it behind the faults).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Counts the call and decides whether it fails; returns the kind to fail with.
    fn decide(&self, op: FaultOp) -> Option<(ErrorKind, String)> {
        let (counter, rule, name) = match op {
            FaultOp::Read => (Some(&self.reads), self.plan.read_after, "read"),
            FaultOp::Write => (Some(&self.writes), self.plan.write_after, "write"),
            FaultOp::Remove => (Some(&self.removes), self.plan.remove_after, "remove"),
            FaultOp::Other => (None, None, "call"),
        };
        let nth = counter.map(|c| c.fetch_add(1, Ordering::SeqCst) + 1);
        let by_rule = matches!((rule, nth), (Some(after), Some(n)) if n > after);
        let by_chance = !by_rule
            && self.plan.fraction > 0.0
            && self
                .rng
                .lock()
                .expect("faults rng lock")
                .gen_bool(self.plan.fraction);
        if !by_rule && !by_chance {
            return None;
        }
        // Claim one failure from the budget; a healed store fails no more.
        let claimed = self
            .injected
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |done| {
                match self.plan.max_failures {
                    Some(max) if done >= max => None,
                    _ => Some(done + 1),
                }
            });
        claimed.ok()?;
        let kind = if by_rule {
            self.plan.kind
        } else {
            ErrorKind::Transient
        };
        let which = match nth {
            Some(n) => format!("{name} #{n}"),
            None => name.to_string(),
        };
        Some((
            kind,
            format!("injected fault on {which} (test-only Faults layer)"),
        ))
    }

    fn check(&self, op: FaultOp, opname: &'static str, key: &str) -> Result<()>
    where
        S: ReadStorage,
    {
        match self.decide(op) {
            None => Ok(()),
            Some((kind, message)) => Err(StorageError::new(
                kind,
                opname,
                self.inner.location(),
                key,
                message,
            )),
        }
    }
}

impl<S: ReadStorage> ReadStorage for Faults<S> {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn read(&self, key: &str) -> Result<Vec<u8>> {
        self.check(FaultOp::Read, "read", key)?;
        self.inner.read(key)
    }
    fn read_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        self.check(FaultOp::Read, "read", key)?;
        self.inner.read_range(key, offset, length)
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.check(FaultOp::Other, "list", prefix)?;
        self.inner.list(prefix)
    }
    fn stat(&self, key: &str) -> Result<ObjectInfo> {
        self.check(FaultOp::Other, "stat", key)?;
        self.inner.stat(key)
    }
    fn retention(&self, key: &str) -> Result<Option<Retention>> {
        self.inner.retention(key)
    }
}

impl<S: WriteStorage> WriteStorage for Faults<S> {
    fn write(&self, key: &str, data: &[u8], options: &WriteOptions) -> Result<()> {
        if let Err(e) = self.check(FaultOp::Write, "write", key) {
            if self.plan.lost_ack {
                self.inner.write(key, data, options)?;
            }
            return Err(e);
        }
        self.inner.write(key, data, options)
    }
    fn remove(&self, key: &str) -> Result<()> {
        self.check(FaultOp::Remove, "remove", key)?;
        self.inner.remove(key)
    }
}

/// Keeps the compiler honest that errors stay `Send + Sync` for use across worker threads.
#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<StorageError>();
}
