//! `tag` and `rewrite`: replace snapshots by changed copies (new tags; files removed).
//!
//! A snapshot is never edited: the copy is a new snapshot that records the ids it stands in for
//! (`original`, `replaces`), and a restore point naming an old id means the copy
//! (`restore_point::list` follows the chain). `tag` removes the old snapshot once the copy is
//! stored; `rewrite` only with `forget_original` (a right-to-be-forgotten request), after which
//! `prune` frees the removed files' data. A snapshot under object-lock retention cannot be
//! removed before its retention ends: `tag` refuses it before writing anything, `rewrite` writes
//! the copy and reports the original as `retained`.

use crate::filter::SnapshotFilter;
use crate::modes::{self, Operation};
use crate::record::{Recorder, FIRST};
use crate::{journaled, Context, OpsError, Result};
use lifeboat_core::maintenance::rewrite::{self as engine, Removed, TagChange};
use lifeboat_core::patterns::PathPatterns;
use lifeboat_core::snapshot::SnapshotEntry;
use lifeboat_core::Repository;
use serde::{Deserialize, Serialize};

/// Which snapshots: named ones, or (none named) every snapshot the filter selects.
fn select(
    repo: &Repository,
    names: &[String],
    filter: &SnapshotFilter,
) -> Result<Vec<SnapshotEntry>> {
    if names.is_empty() {
        return Ok(filter.apply(repo.snapshots()?));
    }
    let mut out: Vec<SnapshotEntry> = Vec::new();
    for n in names {
        let s = repo.find_snapshot(n)?;
        if !out.iter().any(|o| o.id == s.id) {
            out.push(s);
        }
    }
    Ok(out)
}

/// When the snapshot object is under object-lock retention: until when.
fn retained(repo: &Repository, id: &str) -> Result<Option<String>> {
    let key = format!("snapshots/{id}");
    Ok(
        lifeboat_core::retention_layer::retained_until(repo.storage().as_ref(), &key)?
            .map(lifeboat_core::retention_layer::format_time),
    )
}

/// A tag change.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TagRequest {
    /// Snapshots (ids, prefixes, `latest`); none: every snapshot `filter` selects.
    pub snapshots: Vec<String>,
    /// Which snapshots when none are named.
    pub filter: SnapshotFilter,
    /// Replace the tags by these.
    pub set: Option<Vec<String>>,
    /// Tags to add.
    pub add: Vec<String>,
    /// Tags to remove.
    pub remove: Vec<String>,
}

/// One snapshot replaced by its copy.
#[derive(Clone, Debug, Serialize)]
pub struct Replaced {
    /// The snapshot that was there.
    pub old: String,
    /// Its copy.
    pub new: String,
}

/// What `tag` did.
#[derive(Clone, Debug, Serialize)]
pub struct TagReport {
    /// Snapshots whose tags changed: old id, new id.
    pub changed: Vec<Replaced>,
    /// Snapshots that already had the requested tags (left as they were).
    pub unchanged: Vec<String>,
}

/// Changes the tags of snapshots.
pub fn tag(ctx: &Context, repo: &Repository, req: &TagRequest) -> Result<TagReport> {
    let mut rec = Recorder::new(ctx, "tag");
    rec.list("snapshots", &req.snapshots)
        .list("add", &req.add)
        .list("remove", &req.remove)
        .arg("set", req.set.as_ref().map(|s| s.join(",")));
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        if req.set.is_none() && req.add.is_empty() && req.remove.is_empty() {
            return Err(OpsError::invalid(
                "tags",
                "no tag change given: use --add, --remove or --set",
            ));
        }
        modes::require(repo, Operation::Tag)?;
        let _lock =
            lifeboat_core::lock::acquire(repo, false, "tag", lifeboat_core::lock::wait_time())?;
        let change = TagChange {
            set: req.set.clone(),
            add: req.add.clone(),
            remove: req.remove.clone(),
        };
        let selected = select(repo, &req.snapshots, &req.filter)?;
        // Refuse before writing anything: a retained snapshot cannot be replaced.
        for s in &selected {
            let mut old = s.snapshot.tags.clone();
            old.sort();
            old.dedup();
            if change.apply(&s.snapshot.tags) != old {
                if let Some(until) = retained(repo, &s.id)? {
                    return Err(OpsError::Conflict(format!(
                        "snapshot {} is under object-lock retention until {until}: its tags cannot change before then (nothing was changed)",
                        s.short_id()
                    )));
                }
            }
        }
        let mut report = TagReport {
            changed: Vec::new(),
            unchanged: Vec::new(),
        };
        for s in &selected {
            ctx.cancel_token().check("tag")?;
            match engine::retag(repo, s, &change)? {
                Some(new) => {
                    repo.remove_snapshot(&s.id)?;
                    rec.affected(FIRST, &new);
                    rec.note(format!("{} replaced by {}", &s.id[..8], &new[..8]));
                    report.changed.push(Replaced {
                        old: s.id.clone(),
                        new,
                    });
                }
                None => report.unchanged.push(s.id.clone()),
            }
        }
        Ok(report)
    })
}

/// A rewrite: files removed from snapshots.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewriteRequest {
    /// Snapshots (ids, prefixes, `latest`); none: every file snapshot `filter` selects.
    pub snapshots: Vec<String>,
    /// Which snapshots when none are named.
    pub filter: SnapshotFilter,
    /// What to remove: patterns as for `backup --exclude`, matched against the paths the
    /// snapshot records.
    pub excludes: Vec<String>,
    /// Remove each original once its copy is stored.
    pub forget_original: bool,
    /// Only report what would be removed.
    pub dry_run: bool,
}

/// One snapshot's rewrite.
#[derive(Clone, Debug, Serialize)]
pub struct Rewritten {
    /// The snapshot rewritten.
    pub original: String,
    /// Its copy (`None`: nothing matched, or a dry run).
    pub new: Option<String>,
    /// What was (or would be) removed.
    pub removed: Removed,
    /// The original was removed (`forget_original`).
    pub original_removed: bool,
    /// The original stays until this time: object-lock retention (`forget` it then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retained_until: Option<String>,
}

/// What `rewrite` did.
#[derive(Clone, Debug, Serialize)]
pub struct RewriteReport {
    /// True when nothing was written.
    pub dry_run: bool,
    /// Each considered snapshot.
    pub snapshots: Vec<Rewritten>,
}

/// Removes files from snapshots.
pub fn rewrite(ctx: &Context, repo: &Repository, req: &RewriteRequest) -> Result<RewriteReport> {
    let mut rec = Recorder::new(ctx, "rewrite");
    rec.list("snapshots", &req.snapshots)
        .list("excludes", &req.excludes)
        .flag("forget_original", req.forget_original)
        .flag("dry_run", req.dry_run);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        if req.excludes.is_empty() {
            return Err(OpsError::invalid(
                "excludes",
                "nothing to remove: give at least one --exclude PATTERN",
            ));
        }
        let patterns = PathPatterns::new(&req.excludes, "exclude pattern")?;
        modes::require(
            repo,
            match (req.dry_run, req.forget_original) {
                (true, _) => Operation::List,
                (false, false) => Operation::Rewrite,
                (false, true) => Operation::RewriteForgetOriginal,
            },
        )?;
        let _lock = (!req.dry_run)
            .then(|| {
                lifeboat_core::lock::acquire(
                    repo,
                    false,
                    "rewrite",
                    lifeboat_core::lock::wait_time(),
                )
            })
            .transpose()?;
        let mut selected = select(repo, &req.snapshots, &req.filter)?;
        if req.snapshots.is_empty() {
            // Selected by filter: the file backups among them.
            selected.retain(|s| s.snapshot.source == "files");
        }
        let mut report = RewriteReport {
            dry_run: req.dry_run,
            snapshots: Vec::new(),
        };
        for s in &selected {
            ctx.cancel_token().check("rewrite")?;
            let (new, removed) = engine::rewrite(repo, s, &patterns, req.dry_run)?;
            let mut done = Rewritten {
                original: s.id.clone(),
                new: new.clone(),
                removed,
                original_removed: false,
                retained_until: None,
            };
            if let Some(new) = &new {
                rec.affected(FIRST, new);
                rec.note(format!(
                    "{} rewritten as {}: {} files, {} bytes removed",
                    &s.id[..8],
                    &new[..8],
                    done.removed.files,
                    done.removed.bytes
                ));
                if req.forget_original {
                    match retained(repo, &s.id)? {
                        Some(until) => {
                            ctx.warn(format!(
                                "snapshot {} is under object-lock retention until {until}: it stays until then (forget it afterwards); its copy {} was written",
                                s.short_id(),
                                &new[..8]
                            ));
                            done.retained_until = Some(until);
                        }
                        None => {
                            repo.remove_snapshot(&s.id)?;
                            done.original_removed = true;
                        }
                    }
                }
            }
            report.snapshots.push(done);
        }
        Ok(report)
    })
}
