//! The prober: what the repositories say about themselves, read every `probe_interval` and
//! after every run, cached for the status route, the dashboard and the metrics. At start it
//! fills the metrics from the repositories (the newest snapshot of each source, the newest
//! drill report), so a restart of the daemon does not reset "last success" gauges.

use crate::jobs;
use crate::runner::Daemon;
use lifeboat_config::Config;
use lifeboat_drill::points::{newest_point, snapshots_of};
use lifeboat_ops::Context;
use serde::Serialize;
use std::collections::BTreeMap;

/// One repository as the last probe found it.
#[derive(Clone, Debug, Serialize)]
pub struct RepoStatus {
    /// Its configured name.
    pub name: String,
    /// Its location.
    pub url: String,
    /// True when the probe opened it.
    pub reachable: bool,
    /// Its mode.
    pub mode: Option<String>,
    /// Bytes stored.
    pub size_bytes: Option<u64>,
    /// Snapshots.
    pub snapshots: Option<usize>,
    /// Why it could not be opened.
    pub error: Option<String>,
    /// The last check run by the daemon.
    pub last_check: Option<serde_json::Value>,
}

/// The newest backup of a source.
#[derive(Clone, Debug, Serialize)]
pub struct LastBackup {
    /// When (RFC 3339).
    pub at: String,
    /// The snapshot id.
    pub snapshot: String,
    /// Its short id.
    pub short_id: String,
    /// Logical size.
    pub size_bytes: u64,
    /// Bytes it added.
    pub added_bytes: u64,
    /// How long it took.
    pub duration_seconds: f64,
}

/// A source as the last probe found it.
#[derive(Clone, Debug, Serialize)]
pub struct SourceStatus {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its repository.
    pub repository: String,
    /// The newest snapshot.
    pub last_backup: Option<LastBackup>,
    /// The newest point it can be recovered to (physical: WAL included), Unix milliseconds.
    #[serde(skip)]
    pub newest_point_ms: Option<i64>,
    /// What that point is.
    pub newest_point: Option<String>,
    /// The RPO target, seconds.
    pub rpo_target_seconds: Option<f64>,
    /// The RTO target, seconds.
    pub rto_target_seconds: Option<f64>,
    /// Snapshots of the source.
    pub snapshots: usize,
}

/// A drill's newest report.
#[derive(Clone, Debug, Serialize)]
pub struct DrillStatus {
    /// The drill.
    pub name: String,
    /// Its source.
    pub source: String,
    /// The newest report, if any.
    pub last: Option<serde_json::Value>,
}

/// What the last probe found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Probe {
    /// When it ran.
    pub at: Option<String>,
    /// Repositories.
    pub repositories: Vec<RepoStatus>,
    /// Sources.
    pub sources: Vec<SourceStatus>,
    /// Drills.
    pub drills: Vec<DrillStatus>,
}

fn secs(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

/// Probes every configured repository (blocking: call from a blocking thread).
pub fn probe(daemon: &Daemon) -> Probe {
    let config = daemon.config();
    let ctx = Context::new(lifeboat_ops::Actor {
        user: "daemon".into(),
        front_end: lifeboat_ops::FrontEnd::Scheduler,
    });
    let mut out = Probe {
        at: Some(jiff::Timestamp::now().to_string()),
        ..Default::default()
    };
    let mut opened = BTreeMap::new();
    let mut worst_mode = "normal";
    for (name, r) in &config.repositories {
        let last_check = daemon
            .state
            .last_of("check", name, &["succeeded", "failed"])
            .ok()
            .flatten()
            .map(|run| {
                let errors = run
                    .report
                    .as_ref()
                    .and_then(|r| r.get("errors"))
                    .and_then(|e| e.as_array())
                    .map_or(0, Vec::len);
                serde_json::json!({
                    "at": run.ended_at,
                    "ok": run.state == "succeeded",
                    "errors": errors,
                    "job": run.id,
                })
            });
        let mut status = RepoStatus {
            name: name.clone(),
            url: r.url.clone(),
            reachable: false,
            mode: None,
            size_bytes: None,
            snapshots: None,
            error: None,
            last_check,
        };
        match jobs::open(&config, name) {
            Ok((repo, _)) => {
                status.reachable = true;
                if let Ok(m) = lifeboat_ops::mode::show(&ctx, &repo) {
                    let mode = m.mode.name();
                    if rank(mode) > rank(worst_mode) {
                        worst_mode = mode;
                    }
                    status.mode = Some(mode.to_string());
                }
                match lifeboat_ops::list::stats(&ctx, &repo) {
                    Ok(s) => {
                        status.size_bytes = Some(s.repository_size);
                        status.snapshots = Some(s.snapshots);
                    }
                    Err(e) => status.error = Some(e.to_string()),
                }
                daemon
                    .metrics
                    .repository(name, true, status.size_bytes.map(|s| s as f64));
                if let Ok(w) = lifeboat_ops::wal::show(&ctx, &repo) {
                    for c in w.clusters {
                        if let Some(t) = c
                            .newest_archived_at
                            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        {
                            daemon
                                .metrics
                                .wal_archived(&c.cluster, t.as_millisecond() as f64 / 1000.0);
                        }
                    }
                }
                opened.insert(name.clone(), repo);
            }
            Err(e) => {
                status.error = Some(e.message.clone());
                daemon.metrics.repository(name, false, None);
            }
        }
        out.repositories.push(status);
    }
    daemon.metrics.mode(worst_mode);

    for (name, src) in &config.sources {
        let target = config.targets.get(name);
        let mut status = SourceStatus {
            name: name.clone(),
            kind: src.kind.name().to_string(),
            repository: src.repository.clone(),
            last_backup: None,
            newest_point_ms: None,
            newest_point: None,
            rpo_target_seconds: target.and_then(|t| t.rpo).map(secs),
            rto_target_seconds: target.and_then(|t| t.rto).map(secs),
            snapshots: 0,
        };
        daemon.metrics.backup_known(name);
        if let Some(repo) = opened.get(&src.repository) {
            let all = repo.snapshots().unwrap_or_default();
            let mine = snapshots_of(&all, src, None);
            status.snapshots = mine.len();
            if let Some(s) = mine.last() {
                let summary = s.snapshot.summary.clone().unwrap_or_default();
                let at = s.snapshot.timestamp();
                status.last_backup = Some(LastBackup {
                    at: s.snapshot.time.clone(),
                    snapshot: s.id.clone(),
                    short_id: s.short_id().to_string(),
                    size_bytes: summary.total_bytes,
                    added_bytes: summary.bytes_added,
                    duration_seconds: summary.duration_seconds,
                });
                let end = at.as_millisecond() as f64 / 1000.0 + summary.duration_seconds;
                daemon.metrics.backup_succeeded(
                    name,
                    end,
                    summary.duration_seconds,
                    summary.bytes_added as f64,
                    summary.total_bytes as f64,
                );
            }
            if let Ok(Some(p)) = newest_point(repo, src, &mine) {
                status.newest_point_ms = Some(p.time.as_millisecond());
                status.newest_point = Some(p.what);
            }
        }
        out.sources.push(status);
    }
    update_rpo(daemon, &out);

    for (name, d) in &config.drills {
        let mut status = DrillStatus {
            name: name.clone(),
            source: d.source.clone(),
            last: None,
        };
        let repo = config
            .sources
            .get(&d.source)
            .and_then(|s| opened.get(&s.repository));
        if let Some(repo) = repo {
            if let Ok(list) = lifeboat_ops::drill::list(&ctx, repo, Some(name)) {
                if let Some(last) = list.last() {
                    let end = last
                        .started
                        .parse::<jiff::Timestamp>()
                        .map(|t| {
                            t.as_millisecond() as f64 / 1000.0 + last.rto_seconds.unwrap_or(0.0)
                        })
                        .unwrap_or(0.0);
                    let passed = last.result == lifeboat_drill::report::DrillResult::Passed;
                    daemon
                        .metrics
                        .drill(name, passed, end, last.rto_seconds, last.rpo_seconds);
                    // The newest passed run sets the success timestamp even when the last
                    // one failed.
                    if !passed {
                        if let Some(ok) = list
                            .iter()
                            .rev()
                            .find(|r| r.result == lifeboat_drill::report::DrillResult::Passed)
                        {
                            if let Ok(t) = ok.started.parse::<jiff::Timestamp>() {
                                daemon.metrics.drill_success_at(
                                    name,
                                    t.as_millisecond() as f64 / 1000.0
                                        + ok.rto_seconds.unwrap_or(0.0),
                                );
                            }
                        }
                    }
                    status.last = serde_json::to_value(last).ok();
                }
            }
        }
        out.drills.push(status);
    }
    backup_intervals(daemon, &config);
    out
}

/// Sets `lifeboat_rpo_seconds` (now − the newest point) and the targets.
pub fn update_rpo(daemon: &Daemon, p: &Probe) {
    let now = jiff::Timestamp::now().as_millisecond();
    for s in &p.sources {
        let rpo = s.newest_point_ms.map(|t| (now - t) as f64 / 1000.0);
        daemon.metrics.rpo(&s.name, rpo, s.rpo_target_seconds);
    }
}

/// Sets `lifeboat_backup_interval_seconds` and the schedule gauges.
fn backup_intervals(daemon: &Daemon, config: &Config) {
    let now = chrono::Utc::now();
    let mut shortest: BTreeMap<&str, f64> = BTreeMap::new();
    for s in config.schedules.values() {
        let interval = crate::schedule::interval(&s.when, now).map(secs);
        if let (lifeboat_config::ScheduledJob::Backup { source }, Some(i)) = (&s.job, interval) {
            let e = shortest.entry(source.as_str()).or_insert(i);
            *e = e.min(i);
        }
        daemon.metrics.schedule(&s.name, None, interval);
    }
    for (source, i) in shortest {
        daemon.metrics.backup_interval(source, i);
    }
}

fn rank(mode: &str) -> u8 {
    match mode {
        "normal" => 0,
        "degraded" => 1,
        _ => 2,
    }
}
