//! Object lock: the storage layer that gives every object lifeboat writes an S3 Object Lock
//! retention date, and the queries `forget` and `prune` use to respect it ([`retained_until`]).
//! What `check` reports is `checker/retention.rs`; prune's probe for append-only credentials is
//! in `maintenance/prune.rs`.
//!
//! A repository created with `init --object-lock MODE:DAYS` stores [`ObjectLock`] in its config.
//! [`Repository::open`](crate::Repository::open) and `init` then wrap the storage in
//! [`RetentionLayer`], which sets [`WriteOptions::retain_until`] to *now + DAYS* on every write,
//! except for objects that must stay mutable or deletable:
//!
//! - `locks/`: a lock is removed when its holder finishes and rewritten while it runs; a retained
//!   lock would block prune for DAYS. Locks protect nothing that must survive.
//!
//! Everything else (config, keys, packs, index files, snapshots, journal records, mode records)
//! is written once and retained. Consequences, documented in `docs/design/object-lock.md`:
//! `forget` cannot remove a snapshot before its retention ends (it reports when it can), and
//! `prune` keeps retained packs and index files (still indexed, so the repository stays
//! consistent) and reports when they become deletable; a later run deletes them.

use crate::error::{Error, Hint, Result};
use crate::format::config::ObjectLock;
use lifeboat_storage::{
    Capabilities, ObjectInfo, ReadStorage, Retention, Storage, WriteOptions, WriteStorage,
};
use std::time::{Duration, SystemTime};

/// Key prefixes written without retention (see the module documentation).
pub const MUTABLE_PREFIXES: &[&str] = &["locks/"];

/// True when objects under `key` are written without retention.
pub fn is_mutable(key: &str) -> bool {
    MUTABLE_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Parses `MODE:DAYS` (`COMPLIANCE:30`, `governance:7`).
pub fn parse_object_lock(s: &str) -> Result<ObjectLock> {
    let bad = || {
        Error::guided(
            format!(
                "bad object lock '{s}': it must be MODE:DAYS with MODE COMPLIANCE or GOVERNANCE"
            ),
            Hint::SetOption {
                option: "object_lock",
                value: Some("COMPLIANCE:30".into()),
            },
        )
    };
    let (mode, days) = s.split_once(':').ok_or_else(bad)?;
    let mode = mode.trim().to_ascii_uppercase();
    if mode != "COMPLIANCE" && mode != "GOVERNANCE" {
        return Err(bad());
    }
    let days: u32 = days.trim().parse().map_err(|_| bad())?;
    if days == 0 || days > 36500 {
        return Err(Error::guided(
            format!("bad object lock '{s}': DAYS must be between 1 and 36500"),
            Hint::SetOption {
                option: "object_lock",
                value: Some(format!("{mode}:30")),
            },
        ));
    }
    Ok(ObjectLock { mode, days })
}

/// The retention period of `lock`.
pub fn period(lock: &ObjectLock) -> Duration {
    Duration::from_secs(u64::from(lock.days) * 86_400)
}

/// Refuses object lock on a store that cannot do it.
pub fn require_capability(storage: &dyn ReadStorage) -> Result<()> {
    if storage.capabilities().object_lock {
        return Ok(());
    }
    Err(Error::guided(
        format!(
            "{}: bucket without object lock: this store cannot set per-object retention, so \
             object-lock retention cannot be honoured (object lock needs an S3 bucket created \
             with Object Lock enabled; local, gs:// and azure:// repositories cannot have it)",
            storage.location()
        ),
        Hint::DropOption {
            option: "object_lock",
        },
    ))
}

/// Wraps a store so every write of an immutable object carries retention until now + DAYS.
#[derive(Debug)]
pub struct RetentionLayer {
    inner: Storage,
    lock: ObjectLock,
}

impl RetentionLayer {
    /// Wraps `inner` with the retention of `lock`.
    pub fn new(inner: Storage, lock: ObjectLock) -> Self {
        RetentionLayer { inner, lock }
    }

    /// The configured lock.
    pub fn lock(&self) -> &ObjectLock {
        &self.lock
    }
}

impl ReadStorage for RetentionLayer {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn read(&self, key: &str) -> lifeboat_storage::Result<Vec<u8>> {
        self.inner.read(key)
    }
    fn read_range(&self, key: &str, offset: u64, length: u64) -> lifeboat_storage::Result<Vec<u8>> {
        self.inner.read_range(key, offset, length)
    }
    fn list(&self, prefix: &str) -> lifeboat_storage::Result<Vec<ObjectInfo>> {
        self.inner.list(prefix)
    }
    fn stat(&self, key: &str) -> lifeboat_storage::Result<ObjectInfo> {
        self.inner.stat(key)
    }
    fn retention(&self, key: &str) -> lifeboat_storage::Result<Option<Retention>> {
        self.inner.retention(key)
    }
}

impl WriteStorage for RetentionLayer {
    fn write(
        &self,
        key: &str,
        data: &[u8],
        options: &WriteOptions,
    ) -> lifeboat_storage::Result<()> {
        if is_mutable(key) {
            return self.inner.write(key, data, options);
        }
        let until = SystemTime::now() + period(&self.lock);
        let mut options = options.clone();
        options.retain_until = Some(options.retain_until.map_or(until, |u| u.max(until)));
        options.retention_mode = Some(self.lock.mode.clone());
        self.inner.write(key, data, &options)
    }
    fn remove(&self, key: &str) -> lifeboat_storage::Result<()> {
        self.inner.remove(key)
    }
}

/// Wraps `storage` when the config asks for object lock.
pub fn apply(storage: Storage, lock: Option<&ObjectLock>) -> Storage {
    match lock {
        Some(l) => std::sync::Arc::new(RetentionLayer::new(storage, l.clone())),
        None => storage,
    }
}

/// When an object becomes deletable: `None` when it can be deleted now.
pub fn retained_until(storage: &dyn ReadStorage, key: &str) -> Result<Option<SystemTime>> {
    if !storage.capabilities().object_lock {
        return Ok(None);
    }
    match storage.retention(key) {
        Ok(Some(r)) if r.retain_until > SystemTime::now() => Ok(Some(r.retain_until)),
        Ok(_) => Ok(None),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// RFC 3339 rendering of a retention date.
pub fn format_time(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_else(|_| format!("{t:?}"))
}

/// An object prune or forget left in place because of its retention.
#[derive(Clone, Debug, serde::Serialize, PartialEq, Eq)]
pub struct RetainedObject {
    /// Storage key.
    pub object: String,
    /// When it becomes deletable (RFC 3339).
    pub until: String,
}

#[cfg(test)]
pub(crate) mod emulated {
    //! An in-memory store with S3 Object Lock semantics, for tests.
    use super::*;
    use lifeboat_storage::{ErrorKind, StorageError};
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Objects with optional retention; deletes and overwrites of retained objects fail with
    /// `Locked`, and `deny_removes` makes every remove fail with `PermissionDenied`.
    type Objects = HashMap<String, (Vec<u8>, Option<SystemTime>)>;

    #[derive(Debug, Default)]
    pub struct LockingMemory {
        pub objects: Mutex<Objects>,
        pub deny_removes: std::sync::atomic::AtomicBool,
        pub no_lock: bool,
    }

    fn err(kind: ErrorKind, op: &'static str, key: &str) -> StorageError {
        StorageError::new(kind, op, "lockmem:", key, "emulated")
    }

    impl LockingMemory {
        /// Pretends time passed: every retention date moves `by` into the past.
        pub fn age(&self, by: Duration) {
            for (_, r) in self.objects.lock().unwrap().values_mut() {
                if let Some(t) = r {
                    *t -= by;
                }
            }
        }
    }

    impl ReadStorage for LockingMemory {
        fn location(&self) -> String {
            "lockmem:".into()
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                atomic_create: true,
                object_lock: !self.no_lock,
                ranged_read: true,
            }
        }
        fn read(&self, key: &str) -> lifeboat_storage::Result<Vec<u8>> {
            self.objects
                .lock()
                .unwrap()
                .get(key)
                .map(|(d, _)| d.clone())
                .ok_or_else(|| err(ErrorKind::NotFound, "read", key))
        }
        fn read_range(
            &self,
            key: &str,
            offset: u64,
            length: u64,
        ) -> lifeboat_storage::Result<Vec<u8>> {
            let d = self.read(key)?;
            d.get(offset as usize..(offset + length) as usize)
                .map(|s| s.to_vec())
                .ok_or_else(|| err(ErrorKind::ShortRead, "read", key))
        }
        fn list(&self, prefix: &str) -> lifeboat_storage::Result<Vec<ObjectInfo>> {
            Ok(self
                .objects
                .lock()
                .unwrap()
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, (d, _))| ObjectInfo {
                    key: k.clone(),
                    size: d.len() as u64,
                })
                .collect())
        }
        fn stat(&self, key: &str) -> lifeboat_storage::Result<ObjectInfo> {
            let d = self.read(key)?;
            Ok(ObjectInfo {
                key: key.into(),
                size: d.len() as u64,
            })
        }
        fn retention(&self, key: &str) -> lifeboat_storage::Result<Option<Retention>> {
            let objs = self.objects.lock().unwrap();
            let (_, r) = objs
                .get(key)
                .ok_or_else(|| err(ErrorKind::NotFound, "retention", key))?;
            Ok(r.map(|t| Retention {
                mode: "COMPLIANCE".into(),
                retain_until: t,
            }))
        }
    }

    impl WriteStorage for LockingMemory {
        fn write(
            &self,
            key: &str,
            data: &[u8],
            options: &WriteOptions,
        ) -> lifeboat_storage::Result<()> {
            if options.retain_until.is_some() && self.no_lock {
                return Err(err(ErrorKind::Unsupported, "write", key));
            }
            let mut objs = self.objects.lock().unwrap();
            if let Some((_, r)) = objs.get(key) {
                if options.create_new {
                    return Err(err(ErrorKind::AlreadyExists, "write", key));
                }
                if r.is_some_and(|t| t > SystemTime::now()) {
                    return Err(err(ErrorKind::Locked, "write", key));
                }
            }
            objs.insert(key.into(), (data.to_vec(), options.retain_until));
            Ok(())
        }
        fn remove(&self, key: &str) -> lifeboat_storage::Result<()> {
            if self.deny_removes.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(err(ErrorKind::PermissionDenied, "remove", key));
            }
            let mut objs = self.objects.lock().unwrap();
            if let Some((_, Some(t))) = objs.get(key) {
                if *t > SystemTime::now() {
                    return Err(err(ErrorKind::Locked, "remove", key));
                }
            }
            objs.remove(key);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        let l = parse_object_lock("compliance:30").unwrap();
        assert_eq!((l.mode.as_str(), l.days), ("COMPLIANCE", 30));
        assert!(parse_object_lock("legal:3").is_err());
        assert!(parse_object_lock("GOVERNANCE").is_err());
        assert!(parse_object_lock("GOVERNANCE:0").is_err());
    }
}
