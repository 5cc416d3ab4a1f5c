//! `forget`: remove snapshots, named or by a retention policy, and optionally prune.

use crate::filter::SnapshotFilter;
use crate::modes::{self, Operation};
use crate::ops::prune::{prune_unjournaled, PruneOutcome};
use crate::ops::restore_point;
use crate::record::{Recorder, FIRST};
use crate::{journaled, Context, OpsError, Result};
use lifeboat_core::forget::{self, Decision, KeepPolicy};
use lifeboat_core::Repository;
use serde::{Deserialize, Serialize};

/// A retention policy: which snapshots of each group (host and source) to keep.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Keep the N newest.
    pub keep_last: Option<u32>,
    /// The newest of each of the last N hours.
    pub keep_hourly: Option<u32>,
    /// ... days.
    pub keep_daily: Option<u32>,
    /// ... weeks.
    pub keep_weekly: Option<u32>,
    /// ... months.
    pub keep_monthly: Option<u32>,
    /// ... years.
    pub keep_yearly: Option<u32>,
    /// Everything newer than this before the newest (`7d`, `2w`, `1y6m`).
    pub keep_within: Option<String>,
}

impl Policy {
    /// True when no rule is set (such a policy would remove everything: refused).
    pub fn is_empty(&self) -> bool {
        *self == Policy::default()
    }

    fn engine(&self) -> Result<KeepPolicy> {
        Ok(KeepPolicy {
            last: self.keep_last,
            hourly: self.keep_hourly,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
            yearly: self.keep_yearly,
            within: self
                .keep_within
                .as_deref()
                .map(forget::parse_duration)
                .transpose()?,
        })
    }

    /// The rules as `keep-daily=7` words (journal records, messages).
    pub fn describe(&self) -> Vec<String> {
        [
            ("last", self.keep_last),
            ("hourly", self.keep_hourly),
            ("daily", self.keep_daily),
            ("weekly", self.keep_weekly),
            ("monthly", self.keep_monthly),
            ("yearly", self.keep_yearly),
        ]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("keep-{k}={v}")))
        .chain(self.keep_within.iter().map(|w| format!("keep-within={w}")))
        .collect()
    }
}

/// What to forget.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForgetRequest {
    /// Snapshots to forget by name (exclusive with a policy).
    pub snapshots: Vec<String>,
    /// The policy.
    pub policy: Policy,
    /// Which snapshots the policy considers.
    pub filter: SnapshotFilter,
    /// Only report.
    pub dry_run: bool,
    /// Prune afterwards.
    pub prune: bool,
}

/// What forget did.
#[derive(Clone, Debug, Serialize)]
pub struct ForgetReport {
    /// True when nothing was removed on purpose.
    pub dry_run: bool,
    /// The policy's verdict on each considered snapshot (empty for named snapshots).
    pub decisions: Vec<Decision>,
    /// Snapshots removed (or that would be).
    pub removed: Vec<String>,
    /// Snapshots that stay for now because object-lock retention protects them.
    pub retained: Vec<String>,
    /// The prune that followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneOutcome>,
}

/// Forgets snapshots (and prunes when asked).
pub fn forget(ctx: &Context, repo: &Repository, req: &ForgetRequest) -> Result<ForgetReport> {
    let mut rec = Recorder::new(ctx, "forget");
    rec.list("snapshots", &req.snapshots)
        .list("policy", &req.policy.describe())
        .list("tags", &req.filter.tags)
        .arg("host", req.filter.host.clone())
        .flag("dry_run", req.dry_run)
        .flag("prune", req.prune);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        let policy = req.policy.engine()?;
        let points = restore_point::list(ctx, repo)?;
        let points_gone: Vec<String>;
        let mut decisions = Vec::new();
        let mut remove: Vec<String> = Vec::new();
        if !req.snapshots.is_empty() {
            if !req.policy.is_empty() {
                return Err(OpsError::Conflict(
                    "give either snapshots or a retention policy, not both".into(),
                ));
            }
            for s in &req.snapshots {
                remove.push(repo.find_snapshot(s)?.id);
            }
            points_gone = restore_point::check_named(&remove, &points, jiff::Timestamp::now())?;
        } else {
            if req.policy.is_empty() {
                return Err(OpsError::invalid(
                    "policy",
                    "no retention rule given (nothing was removed)",
                ));
            }
            let selected = req.filter.apply(repo.snapshots()?);
            decisions = forget::apply(&selected, &policy);
            // A restore point's members go together, and a pinned point's stay.
            points_gone = restore_point::hold(&mut decisions, &points, jiff::Timestamp::now());
            remove = decisions
                .iter()
                .filter(|d| !d.keep)
                .map(|d| d.id.clone())
                .collect();
        }
        let mut retained = Vec::new();
        if !req.dry_run {
            modes::require(repo, Operation::Forget)?;
            let _lock = lifeboat_core::lock::acquire(
                repo,
                false,
                "forget",
                lifeboat_core::lock::wait_time(),
            )?;
            for id in &remove {
                ctx.cancel_token().check("forget")?;
                match repo.remove_snapshot(id) {
                    Ok(()) => rec.affected(FIRST, id),
                    // Under object-lock retention: removed by a later forget.
                    Err(e @ lifeboat_core::Error::Retained { .. }) => {
                        ctx.warn(format!("snapshot {} kept for now: {e}", &id[..8]));
                        retained.push(id.clone());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            remove.retain(|id| !retained.contains(id));
            // A point whose members are all gone goes too (one kept by object lock stays).
            for p in &points_gone {
                let kept = points.iter().any(|l| {
                    &l.point.id == p
                        && l.point
                            .members
                            .iter()
                            .any(|m| m.snapshots.iter().any(|s| retained.contains(s)))
                });
                if !kept {
                    repo.remove_restore_point(p)?;
                    rec.arg("restore_points_removed", Some(points_gone.join(" ")));
                }
            }
        } else {
            modes::require(repo, Operation::ForgetDryRun)?;
        }
        let prune = if req.prune && !req.dry_run {
            Some(prune_unjournaled(ctx, repo, false)?)
        } else {
            None
        };
        rec.note(format!("{} snapshots removed", remove.len()));
        Ok(ForgetReport {
            dry_run: req.dry_run,
            decisions,
            removed: remove,
            retained,
            prune,
        })
    })
}
