//! The runner: every job of the daemon, scheduled or asked for through the API, goes through
//! [`Daemon::submit`]. It records the run before anything happens, keeps the same job (kind
//! and target) from running twice at once, runs each attempt on its own thread with a
//! timeout, retries with exponential backoff, records the end state, updates the metrics and
//! sends the notifications.

use crate::jobs::{self, Env, JobError, JobSpec};
use crate::metrics::Metrics;
use crate::notify::{Event, Notifier};
use crate::state::{State, StateError};
use lifeboat_config::{Config, Retry, ScheduledJob};
use lifeboat_ops::{Actor, Context, FrontEnd};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How a run was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Its schedule fell due.
    Schedule,
    /// A run missed while the daemon was down.
    CatchUp,
    /// An API request.
    Api,
}

impl Trigger {
    /// `schedule`, `catch_up` or `api`.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::CatchUp => "catch_up",
            Trigger::Api => "api",
        }
    }
}

/// What [`Daemon::submit`] did.
#[derive(Debug)]
pub enum Submitted {
    /// The run was queued and started.
    Started(i64),
    /// The same job was running: a `skipped` run was recorded.
    Skipped {
        /// The skipped run.
        id: i64,
        /// The run that is running.
        running: i64,
    },
}

/// How a run should be carried out.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The schedule that started it.
    pub schedule: Option<String>,
    /// Retries.
    pub retry: Retry,
    /// The longest an attempt may take.
    pub timeout: Option<Duration>,
}

/// A run in progress.
#[derive(Clone)]
pub struct Running {
    /// Its id.
    pub id: i64,
    /// Its context (progress counters and cancellation).
    pub ctx: Context,
}

/// The daemon's shared state: configuration, state database, metrics, notifier and the runs
/// in progress.
pub struct Daemon {
    /// The state database.
    pub state: State,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    config: RwLock<Arc<Config>>,
    notifier: RwLock<Notifier>,
    running: Mutex<HashMap<String, Running>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// True once shutdown started: no new runs, no more retries.
    pub stopping: AtomicBool,
    /// This program (for drills' restore_command).
    pub exe: PathBuf,
    /// When this daemon started (RFC 3339).
    pub started_at: String,
    /// Wakes the prober after a run ended.
    pub probe_now: tokio::sync::Notify,
    /// `last_shutdown` and when, as found at start.
    pub last_shutdown: (String, Option<String>),
    /// The state directory.
    pub state_dir: PathBuf,
}

impl Daemon {
    /// A daemon over `state` with `config`.
    pub fn new(
        config: Config,
        state: State,
        metrics: Arc<Metrics>,
        last_shutdown: (String, Option<String>),
        state_dir: PathBuf,
    ) -> Arc<Daemon> {
        let notifier = Notifier::new(
            config.notifications.values().cloned().collect(),
            metrics.clone(),
        );
        Arc::new(Daemon {
            state,
            metrics,
            config: RwLock::new(Arc::new(config)),
            notifier: RwLock::new(notifier),
            running: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("lifeboat")),
            started_at: jiff::Timestamp::now().to_string(),
            probe_now: tokio::sync::Notify::new(),
            last_shutdown,
            state_dir,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the configuration (after it was loaded and validated).
    pub fn set_config(&self, config: Config) {
        let notifier = Notifier::new(
            config.notifications.values().cloned().collect(),
            self.metrics.clone(),
        );
        *self.notifier.write().unwrap_or_else(|e| e.into_inner()) = notifier;
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

    /// Sends an event to the notifications that want it.
    pub fn notify(&self, event: Event) {
        self.notifier
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .send(event);
    }

    /// The runs in progress.
    pub fn running(&self) -> Vec<Running> {
        let mut v: Vec<Running> = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by_key(|r| r.id);
        v
    }

    /// The run in progress with id `id`.
    pub fn running_run(&self, id: i64) -> Option<Running> {
        self.running().into_iter().find(|r| r.id == id)
    }

    /// Starts `spec` for `actor` (unless the same job is running), returning at once.
    pub fn submit(
        self: &Arc<Self>,
        spec: JobSpec,
        trigger: Trigger,
        actor: &str,
        opts: RunOptions,
    ) -> Result<Submitted, StateError> {
        let key = format!("{}:{}", spec.kind(), spec.target());
        let front_end = if trigger == Trigger::Api {
            FrontEnd::Api
        } else {
            FrontEnd::Scheduler
        };
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = running.get(&key) {
            let id = self.state.insert_skipped(
                spec.kind(),
                &spec.target(),
                opts.schedule.as_deref(),
                trigger.name(),
                actor,
                &format!("already running as job {}", r.id),
            )?;
            self.metrics.job_finished(spec.kind(), "skipped");
            return Ok(Submitted::Skipped { id, running: r.id });
        }
        let id = self.state.insert(
            spec.kind(),
            &spec.target(),
            opts.schedule.as_deref(),
            trigger.name(),
            actor,
        )?;
        let ctx = Context::new(Actor {
            user: actor.to_string(),
            front_end,
        });
        running.insert(
            key.clone(),
            Running {
                id,
                ctx: ctx.clone(),
            },
        );
        drop(running);
        let me = self.clone();
        let handle = std::thread::Builder::new()
            .name(format!("job-{id}"))
            .spawn(move || {
                me.run(id, &spec, &ctx, &opts);
                me.running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
                me.probe_now.notify_one();
            })
            .expect("spawning a job thread");
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        Ok(Submitted::Started(id))
    }

    /// Records a run that already happened in the caller (the stream upload, which must read
    /// the request body while it arrives) and returns its id; the caller runs `f`.
    pub fn run_inline(
        self: &Arc<Self>,
        job: &str,
        target: &str,
        actor: &str,
        f: impl FnOnce(&Context) -> Result<Value, JobError>,
    ) -> Result<(i64, Result<Value, JobError>), StateError> {
        let id = self
            .state
            .insert(job, target, None, Trigger::Api.name(), actor)?;
        self.state.start(id, 1)?;
        let ctx = Context::new(Actor {
            user: actor.to_string(),
            front_end: FrontEnd::Api,
        });
        let r = f(&ctx);
        match &r {
            Ok(report) => {
                self.state
                    .finish(id, "succeeded", None, None, Some(report))?;
                self.metrics.job_finished(job, "succeeded");
            }
            Err(e) => {
                self.state
                    .finish(id, "failed", Some(&e.message), e.hint.as_deref(), None)?;
                self.metrics.job_finished(job, "failed");
            }
        }
        self.probe_now.notify_one();
        Ok((id, r))
    }

    /// Cancels every run and waits up to `timeout` for them to stop.
    pub fn stop_all(&self, timeout: Duration) -> bool {
        self.stopping.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + timeout;
        for r in self.running() {
            r.ctx.cancel_token().cancel();
        }
        loop {
            if self.running().is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        true
    }

    fn run(&self, id: i64, spec: &JobSpec, ctx: &Context, opts: &RunOptions) {
        let config = self.config();
        let env = Env {
            config: &config,
            exe: self.exe.clone(),
        };
        let attempts = opts.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            if let Err(e) = self.state.start(id, attempt) {
                tracing::error!("job {id}: {e}");
            }
            let started = Instant::now();
            let timed_out = Arc::new(AtomicBool::new(false));
            let done = Arc::new(AtomicBool::new(false));
            if let Some(limit) = opts.timeout {
                let (token, timed_out, done) =
                    (ctx.cancel_token().clone(), timed_out.clone(), done.clone());
                std::thread::spawn(move || {
                    while started.elapsed() < limit {
                        if done.load(Ordering::SeqCst) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    if !done.load(Ordering::SeqCst) {
                        timed_out.store(true, Ordering::SeqCst);
                        token.cancel();
                    }
                });
            }
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                jobs::execute(&env, ctx, spec)
            }))
            .unwrap_or_else(|p| {
                Err(JobError {
                    message: format!(
                        "the job panicked: {}",
                        p.downcast_ref::<String>()
                            .map(String::as_str)
                            .or(p.downcast_ref::<&str>().copied())
                            .unwrap_or("?")
                    ),
                    hint: None,
                    unreachable: false,
                    cancelled: false,
                    report: None,
                })
            });
            done.store(true, Ordering::SeqCst);
            let elapsed = started.elapsed().as_secs_f64();
            match result {
                Ok(report) => {
                    self.succeeded(id, spec, &report, elapsed);
                    return;
                }
                Err(mut e) => {
                    if timed_out.load(Ordering::SeqCst) {
                        e.message = format!(
                            "timed out after {}s (the schedule's timeout): {}",
                            opts.timeout.map_or(0, |t| t.as_secs()),
                            e.message
                        );
                        e.cancelled = false;
                    }
                    self.attempt_failed(id, spec, &e);
                    let stop = e.cancelled || self.stopping.load(Ordering::SeqCst);
                    if stop {
                        let state = if self.stopping.load(Ordering::SeqCst) && !e.cancelled {
                            "interrupted"
                        } else {
                            "cancelled"
                        };
                        self.finished(id, spec, state, &e);
                        return;
                    }
                    if attempt >= attempts {
                        self.finished(id, spec, "failed", &e);
                        return;
                    }
                    let _ = self.state.attempt_failed(id, &e.message, e.hint.as_deref());
                    attempt += 1;
                    let wait = opts.retry.delay(attempt);
                    tracing::warn!(
                        "job {id} ({} {}): attempt {} failed: {}; retrying in {wait:?}",
                        spec.kind(),
                        spec.target(),
                        attempt - 1,
                        e.message
                    );
                    let until = Instant::now() + wait;
                    while Instant::now() < until {
                        if ctx.cancel_token().is_cancelled() || self.stopping.load(Ordering::SeqCst)
                        {
                            let state = if ctx.cancel_token().is_cancelled()
                                && !self.stopping.load(Ordering::SeqCst)
                            {
                                "cancelled"
                            } else {
                                "interrupted"
                            };
                            self.finished(id, spec, state, &e);
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        }
    }

    fn succeeded(&self, id: i64, spec: &JobSpec, report: &Value, elapsed: f64) {
        if let Err(e) = self.state.finish(id, "succeeded", None, None, Some(report)) {
            tracing::error!("job {id}: {e}");
        }
        self.metrics.job_finished(spec.kind(), "succeeded");
        let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
        match spec {
            JobSpec::Scheduled(ScheduledJob::Backup { source }) => {
                let (size, added) = backup_numbers(report);
                self.metrics
                    .backup_succeeded(source, now, elapsed, added, size);
                let mut ev = Event::new(
                    "backup_succeeded",
                    Some(source),
                    format!("backup of {source} succeeded in {elapsed:.1}s"),
                );
                ev.job = Some(id);
                self.notify(ev);
            }
            JobSpec::Scheduled(ScheduledJob::Drill { drill }) => {
                self.drill_metrics(drill, report, true, now);
                let mut ev =
                    Event::new("drill_passed", Some(drill), format!("drill {drill} passed"));
                ev.job = Some(id);
                self.notify(ev);
            }
            JobSpec::Scheduled(ScheduledJob::Check { repository, .. }) => {
                self.metrics.check_errors(repository, 0.0);
            }
            _ => {}
        }
        tracing::info!("job {id} ({} {}) succeeded", spec.kind(), spec.target());
    }

    fn drill_metrics(&self, drill: &str, report: &Value, passed: bool, now: f64) {
        self.metrics.drill(
            drill,
            passed,
            now,
            report.get("rto_seconds").and_then(Value::as_f64),
            report.get("rpo_seconds").and_then(Value::as_f64),
        );
    }

    fn attempt_failed(&self, id: i64, spec: &JobSpec, e: &JobError) {
        if let JobSpec::Scheduled(ScheduledJob::Backup { source }) = spec {
            self.metrics.backup_failed(source);
        }
        tracing::warn!(
            "job {id} ({} {}): {}",
            spec.kind(),
            spec.target(),
            e.message
        );
        if e.unreachable {
            let config = self.config();
            for r in spec.repositories(&config) {
                self.metrics.repository(&r, false, None);
                let mut ev = Event::new("repository_unreachable", Some(&r), e.message.clone());
                ev.job = Some(id);
                ev.hint = e.hint.clone();
                self.notify(ev);
            }
        }
    }

    fn finished(&self, id: i64, spec: &JobSpec, state: &str, e: &JobError) {
        if let Err(err) = self.state.finish(
            id,
            state,
            Some(&e.message),
            e.hint.as_deref(),
            e.report.as_deref(),
        ) {
            tracing::error!("job {id}: {err}");
        }
        self.metrics.job_finished(spec.kind(), state);
        if state != "failed" {
            return;
        }
        let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
        let (event, subject) = match spec {
            JobSpec::Scheduled(ScheduledJob::Backup { source }) => {
                ("backup_failed", source.clone())
            }
            JobSpec::Scheduled(ScheduledJob::Drill { drill }) => {
                if let Some(r) = &e.report {
                    self.drill_metrics(drill, r, false, now);
                }
                ("drill_failed", drill.clone())
            }
            JobSpec::Scheduled(ScheduledJob::Check { repository, .. }) => {
                if let Some(n) = e
                    .report
                    .as_ref()
                    .and_then(|r| r.get("errors"))
                    .and_then(Value::as_array)
                {
                    self.metrics.check_errors(repository, n.len() as f64);
                }
                ("job_failed", spec.target())
            }
            _ => ("job_failed", spec.target()),
        };
        let mut ev = Event::new(
            event,
            Some(&subject),
            format!("{} {} failed: {}", spec.kind(), spec.target(), e.message),
        );
        ev.job = Some(id);
        ev.hint = e.hint.clone();
        self.notify(ev);
    }
}

/// The logical size and the added bytes of a backup report (summed over its snapshots).
pub fn backup_numbers(report: &Value) -> (f64, f64) {
    fn walk(v: &Value, acc: &mut (f64, f64)) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| walk(i, acc)),
            Value::Object(map) => {
                if let Some(s) = map.get("summary").and_then(Value::as_object) {
                    acc.0 += s.get("total_bytes").and_then(Value::as_f64).unwrap_or(0.0);
                    acc.1 += s.get("bytes_added").and_then(Value::as_f64).unwrap_or(0.0);
                }
            }
            _ => {}
        }
    }
    let mut acc = (0.0, 0.0);
    walk(report, &mut acc);
    acc
}
