//! `lifeboat config check [--json]`: validate the configuration file and everything it names.
//!
//! Beyond what loading checks (syntax, unknown keys, types, references, permissions), it
//! tries each repository (reachable, a lifeboat repository, the password source works and
//! opens it), each source's programs and paths, and lists every problem found, not only the
//! first.

use crate::{output, session::configured, session::Session};
use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use lifeboat_config::{Config, Problem, SourceKind};
use lifeboat_core::Repository;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `lifeboat config ...`.
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate the configuration file, reach every repository, try every password source
    /// and check that every source's programs and paths exist; list each problem
    Check(CheckArgs),
}

/// `lifeboat config check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// What `config check` found.
#[derive(Serialize)]
struct Report {
    /// The file checked.
    file: PathBuf,
    /// True when nothing is wrong.
    ok: bool,
    /// Every problem.
    problems: Vec<Problem>,
    /// Per repository: opened with its password.
    repositories: Vec<RepoStatus>,
    /// Sources checked.
    sources: usize,
}

#[derive(Serialize)]
struct RepoStatus {
    name: String,
    url: String,
    ok: bool,
    snapshots: Option<usize>,
}

fn problem(config: &Config, key: String, message: String) -> Problem {
    Problem {
        path: config.path.clone(),
        line: None,
        key: Some(key),
        message,
    }
}

fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

fn postgres_program(program: &str) -> bool {
    if let Some(dir) = std::env::var_os("LIFEBOAT_PG_BINDIR") {
        return Path::new(&dir).join(program).is_file();
    }
    on_path(program)
        || std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|rd| {
            rd.flatten()
                .any(|v| v.path().join("bin").join(program).is_file())
        })
}

/// Runs `lifeboat config check`.
pub fn run(s: &Session, c: &ConfigCommand) -> Result<i32> {
    let ConfigCommand::Check(a) = c;
    let path = lifeboat_config::locate(s.config_path()).ok_or_else(|| {
        anyhow!("no configuration file: pass --config FILE, set LIFEBOAT_CONFIG, or create /etc/lifeboat/lifeboat.toml")
    })?;
    let mut report = Report {
        file: path.clone(),
        ok: false,
        problems: Vec::new(),
        repositories: Vec::new(),
        sources: 0,
    };
    match Config::load(&path) {
        Err(e) => report.problems = e.problems(),
        Ok(config) => {
            for (name, r) in &config.repositories {
                let key = format!("repositories.{name}");
                let mut status = RepoStatus {
                    name: name.clone(),
                    url: r.url.clone(),
                    ok: false,
                    snapshots: None,
                };
                let opened = (|| -> std::result::Result<Repository, String> {
                    let named = configured(r).map_err(|e| format!("{e:#}"))?;
                    let source = r.password_source().ok_or_else(|| {
                        "no password source (password_file, password_command, password_env or password)".to_string()
                    })?;
                    let password = source
                        .read()
                        .map_err(|e| format!("the password cannot be read: {e}"))?;
                    lifeboat_ops::open::open(&named.location, &password).map_err(|e| {
                        match e.hint() {
                            Some(h) => format!(
                                "{e} ({})",
                                crate::render::hint_text(
                                    &h,
                                    &crate::cli::Command::Config(ConfigCommand::Check(CheckArgs {
                                        json: false
                                    }))
                                )
                            ),
                            None => e.to_string(),
                        }
                    })
                })();
                match opened {
                    Ok(repo) => {
                        status.ok = true;
                        status.snapshots = repo.list_snapshot_ids().ok().map(|v| v.len());
                    }
                    Err(m) => report.problems.push(problem(&config, key, m)),
                }
                report.repositories.push(status);
            }
            for (name, src) in &config.sources {
                report.sources += 1;
                let key = format!("sources.{name}");
                let mut bad = |k: &str, m: String| {
                    report
                        .problems
                        .push(problem(&config, format!("{key}.{k}"), m))
                };
                match &src.kind {
                    SourceKind::Files(f) => {
                        for p in &f.paths {
                            if std::fs::symlink_metadata(p).is_err() {
                                bad(
                                    "paths",
                                    format!("{} does not exist or cannot be read", p.display()),
                                );
                            }
                        }
                    }
                    SourceKind::Command(c) => {
                        if let Some(program) = c.command.first() {
                            if !on_path(program) {
                                bad("command", format!("the program '{program}' is not on PATH"));
                            }
                        }
                    }
                    SourceKind::Postgres(_) => {
                        for p in ["pg_dump", "psql"] {
                            if !postgres_program(p) {
                                bad("kind", format!("the PostgreSQL program {p} is not installed (or set LIFEBOAT_PG_BINDIR)"));
                            }
                        }
                    }
                    SourceKind::PostgresPhysical(pg) => {
                        for p in ["psql", "pg_basebackup"] {
                            if !postgres_program(p) {
                                bad("kind", format!("the PostgreSQL program {p} is not installed (or set LIFEBOAT_PG_BINDIR)"));
                            }
                        }
                        if let Some(d) = &pg.data_directory {
                            if !d.join("PG_VERSION").exists() {
                                bad(
                                    "data_directory",
                                    format!(
                                        "{} is not a PostgreSQL data directory (no PG_VERSION)",
                                        d.display()
                                    ),
                                );
                            }
                        }
                    }
                    SourceKind::Sqlite(sq) => {
                        for p in &sq.paths {
                            if !p.exists() {
                                bad("paths", format!("{} does not exist", p.display()));
                            }
                        }
                    }
                }
            }
        }
    }
    report.ok = report.problems.is_empty();
    if a.json {
        output::json(&report);
    } else {
        for p in &report.problems {
            println!("{p}");
        }
        for r in &report.repositories {
            if r.ok {
                println!(
                    "repository '{}' ({}): reachable, password works, {} snapshots",
                    r.name,
                    r.url,
                    r.snapshots.unwrap_or(0)
                );
            }
        }
        if report.ok {
            println!(
                "{}: ok ({} repositories, {} sources)",
                path.display(),
                report.repositories.len(),
                report.sources
            );
        } else {
            println!("{}: {} problems", path.display(), report.problems.len());
        }
    }
    Ok(if report.ok {
        0
    } else {
        crate::render::EXIT_CONFIG
    })
}
