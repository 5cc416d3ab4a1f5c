//! The PostgreSQL WAL archive: push and fetch (PostgreSQL's `archive_command` and
//! `restore_command`), verify, show, and expire.
//!
//! Push and fetch open the archive with [`WalArchive::open`] (a key cache skips the password
//! derivation) and are not journaled: one record per segment would double archive latency and
//! flood the journal. Expiry is journaled and runs under the repository's exclusive lock, so
//! no base backup can appear while it decides what no backup needs.

use crate::modes::{self, Operation};
use crate::open::{self, Location};
use crate::record::Recorder;
use crate::{journaled, Context, OpsError, Result};
use lifeboat_core::Repository;
use lifeboat_postgres::pitr;
use lifeboat_postgres::plan::{expire_candidates, Gap, TimelineReport};
use lifeboat_postgres::wal::{KeySource, PushOptions, PushOutcome, WalArchive};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to archive.
#[derive(Clone, Debug)]
pub struct PushRequest {
    /// The WAL file (`%p`).
    pub path: PathBuf,
    /// Cluster name in the repository.
    pub cluster: String,
    /// Refuse WAL of any other database system.
    pub system_id: Option<u64>,
    /// Directory of the key cache.
    pub key_cache: Option<PathBuf>,
    /// zstd level.
    pub compression: i32,
    /// Also push up to this many further segments already marked ready.
    pub ahead: usize,
}

/// What a push did.
#[derive(Clone, Debug, Serialize)]
pub struct PushReport {
    /// The file asked for.
    pub pushed: PushOutcome,
    /// Further segments pushed ahead.
    pub pushed_ahead: Vec<String>,
    /// How the keys were obtained.
    pub key_source: KeySource,
    /// Seconds to open the archive.
    pub open_seconds: f64,
    /// Seconds in all.
    pub total_seconds: f64,
}

/// Archives one WAL file (and pushes ahead).
pub fn push(
    _ctx: &Context,
    location: &Location,
    password: &[u8],
    req: &PushRequest,
) -> Result<PushReport> {
    let t0 = Instant::now();
    let archive = WalArchive::open(open::storage(location)?, password, req.key_cache.as_deref())?;
    let open_seconds = t0.elapsed().as_secs_f64();
    let (pushed, pushed_ahead) = archive.push_with_ahead(
        &req.path,
        &PushOptions {
            cluster: req.cluster.clone(),
            system_id: req.system_id,
            compression_level: req.compression,
        },
        req.ahead,
    )?;
    Ok(PushReport {
        pushed,
        pushed_ahead,
        key_source: archive.key_source,
        open_seconds,
        total_seconds: t0.elapsed().as_secs_f64(),
    })
}

/// What to fetch.
#[derive(Clone, Debug)]
pub struct FetchRequest {
    /// The WAL file name (`%f`).
    pub name: String,
    /// Where to write it (`%p`).
    pub dest: PathBuf,
    /// Cluster name.
    pub cluster: String,
    /// System identifier (default: the data directory's, then the cluster's).
    pub system_id: Option<u64>,
    /// Directory of the key cache.
    pub key_cache: Option<PathBuf>,
}

/// Fetches one archived WAL file; returns its size. A file that is not archived is an error
/// whose [`OpsError::kind`] is [`crate::ErrorKind::NotFound`] (PostgreSQL probes for those).
pub fn fetch(
    _ctx: &Context,
    location: &Location,
    password: &[u8],
    req: &FetchRequest,
) -> Result<u64> {
    let archive = WalArchive::open(open::storage(location)?, password, req.key_cache.as_deref())?;
    let sysid = archive.resolve_sysid(req.system_id, &req.cluster)?;
    Ok(archive.fetch(sysid, &req.name, &req.dest)?)
}

/// The continuity of one cluster's archive.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// Cluster name.
    pub cluster: String,
    /// System identifier (decimal).
    pub system_identifier: String,
    /// Archived files.
    pub files: usize,
    /// Physical base backups.
    pub base_backups: usize,
    /// First segment the oldest base backup needs.
    pub oldest_backup_start: Option<String>,
    /// Newest archived segment.
    pub newest_segment: Option<String>,
    /// Ranges per timeline.
    pub timelines: Vec<TimelineReport>,
    /// Gaps from the oldest base backup on.
    pub gaps: Vec<Gap>,
    /// Other problems (missing history files, unreadable objects).
    pub problems: Vec<String>,
    /// True when every file was decrypted and verified.
    pub verified_data: bool,
    /// True when there is no gap and no problem.
    pub ok: bool,
}

/// Verifies the archive of `cluster` (or the only one): ranges, gaps, and with `read_data`
/// every file's content.
pub fn verify(
    _ctx: &Context,
    repo: &Repository,
    cluster: Option<&str>,
    read_data: bool,
) -> Result<VerifyReport> {
    modes::require(repo, Operation::WalVerify)?;
    let state = pitr::cluster_state(repo, cluster)?;
    let mut c = pitr::continuity(repo, &state)?;
    if read_data {
        let archive = WalArchive::from_repo(repo);
        for f in &state.files {
            if let Err(e) = archive.read_file(state.sysid, &f.file.name) {
                c.problems.push(e.to_string());
            }
        }
    }
    let oldest = state.backups.iter().min_by_key(|(_, m)| m.start_lsn);
    let ok = c.gaps.is_empty() && c.problems.is_empty();
    Ok(VerifyReport {
        cluster: state.cluster.clone(),
        system_identifier: state.sysid.to_string(),
        files: state.files.len(),
        base_backups: state.backups.len(),
        oldest_backup_start: oldest.map(|(_, m)| m.wal_start_segment.clone()),
        newest_segment: state.end.newest_segment.as_ref().map(|s| s.2.clone()),
        timelines: c.timelines,
        gaps: c.gaps,
        problems: c.problems,
        verified_data: read_data,
        ok,
    })
}

/// The newest base backup of a cluster.
#[derive(Clone, Debug, Serialize)]
pub struct NewestBaseBackup {
    /// Its snapshot.
    pub snapshot_id: String,
    /// When it ended.
    pub stop_time: String,
    /// Where it ended.
    pub stop_lsn: String,
}

/// The state of one cluster's archive, for monitoring.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterStatus {
    /// Cluster name.
    pub cluster: String,
    /// System identifier (decimal).
    pub system_identifier: String,
    /// WAL segment size.
    pub wal_segment_size: u64,
    /// Archived files.
    pub files: usize,
    /// Bytes stored.
    pub stored_bytes: u64,
    /// Newest archived segment.
    pub newest_segment: Option<String>,
    /// When it was archived (RFC 3339).
    pub newest_archived_at: Option<String>,
    /// Its age in seconds: the WAL RPO.
    pub newest_age_seconds: Option<f64>,
    /// Timelines with archived files.
    pub timelines: std::collections::BTreeSet<u32>,
    /// Physical base backups.
    pub base_backups: usize,
    /// The newest of them.
    pub newest_base_backup: Option<NewestBaseBackup>,
}

/// The archive of every cluster.
#[derive(Clone, Debug, Serialize)]
pub struct ShowReport {
    /// One entry per cluster.
    pub clusters: Vec<ClusterStatus>,
}

/// Shows every cluster's archive state.
pub fn show(_ctx: &Context, repo: &Repository) -> Result<ShowReport> {
    modes::require(repo, Operation::WalShow)?;
    let archive = WalArchive::from_repo(repo);
    let now = jiff::Timestamp::now();
    let mut clusters = Vec::new();
    for b in archive.bindings()? {
        let state = pitr::cluster_state(repo, Some(&b.cluster))?;
        clusters.push(ClusterStatus {
            cluster: b.cluster.clone(),
            system_identifier: b.system_identifier.clone(),
            wal_segment_size: b.wal_segment_size,
            files: state.files.len(),
            stored_bytes: state.files.iter().map(|f| f.size).sum(),
            newest_segment: state.end.newest_segment.as_ref().map(|s| s.2.clone()),
            newest_archived_at: state.end.newest_archived_at.map(|t| t.to_string()),
            newest_age_seconds: state
                .end
                .newest_archived_at
                .map(|t| (now.as_millisecond() - t.as_millisecond()) as f64 / 1000.0),
            timelines: state.files.iter().map(|f| f.file.tli).collect(),
            base_backups: state.backups.len(),
            newest_base_backup: state.backups.last().map(|(id, m)| NewestBaseBackup {
                snapshot_id: id.clone(),
                stop_time: m.stop_time.clone(),
                stop_lsn: m.stop_lsn.to_string(),
            }),
        });
    }
    Ok(ShowReport { clusters })
}

/// What WAL expiry did (or would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ExpireReport {
    /// Per cluster.
    pub clusters: Vec<ClusterExpiry>,
    /// True when nothing was deleted on purpose.
    pub dry_run: bool,
}

impl ExpireReport {
    /// Files deleted (or that would be) in all clusters.
    pub fn deleted(&self) -> usize {
        self.clusters.iter().map(|c| c.deleted.len()).sum()
    }
}

/// Expiry of one cluster.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterExpiry {
    /// Cluster name.
    pub cluster: String,
    /// Kept base backups.
    pub base_backups: usize,
    /// WAL before this segment may go (the oldest kept backup's start).
    pub keep_from: Option<String>,
    /// Files deleted.
    pub deleted: Vec<String>,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Files that may go but are still under object-lock retention (a later run deletes them).
    pub retained: Vec<String>,
    /// Why nothing was deleted, when so.
    pub note: Option<String>,
}

/// Deletes WAL no remaining physical base backup needs, in every cluster or one.
pub fn expire(
    ctx: &Context,
    repo: &Repository,
    cluster: Option<&str>,
    dry_run: bool,
) -> Result<ExpireReport> {
    let mut rec = Recorder::new(ctx, "wal expire");
    rec.arg("cluster", cluster.map(str::to_string))
        .flag("dry_run", dry_run);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        modes::require(
            repo,
            if dry_run {
                Operation::WalExpireDryRun
            } else {
                Operation::WalExpire
            },
        )?;
        let _lock = lifeboat_core::lock::acquire(
            repo,
            true,
            "wal expire",
            lifeboat_core::lock::wait_time(),
        )?;
        let report = expire_locked(repo, cluster, dry_run)?;
        rec.note(format!("{} WAL files", report.deleted()));
        Ok(report)
    })
}

/// WAL expiry for a caller that holds the repository's exclusive lock (prune's hook).
pub(crate) fn expire_locked(
    repo: &Repository,
    cluster: Option<&str>,
    dry_run: bool,
) -> Result<ExpireReport> {
    if !dry_run {
        repo.require_may_destroy(Operation::WalExpire.name())?;
    }
    let archive = WalArchive::from_repo(repo);
    let mut out = ExpireReport {
        clusters: Vec::new(),
        dry_run,
    };
    for b in archive.bindings()? {
        if cluster.is_some_and(|c| c != b.cluster) {
            continue;
        }
        let state = pitr::cluster_state(repo, Some(&b.cluster))?;
        let needs_archive = || state.backups.iter().filter(|(_, m)| !m.wal_included);
        let starts: Vec<u64> = needs_archive()
            .map(|(_, m)| m.start_lsn.segno(m.wal_segment_size))
            .collect();
        let names: Vec<_> = state.files.iter().map(|f| f.file.clone()).collect();
        let mut c = ClusterExpiry {
            cluster: b.cluster.clone(),
            base_backups: state.backups.len(),
            keep_from: needs_archive()
                .min_by_key(|(_, m)| m.start_lsn)
                .map(|(_, m)| m.wal_start_segment.clone()),
            deleted: Vec::new(),
            retained: Vec::new(),
            bytes_freed: 0,
            note: starts.is_empty().then(|| {
                "no physical base backup: nothing expires (the WAL may belong to a backup in progress)".to_string()
            }),
        };
        for g in expire_candidates(&names, &starts) {
            let Some(f) = state.files.iter().find(|f| f.file.name == g.name) else {
                continue;
            };
            if !dry_run {
                match repo.storage().remove(&f.key) {
                    Ok(()) => {}
                    // Under object-lock retention: a later expiry deletes it.
                    Err(e) if e.kind == lifeboat_storage::ErrorKind::Locked => {
                        c.retained.push(g.name.clone());
                        continue;
                    }
                    Err(e) => return Err(OpsError::from(e)),
                }
            }
            c.deleted.push(g.name.clone());
            c.bytes_freed += f.size;
        }
        out.clusters.push(c);
    }
    Ok(out)
}

/// The path of the data directory PostgreSQL runs `archive_command` in (the current
/// directory), for choosing the configured source of a `wal-push`.
pub fn current_data_directory() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    Path::new(&cwd)
        .join("global/pg_control")
        .exists()
        .then_some(cwd)
}
