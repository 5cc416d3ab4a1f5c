//! Check of object lock: every object carries the configured retention (see
//! `docs/design/object-lock.md`, "What `check` reports").

use crate::checker::CheckReport;
use crate::error::Result;
use crate::format::index::Index;
use crate::governance::journal::Journal;
use crate::layers::object_lock::{format_time, is_mutable};
use crate::parallel::parallel_map;
use crate::repo::Repository;

/// Adds object-lock findings to a check report: objects without retention or with another
/// mode (errors), objects whose retention is shorter than configured for the time they were
/// written (errors; known for config, key files, snapshots and journal records), and packs whose
/// retention ends before the configured period of the newest snapshot using them (warnings: a
/// property of deduplication, see `docs/design/object-lock.md`).
pub fn check_retention(repo: &Repository, index: &Index, report: &mut CheckReport) -> Result<()> {
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
    for r in Journal::of(repo).list()?.into_iter().flatten() {
        if let Ok(t) = r.time.parse() {
            written.insert(crate::format::journal::record_key(r.seq), t);
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
    let results = parallel_map(&keys, 8, |k| storage.retention(k));
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

#[cfg(test)]
mod tests {
    use crate::testutil::{backup, locked_repo};
    use std::time::{Duration, SystemTime};

    #[test]
    fn every_object_but_locks_is_retained_and_check_sees_it() {
        let (store, repo) = locked_repo();
        backup(&repo, b"hello world");
        crate::governance::journal::append(&repo, Default::default()).unwrap();
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
}
