//! `lifeboat forget`: by snapshot ids, `--keep-*` rules, or a configured `--policy NAME`.

use super::FilterArgs;
use crate::{output, session::Session};
use anyhow::{bail, Result};
use clap::Args;
use lifeboat_ops::forget::{self, ForgetRequest, Policy};

/// `lifeboat forget`.
#[derive(Args, Debug)]
pub struct ForgetArgs {
    /// Snapshots to forget explicitly
    snapshots: Vec<String>,
    /// Apply the retention policy of this name from the configuration file
    #[arg(long, value_name = "NAME")]
    policy: Option<String>,
    /// Keep the N newest snapshots
    #[arg(long)]
    keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the last N hours
    #[arg(long)]
    keep_hourly: Option<u32>,
    /// Keep the newest snapshot of each of the last N days
    #[arg(long)]
    keep_daily: Option<u32>,
    /// Keep the newest snapshot of each of the last N weeks
    #[arg(long)]
    keep_weekly: Option<u32>,
    /// Keep the newest snapshot of each of the last N months
    #[arg(long)]
    keep_monthly: Option<u32>,
    /// Keep the newest snapshot of each of the last N years
    #[arg(long)]
    keep_yearly: Option<u32>,
    /// Keep snapshots newer than DURATION before the newest (e.g. 7d, 2w, 1y6m)
    #[arg(long)]
    keep_within: Option<String>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Show what would be removed
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Run prune afterwards
    #[arg(long)]
    prune: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat forget`.
pub fn run(s: &Session, a: &ForgetArgs) -> Result<i32> {
    let mut policy = Policy {
        keep_last: a.keep_last,
        keep_hourly: a.keep_hourly,
        keep_daily: a.keep_daily,
        keep_weekly: a.keep_weekly,
        keep_monthly: a.keep_monthly,
        keep_yearly: a.keep_yearly,
        keep_within: a.keep_within.clone(),
    };
    let mut filter = a.filter.filter();
    let mut prune = a.prune;
    let mut repo_spec = None;
    if let Some(name) = &a.policy {
        if !policy.is_empty() {
            bail!("give either --policy or --keep-* options, not both");
        }
        let config = s.require_config("forget --policy")?;
        let p = config.policy(name)?;
        let (configured, configured_filter) = lifeboat_ops::sources::policy(p);
        policy = configured;
        if filter.tags.is_empty() {
            filter.tags = configured_filter.tags;
        }
        if filter.host.is_none() {
            filter.host = configured_filter.host;
        }
        prune |= p.prune;
        repo_spec = p.repository.clone().map(|r| format!("@{r}"));
    }
    if a.snapshots.is_empty() && policy.is_empty() {
        bail!("no policy given: pass at least one --keep-* option or --policy NAME (nothing was removed)");
    }
    let repo = match (&s.repo, repo_spec) {
        (None, Some(spec)) => {
            let named = s.named(&spec)?;
            let password = s.password(&named, false)?;
            lifeboat_ops::open::open(&named.location, &password)?
        }
        _ => s.open()?,
    };
    let report = forget::forget(
        &s.ctx,
        &repo,
        &ForgetRequest {
            snapshots: a.snapshots.clone(),
            policy,
            filter,
            dry_run: a.dry_run,
            prune,
        },
    )?;
    if a.json {
        output::json(&report);
    } else {
        output::forget_report(&report.decisions, &report.removed, report.dry_run);
        if let Some(p) = &report.prune {
            output::prune_report(p);
        }
    }
    Ok(0)
}
