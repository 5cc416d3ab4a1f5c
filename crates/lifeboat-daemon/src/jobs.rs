//! What a job is and how one attempt of it runs: each is one call into `lifeboat-ops` with a
//! repository opened from the configuration, exactly as the CLI would make it.

use lifeboat_config::{Config, ScheduledJob};
use lifeboat_core::Repository;
use lifeboat_ops::check::ReadData;
use lifeboat_ops::copy::CopyRequest;
use lifeboat_ops::drill::DrillRunRequest;
use lifeboat_ops::forget::ForgetRequest;
use lifeboat_ops::restore::RestoreRequest;
use lifeboat_ops::restore_point::CreateRequest;
use lifeboat_ops::sources::{self, SourceRequest};
use lifeboat_ops::{Context, OpsError};
use serde_json::{json, Value};
use std::path::PathBuf;

/// A job the runner can run.
#[derive(Clone, Debug)]
pub enum JobSpec {
    /// A job a schedule (or the API, by name) runs.
    Scheduled(ScheduledJob),
    /// `POST /api/v1/restores`.
    Restore {
        /// The repository.
        repository: String,
        /// The snapshot.
        snapshot: String,
        /// Where to (under a `restore_roots` entry).
        target: PathBuf,
        /// Only these paths.
        include: Vec<String>,
    },
    /// `POST /api/v1/restore-points`.
    RestorePoint {
        /// The point's name.
        name: String,
        /// Its sources (empty: those with `restore_point = true`).
        sources: Vec<String>,
    },
}

impl JobSpec {
    /// The job's kind as stored (`backup`, `restore`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::Scheduled(j) => j.kind(),
            JobSpec::Restore { .. } => "restore",
            JobSpec::RestorePoint { .. } => "restore_point",
        }
    }

    /// What it applies to.
    pub fn target(&self) -> String {
        match self {
            JobSpec::Scheduled(j) => j.target(),
            JobSpec::Restore { target, .. } => target.display().to_string(),
            JobSpec::RestorePoint { name, .. } => name.clone(),
        }
    }

    /// The configured repositories it touches (for notifications and status).
    pub fn repositories(&self, config: &Config) -> Vec<String> {
        match self {
            JobSpec::Scheduled(ScheduledJob::Backup { source }) => config
                .sources
                .get(source)
                .map(|s| vec![s.repository.clone()])
                .unwrap_or_default(),
            JobSpec::Scheduled(ScheduledJob::Forget { policy }) => {
                policy_repository(config, policy).into_iter().collect()
            }
            JobSpec::Scheduled(ScheduledJob::Prune { repository })
            | JobSpec::Scheduled(ScheduledJob::Check { repository, .. }) => {
                vec![repository.clone()]
            }
            JobSpec::Scheduled(ScheduledJob::Copy {
                repository,
                destination,
            }) => vec![repository.clone(), destination.clone()],
            JobSpec::Scheduled(ScheduledJob::Drill { drill }) => config
                .drills
                .get(drill)
                .and_then(|d| config.sources.get(&d.source))
                .map(|s| vec![s.repository.clone()])
                .unwrap_or_default(),
            JobSpec::Restore { repository, .. } => vec![repository.clone()],
            JobSpec::RestorePoint { .. } => Vec::new(),
        }
    }
}

/// Why an attempt failed, for the state database, the API and notifications.
#[derive(Clone, Debug)]
pub struct JobError {
    /// What failed.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
    /// True when the repository could not be opened (reached, unlocked).
    pub unreachable: bool,
    /// True when the attempt was cancelled (DELETE, timeout, shutdown).
    pub cancelled: bool,
    /// A report that exists despite the failure (a failed drill's).
    pub report: Option<Box<Value>>,
}

impl JobError {
    fn ops(e: &OpsError) -> Self {
        JobError {
            message: e.to_string(),
            hint: e.hint().map(|h| crate::api::hint_text(&h)),
            unreachable: false,
            cancelled: e.is_cancelled(),
            report: None,
        }
    }

    fn plain(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            hint: None,
            unreachable: false,
            cancelled: false,
            report: None,
        }
    }
}

impl From<OpsError> for JobError {
    fn from(e: OpsError) -> Self {
        JobError::ops(&e)
    }
}

/// What an attempt needs besides its job.
pub struct Env<'a> {
    /// The configuration in force.
    pub config: &'a Config,
    /// This program (for the `restore_command` of physical drills).
    pub exe: PathBuf,
}

/// The repository a retention policy applies to: its `repository`, else the only one.
pub fn policy_repository(config: &Config, policy: &str) -> Option<String> {
    let p = config.retention.get(policy)?;
    p.repository.clone().or_else(|| {
        (config.repositories.len() == 1)
            .then(|| config.repositories.keys().next().cloned())
            .flatten()
    })
}

/// Opens the configured repository `name` with its password source.
pub fn open(config: &Config, name: &str) -> Result<(Repository, Vec<u8>), JobError> {
    let unreachable = |message: String, hint: Option<String>| JobError {
        message,
        hint,
        unreachable: true,
        cancelled: false,
        report: None,
    };
    let r = config
        .repository(name)
        .map_err(|e| JobError::plain(e.to_string()))?;
    let location = sources::location(r).map_err(JobError::from)?;
    let Some(password) = r.password_source() else {
        return Err(unreachable(
            format!("repository '{name}' names no password source"),
            Some(format!(
                "give password_file, password_command or password_env in [repositories.{name}]"
            )),
        ));
    };
    let password = password.read().map_err(|e| {
        unreachable(
            format!("reading the password of repository '{name}': {e}"),
            None,
        )
    })?;
    let repo = lifeboat_ops::open::open(&location, &password).map_err(|e| {
        let mut j = JobError::ops(&e);
        j.message = format!("opening repository '{name}' ({}): {}", r.url, j.message);
        j.unreachable = true;
        j
    })?;
    Ok((repo, password))
}

fn to_json(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Runs one attempt of `spec`; returns the operation's report.
pub fn execute(env: &Env, ctx: &Context, spec: &JobSpec) -> Result<Value, JobError> {
    let config = env.config;
    match spec {
        JobSpec::Scheduled(ScheduledJob::Backup { source }) => {
            let src = config
                .source(source)
                .map_err(|e| JobError::plain(e.to_string()))?;
            let (repo, _) = open(config, &src.repository)?;
            let req = SourceRequest::of(src)?;
            Ok(to_json(sources::backup(ctx, &repo, &req)?))
        }
        JobSpec::Scheduled(ScheduledJob::Forget { policy }) => {
            let p = config
                .policy(policy)
                .map_err(|e| JobError::plain(e.to_string()))?;
            let name = policy_repository(config, policy).ok_or_else(|| {
                JobError::plain(format!(
                    "retention policy '{policy}' names no repository and several are configured: add repository = NAME to [retention.{policy}]"
                ))
            })?;
            let (repo, _) = open(config, &name)?;
            let (policy, filter) = sources::policy(p);
            let req = ForgetRequest {
                policy,
                filter,
                prune: p.prune,
                ..Default::default()
            };
            Ok(to_json(lifeboat_ops::forget::forget(ctx, &repo, &req)?))
        }
        JobSpec::Scheduled(ScheduledJob::Prune { repository }) => {
            let (repo, _) = open(config, repository)?;
            Ok(to_json(lifeboat_ops::prune::prune(ctx, &repo, false)?))
        }
        JobSpec::Scheduled(ScheduledJob::Check {
            repository,
            read_data,
        }) => {
            let (repo, _) = open(config, repository)?;
            let read = if *read_data {
                ReadData::All
            } else {
                ReadData::None
            };
            let report = lifeboat_ops::check::check(ctx, &repo, read)?;
            let value = to_json(&report);
            let errors = value
                .get("errors")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if errors > 0 {
                let mut e = JobError::plain(format!(
                    "check of repository '{repository}' found {errors} error(s)"
                ));
                e.hint = Some("run `lifeboat check --read-data` to see what is affected".into());
                e.report = Some(Box::new(value));
                return Err(e);
            }
            Ok(value)
        }
        JobSpec::Scheduled(ScheduledJob::Drill { drill }) => {
            let plan = config
                .drills
                .get(drill)
                .ok_or_else(|| JobError::plain(format!("there is no drill '{drill}'")))?;
            let src = config
                .source(&plan.source)
                .map_err(|e| JobError::plain(e.to_string()))?;
            let (repo, password) = open(config, &src.repository)?;
            let req = DrillRunRequest {
                drill: drill.clone(),
                restore_command: restore_command(env, &src.repository),
                ..Default::default()
            };
            let report = lifeboat_ops::drill::run(ctx, &repo, config, &req, Some(&password))?;
            let value = to_json(&report);
            match report.result {
                lifeboat_drill::report::DrillResult::Passed => Ok(value),
                _ => {
                    let mut e = JobError::plain(format!(
                        "drill '{drill}' {}: {}",
                        report.result.name(),
                        report
                            .error
                            .clone()
                            .unwrap_or_else(|| report.failures.join("; "))
                    ));
                    e.report = Some(Box::new(value));
                    Err(e)
                }
            }
        }
        JobSpec::Scheduled(ScheduledJob::Copy {
            repository,
            destination,
        }) => {
            let (src, _) = open(config, repository)?;
            let (dst, _) = open(config, destination)?;
            Ok(to_json(lifeboat_ops::copy::copy(
                ctx,
                &src,
                &dst,
                &CopyRequest::default(),
            )?))
        }
        JobSpec::Restore {
            repository,
            snapshot,
            target,
            include,
        } => {
            let (repo, _) = open(config, repository)?;
            let req = RestoreRequest {
                snapshot: snapshot.clone(),
                target: target.clone(),
                includes: include.clone(),
                overwrite: false,
                no_sparse: false,
                no_xattrs: false,
            };
            Ok(to_json(lifeboat_ops::restore::files(ctx, &repo, &req)?))
        }
        JobSpec::RestorePoint { name, sources } => {
            let req = CreateRequest {
                name: name.clone(),
                sources: sources.clone(),
                ..Default::default()
            };
            let repository = lifeboat_ops::restore_point::repository_of(config, &req)?;
            let (repo, _) = open(config, &repository)?;
            Ok(json!(to_json(lifeboat_ops::restore_point::create(
                ctx, &repo, config, &req
            )?)))
        }
    }
}

/// The `restore_command` a physical drill's server fetches WAL with: this program with the
/// configuration file and the repository by name.
fn restore_command(env: &Env, repository: &str) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let config = std::path::absolute(&env.config.path).unwrap_or(env.config.path.clone());
    format!(
        "{} --config {} -r {} wal-fetch %f %p",
        quote(&env.exe.to_string_lossy()),
        quote(&config.to_string_lossy()),
        quote(&format!("@{repository}"))
    )
}
