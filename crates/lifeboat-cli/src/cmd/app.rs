//! `lifeboat app start|stop NAME`: did the application stop cleanly last time?
//!
//! `app start` exits 0 after a clean stop or on the first start, and 5 ([`EXIT_APP_CRASHED`])
//! when the previous run did not stop cleanly; its answer names the newest restore point when
//! a repository is configured.

use crate::{output, session::Session};
use anyhow::Result;
use clap::Subcommand;
use lifeboat_core::error::{EXIT_APP_CRASHED, EXIT_OK};
use lifeboat_ops::app::{self, Previous, DEFAULT_STATE_DIR};
use std::path::PathBuf;

/// `lifeboat app ...`.
#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// Record that the application starts; say whether its previous run stopped cleanly
    Start {
        /// The application's name
        name: String,
        /// Refuse when the previous run's process still lives and started less than this
        /// long ago (it is still running); 0 never refuses
        #[arg(long, default_value = "0s", value_parser = parse_duration)]
        stale_after: std::time::Duration,
        /// The state directory (default: LIFEBOAT_STATE_DIR, the configuration's
        /// [daemon] state_dir, /var/lib/lifeboat)
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Record a clean shutdown of the application
    Stop {
        /// The application's name
        name: String,
        /// The state directory
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

fn parse_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    if s == "0" || s == "0s" {
        return Ok(std::time::Duration::ZERO);
    }
    lifeboat_config::parse_duration(s).map_err(|e| e.to_string())
}

fn state_dir(s: &Session, given: &Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = given {
        return Ok(d.clone());
    }
    if let Some(d) = std::env::var_os("LIFEBOAT_STATE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    if let Some(c) = s.config()? {
        if let Some(d) = &c.daemon.state_dir {
            return Ok(d.clone());
        }
    }
    Ok(PathBuf::from(DEFAULT_STATE_DIR))
}

/// The newest restore point of the command's repository, when one is at hand.
fn latest_restore_point(s: &Session) -> Option<serde_json::Value> {
    let named = s.target().ok()?;
    let password = s.password(&named, false).ok()?;
    let repo = lifeboat_ops::open::open(&named.location, &password).ok()?;
    let points = lifeboat_ops::restore_point::list(&s.ctx, &repo).ok()?;
    let p = points.last()?;
    Some(serde_json::json!({
        "name": p.point.name,
        "id": p.point.id,
        "time": p.point.time,
    }))
}

/// Runs `lifeboat app ...`.
pub fn run(s: &Session, c: &AppCommand) -> Result<i32> {
    match c {
        AppCommand::Start {
            name,
            stale_after,
            state_dir: dir,
            json,
        } => {
            let dir = state_dir(s, dir)?;
            let mut r = app::start(
                &dir,
                name,
                std::os::unix::process::parent_id(),
                *stale_after,
            )?;
            r.latest_restore_point = latest_restore_point(s);
            if *json {
                output::json(&r);
            } else if !s.quiet {
                match r.previous {
                    Previous::FirstStart => println!("{name}: first start"),
                    Previous::Clean => println!(
                        "{name}: the previous run stopped cleanly at {}",
                        r.since.as_deref().unwrap_or("?")
                    ),
                    Previous::Crash => println!(
                        "{name}: the previous run (started {}) did not stop cleanly: a crash",
                        r.since.as_deref().unwrap_or("?")
                    ),
                }
                if let Some(p) = &r.latest_restore_point {
                    println!(
                        "latest restore point: {} ({}, {})",
                        p["name"].as_str().unwrap_or("?"),
                        p["time"].as_str().unwrap_or("?"),
                        &p["id"].as_str().unwrap_or("?")[..8]
                    );
                }
            }
            Ok(if r.previous == Previous::Crash {
                EXIT_APP_CRASHED
            } else {
                EXIT_OK
            })
        }
        AppCommand::Stop {
            name,
            state_dir: dir,
            json,
        } => {
            let dir = state_dir(s, dir)?;
            let r = app::stop(&dir, name)?;
            if *json {
                output::json(&r);
            } else if !s.quiet {
                println!("{name}: clean shutdown recorded");
            }
            Ok(EXIT_OK)
        }
    }
}
