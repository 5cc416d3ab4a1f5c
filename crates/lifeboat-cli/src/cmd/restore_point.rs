//! `lifeboat restore-point create|list|show|restore|pin`: named sets across sources.

use crate::session::{configured, Session};
use crate::{cmd::postgres::restore_command, output};
use anyhow::{anyhow, Result};
use clap::Subcommand;
use lifeboat_core::error::{EXIT_ERROR, EXIT_OK};
use lifeboat_ops::restore_point::{self, CreateRequest, Listed, RestoreRequest};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `lifeboat restore-point ...`.
#[derive(Subcommand, Debug)]
pub enum RestorePointCommand {
    /// Back up the given configured sources (default: those with `restore_point = true`) as
    /// one named set; physical PostgreSQL sources get `pg_create_restore_point(NAME)`
    Create {
        /// The point's name
        name: String,
        /// A member source (repeatable)
        #[arg(long = "source")]
        sources: Vec<String>,
        /// A description
        #[arg(long)]
        description: Option<String>,
        /// Pin it: keep every member through every retention policy until this date or time,
        /// or `forever`
        #[arg(long, value_name = "DATE|TIME|forever")]
        keep_until: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List the restore points
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show one restore point
    Show {
        /// Its name or id
        point: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Restore every member at its recorded position: files and SQLite below DIR/SOURCE,
    /// physical PostgreSQL into DIR/SOURCE (recovery to the named point), logical dumps into
    /// the server given with --dsn SOURCE=DSN
    Restore {
        /// Its name or id
        point: String,
        /// Where members go
        #[arg(long)]
        target_root: PathBuf,
        /// Only this member (repeatable)
        #[arg(long = "source")]
        sources: Vec<String>,
        /// The server a logical member is restored into (repeatable)
        #[arg(long = "dsn", value_name = "SOURCE=DSN", value_parser = parse_dsn)]
        dsns: Vec<(String, String)>,
        /// Start restored physical members and let recovery reach the point (then stop them)
        #[arg(long)]
        start: bool,
        /// The operating-system user a started server runs as when lifeboat runs as root
        #[arg(long, requires = "start")]
        run_as: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Pin a restore point until a date or time (or forever; `none` unpins)
    Pin {
        /// Its name or id
        point: String,
        /// Until when
        #[arg(long, value_name = "DATE|TIME|forever|none")]
        keep_until: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

fn parse_dsn(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .filter(|(a, _)| !a.is_empty() && !a.contains(' '))
        .ok_or_else(|| format!("'{s}' is not SOURCE=DSN"))
}

fn print_point(l: &Listed) {
    let p = &l.point;
    println!(
        "restore point '{}' ({}) at {} on {}{}",
        p.name,
        &p.id[..8.min(p.id.len())],
        p.time,
        p.host,
        l.pinned_until
            .as_deref()
            .map(|u| format!(", pinned until {u}"))
            .unwrap_or_default()
    );
    if let Some(d) = &p.description {
        println!("  {d}");
    }
    for m in &p.members {
        let snaps: Vec<&str> = m.snapshots.iter().map(|s| &s[..8.min(s.len())]).collect();
        match &m.position {
            Some(pos) => println!(
                "  {:<20} {:<18} base backup {} + WAL to '{}' at {} ({})",
                m.source,
                m.kind,
                snaps.join(","),
                pos.name,
                pos.lsn,
                pos.wal_segment
            ),
            None => println!(
                "  {:<20} {:<18} snapshot {}",
                m.source,
                m.kind,
                snaps.join(",")
            ),
        }
    }
}

/// Runs `lifeboat restore-point ...`.
pub fn run(s: &Session, c: &RestorePointCommand) -> Result<i32> {
    match c {
        RestorePointCommand::Create {
            name,
            sources,
            description,
            keep_until,
            json,
        } => {
            let config = s.require_config("restore-point create")?;
            let req = CreateRequest {
                name: name.clone(),
                sources: sources.clone(),
                description: description.clone(),
                keep_until: keep_until.clone(),
            };
            let named = match &s.repo {
                Some(r) => s.named(r)?,
                None => {
                    configured(config.repository(&restore_point::repository_of(config, &req)?)?)?
                }
            };
            let password = s.password(&named, false)?;
            let repo = lifeboat_ops::open::open(&named.location, &password)?;
            let p = restore_point::create(&s.ctx, &repo, config, &req)?;
            let listed = Listed {
                pinned_until: p.keep_until.clone(),
                point: p,
            };
            if *json {
                output::json(&listed);
            } else if !s.quiet {
                print_point(&listed);
            }
            Ok(EXIT_OK)
        }
        RestorePointCommand::List { json } => {
            let repo = s.open()?;
            let all = restore_point::list(&s.ctx, &repo)?;
            if *json {
                output::json(&all);
            } else {
                for l in &all {
                    print_point(l);
                }
                println!("{} restore points", all.len());
            }
            Ok(EXIT_OK)
        }
        RestorePointCommand::Show { point, json } => {
            let repo = s.open()?;
            let l = restore_point::show(&s.ctx, &repo, point)?;
            if *json {
                output::json(&l);
            } else {
                print_point(&l);
            }
            Ok(EXIT_OK)
        }
        RestorePointCommand::Pin {
            point,
            keep_until,
            json,
        } => {
            let repo = s.open()?;
            let l = restore_point::pin(&s.ctx, &repo, point, keep_until)?;
            if *json {
                output::json(&l);
            } else if !s.quiet {
                print_point(&l);
            }
            Ok(EXIT_OK)
        }
        RestorePointCommand::Restore {
            point,
            target_root,
            sources,
            dsns,
            start,
            run_as,
            json,
        } => {
            let named = s.target()?;
            let password = s.password(&named, false)?;
            let repo = lifeboat_ops::open::open(&named.location, &password)?;
            let req = RestoreRequest {
                point: point.clone(),
                target_root: target_root.clone(),
                sources: sources.clone(),
                dsns: dsns.iter().cloned().collect::<BTreeMap<_, _>>(),
                start: *start,
                restore_command: restore_command(s, s.config_path(), None)?,
                run_as: run_as.clone(),
            };
            let r = restore_point::restore(&s.ctx, &repo, &req, Some(&password))?;
            if *json {
                output::json(&r);
            } else if !s.quiet {
                println!("restore point '{}' ({}):", r.restore_point, &r.id[..8]);
                for m in &r.members {
                    println!("  {:<6} {:<20} {}", m.result, m.source, m.detail);
                }
            }
            if r.ok {
                Ok(EXIT_OK)
            } else {
                let failed: Vec<&str> = r
                    .members
                    .iter()
                    .filter(|m| m.result != "ok")
                    .map(|m| m.source.as_str())
                    .collect();
                if !*json {
                    eprintln!("{}", anyhow!("members not restored: {}", failed.join(", ")));
                }
                Ok(EXIT_ERROR)
            }
        }
    }
}
