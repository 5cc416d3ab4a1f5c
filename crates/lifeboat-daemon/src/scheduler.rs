//! The scheduler loop: starts each schedule's runs when they fall due, once at start the runs
//! missed while the daemon was down (`catch_up`), and writes the heartbeat that dates a crash.

use crate::jobs::JobSpec;
use crate::runner::{Daemon, RunOptions, Submitted, Trigger};
use crate::schedule::{self, parse_time};
use chrono::{DateTime, Utc};
use lifeboat_config::Schedule;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How often the loop looks at the clock.
const TICK: Duration = Duration::from_millis(200);
/// How often the heartbeat is written.
const HEARTBEAT: Duration = Duration::from_secs(5);

struct Planned {
    schedule: Schedule,
    next: Option<DateTime<Utc>>,
}

fn jittered(s: &Schedule, t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.map(|t| t + chrono::Duration::from_std(schedule::jitter(s)).unwrap_or_default())
}

fn submit(daemon: &Arc<Daemon>, s: &Schedule, trigger: Trigger) {
    let opts = RunOptions {
        schedule: Some(s.name.clone()),
        retry: s.retry,
        timeout: s.timeout,
    };
    match daemon.submit(
        JobSpec::Scheduled(s.job.clone()),
        trigger,
        "scheduler",
        opts,
    ) {
        Ok(Submitted::Started(id)) => {
            tracing::info!("schedule {}: started job {id} ({})", s.name, trigger.name())
        }
        Ok(Submitted::Skipped { id, running }) => tracing::warn!(
            "schedule {}: job {running} is still running; run {id} recorded as skipped",
            s.name
        ),
        Err(e) => tracing::error!("schedule {}: {e}", s.name),
    }
}

/// Plans `s`: its next run, starting a missed run now when it catches up.
fn plan(daemon: &Arc<Daemon>, s: &Schedule, at_start: bool) -> Planned {
    let now = Utc::now();
    let last = daemon
        .state
        .last_scheduled(&s.name)
        .ok()
        .flatten()
        .and_then(|t| parse_time(&t));
    if at_start && s.catch_up && schedule::missed(s, last, now) {
        submit(daemon, s, Trigger::CatchUp);
        return Planned {
            schedule: s.clone(),
            next: jittered(s, schedule::next_after(&s.when, now)),
        };
    }
    let mut next = schedule::next_run(s, last, now);
    if next.is_some_and(|n| n <= now) {
        next = schedule::next_after(&s.when, now);
    }
    Planned {
        schedule: s.clone(),
        next: jittered(s, next),
    }
}

/// Runs until the daemon stops.
pub async fn run(daemon: Arc<Daemon>) {
    let mut planned: BTreeMap<String, Planned> = BTreeMap::new();
    let config = daemon.config();
    for s in config.schedules.values() {
        planned.insert(s.name.clone(), plan(&daemon, s, true));
    }
    let mut last_beat = std::time::Instant::now();
    loop {
        tokio::time::sleep(TICK).await;
        if daemon.stopping.load(Ordering::SeqCst) {
            return;
        }
        if last_beat.elapsed() >= HEARTBEAT {
            last_beat = std::time::Instant::now();
            let _ = daemon
                .state
                .set_meta("heartbeat", &jiff::Timestamp::now().to_string());
        }
        // A reload may have added, changed or removed schedules.
        let config = daemon.config();
        planned.retain(|name, _| config.schedules.contains_key(name));
        for s in config.schedules.values() {
            let changed = planned.get(&s.name).is_none_or(|p| p.schedule != *s);
            if changed {
                planned.insert(s.name.clone(), plan(&daemon, s, false));
            }
        }
        let now = Utc::now();
        for p in planned.values_mut() {
            let Some(due) = p.next else { continue };
            if due > now {
                continue;
            }
            submit(&daemon, &p.schedule, Trigger::Schedule);
            let mut next = schedule::next_after(&p.schedule.when, due);
            if next.is_some_and(|n| n <= now) {
                next = schedule::next_after(&p.schedule.when, now);
            }
            p.next = jittered(&p.schedule, next);
        }
        for p in planned.values() {
            daemon.metrics.schedule(
                &p.schedule.name,
                p.next.map(|n| n.timestamp_millis() as f64 / 1000.0),
                None,
            );
        }
    }
}

/// The next run of each schedule, for the status route.
pub fn next_runs(daemon: &Daemon) -> Vec<serde_json::Value> {
    let config = daemon.config();
    let now = Utc::now();
    config
        .schedules
        .values()
        .map(|s| {
            let last = daemon
                .state
                .last_scheduled(&s.name)
                .ok()
                .flatten()
                .and_then(|t| parse_time(&t));
            let mut next = schedule::next_run(s, last, now);
            if next.is_some_and(|n| n <= now) {
                next = schedule::next_after(&s.when, now);
            }
            serde_json::json!({
                "name": s.name,
                "job": s.job.kind(),
                "target": s.job.target(),
                "next_run": next.map(|n| n.to_rfc3339()),
                "last_run": last.map(|l| l.to_rfc3339()),
            })
        })
        .collect()
}
