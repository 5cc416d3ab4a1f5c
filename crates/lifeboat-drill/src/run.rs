//! Running one drill: pick, restore into scratch space, make the copy usable, run the checks,
//! measure RTO and RPO, clean up (docs/design/drills.md). The operations layer
//! (`lifeboat_ops::drill`) wraps this with the mode check, the stored report and the journal.

use crate::checks::{run_check, CheckResult, PgConn, Subject, Verdict};
use crate::pick::pick;
use crate::points::{self, dsn_port, is_within};
use crate::report::{DrillReport, DrillResult, Kept, Phase, RecoveryPoint, REPORT_VERSION};
use crate::scratch::Scratch;
use lifeboat_config::{Drill, Pick, Source, SourceKind, Target};
use lifeboat_core::cancel::CancelToken;
use lifeboat_core::error::Hint;
use lifeboat_core::restore::{self, RestoreOptions};
use lifeboat_core::snapshot::SnapshotEntry;
use lifeboat_core::Repository;
use lifeboat_postgres::cluster::{port_other_than, server_user, stop_data_dir, ScratchCluster};
use lifeboat_postgres::logical::{restore_logical, LogicalMeta, LogicalRestoreOptions};
use lifeboat_postgres::pitr::{self, PhysicalRestoreOptions, RunAs, StartOptions};
use lifeboat_postgres::plan::{plan_restore, RecoveryTarget};
use lifeboat_postgres::tools::PgTools;
use lifeboat_sqlite::restore::{restore_sqlite, SqliteRestoreOptions};
use lifeboat_sqlite::{SqliteError, SqliteMeta};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything a drill needs besides the repository.
pub struct DrillRequest<'a> {
    /// The plan.
    pub drill: &'a Drill,
    /// Its source.
    pub source: &'a Source,
    /// The source's targets, if any.
    pub target: Option<&'a Target>,
    /// The pick (the plan's, or the front end's override).
    pub pick: Pick,
    /// Physical only: the recovery target (`latest`, RFC 3339, `now-15m`).
    pub to: Option<String>,
    /// The seed of a random pick (to repeat one).
    pub seed: Option<u64>,
    /// Keep the scratch copy (and its server) after the drill.
    pub keep: bool,
    /// The `restore_command` a physical copy fetches WAL with.
    pub restore_command: String,
    /// The repository password (a key cache for the copy's `restore_command`).
    pub password: Option<&'a [u8]>,
    /// Stops the drill between phases (cleanup still runs).
    pub cancel: CancelToken,
    /// Bytes restored so far (progress displays).
    pub restored_bytes: Arc<AtomicU64>,
    /// Who runs it.
    pub user: String,
    /// Through which front end.
    pub via: String,
}

/// A drill refused before anything was written.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    /// What is wrong.
    pub message: String,
    /// What to change.
    pub hint: Hint,
}

fn refuse(message: String, option: &'static str) -> Refused {
    Refused {
        message,
        hint: Hint::SetOption {
            option,
            value: None,
        },
    }
}

/// Checks, before anything is written, that the drill cannot touch its source: the scratch
/// directory is not (inside) the source's data directory or paths, and not a PostgreSQL data
/// directory at all.
pub fn preflight(req: &DrillRequest) -> Result<(), Refused> {
    let scratch = &req.drill.scratch_dir;
    let name = &req.drill.name;
    let mut protected: Vec<(PathBuf, &str)> = Vec::new();
    match &req.source.kind {
        SourceKind::PostgresPhysical(p) => {
            if let Some(d) = &p.data_directory {
                protected.push((d.clone(), "data directory"));
            }
        }
        SourceKind::Files(f) => {
            for p in &f.paths {
                protected.push((p.clone(), "backed-up path"));
            }
        }
        SourceKind::Sqlite(q) => {
            for p in &q.paths {
                protected.push((p.clone(), "database file"));
            }
        }
        _ => {}
    }
    for (p, what) in &protected {
        if is_within(scratch, p) {
            return Err(refuse(
                format!(
                    "drill '{name}': scratch_dir {} is the source's {what} {} or lies inside it; a drill never restores over its source",
                    scratch.display(),
                    p.display()
                ),
                "scratch_dir",
            ));
        }
    }
    let mut dir = Some(std::path::absolute(scratch).unwrap_or(scratch.clone()));
    while let Some(d) = dir {
        if d.join("PG_VERSION").exists() && d.join("global").is_dir() {
            return Err(refuse(
                format!(
                    "drill '{name}': scratch_dir {} is inside the PostgreSQL data directory {}; choose a directory of its own",
                    scratch.display(),
                    d.display()
                ),
                "scratch_dir",
            ));
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    if let Some(to) = &req.to {
        if !matches!(req.source.kind, SourceKind::PostgresPhysical(_)) {
            return Err(refuse(
                format!("drill '{name}': a recovery target (to = \"{to}\") applies to physical PostgreSQL sources only"),
                "to",
            ));
        }
        lifeboat_config::parse_pitr_to(to, jiff::Timestamp::now())
            .map_err(|e| refuse(format!("drill '{name}': {e}"), "to"))?;
    }
    Ok(())
}

/// What runs and must be stopped at the end.
#[derive(Default)]
struct Live {
    scratch: Option<Scratch>,
    cluster: Option<ScratchCluster>,
    physical: Option<(PgTools, PathBuf, Option<RunAs>)>,
    connect: Option<String>,
}

struct Clock {
    t0: Instant,
    last: Instant,
}

impl Clock {
    fn lap(&mut self, report: &mut DrillReport, name: &str) {
        let now = Instant::now();
        report.phases.push(Phase {
            name: name.to_string(),
            seconds: (now - self.last).as_secs_f64(),
        });
        self.last = now;
    }
}

/// Runs the drill. Returns the report (passed, failed, or error when the drill could not run
/// to its end), or [`Refused`] when it was refused before anything was written.
pub fn run(repo: &Repository, req: &DrillRequest) -> Result<DrillReport, Refused> {
    preflight(req)?;
    let started = jiff::Timestamp::now();
    let mut clock = Clock {
        t0: Instant::now(),
        last: Instant::now(),
    };
    let mut report = DrillReport {
        id: String::new(),
        version: REPORT_VERSION,
        drill: req.drill.name.clone(),
        source: req.source.name.clone(),
        source_kind: req.source.kind.name().to_string(),
        snapshot: None,
        pick: req.pick.to_string(),
        to: match &req.source.kind {
            SourceKind::PostgresPhysical(_) => {
                Some(req.to.clone().unwrap_or_else(|| "latest".into()))
            }
            _ => None,
        },
        result: DrillResult::Error,
        error: None,
        failures: Vec::new(),
        started: started.to_string(),
        finished: String::new(),
        rto_seconds: None,
        rto_target_seconds: req.target.and_then(|t| t.rto).map(|d| d.as_secs_f64()),
        rpo_seconds: None,
        rpo_target_seconds: req.target.and_then(|t| t.rpo).map(|d| d.as_secs_f64()),
        rpo_point: None,
        recovery_point: RecoveryPoint::default(),
        phases: Vec::new(),
        checks: Vec::new(),
        seed: None,
        restored_bytes: 0,
        host: lifeboat_core::host::hostname(),
        user: req.user.clone(),
        via: req.via.clone(),
        notes: Vec::new(),
        kept: None,
    };
    let mut live = Live::default();
    let outcome = execute(repo, req, &mut report, &mut clock, started, &mut live);
    match outcome {
        Ok(()) => {
            report.rto_seconds = Some(clock.t0.elapsed().as_secs_f64());
        }
        Err(e) => report.error = Some(e),
    }
    judge(&mut report);
    finish(req, &mut report, live);
    report.finished = jiff::Timestamp::now().to_string();
    Ok(report)
}

/// Sets `result` and `failures` from the checks and targets.
fn judge(r: &mut DrillReport) {
    for c in &r.checks {
        if c.result == Verdict::Failed {
            let first = c.detail.lines().next().unwrap_or("");
            r.failures.push(format!("check {}: {first}", c.name));
        }
    }
    let over = |what: &str, actual: Option<f64>, target: Option<f64>| match (actual, target) {
        (Some(a), Some(t)) if a > t => {
            Some(format!("{what} of {a:.1}s exceeds its target of {t:.0}s"))
        }
        _ => None,
    };
    if let Some(f) = over("RTO", r.rto_seconds, r.rto_target_seconds) {
        r.failures.push(f);
    }
    if let Some(f) = over("RPO", r.rpo_seconds, r.rpo_target_seconds) {
        r.failures.push(f);
    }
    if r.rpo_seconds.is_none() && r.rpo_target_seconds.is_some() {
        r.failures
            .push("RPO could not be measured: the source has no recoverable point".into());
    }
    r.result = if r.error.is_some() {
        DrillResult::Error
    } else if r.failures.is_empty() {
        DrillResult::Passed
    } else {
        DrillResult::Failed
    };
}

/// Stops what runs and removes the scratch directory, or keeps both (`--keep`).
fn finish(req: &DrillRequest, report: &mut DrillReport, mut live: Live) {
    if req.keep {
        if let Some(scratch) = live.scratch.take() {
            let path = scratch.keep();
            let server = live
                .cluster
                .as_ref()
                .map(|c| c.data_dir.clone())
                .or_else(|| live.physical.as_ref().map(|(_, d, _)| d.clone()));
            let cleanup = match &server {
                Some(d) => format!(
                    "pg_ctl -D {} -m fast stop && rm -rf {}",
                    d.display(),
                    path.display()
                ),
                None => format!("rm -rf {}", path.display()),
            };
            report.kept = Some(Kept {
                path: path.display().to_string(),
                connect: live.connect.take(),
                cleanup,
            });
            if let Some(c) = live.cluster.take() {
                c.leave_running();
            }
            return;
        }
    }
    if let Some(mut c) = live.cluster.take() {
        c.stop();
    }
    if let Some((tools, dir, run_as)) = live.physical.take() {
        stop_data_dir(&tools, &dir, run_as.as_ref());
    }
    if let Some(s) = live.scratch.take() {
        report.notes.extend(s.remove());
    }
}

fn cancelled(req: &DrillRequest) -> Result<(), String> {
    if req.cancel.is_cancelled() {
        Err("the drill was cancelled".into())
    } else {
        Ok(())
    }
}

fn execute(
    repo: &Repository,
    req: &DrillRequest,
    report: &mut DrillReport,
    clock: &mut Clock,
    started: jiff::Timestamp,
    live: &mut Live,
) -> Result<(), String> {
    // Pick (and the RPO, from every snapshot of the source).
    let all = repo.snapshots().map_err(|e| e.to_string())?;
    let database = points::logical_database(req.source, req.drill.database.as_deref());
    let candidates = points::snapshots_of(&all, req.source, database.as_deref());
    match points::newest_point(repo, req.source, &candidates) {
        Ok(Some(p)) => {
            report.rpo_seconds =
                Some((started.as_millisecond() - p.time.as_millisecond()).max(0) as f64 / 1000.0);
            report.rpo_point = Some(p.what);
        }
        Ok(None) => {}
        Err(e) => report.notes.push(format!(
            "the newest recoverable point could not be determined: {e}"
        )),
    }
    let (snap, seed) = pick(&candidates, &req.pick, &req.source.name, started, req.seed)
        .map_err(|e| e.to_string())?;
    let snap = snap.clone();
    report.seed = seed;
    report.snapshot = Some(snap.id.clone());
    clock.lap(report, "pick");
    cancelled(req)?;

    let (scratch, notes) =
        Scratch::prepare(&req.drill.scratch_dir, &req.drill.name).map_err(|e| e.to_string())?;
    report.notes.extend(notes);
    let dir = scratch.dir.clone();
    let socket_dir = scratch.socket_dir.clone();
    live.scratch = Some(scratch);

    let subject = match &req.source.kind {
        SourceKind::Files(_) | SourceKind::Command(_) => {
            restore_files(repo, req, report, clock, &snap, &dir)?
        }
        SourceKind::Postgres(pg) => restore_logical_copy(
            repo,
            req,
            report,
            clock,
            &snap,
            &dir,
            &socket_dir,
            &pg.dsn,
            &all,
            live,
        )?,
        SourceKind::PostgresPhysical(pg) => restore_physical_copy(
            repo,
            req,
            report,
            clock,
            &snap,
            &dir,
            &pg.dsn,
            &pg.cluster,
            live,
        )?,
        SourceKind::Sqlite(_) => {
            match restore_sqlite_copy(repo, req, report, clock, &snap, &dir)? {
                Some(s) => s,
                None => {
                    // The restored copy failed integrity_check: nothing else can be trusted.
                    for check in &req.drill.checks {
                        report.checks.push(CheckResult {
                            kind: check.kind.name().to_string(),
                            name: check.name.clone(),
                            result: Verdict::Failed,
                            detail: "not run: the restored database failed integrity_check".into(),
                            seconds: 0.0,
                        });
                    }
                    return cancelled(req);
                }
            }
        }
    };

    for check in &req.drill.checks {
        let result = run_check(check, &subject, &req.cancel);
        clock.lap(report, &format!("check {}", check.name));
        report.checks.push(result);
    }
    cancelled(req)
}

fn builtin(kind: &str, name: &str, ok: bool, detail: String, seconds: f64) -> CheckResult {
    CheckResult {
        kind: kind.into(),
        name: name.into(),
        result: if ok { Verdict::Passed } else { Verdict::Failed },
        detail,
        seconds,
    }
}

fn restore_files(
    repo: &Repository,
    req: &DrillRequest,
    report: &mut DrillReport,
    clock: &mut Clock,
    snap: &SnapshotEntry,
    dir: &Path,
) -> Result<Subject, String> {
    let target = dir.join("restored");
    let summary = restore::restore(
        repo,
        snap,
        &RestoreOptions {
            target: target.clone(),
            includes: Vec::new(),
            overwrite: false,
            redirects: Vec::new(),
            cancel: req.cancel.clone(),
            no_sparse: false,
            no_xattrs: false,
        },
        req.restored_bytes.clone(),
    )
    .map_err(|e| format!("restoring snapshot {} failed: {e}", snap.short_id()))?;
    report.restored_bytes = summary.bytes;
    clock.lap(report, "restore");
    report.recovery_point.time = Some(snap.snapshot.time.clone());
    let mut restored_path = target.clone();
    // Every blob was verified against its id while restoring; a stream is also compared with
    // the SHA-256 recorded when it was backed up.
    let t = Instant::now();
    if let Some(stream) = &snap.snapshot.stream {
        let file = find_file(&target, &stream.name)
            .ok_or_else(|| format!("the restored copy has no file named {}", stream.name))?;
        let digest = sha256_file(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let ok = digest == stream.sha256;
        report.checks.push(builtin(
            "content",
            "stream sha256",
            ok,
            if ok {
                format!(
                    "{} bytes, SHA-256 {} as recorded at backup time",
                    stream.size, digest
                )
            } else {
                format!(
                    "SHA-256 of the restored stream is {digest}, the backup recorded {}",
                    stream.sha256
                )
            },
            t.elapsed().as_secs_f64(),
        ));
        restored_path = file;
    } else {
        report.checks.push(builtin(
            "content",
            "content hashes",
            true,
            format!(
                "{} files, {} directories, {} symlinks, {} bytes restored; every blob matched its content hash",
                summary.files, summary.dirs, summary.symlinks, summary.bytes
            ),
            summary.duration_seconds,
        ));
    }
    clock.lap(report, "verify");
    Ok(Subject {
        restored_path: Some(restored_path),
        recovery_time: Some(snap.snapshot.timestamp()),
        ..Default::default()
    })
}

/// Restores a SQLite snapshot into `DIR/restored/NAME` (verified against its recorded SHA-256
/// and checked with `integrity_check`, recorded as the built-in `content` check). `None` when
/// the restored database failed the check (the failed check is in the report).
fn restore_sqlite_copy(
    repo: &Repository,
    req: &DrillRequest,
    report: &mut DrillReport,
    clock: &mut Clock,
    snap: &SnapshotEntry,
    dir: &Path,
) -> Result<Option<Subject>, String> {
    let meta = SqliteMeta::from_snapshot(snap)
        .ok_or_else(|| format!("snapshot {} is not a SQLite backup", snap.short_id()))?;
    let name = snap
        .snapshot
        .stream
        .as_ref()
        .map(|s| s.name.clone())
        .ok_or_else(|| format!("snapshot {} holds no database stream", snap.short_id()))?;
    let target = dir.join("restored").join(name);
    let restored = restore_sqlite(
        repo,
        snap,
        &SqliteRestoreOptions {
            target: target.clone(),
            overwrite: false,
            cancel: req.cancel.clone(),
        },
    );
    clock.lap(report, "restore");
    report.recovery_point.time = Some(snap.snapshot.time.clone());
    let r = match restored {
        Ok(r) => r,
        Err(SqliteError::RestoredDamaged { problems, .. }) => {
            report.checks.push(builtin(
                "content",
                "integrity_check",
                false,
                format!(
                    "PRAGMA integrity_check of the restored database reported {} problem(s):
{}",
                    problems.len(),
                    problems.join("\n")
                ),
                0.0,
            ));
            clock.lap(report, "verify");
            return Ok(None);
        }
        Err(e) => {
            return Err(format!(
                "restoring snapshot {} failed: {e}",
                snap.short_id()
            ))
        }
    };
    report.restored_bytes = r.bytes;
    report.checks.push(builtin(
        "content",
        "integrity_check",
        true,
        format!(
            "PRAGMA integrity_check: ok ({} pages of {} bytes, journal mode {}); the {} bytes restored matched the SHA-256 recorded at backup time",
            r.page_count, r.page_size, r.journal_mode, r.bytes
        ),
        r.integrity_seconds,
    ));
    clock.lap(report, "verify");
    Ok(Some(Subject {
        sqlite: Some(target.clone()),
        restored_path: Some(target),
        recovery_time: Some(snap.snapshot.timestamp()),
        recorded_rows: Some(meta.row_counts),
        ..Default::default()
    }))
}

fn find_file(root: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(root).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if e.file_name().to_string_lossy() == name {
            return Some(p);
        }
    }
    None
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[allow(clippy::too_many_arguments)]
fn restore_logical_copy(
    repo: &Repository,
    req: &DrillRequest,
    report: &mut DrillReport,
    clock: &mut Clock,
    snap: &SnapshotEntry,
    dir: &Path,
    socket_dir: &Path,
    source_dsn: &str,
    all: &[SnapshotEntry],
    live: &mut Live,
) -> Result<Subject, String> {
    let meta = LogicalMeta::from_snapshot(snap).ok_or_else(|| {
        format!(
            "snapshot {} is not a logical PostgreSQL backup",
            snap.short_id()
        )
    })?;
    let database = meta
        .database
        .clone()
        .ok_or_else(|| "the picked snapshot is the globals dump, not a database".to_string())?;
    let major = meta.server_version_num / 10000;
    let cluster = ScratchCluster::create(
        major,
        &dir.join("data"),
        socket_dir,
        req.drill.run_as.as_deref(),
        dsn_port(source_dsn),
    )
    .map_err(|e| format!("creating the scratch PostgreSQL {major} cluster failed: {e}"))?;
    let conn = PgConn {
        tools: cluster.tools.clone(),
        socket_dir: cluster.socket_dir.clone(),
        port: cluster.port,
        user: cluster.superuser.clone(),
    };
    live.connect = Some(format!("psql \"{}\"", conn.dsn(&database)));
    let admin_dsn = cluster.dsn("postgres");
    live.cluster = Some(cluster);
    clock.lap(report, "start");
    cancelled(req)?;
    // Roles and tablespaces: the newest globals dump taken with (or before) this one.
    let globals = all.iter().rfind(|s| {
        LogicalMeta::from_snapshot(s).is_some_and(|m| m.database.is_none())
            && s.snapshot.timestamp() <= snap.snapshot.timestamp()
            && s.snapshot.timestamp()
                >= snap.snapshot.timestamp() - jiff::SignedDuration::from_hours(1)
    });
    if let Some(g) = globals {
        match restore_logical(
            repo,
            g,
            &LogicalRestoreOptions {
                dsn: admin_dsn.clone(),
                ..Default::default()
            },
        ) {
            Ok(r) => {
                if !r.warnings.is_empty() {
                    report.notes.push(format!(
                        "restoring the globals of snapshot {} reported {} errors (e.g. {})",
                        g.short_id(),
                        r.warnings.len(),
                        r.warnings[0]
                    ));
                }
            }
            Err(e) => report.notes.push(format!(
                "the globals of snapshot {} were not restored: {e}",
                g.short_id()
            )),
        }
    }
    let existing = matches!(database.as_str(), "postgres" | "template1");
    let jobs = req.drill.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(2)
    });
    let r = restore_logical(
        repo,
        snap,
        &LogicalRestoreOptions {
            dsn: if existing {
                lifeboat_postgres::tools::with_database(&admin_dsn, &database)
            } else {
                admin_dsn.clone()
            },
            into_database: (!existing).then(|| database.clone()),
            jobs: Some(jobs),
            temp_dir: Some(dir.to_path_buf()),
            no_owner: globals.is_none(),
            no_privileges: globals.is_none(),
            ..Default::default()
        },
    )
    .map_err(|e| {
        format!(
            "restoring snapshot {} into the scratch cluster failed: {e}",
            snap.short_id()
        )
    })?;
    report.restored_bytes = r.bytes;
    clock.lap(report, "restore");
    report.recovery_point.time = Some(snap.snapshot.time.clone());
    Ok(Subject {
        pg: Some(conn),
        database,
        recovery_time: Some(snap.snapshot.timestamp()),
        recorded_rows: meta.row_counts,
        ..Default::default()
    })
}

/// Parses PostgreSQL's timestamp output (`2026-12-01 14:30:00.123+00`).
fn parse_pg_time(s: &str) -> Option<jiff::Timestamp> {
    let mut t = s.trim().replacen(' ', "T", 1);
    if let Some(i) = t.rfind(['+', '-']) {
        if i > 10 && t.len() - i == 3 {
            t.push_str(":00");
        }
    }
    t.parse().ok()
}

#[allow(clippy::too_many_arguments)]
fn restore_physical_copy(
    repo: &Repository,
    req: &DrillRequest,
    report: &mut DrillReport,
    clock: &mut Clock,
    snap: &SnapshotEntry,
    dir: &Path,
    source_dsn: &str,
    cluster: &str,
    live: &mut Live,
) -> Result<Subject, String> {
    let target = match req.to.as_deref() {
        None | Some("latest") => RecoveryTarget::Latest,
        Some(to) => match lifeboat_config::parse_pitr_to(to, jiff::Timestamp::now()) {
            Ok(Some(t)) => RecoveryTarget::Time(t),
            Ok(None) => RecoveryTarget::Latest,
            Err(e) => return Err(e),
        },
    };
    let state = pitr::cluster_state(repo, Some(cluster)).map_err(|e| e.to_string())?;
    // `latest` lets the plan choose the base backup for the target; any other pick forces one.
    let explicit = (!matches!(req.pick, Pick::Latest)).then(|| snap.id.clone());
    let plan = plan_restore(&state.backups, &target, &state.end, explicit.as_deref())
        .map_err(|e| e.to_string())?;
    report.snapshot = Some(plan.snapshot_id.clone());
    report.notes.extend(plan.notes.iter().cloned());
    let data = dir.join("data");
    let tablespace_map = plan
        .meta
        .tablespaces
        .iter()
        .map(|t| (t.oid.clone(), dir.join(format!("tablespace-{}", t.oid))))
        .collect();
    let restored = pitr::restore_physical(
        repo,
        &PhysicalRestoreOptions {
            target_dir: data.clone(),
            target: target.clone(),
            snapshot: Some(plan.snapshot_id.clone()),
            cluster: Some(cluster.to_string()),
            restore_command: req.restore_command.clone(),
            archive_off: true,
            exclusive: false,
            start: None,
            tablespace_map,
            known_points: Vec::new(),
        },
        req.password,
    )
    .map_err(|e| {
        format!(
            "restoring base backup {} failed: {e}",
            &plan.snapshot_id[..8]
        )
    })?;
    report.restored_bytes = restored.bytes;
    // The copy is private (its socket lives in the drill's 0700 directory): let the drill in
    // whatever the source's own authentication rules say.
    let hba = restored.target_dir.join("pg_hba.conf");
    std::fs::write(
        &hba,
        "# lifeboat drill: a private scratch copy\nlocal all all trust\n",
    )
    .map_err(|e| format!("writing {}: {e}", hba.display()))?;
    clock.lap(report, "restore");
    cancelled(req)?;
    let run_as = server_user(req.drill.run_as.as_deref()).map_err(|e| e.to_string())?;
    let port = port_other_than(dsn_port(source_dsn)).map_err(|e| e.to_string())?;
    let tools = PgTools::locate(Some(restored.backup.server_version_num / 10000));
    live.physical = Some((tools.clone(), restored.target_dir.clone(), run_as.clone()));
    let started = pitr::start_and_wait(
        repo,
        &restored.target_dir,
        &restored.backup,
        &StartOptions {
            port: Some(port),
            keep_running: true,
            listen: None,
            timeout: req.drill.timeout,
            env: Vec::new(),
            run_as: req.drill.run_as.clone(),
        },
        req.password,
        run_as.as_ref(),
    )
    .map_err(|e| format!("WAL replay and start of the restored copy failed: {e}"))?;
    clock.lap(report, "recovery");
    let time = started
        .recovery
        .last_transaction_time
        .as_deref()
        .and_then(parse_pg_time)
        .unwrap_or_else(|| restored.backup.stop_timestamp());
    report.recovery_point = RecoveryPoint {
        time: Some(time.to_string()),
        lsn: started.recovery.lsn.clone(),
    };
    // Connect as the cluster's bootstrap superuser (whatever it is named).
    let mut conn = PgConn {
        tools,
        socket_dir: started.socket_dir.clone(),
        port: started.port,
        user: String::new(),
    };
    let mut tried = Vec::new();
    let mut candidates: Vec<String> = Vec::new();
    if let Some(u) = points_user(source_dsn) {
        candidates.push(u);
    }
    candidates.push("postgres".into());
    candidates.push(lifeboat_core::host::username());
    for u in candidates {
        conn.user = u.clone();
        match conn.tools.query_row(
            &conn.dsn("postgres"),
            "SELECT rolname FROM pg_authid WHERE oid = 10",
        ) {
            Ok(r) => {
                conn.user = r.into_iter().next().unwrap_or(u);
                break;
            }
            Err(e) => {
                tried.push(format!("{u}: {e}"));
                conn.user.clear();
            }
        }
    }
    if conn.user.is_empty() {
        return Err(format!(
            "the restored server started, but no connection succeeded ({})",
            tried.join("; ")
        ));
    }
    let database = req
        .drill
        .database
        .clone()
        .unwrap_or_else(|| "postgres".into());
    live.connect = Some(format!("psql \"{}\"", conn.dsn(&database)));
    Ok(Subject {
        pg: Some(conn),
        database,
        recovery_time: Some(time),
        ..Default::default()
    })
}

fn points_user(dsn: &str) -> Option<String> {
    dsn.split_whitespace().find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "user").then(|| v.trim_matches('\'').to_string())
    })
}

/// How long a scratch server may take to start when the plan says nothing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
