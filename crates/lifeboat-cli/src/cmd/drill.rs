//! `lifeboat drill run|list|show`: restore drills of configured sources.
//!
//! `drill run` exits 0 when every check passed and every target was met, 4
//! ([`EXIT_DRILL_FAILED`]) when the drill ran and a check or target failed, 1 when it could
//! not run.

use crate::session::{configured, Session};
use crate::{cmd::postgres::restore_command, output};
use anyhow::{bail, Result};
use clap::Subcommand;
use lifeboat_config::Pick;
use lifeboat_core::error::{EXIT_DRILL_FAILED, EXIT_ERROR, EXIT_OK};
use lifeboat_drill::checks::Verdict;
use lifeboat_drill::report::{DrillReport, DrillResult};
use lifeboat_ops::drill::{self, DrillRunRequest};

/// `lifeboat drill ...`.
#[derive(Subcommand, Debug)]
pub enum DrillCommand {
    /// Run a configured drill ([drills.NAME]): restore into scratch space, start, check, measure
    Run {
        /// The drill's name
        name: String,
        /// Which recovery point: latest, oldest, random, random:DURATION (e.g. random:30d) or
        /// a snapshot id (default: the drill's `pick`)
        #[arg(long, value_parser = parse_pick)]
        pick: Option<Pick>,
        /// Physical PostgreSQL: recover to latest, an RFC 3339 time or now-DURATION (default:
        /// the drill's `to`)
        #[arg(long)]
        to: Option<String>,
        /// The seed of a random pick (printed by an earlier drill, to repeat it)
        #[arg(long)]
        seed: Option<u64>,
        /// Keep the restored copy (and its server running) and print how to connect
        #[arg(long)]
        keep: bool,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// List the drill reports stored in the repository
    List {
        /// Only reports of this drill
        #[arg(long)]
        drill: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show one drill report (id, unique prefix, or latest)
    Show {
        /// The report's id
        id: String,
        /// Print JSON
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Render it as Markdown for an auditor
        #[arg(long)]
        markdown: bool,
    },
}

fn parse_pick(s: &str) -> std::result::Result<Pick, String> {
    s.parse()
}

/// Runs `lifeboat drill ...`.
pub fn run(s: &Session, c: &DrillCommand) -> Result<i32> {
    match c {
        DrillCommand::Run {
            name,
            pick,
            to,
            seed,
            keep,
            json,
        } => run_drill(s, name, pick.clone(), to.clone(), *seed, *keep, *json),
        DrillCommand::List { drill, json } => {
            let repo = repo_for(s, drill.as_deref())?.0;
            let list = drill::list(&s.ctx, &repo, drill.as_deref())?;
            if *json {
                output::json(&list);
                return Ok(EXIT_OK);
            }
            println!(
                "{:<9} {:<26} {:<20} {:<16} {:<8} {:>9} {:>9}  snapshot",
                "ID", "started", "drill", "source", "result", "RTO", "RPO"
            );
            println!("{}", "-".repeat(110));
            for d in &list {
                println!(
                    "{:<9} {:<26} {:<20} {:<16} {:<8} {:>9} {:>9}  {}{}",
                    &d.id[..8.min(d.id.len())],
                    d.started,
                    d.drill,
                    d.source,
                    d.result.name(),
                    secs(d.rto_seconds),
                    secs(d.rpo_seconds),
                    d.snapshot.as_deref().map_or("-", |x| &x[..8.min(x.len())]),
                    if d.journaled {
                        ""
                    } else {
                        "  (NOT IN THE JOURNAL)"
                    }
                );
            }
            println!("{} drill reports", list.len());
            Ok(EXIT_OK)
        }
        DrillCommand::Show { id, json, markdown } => {
            let repo = repo_for(s, None)?.0;
            let r = drill::show(&s.ctx, &repo, id)?;
            if *json {
                output::json(&r);
            } else if *markdown {
                print!("{}", r.markdown());
            } else {
                print_report(&r);
            }
            Ok(EXIT_OK)
        }
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{s:.1}s"))
}

/// The repository of `drill`'s source (or `-r`), its spec for `restore_command`, and its password.
fn repo_for(
    s: &Session,
    drill: Option<&str>,
) -> Result<(lifeboat_core::Repository, Option<String>, Vec<u8>)> {
    let config = s.config()?;
    let configured_repo = drill
        .and_then(|d| config.and_then(|c| c.drills.get(d)))
        .and_then(|d| config.and_then(|c| c.sources.get(&d.source)))
        .map(|src| src.repository.clone());
    let (named, spec) = match (&s.repo, configured_repo, config) {
        (Some(r), _, _) => (s.named(r)?, None),
        (None, Some(name), Some(c)) => {
            (configured(c.repository(&name)?)?, Some(format!("@{name}")))
        }
        _ => (s.target()?, None),
    };
    let password = s.password(&named, false)?;
    let repo = lifeboat_ops::open::open(&named.location, &password)?;
    Ok((repo, spec, password))
}

fn run_drill(
    s: &Session,
    name: &str,
    pick: Option<Pick>,
    to: Option<String>,
    seed: Option<u64>,
    keep: bool,
    json: bool,
) -> Result<i32> {
    let config = s.require_config("drill run")?;
    if !config.drills.contains_key(name) {
        let known: Vec<&str> = config.drills.keys().map(String::as_str).collect();
        bail!(
            "there is no drill '{name}' in {} ({})",
            config.path.display(),
            if known.is_empty() {
                "add a [drills.NAME] section".to_string()
            } else {
                format!("configured: {}", known.join(", "))
            }
        );
    }
    let (repo, spec, password) = repo_for(s, Some(name))?;
    let req = DrillRunRequest {
        drill: name.to_string(),
        pick,
        to,
        seed,
        keep,
        restore_command: restore_command(s, s.config_path(), spec.as_deref())?,
    };
    if !json && !s.quiet {
        eprintln!("drill '{name}': restoring into scratch space ...");
    }
    let report = drill::run(&s.ctx, &repo, config, &req, Some(&password))?;
    if json {
        output::json(&report);
    } else if !s.quiet {
        print_report(&report);
    }
    Ok(match report.result {
        DrillResult::Passed => EXIT_OK,
        DrillResult::Failed => EXIT_DRILL_FAILED,
        DrillResult::Error => EXIT_ERROR,
    })
}

fn target(actual: Option<f64>, target: Option<f64>) -> String {
    match (actual, target) {
        (Some(a), Some(t)) => format!(
            "{a:.2}s (target {t:.0}s: {})",
            if a <= t { "met" } else { "MISSED" }
        ),
        (Some(a), None) => format!("{a:.2}s (no target)"),
        (None, Some(t)) => format!("not measured (target {t:.0}s)"),
        (None, None) => "not measured".into(),
    }
}

/// The human form of a report.
fn print_report(r: &DrillReport) {
    let verdict = match r.result {
        DrillResult::Passed => "PASSED: restore proven",
        DrillResult::Failed => "FAILED",
        DrillResult::Error => "COULD NOT RUN",
    };
    println!(
        "drill '{}' of source '{}' ({}): {verdict}",
        r.drill, r.source, r.source_kind
    );
    if let Some(snap) = &r.snapshot {
        print!("  restored  snapshot {}", &snap[..8.min(snap.len())]);
        if let Some(seed) = r.seed {
            print!(" (pick {}, seed {seed})", r.pick);
        }
        println!();
    }
    if r.recovery_point.time.is_some() || r.recovery_point.lsn.is_some() {
        println!(
            "  recovered to {}{}",
            r.recovery_point.time.as_deref().unwrap_or("?"),
            r.recovery_point
                .lsn
                .as_deref()
                .map(|l| format!(" (LSN {l})"))
                .unwrap_or_default()
        );
    }
    if let Some(e) = &r.error {
        println!("  error     {e}");
    }
    println!(
        "  RTO       {}",
        target(r.rto_seconds, r.rto_target_seconds)
    );
    println!(
        "  RPO       {}",
        target(r.rpo_seconds, r.rpo_target_seconds)
    );
    for p in &r.phases {
        println!("  phase     {:<28} {:>8.2}s", p.name, p.seconds);
    }
    for c in &r.checks {
        let mark = match c.result {
            Verdict::Passed => "ok  ",
            Verdict::Failed => "FAIL",
        };
        let mut lines = c.detail.lines();
        println!(
            "  {mark}      {} ({}): {}",
            c.name,
            c.kind,
            lines.next().unwrap_or("")
        );
        for l in lines {
            println!("              {l}");
        }
    }
    for n in &r.notes {
        println!("  note      {n}");
    }
    if let Some(k) = &r.kept {
        println!("  kept      {}", k.path);
        if let Some(c) = &k.connect {
            println!("  connect   {c}");
        }
        println!("  clean up  {}", k.cleanup);
    }
    if !r.id.is_empty() {
        println!(
            "  report    {} (lifeboat drill show {} --markdown)",
            r.id,
            &r.id[..8]
        );
    }
}
