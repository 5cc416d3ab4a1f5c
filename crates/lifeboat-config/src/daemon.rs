//! The daemon's sections: `[daemon]` (listening, tokens, state), `[schedules.NAME]` and
//! `[notifications.NAME]` (specified in `docs/design/daemon.md`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The default `listen` address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8420";
/// The default `state_dir`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/lifeboat";

/// `[daemon]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// `listen`: the API's address (default `127.0.0.1:8420`).
    pub listen: SocketAddr,
    /// `tls_cert` and `tls_key` (PEM files); required for a non-loopback `listen`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `state_dir`, when given (else `LIFEBOAT_STATE_DIR`, else `/var/lib/lifeboat`).
    pub state_dir: Option<PathBuf>,
    /// `shutdown_timeout`: how long running jobs may take to stop at SIGTERM (default 30 s).
    pub shutdown_timeout: Duration,
    /// `metrics_public`: `/metrics` needs no token.
    pub metrics_public: bool,
    /// `restore_roots`: the directories under which API restores may write.
    pub restore_roots: Vec<PathBuf>,
    /// `max_body`: the JSON request body limit in bytes (default 1 MiB).
    pub max_body: usize,
    /// `probe_interval`: how often repositories are probed for the metrics (default 60 s).
    pub probe_interval: Duration,
    /// `[daemon.tokens.NAME]`.
    pub tokens: BTreeMap<String, Token>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            listen: DEFAULT_LISTEN.parse().expect("default listen address"),
            tls: None,
            state_dir: None,
            shutdown_timeout: Duration::from_secs(30),
            metrics_public: false,
            restore_roots: Vec::new(),
            max_body: 1 << 20,
            probe_interval: Duration::from_secs(60),
            tokens: BTreeMap::new(),
        }
    }
}

/// An API role; ordered: read < operator < admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads status, snapshots, jobs, drills, the journal and metrics.
    Read,
    /// Also starts backups and drills and cancels jobs.
    Operator,
    /// Also restores and changes the mode.
    Admin,
}

impl Role {
    /// `read`, `operator` or `admin`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(Role::Read),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role '{other}' (expected read, operator or admin)"
            )),
        }
    }
}

/// `[daemon.tokens.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The section's name, recorded as the actor of what the token does.
    pub name: String,
    /// `role`.
    pub role: Role,
    /// `hash`: `sha256:` and the hex SHA-256 of the token.
    pub hash: String,
}

/// When a schedule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// `cron = "…"` (croner syntax) in `timezone` (an IANA name, default UTC).
    Cron {
        /// The expression as written.
        expression: String,
        /// The time zone.
        timezone: String,
    },
    /// `every = "10m"`.
    Every(Duration),
}

/// `retry = { attempts, backoff, max_backoff }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// The wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 1,
            backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(1800),
        }
    }
}

impl Retry {
    /// The wait before attempt `attempt` (2, 3, …): `backoff · 2^(attempt−2)`, at most
    /// `max_backoff`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(30);
        self.backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }
}

/// What a schedule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduledJob {
    /// `job = "backup"`, `source = NAME`.
    Backup {
        /// The source.
        source: String,
    },
    /// `job = "forget"`, `policy = NAME`.
    Forget {
        /// The retention policy.
        policy: String,
    },
    /// `job = "prune"`, `repository = NAME`.
    Prune {
        /// The repository.
        repository: String,
    },
    /// `job = "check"`, `repository = NAME`, `read_data`.
    Check {
        /// The repository.
        repository: String,
        /// Also read every pack.
        read_data: bool,
    },
    /// `job = "drill"`, `drill = NAME`.
    Drill {
        /// The drill.
        drill: String,
    },
    /// `job = "copy"`, `repository` (from) and `destination`.
    Copy {
        /// The repository copied from.
        repository: String,
        /// The repository copied to.
        destination: String,
    },
}

impl ScheduledJob {
    /// `backup`, `forget`, `prune`, `check`, `drill` or `copy`.
    pub fn kind(&self) -> &'static str {
        match self {
            ScheduledJob::Backup { .. } => "backup",
            ScheduledJob::Forget { .. } => "forget",
            ScheduledJob::Prune { .. } => "prune",
            ScheduledJob::Check { .. } => "check",
            ScheduledJob::Drill { .. } => "drill",
            ScheduledJob::Copy { .. } => "copy",
        }
    }

    /// What it applies to: the source, policy, repository, drill, or `FROM->TO`.
    pub fn target(&self) -> String {
        match self {
            ScheduledJob::Backup { source } => source.clone(),
            ScheduledJob::Forget { policy } => policy.clone(),
            ScheduledJob::Prune { repository } | ScheduledJob::Check { repository, .. } => {
                repository.clone()
            }
            ScheduledJob::Drill { drill } => drill.clone(),
            ScheduledJob::Copy {
                repository,
                destination,
            } => format!("{repository}->{destination}"),
        }
    }
}

/// The job kinds a schedule may run.
pub const JOB_KINDS: &[&str] = &["backup", "forget", "prune", "check", "drill", "copy"];

/// `[schedules.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The section's name.
    pub name: String,
    /// What it runs.
    pub job: ScheduledJob,
    /// When.
    pub when: When,
    /// `jitter`: a random delay in `[0, jitter)` added to each run.
    pub jitter: Option<Duration>,
    /// `catch_up`: a run missed while the daemon was down runs once at start.
    pub catch_up: bool,
    /// `timeout`: a run taking longer is cancelled.
    pub timeout: Option<Duration>,
    /// `retry`.
    pub retry: Retry,
}

/// The events a notification may ask for.
pub const EVENTS: &[&str] = &[
    "backup_failed",
    "backup_succeeded",
    "drill_failed",
    "drill_passed",
    "rpo_exceeded",
    "crash_detected",
    "repository_unreachable",
    "mode_changed",
    "job_failed",
];

/// The events a notification gets when it names none: every failure.
pub const DEFAULT_EVENTS: &[&str] = &[
    "backup_failed",
    "drill_failed",
    "rpo_exceeded",
    "crash_detected",
    "repository_unreachable",
    "mode_changed",
    "job_failed",
];

/// How a notification is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// `kind = "webhook"`: a JSON POST to `url`; `format = "slack"` posts `{"text": …}`.
    Webhook {
        /// The URL.
        url: String,
        /// Post Slack's `{"text"}` form instead of the event JSON.
        slack: bool,
    },
    /// `kind = "command"`: runs `command` with the event JSON on standard input.
    Command {
        /// The program and its arguments.
        command: Vec<String>,
    },
}

/// `[notifications.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The section's name.
    pub name: String,
    /// Where it goes.
    pub channel: Channel,
    /// `events` (default [`DEFAULT_EVENTS`]).
    pub events: Vec<String>,
    /// `attempts` (default 3), with exponential backoff from 1 s.
    pub attempts: u32,
    /// `timeout` of one attempt (default 10 s).
    pub timeout: Duration,
}
