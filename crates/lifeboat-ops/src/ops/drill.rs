//! Restore drills as an operation: the mode check, the drill itself (`lifeboat_drill::run`),
//! the stored report (`drills/<id>`) and the journal record naming it; listing and showing
//! reports; and which snapshots' last drill passed or failed.

use crate::modes::{self, Operation};
use crate::record::{Recorder, FIRST};
use crate::{Context, OpsError, Result};
use lifeboat_config::{Config, Pick};
use lifeboat_core::journal::{Journal, Outcome};
use lifeboat_core::Repository;
use lifeboat_drill::report::{DrillReport, DrillResult};
use lifeboat_drill::run::{self as engine, DrillRequest};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a front end asks of a drill run.
#[derive(Clone, Debug, Default)]
pub struct DrillRunRequest {
    /// The configured drill (`[drills.NAME]`).
    pub drill: String,
    /// Overrides the plan's `pick`.
    pub pick: Option<Pick>,
    /// Overrides the plan's `to` (physical sources).
    pub to: Option<String>,
    /// The seed of a random pick (to repeat a drill).
    pub seed: Option<u64>,
    /// Keep the scratch copy and its server.
    pub keep: bool,
    /// The `restore_command` a physical copy fetches WAL with (the front end knows how to
    /// call lifeboat itself).
    pub restore_command: String,
}

/// Runs a configured drill against `repo` and stores its report. A drill that ran returns its
/// report whatever the result (passed, failed, error); a drill refused before anything was
/// written returns the error.
pub fn run(
    ctx: &Context,
    repo: &Repository,
    config: &Config,
    req: &DrillRunRequest,
    password: Option<&[u8]>,
) -> Result<DrillReport> {
    let plan = config.drills.get(&req.drill).ok_or_else(|| {
        let known: Vec<&str> = config.drills.keys().map(String::as_str).collect();
        OpsError::invalid(
            "drill",
            format!(
                "there is no drill '{}' in {} ({})",
                req.drill,
                config.path.display(),
                if known.is_empty() {
                    "it configures none: add a [drills.NAME] section".to_string()
                } else {
                    format!("configured: {}", known.join(", "))
                }
            ),
        )
    })?;
    let source = config.sources.get(&plan.source).ok_or_else(|| {
        OpsError::invalid(
            "source",
            format!(
                "drill '{}' names source '{}', which is not configured",
                plan.name, plan.source
            ),
        )
    })?;
    let pick = req.pick.clone().unwrap_or_else(|| plan.pick.clone());
    let to = req.to.clone().or_else(|| plan.to.clone());
    let mut rec = Recorder::new(ctx, "drill");
    rec.arg("drill", Some(plan.name.clone()))
        .arg("source", Some(source.name.clone()))
        .arg("pick", Some(pick.to_string()))
        .arg("to", to.clone())
        .flag("keep", req.keep);
    rec.add(repo);
    if let Err(e) = modes::require(repo, Operation::Drill) {
        for w in rec.append(Outcome::error(e.to_string())) {
            ctx.warn(w);
        }
        return Err(e);
    }
    let drill_req = DrillRequest {
        drill: plan,
        source,
        target: config.targets.get(&source.name),
        pick,
        to,
        seed: req.seed,
        keep: req.keep,
        restore_command: req.restore_command.clone(),
        password,
        cancel: ctx.cancel_token().clone(),
        restored_bytes: ctx.restored_bytes.clone(),
        user: ctx.actor.user.clone(),
        via: ctx.actor.front_end.name().to_string(),
    };
    let mut report = match engine::run(repo, &drill_req) {
        Ok(r) => r,
        Err(refused) => {
            let e = OpsError::Engine(lifeboat_core::Error::guided(refused.message, refused.hint));
            for w in rec.append(Outcome::error(e.to_string())) {
                ctx.warn(w);
            }
            return Err(e);
        }
    };
    // The evidence: the report (without the local --keep details), then the record naming it.
    let mut stored = report.clone();
    stored.kept = None;
    match repo.save_drill_report(&stored) {
        Ok(id) => {
            report.id = id.clone();
            rec.arg("report", Some(id));
        }
        Err(e) => ctx.warn(format!(
            "the drill report could not be stored in the repository: {e}"
        )),
    }
    if let Some(s) = &report.snapshot {
        rec.affected(FIRST, s);
    }
    rec.arg("result", Some(report.result.name()));
    let summary = summary_line(&report);
    let outcome = match report.result {
        DrillResult::Passed => Outcome::ok(summary),
        DrillResult::Failed => Outcome::failed(summary),
        DrillResult::Error => Outcome::error(summary),
    };
    for w in rec.append(outcome) {
        ctx.warn(w);
    }
    Ok(report)
}

fn summary_line(r: &DrillReport) -> String {
    match r.result {
        DrillResult::Passed => format!(
            "{} checks passed; RTO {:.1}s, RPO {}",
            r.checks.len(),
            r.rto_seconds.unwrap_or(0.0),
            r.rpo_seconds
                .map(|s| format!("{s:.0}s"))
                .unwrap_or_else(|| "unknown".into())
        ),
        DrillResult::Failed => r.failures.join("; "),
        DrillResult::Error => r.error.clone().unwrap_or_default(),
    }
}

/// One line of `drill list`.
#[derive(Clone, Debug, Serialize)]
pub struct DrillSummary {
    /// Report id.
    pub id: String,
    /// Drill.
    pub drill: String,
    /// Source.
    pub source: String,
    /// Snapshot restored.
    pub snapshot: Option<String>,
    /// Result.
    pub result: DrillResult,
    /// Start.
    pub started: String,
    /// RTO measured.
    pub rto_seconds: Option<f64>,
    /// RPO measured.
    pub rpo_seconds: Option<f64>,
    /// Failed checks and targets.
    pub failures: Vec<String>,
    /// True when a journal record names this report (false: the report was added behind the
    /// journal's back, or its record is missing).
    pub journaled: bool,
}

fn journaled_ids(repo: &Repository) -> Result<std::collections::HashSet<String>> {
    let mut ids = std::collections::HashSet::new();
    for r in Journal::of(repo).list()?.into_iter().flatten() {
        if r.operation == "drill" {
            if let Some(id) = r.arguments.get("report") {
                ids.insert(id.clone());
            }
        }
    }
    Ok(ids)
}

/// Every stored report, oldest first (optionally of one drill).
pub fn reports(_ctx: &Context, repo: &Repository, drill: Option<&str>) -> Result<Vec<DrillReport>> {
    modes::require(repo, Operation::DrillReports)?;
    let mut out = Vec::new();
    for id in repo.list_drill_report_ids()? {
        let mut r: DrillReport = repo.read_drill_report(&id)?;
        r.id = id;
        if drill.is_none_or(|d| d == r.drill) {
            out.push(r);
        }
    }
    out.sort_by(|a, b| a.started.cmp(&b.started).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// `drill list`: the reports, oldest first, each marked with whether the journal names it.
pub fn list(ctx: &Context, repo: &Repository, drill: Option<&str>) -> Result<Vec<DrillSummary>> {
    let journaled = journaled_ids(repo)?;
    Ok(reports(ctx, repo, drill)?
        .into_iter()
        .map(|r| DrillSummary {
            journaled: journaled.contains(&r.id),
            id: r.id,
            drill: r.drill,
            source: r.source,
            snapshot: r.snapshot,
            result: r.result,
            started: r.started,
            rto_seconds: r.rto_seconds,
            rpo_seconds: r.rpo_seconds,
            failures: r.failures,
        })
        .collect())
}

/// `drill show ID`: one report by id or unique prefix (`latest`: the newest).
pub fn show(ctx: &Context, repo: &Repository, id: &str) -> Result<DrillReport> {
    modes::require(repo, Operation::DrillReports)?;
    if id == "latest" {
        return reports(ctx, repo, None)?
            .pop()
            .ok_or_else(|| OpsError::invalid("id", "the repository holds no drill reports yet"));
    }
    let ids: Vec<String> = repo
        .list_drill_report_ids()?
        .into_iter()
        .filter(|i| !id.is_empty() && i.starts_with(id))
        .collect();
    match ids.as_slice() {
        [one] => {
            let mut r: DrillReport = repo.read_drill_report(one)?;
            r.id = one.clone();
            Ok(r)
        }
        [] => Err(OpsError::invalid(
            "id",
            format!("no drill report '{id}' (see `lifeboat drill list`)"),
        )),
        many => Err(OpsError::invalid(
            "id",
            format!(
                "'{id}' matches {} drill reports; give more characters",
                many.len()
            ),
        )),
    }
}

/// The last drill of a snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct LastDrill {
    /// Its result.
    pub result: DrillResult,
    /// Report id.
    pub report: String,
    /// When it started.
    pub started: String,
}

/// For every drilled snapshot, its newest drill (for `lifeboat snapshots`).
pub fn last_by_snapshot(ctx: &Context, repo: &Repository) -> Result<BTreeMap<String, LastDrill>> {
    let mut out = BTreeMap::new();
    for r in reports(ctx, repo, None)? {
        if let Some(s) = r.snapshot {
            out.insert(
                s,
                LastDrill {
                    result: r.result,
                    report: r.id,
                    started: r.started,
                },
            );
        }
    }
    Ok(out)
}
