//! The drill report: what was restored, every phase and check, RTO and RPO against the
//! source's targets. Its JSON is `drill run --json` and the stored evidence (`drills/<id>`,
//! docs/design/drills.md); [`DrillReport::markdown`] renders it for an auditor.

use crate::checks::{CheckResult, Verdict};
use serde::{Deserialize, Serialize};

/// The report's format version.
pub const REPORT_VERSION: u32 = 1;

/// How the drill ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillResult {
    /// The copy was restored, every check passed and every target was met.
    Passed,
    /// The drill ran; a check or a target failed.
    Failed,
    /// The drill could not run to its end (restore or start failed).
    Error,
}

impl DrillResult {
    /// `passed`, `failed` or `error`.
    pub fn name(self) -> &'static str {
        match self {
            DrillResult::Passed => "passed",
            DrillResult::Failed => "failed",
            DrillResult::Error => "error",
        }
    }
}

/// The point the drill recovered to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecoveryPoint {
    /// Its time (RFC 3339): the snapshot's time, or for physical PostgreSQL the commit time of
    /// the last replayed transaction (the base backup's end when none was replayed).
    pub time: Option<String>,
    /// Physical PostgreSQL: the LSN where replay ended.
    pub lsn: Option<String>,
}

/// One timed phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// `pick`, `restore`, `start`, `recovery`, `verify` or `check NAME`.
    pub name: String,
    /// Seconds.
    pub seconds: f64,
}

/// A kept scratch copy (`drill run --keep`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    /// The drill's scratch directory.
    pub path: String,
    /// How to connect to the restored server, when one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
    /// How to stop it and remove the copy.
    pub cleanup: String,
}

/// A drill report (see the module documentation). `id` is the stored object's name and is
/// not part of the stored bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrillReport {
    /// The stored report's id (SHA-256 of the stored object); empty until stored.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Format version ([`REPORT_VERSION`]).
    pub version: u32,
    /// The drill's name.
    pub drill: String,
    /// The source drilled.
    pub source: String,
    /// Its kind (`files`, `command`, `postgres`, `postgres-physical`).
    pub source_kind: String,
    /// The snapshot (or base backup) restored.
    pub snapshot: Option<String>,
    /// The pick as asked (`latest`, `random:30d`, an id).
    pub pick: String,
    /// Physical PostgreSQL: the recovery target asked (`latest`, a time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `passed`, `failed` or `error`.
    pub result: DrillResult,
    /// Why the drill could not run (`result = error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What failed, one line each (checks and targets).
    #[serde(default)]
    pub failures: Vec<String>,
    /// Start (RFC 3339).
    pub started: String,
    /// End (RFC 3339), after cleanup.
    pub finished: String,
    /// Seconds from the start until the copy was usable and every check had run.
    pub rto_seconds: Option<f64>,
    /// The source's RTO target.
    pub rto_target_seconds: Option<f64>,
    /// Age at drill start of the newest point the source can be recovered to.
    pub rpo_seconds: Option<f64>,
    /// The source's RPO target.
    pub rpo_target_seconds: Option<f64>,
    /// What the newest recoverable point was (for the RPO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_point: Option<String>,
    /// The point the drill recovered to.
    pub recovery_point: RecoveryPoint,
    /// Timed phases, in order.
    pub phases: Vec<Phase>,
    /// Every check, in order.
    pub checks: Vec<CheckResult>,
    /// The seed of a `random` pick (repeat with `--pick random --seed N`).
    pub seed: Option<u64>,
    /// Bytes restored.
    #[serde(default)]
    pub restored_bytes: u64,
    /// Host and user that ran the drill, and through which front end.
    pub host: String,
    /// User.
    pub user: String,
    /// Front end (`cli`, `scheduler`, `api`).
    pub via: String,
    /// Notes (leftovers of earlier drills removed, planning notes).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The kept copy (`--keep`); never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Kept>,
}

fn secs(v: Option<f64>) -> String {
    match v {
        Some(s) if s >= 3600.0 => {
            format!("{:.0}h{:02.0}m", (s / 3600.0).floor(), (s % 3600.0) / 60.0)
        }
        Some(s) if s >= 120.0 => format!("{:.0}m{:02.0}s", (s / 60.0).floor(), s % 60.0),
        Some(s) if s < 10.0 => format!("{s:.2}s"),
        Some(s) => format!("{s:.1}s"),
        None => "—".into(),
    }
}

fn target_line(what: &str, actual: Option<f64>, target: Option<f64>) -> String {
    let verdict = match (actual, target) {
        (Some(a), Some(t)) if a <= t => "met",
        (Some(_), Some(_)) => "**missed**",
        (None, Some(_)) => "not measured",
        _ => "no target",
    };
    format!(
        "| {what} | {} | {} | {verdict} |",
        secs(actual),
        secs(target)
    )
}

impl DrillReport {
    /// The report as Markdown for an auditor: what was restored, every check, RTO and RPO
    /// against their targets.
    pub fn markdown(&self) -> String {
        let mut m = String::new();
        let verdict = match self.result {
            DrillResult::Passed => "PASSED",
            DrillResult::Failed => "FAILED",
            DrillResult::Error => "COULD NOT RUN",
        };
        m.push_str(&format!("# Restore drill `{}`: {verdict}\n\n", self.drill));
        m.push_str("| | |\n|---|---|\n");
        if !self.id.is_empty() {
            m.push_str(&format!("| report | `{}` |\n", self.id));
        }
        m.push_str(&format!(
            "| source | `{}` ({}) |\n",
            self.source, self.source_kind
        ));
        m.push_str(&format!(
            "| restored | {} |\n",
            self.snapshot
                .as_deref()
                .map(|s| format!("snapshot `{s}`"))
                .unwrap_or_else(|| "nothing".into())
        ));
        let mut pick = format!("`{}`", self.pick);
        if let Some(seed) = self.seed {
            pick.push_str(&format!(" (seed {seed})"));
        }
        m.push_str(&format!("| pick | {pick} |\n"));
        if let Some(to) = &self.to {
            m.push_str(&format!("| recovery target | `{to}` |\n"));
        }
        m.push_str(&format!(
            "| recovered to | {}{} |\n",
            self.recovery_point.time.as_deref().unwrap_or("—"),
            self.recovery_point
                .lsn
                .as_deref()
                .map(|l| format!(" (LSN {l})"))
                .unwrap_or_default()
        ));
        m.push_str(&format!(
            "| ran | {} to {} on {} as {} (via {}) |\n\n",
            self.started, self.finished, self.host, self.user, self.via
        ));
        if let Some(e) = &self.error {
            m.push_str(&format!("**The drill could not run:** {e}\n\n"));
        }
        m.push_str("## Objectives\n\n| objective | measured | target | |\n|---|---|---|---|\n");
        m.push_str(&target_line(
            "RTO",
            self.rto_seconds,
            self.rto_target_seconds,
        ));
        m.push('\n');
        m.push_str(&target_line(
            "RPO",
            self.rpo_seconds,
            self.rpo_target_seconds,
        ));
        m.push_str("\n\n");
        if let Some(p) = &self.rpo_point {
            m.push_str(&format!(
                "Newest recoverable point at the drill's start: {p}.\n\n"
            ));
        }
        m.push_str("## Checks\n\n");
        if self.checks.is_empty() {
            m.push_str("No checks ran.\n\n");
        } else {
            m.push_str("| check | kind | result | seconds | detail |\n|---|---|---|---|---|\n");
            for c in &self.checks {
                let r = match c.result {
                    Verdict::Passed => "passed",
                    Verdict::Failed => "**failed**",
                };
                m.push_str(&format!(
                    "| {} | {} | {r} | {:.2} | {} |\n",
                    c.name,
                    c.kind,
                    c.seconds,
                    c.detail.replace('|', "\\|").replace('\n', "<br>")
                ));
            }
            m.push('\n');
        }
        m.push_str("## Phases\n\n| phase | seconds |\n|---|---|\n");
        for p in &self.phases {
            m.push_str(&format!("| {} | {:.2} |\n", p.name, p.seconds));
        }
        if !self.failures.is_empty() {
            m.push_str("\n## Failures\n\n");
            for f in &self.failures {
                m.push_str(&format!("- {f}\n"));
            }
        }
        if !self.notes.is_empty() {
            m.push_str("\n## Notes\n\n");
            for n in &self.notes {
                m.push_str(&format!("- {n}\n"));
            }
        }
        m
    }
}
