//! Object lock: the storage layer that gives every object lifeboat writes an S3 Object Lock
//! retention date, and the helpers `check`, `forget` and `prune` use to respect it.
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

use crate::error::{Error, Result};
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
        Error::Invalid(format!(
            "bad --object-lock '{s}': use MODE:DAYS with MODE COMPLIANCE or GOVERNANCE, e.g. COMPLIANCE:30"
        ))
    };
    let (mode, days) = s.split_once(':').ok_or_else(bad)?;
    let mode = mode.trim().to_ascii_uppercase();
    if mode != "COMPLIANCE" && mode != "GOVERNANCE" {
        return Err(bad());
    }
    let days: u32 = days.trim().parse().map_err(|_| bad())?;
    if days == 0 || days > 36500 {
        return Err(Error::Invalid(format!(
            "bad --object-lock '{s}': DAYS must be between 1 and 36500"
        )));
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
    Err(Error::Invalid(format!(
        "{}: bucket without object lock: this store cannot set per-object retention, so \
         --object-lock cannot be honoured (create the bucket with Object Lock enabled, on a \
         backend that supports it)",
        storage.location()
    )))
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
    use super::emulated::LockingMemory;
    use super::*;
    use crate::format::config::Config;
    use crate::Repository;
    use std::sync::Arc;

    fn locked_repo() -> (Arc<LockingMemory>, Repository) {
        std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
        let store = Arc::new(LockingMemory::default());
        let mut config = Config::new();
        config.object_lock = Some(parse_object_lock("COMPLIANCE:30").unwrap());
        let repo = Repository::init(store.clone(), b"pw", config).unwrap();
        (store, repo)
    }

    /// Check passes, but for retention "shorter than configured": the emulation's clock jump
    /// ages retention dates, not the write times recorded in the objects.
    fn assert_consistent(repo: &Repository) {
        let check = crate::checker::check(repo, &Default::default()).unwrap();
        let errors: Vec<_> = check
            .errors
            .iter()
            .filter(|e| !e.contains("shorter than configured"))
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }

    fn backup(repo: &Repository, data: &[u8]) -> String {
        let opts = crate::archiver::BackupOptions::default();
        crate::archiver::backup_stream(repo, "s", data, &opts, Default::default(), |_| {
            Ok(Default::default())
        })
        .unwrap()
        .snapshot_id
    }

    #[test]
    fn init_requires_object_lock_capability() {
        std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
        let store = Arc::new(LockingMemory {
            no_lock: true,
            ..Default::default()
        });
        let mut config = Config::new();
        config.object_lock = Some(parse_object_lock("GOVERNANCE:1").unwrap());
        let e = Repository::init(store.clone(), b"pw", config).unwrap_err();
        assert!(e.to_string().contains("bucket without object lock"), "{e}");
        assert!(store.objects.lock().unwrap().is_empty(), "nothing written");
    }

    #[test]
    fn every_object_but_locks_is_retained_and_check_sees_it() {
        let (store, repo) = locked_repo();
        backup(&repo, b"hello world");
        crate::governance::journal::append(&repo, crate::governance::journal::Entry::default())
            .unwrap();
        let now = SystemTime::now();
        for (k, (_, r)) in store.objects.lock().unwrap().iter() {
            if k.starts_with("locks/") {
                assert!(r.is_none(), "{k} must stay mutable");
            } else {
                let r = r.unwrap_or_else(|| panic!("{k} has no retention"));
                assert!(r > now + Duration::from_secs(29 * 86400), "{k}");
            }
        }
        let report = crate::checker::check(&repo, &Default::default()).unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        // An object without retention is reported.
        let key = repo.storage().list("snapshots/").unwrap()[0].key.clone();
        store.objects.lock().unwrap().get_mut(&key).unwrap().1 = None;
        let report = crate::checker::check(&repo, &Default::default()).unwrap();
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.contains(&key) && e.contains("no object-lock retention")),
            "{:?}",
            report.errors
        );
        // And one whose retention is shorter than configured.
        store.objects.lock().unwrap().get_mut(&key).unwrap().1 =
            Some(now + Duration::from_secs(86400));
        let report = crate::checker::check(&repo, &Default::default()).unwrap();
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.contains(&key) && e.contains("shorter than configured")),
            "{:?}",
            report.errors
        );
    }

    #[test]
    fn forget_and_prune_wait_for_retention() {
        let (store, repo) = locked_repo();
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let old = backup(&repo, &data);
        backup(&repo, b"something else entirely");
        let e = repo.remove_snapshot(&old).unwrap_err();
        assert!(matches!(e, Error::Retained { .. }), "{e}");
        assert_eq!(repo.snapshots().unwrap().len(), 2);
        // Time passes beyond the retention: forget works; prune deletes the unused data.
        store.age(Duration::from_secs(31 * 86400));
        repo.remove_snapshot(&old).unwrap();
        let before = store.objects.lock().unwrap().len();
        let report = crate::maintenance::prune::prune(&repo, &Default::default()).unwrap();
        assert!(
            report.packs_deleted + report.packs_repacked > 0,
            "{report:?}"
        );
        assert!(store.objects.lock().unwrap().len() < before);
        assert_consistent(&repo);
    }

    #[test]
    fn prune_keeps_retained_packs_and_reports_them() {
        let (store, repo) = locked_repo();
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let old = backup(&repo, &data);
        backup(&repo, b"something else entirely");
        // The snapshot object's retention ended, the packs' did not.
        let key = format!("snapshots/{old}");
        store.objects.lock().unwrap().get_mut(&key).unwrap().1 = None;
        repo.remove_snapshot(&old).unwrap();
        let report = crate::maintenance::prune::prune(&repo, &Default::default()).unwrap();
        assert!(!report.retained.is_empty(), "{report:?}");
        assert_eq!(
            report.packs_deleted + report.packs_repacked,
            0,
            "{report:?}"
        );
        assert_consistent(&repo);
        // Later run after the retention ended: deleted.
        store.age(Duration::from_secs(31 * 86400));
        let report = crate::maintenance::prune::prune(&repo, &Default::default()).unwrap();
        assert!(report.retained.is_empty(), "{report:?}");
        assert!(
            report.packs_deleted + report.packs_repacked > 0,
            "{report:?}"
        );
        assert_consistent(&repo);
    }

    #[test]
    fn append_only_store_fails_prune_before_changing_anything() {
        let (store, repo) = locked_repo();
        let old = backup(&repo, b"first");
        backup(&repo, b"second");
        store.age(Duration::from_secs(31 * 86400));
        repo.remove_snapshot(&old).unwrap();
        store
            .deny_removes
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let before: Vec<String> = {
            let mut k: Vec<String> = store
                .objects
                .lock()
                .unwrap()
                .keys()
                .filter(|k| !k.starts_with("locks/"))
                .cloned()
                .collect();
            k.sort();
            k
        };
        let e = crate::maintenance::prune::prune(&repo, &Default::default()).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
        let mut after: Vec<String> = store
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| !k.starts_with("locks/"))
            .cloned()
            .collect();
        after.sort();
        assert_eq!(before, after);
    }

    #[test]
    fn parses_modes() {
        let l = parse_object_lock("compliance:30").unwrap();
        assert_eq!((l.mode.as_str(), l.days), ("COMPLIANCE", 30));
        assert!(parse_object_lock("legal:3").is_err());
        assert!(parse_object_lock("GOVERNANCE").is_err());
        assert!(parse_object_lock("GOVERNANCE:0").is_err());
    }
}

/// An object prune or forget left in place because of its retention.
#[derive(Clone, Debug, serde::Serialize, PartialEq, Eq)]
pub struct RetainedObject {
    /// Storage key.
    pub object: String,
    /// When it becomes deletable (RFC 3339).
    pub until: String,
}

/// Makes sure the store lets us delete before prune changes anything: writes and removes a
/// probe under `locks/` (never retained). Append-only credentials fail here, with nothing changed.
pub fn probe_delete(repo: &crate::Repository) -> Result<()> {
    let key = format!(
        "locks/delete-probe-{}",
        hex::encode(rand::random::<[u8; 8]>())
    );
    repo.storage()
        .write(&key, b"probe", &WriteOptions::create_new())?;
    match repo.storage().remove(&key) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.kind,
                lifeboat_storage::ErrorKind::PermissionDenied | lifeboat_storage::ErrorKind::Locked
            ) =>
        {
            Err(Error::Invalid(format!(
                "prune needs to delete objects, but {} refuses deletes ({e}); this looks like an \
                 append-only deployment: run prune with credentials that may delete. Nothing was changed \
                 (the probe object {key} may remain; `lifeboat unlock` removes it)",
                repo.storage().location()
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Explains a delete that the store refused in the middle of prune (after the new index was
/// written, so the repository is consistent).
pub fn explain_refused_delete(key: &str, e: lifeboat_storage::StorageError) -> Error {
    match e.kind {
        lifeboat_storage::ErrorKind::PermissionDenied | lifeboat_storage::ErrorKind::Locked => {
            Error::Invalid(format!(
                "prune could not delete {key} ({e}); the new index is already written, so the \
                 repository is consistent: the objects left over are removed by a later prune run \
                 with credentials that may delete"
            ))
        }
        _ => Error::Storage(e),
    }
}

/// Adds object-lock findings to a check report: objects without retention or with another
/// mode (errors), objects whose retention is shorter than configured for the time they were
/// written (errors; known for config, key files, snapshots and journal records), and packs whose
/// retention ends before the configured period of the newest snapshot using them (warnings: a
/// property of deduplication, see `docs/design/object-lock.md`).
pub fn check_retention(
    repo: &crate::Repository,
    index: &crate::format::index::Index,
    report: &mut crate::checker::CheckReport,
) -> Result<()> {
    let Some(lock) = repo.config().object_lock.clone() else {
        return Ok(());
    };
    let storage = repo.storage();
    if !storage.capabilities().object_lock {
        report.errors.push(format!(
            "the repository is configured for object lock ({}:{}) but {} cannot report or set retention",
            lock.mode, lock.days, storage.location()
        ));
        return Ok(());
    }
    let slack = jiff::SignedDuration::from_hours(1);
    let want = jiff::SignedDuration::from_hours(i64::from(lock.days) * 24);
    let mut written: std::collections::HashMap<String, jiff::Timestamp> = Default::default();
    if let Ok(t) = repo.config().created.parse() {
        written.insert(crate::format::config::CONFIG_KEY.to_string(), t);
    }
    for k in repo.list_keys()? {
        if let Ok(t) = k.created.parse() {
            written.insert(format!("keys/{}", k.id), t);
        }
    }
    let snapshots = repo.snapshots()?;
    for s in &snapshots {
        written.insert(format!("snapshots/{}", s.id), s.snapshot.timestamp());
    }
    for r in crate::governance::journal::Journal::of(repo)
        .list()?
        .into_iter()
        .flatten()
    {
        if let Ok(t) = r.time.parse() {
            written.insert(crate::governance::journal::record_key(r.seq), t);
        }
    }
    // Newest snapshot time per pack (snapshots newest first; shared trees visited once).
    let mut pack_needed: std::collections::HashMap<String, jiff::Timestamp> = Default::default();
    let mut seen = std::collections::HashSet::new();
    for s in snapshots.iter().rev() {
        let t = s.snapshot.timestamp();
        let mut stack = vec![s.snapshot.tree];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            if let Some(loc) = index.get(&id) {
                pack_needed
                    .entry(index.pack_id(loc).to_string())
                    .or_insert(t);
            }
            let Ok(tree) = repo.read_tree(index, &id) else {
                continue; // reported by the structural check
            };
            for n in tree.nodes {
                stack.extend(n.subtree);
                for c in n.content {
                    if seen.insert(c) {
                        if let Some(loc) = index.get(&c) {
                            pack_needed
                                .entry(index.pack_id(loc).to_string())
                                .or_insert(t);
                        }
                    }
                }
            }
        }
    }
    let mut keys: Vec<String> = Vec::new();
    for prefix in [
        "config",
        "keys/",
        "data/",
        "index/",
        "snapshots/",
        "journal/",
        "mode/",
        "writeonly/",
        "copymap/",
    ] {
        keys.extend(storage.list(prefix)?.into_iter().map(|o| o.key));
    }
    keys.retain(|k| !is_mutable(k));
    let results = crate::repo::parallel_map(&keys, 8, |k| storage.retention(k));
    for (key, r) in keys.iter().zip(results) {
        let r = match r {
            Ok(Some(r)) => r,
            Ok(None) => {
                report.errors.push(format!(
                    "{key} carries no object-lock retention (configured {}:{})",
                    lock.mode, lock.days
                ));
                continue;
            }
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                report
                    .errors
                    .push(format!("{key}: cannot read its retention: {e}"));
                continue;
            }
        };
        if !r.mode.eq_ignore_ascii_case(&lock.mode) {
            report.errors.push(format!(
                "{key} has retention mode {} but the repository is configured for {}",
                r.mode, lock.mode
            ));
        }
        let Ok(until) = jiff::Timestamp::try_from(r.retain_until) else {
            continue;
        };
        if let Some(t) = written.get(key) {
            if until
                < t.saturating_add(want)
                    .unwrap_or(*t)
                    .saturating_sub(slack)
                    .unwrap_or(*t)
            {
                report.errors.push(format!(
                    "{key}: retention until {} is shorter than configured ({} days from its write at {t})",
                    format_time(r.retain_until),
                    lock.days
                ));
            }
        }
        if let Some(pack) = key.strip_prefix("data/").and_then(|k| k.rsplit('/').next()) {
            if let Some(t) = pack_needed.get(pack) {
                let need = t.saturating_add(want).unwrap_or(*t);
                if until < need.saturating_sub(slack).unwrap_or(need) {
                    report.warnings.push(format!(
                        "pack {pack} is retained until {} but holds data of a snapshot taken {t}, \
                         whose configured protection lasts until {need} (deduplicated data keeps \
                         the retention of the pack that first stored it)",
                        format_time(r.retain_until)
                    ));
                }
            }
        }
    }
    Ok(())
}
