//! `lifeboat wal-push`, `wal-fetch` and `wal verify|show|expire`.
//!
//! `wal-push` and `wal-fetch` run as PostgreSQL's `archive_command` and `restore_command`, in
//! the data directory. Without `-r` they take the repository, cluster and key cache of the
//! configuration file's `postgres-physical` source whose `data_directory` is that directory
//! (or of the only such source), so `archive_command = 'lifeboat wal-push %p'` needs nothing
//! but the configuration file.

use crate::output;
use crate::session::{configured, Named, Session};
use anyhow::Result;
use clap::{Args, Subcommand};
use lifeboat_config::PostgresPhysicalSource;
use lifeboat_ops::wal::{ExpireReport, FetchRequest, PushRequest};
use lifeboat_ops::ErrorKind;
use lifeboat_postgres::wal::DEFAULT_CLUSTER;
use std::path::PathBuf;

/// Exit code of `wal-fetch` for failures other than "not archived": above 125, so PostgreSQL
/// aborts recovery instead of taking the failure for the end of the archive.
const WAL_FETCH_FATAL: i32 = 200;

/// `lifeboat wal-push`.
#[derive(Args, Debug)]
pub struct WalPushArgs {
    /// The WAL file (archive_command's %p)
    path: PathBuf,
    /// Cluster name in the repository [default: the configured source's, else main]
    #[arg(long, env = "LIFEBOAT_PG_CLUSTER")]
    cluster: Option<String>,
    /// Refuse WAL of any other database system
    #[arg(long, env = "LIFEBOAT_PG_SYSTEM_ID")]
    system_id: Option<u64>,
    /// Keep unlocked keys in this directory (0600 file) to skip the password derivation per call
    #[arg(long, env = "LIFEBOAT_KEY_CACHE")]
    key_cache: Option<PathBuf>,
    /// zstd level for WAL [default: the configured source's, else 1]
    #[arg(long)]
    compression: Option<i32>,
    /// Also push up to N further segments already marked ready (archive_status/*.ready), in
    /// parallel; their own later wal-push calls then return at once (0 = off) [default: 2]
    #[arg(long, env = "LIFEBOAT_WAL_PUSH_AHEAD")]
    ahead: Option<usize>,
    /// Print what was done as JSON (with timings)
    #[arg(long)]
    json: bool,
}

/// `lifeboat wal-fetch`.
#[derive(Args, Debug)]
pub struct WalFetchArgs {
    /// The WAL file name (restore_command's %f)
    name: String,
    /// Where to write it (restore_command's %p)
    dest: PathBuf,
    /// Cluster name in the repository [default: the configured source's, else main]
    #[arg(long, env = "LIFEBOAT_PG_CLUSTER")]
    cluster: Option<String>,
    /// System identifier (default: the data directory's pg_control, then the cluster's)
    #[arg(long, env = "LIFEBOAT_PG_SYSTEM_ID")]
    system_id: Option<u64>,
    /// Keep unlocked keys in this directory (see wal-push)
    #[arg(long, env = "LIFEBOAT_KEY_CACHE")]
    key_cache: Option<PathBuf>,
}

/// `lifeboat wal ...`.
#[derive(Subcommand, Debug)]
pub enum WalCommand {
    /// Report archived WAL ranges per timeline and every gap from the oldest base backup on
    Verify(WalVerifyArgs),
    /// Show the archive's state for monitoring (newest segment and its age = WAL RPO)
    Show(super::JsonArg),
    /// Delete WAL that no kept physical base backup needs
    Expire(WalExpireArgs),
}

/// `lifeboat wal verify`.
#[derive(Args, Debug)]
pub struct WalVerifyArgs {
    /// Cluster name (when the repository holds several)
    #[arg(long, env = "LIFEBOAT_PG_CLUSTER")]
    cluster: Option<String>,
    /// Also decrypt and verify every archived file
    #[arg(long)]
    read_data: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// `lifeboat wal expire`.
#[derive(Args, Debug)]
pub struct WalExpireArgs {
    /// Cluster name (default: every cluster)
    #[arg(long, env = "LIFEBOAT_PG_CLUSTER")]
    cluster: Option<String>,
    /// Show what would be deleted
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// The repository (and the configured source, if one was used) for push and fetch.
fn archive_target(s: &Session) -> Result<(Named, Option<PostgresPhysicalSource>)> {
    if s.repo.is_some() {
        return Ok((s.target()?, None));
    }
    if let Some(config) = s.config()? {
        if config
            .sources
            .values()
            .any(|src| matches!(src.kind, lifeboat_config::SourceKind::PostgresPhysical(_)))
        {
            let dir = std::env::current_dir()?;
            let (src, pg) = config.wal_source(&dir)?;
            let named = configured(config.repository(&src.repository)?)?;
            return Ok((named, Some(pg.clone())));
        }
    }
    Ok((s.target()?, None))
}

/// The cluster and key cache for push and fetch: the flag, else the configured source's.
fn cluster_and_cache(
    pg: Option<&PostgresPhysicalSource>,
    cluster: &Option<String>,
    key_cache: &Option<PathBuf>,
) -> (String, Option<PathBuf>) {
    (
        cluster
            .clone()
            .or(pg.map(|p| p.cluster.clone()))
            .unwrap_or_else(|| DEFAULT_CLUSTER.into()),
        key_cache.clone().or(pg.and_then(|p| p.key_cache.clone())),
    )
}

/// `lifeboat wal-push`: quiet on success (its output lands in the server log).
pub fn push(s: &Session, a: &WalPushArgs) -> Result<i32> {
    let (named, pg) = archive_target(s)?;
    let password = s.password(&named, false)?;
    let (cluster, key_cache) = cluster_and_cache(pg.as_ref(), &a.cluster, &a.key_cache);
    let req = PushRequest {
        path: a.path.clone(),
        cluster,
        system_id: a.system_id,
        key_cache,
        compression: a
            .compression
            .or(pg.as_ref().map(|p| p.compression))
            .unwrap_or(1),
        ahead: a.ahead.or(pg.as_ref().map(|p| p.push_ahead)).unwrap_or(2),
    };
    let report = lifeboat_ops::wal::push(&s.ctx, &named.location, &password, &req)?;
    if a.json {
        output::json(&report);
    } else if !report.pushed.stored && !s.quiet {
        eprintln!(
            "{} was already archived (identical); nothing to do",
            report.pushed.name
        );
    }
    Ok(0)
}

/// `lifeboat wal-fetch`: exit 1 (quietly) when the file is not archived, 200 on other failures.
pub fn fetch(s: &Session, a: &WalFetchArgs, command: &crate::cli::Command) -> Result<i32> {
    let r = (|| -> Result<u64> {
        let (named, pg) = archive_target(s)?;
        let password = s.password(&named, false)?;
        let (cluster, key_cache) = cluster_and_cache(pg.as_ref(), &a.cluster, &a.key_cache);
        let req = FetchRequest {
            name: a.name.clone(),
            dest: a.dest.clone(),
            cluster,
            system_id: a.system_id,
            key_cache,
        };
        Ok(lifeboat_ops::wal::fetch(
            &s.ctx,
            &named.location,
            &password,
            &req,
        )?)
    })();
    match r {
        Ok(_) => Ok(0),
        Err(e)
            if e.downcast_ref::<lifeboat_ops::OpsError>()
                .is_some_and(|o| o.kind() == ErrorKind::NotFound) =>
        {
            tracing::debug!("{e}");
            Ok(1)
        }
        Err(e) => {
            eprintln!("error: wal-fetch {}: {e:#}", a.name);
            crate::render::print_hint(command, &e);
            Ok(WAL_FETCH_FATAL)
        }
    }
}

/// Runs `lifeboat wal ...`.
pub fn run(s: &Session, c: &WalCommand) -> Result<i32> {
    let repo = s.open()?;
    match c {
        WalCommand::Verify(a) => {
            let r = lifeboat_ops::wal::verify(&s.ctx, &repo, a.cluster.as_deref(), a.read_data)?;
            if a.json {
                output::json(&r);
            } else {
                println!(
                    "cluster '{}' (system {}): {} archived files, {} base backups",
                    r.cluster, r.system_identifier, r.files, r.base_backups
                );
                for t in &r.timelines {
                    println!("timeline {}:", t.timeline);
                    for g in &t.ranges {
                        println!("  {} .. {} ({} segments)", g.first, g.last, g.count);
                    }
                    for p in &t.partial {
                        println!("  {p}");
                    }
                }
                if let Some(start) = &r.oldest_backup_start {
                    println!("oldest base backup needs WAL from {start}");
                }
                for g in &r.gaps {
                    println!(
                        "GAP on timeline {}: {} .. {} ({} segments missing)",
                        g.timeline, g.from, g.to, g.missing
                    );
                }
                for p in &r.problems {
                    println!("PROBLEM: {p}");
                }
                if r.ok {
                    println!(
                        "no gaps: WAL is continuous{}",
                        if r.verified_data {
                            " and every file verified"
                        } else {
                            ""
                        }
                    );
                }
            }
            Ok(if r.ok { 0 } else { 1 })
        }
        WalCommand::Show(a) => {
            let r = lifeboat_ops::wal::show(&s.ctx, &repo)?;
            if a.json {
                output::json(&r);
            } else {
                if r.clusters.is_empty() {
                    println!("no WAL archived in this repository");
                }
                for c in &r.clusters {
                    println!(
                        "cluster '{}' (system {}): {} files, {}; newest segment {} archived {} ({}s ago); {} base backups",
                        c.cluster,
                        c.system_identifier,
                        c.files,
                        output::human_bytes(c.stored_bytes),
                        c.newest_segment.as_deref().unwrap_or("-"),
                        c.newest_archived_at.as_deref().unwrap_or("-"),
                        c.newest_age_seconds
                            .map(|s| format!("{s:.0}"))
                            .unwrap_or("-".into()),
                        c.base_backups
                    );
                }
            }
            Ok(0)
        }
        WalCommand::Expire(a) => {
            let r = lifeboat_ops::wal::expire(&s.ctx, &repo, a.cluster.as_deref(), a.dry_run)?;
            if a.json {
                output::json(&r);
            } else if !s.quiet {
                print_expire(&r);
            }
            Ok(0)
        }
    }
}

/// WAL expiry for people.
pub fn print_expire(r: &ExpireReport) {
    for c in &r.clusters {
        if let Some(n) = &c.note {
            println!("cluster '{}': {n}", c.cluster);
            continue;
        }
        println!(
            "cluster '{}': {} {} WAL files ({}) older than {}, needed by none of its {} base backups",
            c.cluster,
            if r.dry_run { "would delete" } else { "deleted" },
            c.deleted.len(),
            output::human_bytes(c.bytes_freed),
            c.keep_from.as_deref().unwrap_or("-"),
            c.base_backups
        );
        if !c.retained.is_empty() {
            println!(
                "  {} more are under object-lock retention; a later expiry deletes them",
                c.retained.len()
            );
        }
    }
}
