//! The Prometheus metrics (prometheus-client). The names, labels and meanings are a contract,
//! listed in `docs/design/daemon.md`. A gauge whose value is not known yet (no backup of a
//! source recorded) is absent, never a misleading 0.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;
type Gauges = Family<Labels, FloatGauge>;
type Counters = Family<Labels, Counter>;

fn l(key: &str, value: &str) -> Labels {
    vec![(key.to_string(), value.to_string())]
}

/// Every metric the daemon exports.
pub struct Metrics {
    registry: Registry,
    up: Gauge,
    last_shutdown_clean: Gauge,
    backup_last_success: Gauges,
    backup_last_duration: Gauges,
    backup_last_added: Gauges,
    backup_last_size: Gauges,
    backup_interval: Gauges,
    backup_failures: Counters,
    job_runs: Counters,
    rpo: Gauges,
    rpo_target: Gauges,
    wal_last: Gauges,
    drill_last_success: Gauges,
    drill_last_result: Gauges,
    drill_last_rto: Gauges,
    drill_last_rpo: Gauges,
    repo_size: Gauges,
    repo_reachable: Gauges,
    repo_check_errors: Gauges,
    mode: Gauges,
    notification_failures: Counters,
    schedule_next: Gauges,
    schedule_interval: Gauges,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            registry: Registry::default(),
            up: Gauge::default(),
            last_shutdown_clean: Gauge::default(),
            backup_last_success: Gauges::default(),
            backup_last_duration: Gauges::default(),
            backup_last_added: Gauges::default(),
            backup_last_size: Gauges::default(),
            backup_interval: Gauges::default(),
            backup_failures: Counters::default(),
            job_runs: Counters::default(),
            rpo: Gauges::default(),
            rpo_target: Gauges::default(),
            wal_last: Gauges::default(),
            drill_last_success: Gauges::default(),
            drill_last_result: Gauges::default(),
            drill_last_rto: Gauges::default(),
            drill_last_rpo: Gauges::default(),
            repo_size: Gauges::default(),
            repo_reachable: Gauges::default(),
            repo_check_errors: Gauges::default(),
            mode: Gauges::default(),
            notification_failures: Counters::default(),
            schedule_next: Gauges::default(),
            schedule_interval: Gauges::default(),
        };
        registry.register("lifeboat_up", "1 while the daemon runs", m.up.clone());
        registry.register(
            "lifeboat_last_shutdown_clean",
            "0 when the daemon found at start that its previous run had crashed",
            m.last_shutdown_clean.clone(),
        );
        let gauges: [(&str, &str, &Gauges); 18] = [
            ("lifeboat_backup_last_success_timestamp_seconds", "End of the last successful backup of the source (Unix time)", &m.backup_last_success),
            ("lifeboat_backup_last_duration_seconds", "Duration of the last successful backup of the source", &m.backup_last_duration),
            ("lifeboat_backup_last_added_bytes", "Bytes the last backup of the source added to the repository, after deduplication and compression", &m.backup_last_added),
            ("lifeboat_backup_last_size_bytes", "Logical size of the last backup of the source", &m.backup_last_size),
            ("lifeboat_backup_interval_seconds", "The shortest interval of the source's backup schedules", &m.backup_interval),
            ("lifeboat_rpo_seconds", "Now minus the newest point the source can be recovered to (physical PostgreSQL: the newest archived WAL)", &m.rpo),
            ("lifeboat_rpo_target_seconds", "The source's RPO target ([targets.SOURCE] rpo)", &m.rpo_target),
            ("lifeboat_wal_archive_last_timestamp_seconds", "Archive time of the cluster's newest WAL segment (Unix time)", &m.wal_last),
            ("lifeboat_drill_last_success_timestamp_seconds", "End of the drill's last passed run (Unix time)", &m.drill_last_success),
            ("lifeboat_drill_last_result", "Result of the drill's last run: 1 passed, 0 failed", &m.drill_last_result),
            ("lifeboat_drill_last_rto_seconds", "RTO measured by the drill's last run", &m.drill_last_rto),
            ("lifeboat_drill_last_rpo_seconds", "RPO measured by the drill's last run", &m.drill_last_rpo),
            ("lifeboat_repository_size_bytes", "Bytes of packs and indexes in the repository", &m.repo_size),
            ("lifeboat_repository_reachable", "1 when the last probe opened the repository", &m.repo_reachable),
            ("lifeboat_repository_check_errors", "Errors found by the repository's last check", &m.repo_check_errors),
            ("lifeboat_mode", "1 for the mode in force (the most restrictive of the repositories' modes)", &m.mode),
            ("lifeboat_schedule_next_run_timestamp_seconds", "When the schedule runs next (Unix time)", &m.schedule_next),
            ("lifeboat_schedule_interval_seconds", "The schedule's interval", &m.schedule_interval),
        ];
        for (name, help, family) in gauges {
            registry.register(name, help, family.clone());
        }
        let counters: [(&str, &str, &Counters); 3] = [
            (
                "lifeboat_backup_failures",
                "Failed backup attempts of the source",
                &m.backup_failures,
            ),
            (
                "lifeboat_job_runs",
                "Finished runs by job and end state",
                &m.job_runs,
            ),
            (
                "lifeboat_notification_failures",
                "Notifications that failed after every retry",
                &m.notification_failures,
            ),
        ];
        for (name, help, family) in counters {
            registry.register(name, help, family.clone());
        }
        Metrics { registry, ..m }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String");
        out
    }

    /// Sets `lifeboat_up` and `lifeboat_last_shutdown_clean`.
    pub fn started(&self, clean: bool) {
        self.up.set(1);
        self.last_shutdown_clean.set(i64::from(clean));
    }

    /// A successful backup of `source` that ended at `end` (Unix seconds).
    pub fn backup_succeeded(&self, source: &str, end: f64, duration: f64, added: f64, size: f64) {
        let k = l("source", source);
        self.backup_last_success.get_or_create(&k).set(end);
        self.backup_last_duration.get_or_create(&k).set(duration);
        self.backup_last_added.get_or_create(&k).set(added);
        self.backup_last_size.get_or_create(&k).set(size);
    }

    /// A failed backup attempt of `source`.
    pub fn backup_failed(&self, source: &str) {
        self.backup_failures
            .get_or_create(&l("source", source))
            .inc();
    }

    /// Makes `lifeboat_backup_failures_total{source}` exist (at 0) for a configured source.
    pub fn backup_known(&self, source: &str) {
        let _ = self.backup_failures.get_or_create(&l("source", source));
    }

    /// The shortest interval of `source`'s backup schedules.
    pub fn backup_interval(&self, source: &str, seconds: f64) {
        self.backup_interval
            .get_or_create(&l("source", source))
            .set(seconds);
    }

    /// A finished run.
    pub fn job_finished(&self, job: &str, result: &str) {
        let k = vec![
            ("job".to_string(), job.to_string()),
            ("result".to_string(), result.to_string()),
        ];
        self.job_runs.get_or_create(&k).inc();
    }

    /// The source's live RPO and its target.
    pub fn rpo(&self, source: &str, rpo: Option<f64>, target: Option<f64>) {
        let k = l("source", source);
        if let Some(v) = rpo {
            self.rpo.get_or_create(&k).set(v);
        }
        if let Some(v) = target {
            self.rpo_target.get_or_create(&k).set(v);
        }
    }

    /// The archive time of the cluster's newest WAL segment.
    pub fn wal_archived(&self, cluster: &str, at: f64) {
        self.wal_last.get_or_create(&l("cluster", cluster)).set(at);
    }

    /// The drill's last run.
    pub fn drill(&self, drill: &str, passed: bool, end: f64, rto: Option<f64>, rpo: Option<f64>) {
        let k = l("drill", drill);
        self.drill_last_result
            .get_or_create(&k)
            .set(if passed { 1.0 } else { 0.0 });
        if passed {
            self.drill_last_success.get_or_create(&k).set(end);
        }
        if let Some(v) = rto {
            self.drill_last_rto.get_or_create(&k).set(v);
        }
        if let Some(v) = rpo {
            self.drill_last_rpo.get_or_create(&k).set(v);
        }
    }

    /// When the drill last passed (a later run may have failed).
    pub fn drill_success_at(&self, drill: &str, end: f64) {
        self.drill_last_success
            .get_or_create(&l("drill", drill))
            .set(end);
    }

    /// A repository probe.
    pub fn repository(&self, repository: &str, reachable: bool, size: Option<f64>) {
        let k = l("repository", repository);
        self.repo_reachable
            .get_or_create(&k)
            .set(if reachable { 1.0 } else { 0.0 });
        if let Some(s) = size {
            self.repo_size.get_or_create(&k).set(s);
        }
    }

    /// The errors of the repository's last check.
    pub fn check_errors(&self, repository: &str, errors: f64) {
        self.repo_check_errors
            .get_or_create(&l("repository", repository))
            .set(errors);
    }

    /// The mode in force.
    pub fn mode(&self, mode: &str) {
        for m in ["normal", "degraded", "read-only"] {
            self.mode
                .get_or_create(&l("mode", m))
                .set(if m == mode { 1.0 } else { 0.0 });
        }
    }

    /// A notification that failed after its retries.
    pub fn notification_failed(&self, name: &str) {
        self.notification_failures
            .get_or_create(&l("notification", name))
            .inc();
    }

    /// A schedule's next run and interval.
    pub fn schedule(&self, name: &str, next: Option<f64>, interval: Option<f64>) {
        let k = l("schedule", name);
        if let Some(n) = next {
            self.schedule_next.get_or_create(&k).set(n);
        }
        if let Some(i) = interval {
            self.schedule_interval.get_or_create(&k).set(i);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exposition_has_the_contract_names() {
        let m = super::Metrics::new();
        m.started(false);
        m.backup_succeeded("app", 1.0e9, 2.5, 10.0, 100.0);
        m.backup_failed("app");
        m.job_finished("backup", "succeeded");
        m.mode("normal");
        let text = m.render();
        for name in [
            "lifeboat_up 1",
            "lifeboat_last_shutdown_clean 0",
            "lifeboat_backup_last_success_timestamp_seconds{source=\"app\"} 1000000000",
            "lifeboat_backup_last_duration_seconds{source=\"app\"} 2.5",
            "lifeboat_backup_failures_total{source=\"app\"} 1",
            "lifeboat_job_runs_total{job=\"backup\",result=\"succeeded\"} 1",
            "lifeboat_mode{mode=\"normal\"} 1",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
        assert!(!text.contains("lifeboat_rpo_seconds{"), "{text}");
    }
}
