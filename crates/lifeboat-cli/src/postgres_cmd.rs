//! PostgreSQL commands: `backup postgres`, `restore postgres`, `wal-push`, `wal-fetch` and
//! `wal verify|show|expire`. The work is done by `lifeboat-postgres`; this module parses
//! arguments and prints results.
//!
//! `lifeboat backup postgres ...` and `lifeboat restore postgres ...` are rewritten to the
//! `backup-postgres` / `restore-postgres` subcommands before parsing ([`rewrite_args`]), so the
//! file-backup and file-restore argument sets stay exactly as they are.

use super::{open_repo, output, read_password, Cli};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use lifeboat_core::backup::{BackupOptions, Progress};
use lifeboat_core::Repository;
use lifeboat_postgres::logical::{self, Databases, LogicalOptions, LogicalRestoreOptions};
use lifeboat_postgres::physical::{self, BaseBackupMethod, PhysicalOptions};
use lifeboat_postgres::pitr::{self, PhysicalRestoreOptions, StartOptions};
use lifeboat_postgres::plan::{expire_candidates, RecoveryTarget};
use lifeboat_postgres::tools::shell_quote;
use lifeboat_postgres::wal::{PushOptions, WalArchive, DEFAULT_CLUSTER};
use lifeboat_postgres::PgError;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit code of `wal-fetch` for failures other than "not archived": above 125, so PostgreSQL
/// aborts recovery instead of taking the failure for the end of the archive.
const WAL_FETCH_FATAL: i32 = 200;

/// Turns `backup postgres` / `restore postgres` (with global options anywhere before
/// `postgres`) into `backup-postgres` / `restore-postgres`.
pub fn rewrite_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut v: Vec<OsString> = args.into_iter().collect();
    let with_value = ["-r", "--repo", "--password-file", "--password-command"];
    // Index of the next positional token at or after `i`, skipping global options only.
    let next_positional = |v: &[OsString], mut i: usize| -> Option<usize> {
        while i < v.len() {
            let t = v[i].to_string_lossy();
            if t == "--" {
                return None;
            }
            if with_value.contains(&t.as_ref()) {
                i += 2;
            } else if t == "-q"
                || t == "--quiet"
                || t.starts_with("--repo=")
                || t.starts_with("--password-")
                || (t.starts_with("-r") && t.len() > 2)
            {
                i += 1;
            } else if t.starts_with('-') {
                return None;
            } else {
                return Some(i);
            }
        }
        None
    };
    if let Some(c) = next_positional(&v, 1) {
        let cmd = v[c].to_string_lossy().into_owned();
        if cmd == "backup" || cmd == "restore" {
            if let Some(p) = next_positional(&v, c + 1) {
                if v[p] == "postgres" {
                    v.remove(p);
                    v[c] = format!("{cmd}-postgres").into();
                }
            }
        }
    }
    v
}

fn default_dsn() -> String {
    String::new()
}

/// `lifeboat backup postgres`.
#[derive(Args, Debug)]
pub struct PgBackupArgs {
    /// Connection string (libpq key=value or postgresql:// URI; empty: libpq defaults / PG* variables)
    #[arg(long, env = "LIFEBOAT_PG_DSN", default_value_t = default_dsn(), hide_default_value = true)]
    dsn: String,
    /// Database to dump (repeatable; default: the one the connection string names)
    #[arg(long = "database", conflicts_with_all = ["all", "physical"])]
    databases: Vec<String>,
    /// Dump every database, plus roles and tablespaces (pg_dumpall --globals-only)
    #[arg(long, conflicts_with = "physical")]
    all: bool,
    /// Physical base backup (pg_basebackup) for point-in-time recovery
    #[arg(long)]
    physical: bool,
    /// Cluster name in the repository (physical backups and their WAL)
    #[arg(long, env = "LIFEBOAT_PG_CLUSTER", default_value = DEFAULT_CLUSTER)]
    cluster: String,
    /// Checkpoint mode before a physical backup
    #[arg(long, value_enum, default_value_t = Checkpoint::Fast)]
    checkpoint: Checkpoint,
    /// Seconds to wait for the backup's WAL to be archived before giving up (nothing is recorded then)
    #[arg(long, default_value_t = 300)]
    wal_timeout: u64,
    /// Put the backup's WAL into the snapshot (self-contained; no archive needed, no PITR; uses pg_basebackup)
    #[arg(long, requires = "physical")]
    include_wal: bool,
    /// How a physical backup reads the data directory: `copy` reads its files directly and in
    /// parallel while the backup is open (lifeboat must run on the database host and be able to
    /// read the directory); `pg_basebackup` streams its tar over a replication connection (any
    /// host); `auto` copies when it can
    #[arg(long, value_enum, default_value_t = Method::Auto, requires = "physical")]
    method: Method,
    /// Read every file of the data directory (`--method copy`), also those whose size and
    /// times prove them unchanged since the previous base backup
    #[arg(long, requires = "physical")]
    force: bool,
    /// Tag the snapshot(s) (repeatable)
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Hostname to record
    #[arg(long)]
    host: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Method {
    Auto,
    Copy,
    #[value(name = "pg_basebackup")]
    PgBasebackup,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Checkpoint {
    Fast,
    Spread,
}

/// `lifeboat restore postgres`.
#[derive(Args, Debug)]
pub struct PgRestoreArgs {
    /// Snapshot to restore (logical: required; physical: same as --snapshot)
    snapshot: Option<String>,
    /// Target server (logical restore)
    #[arg(long, env = "LIFEBOAT_PG_DSN")]
    dsn: Option<String>,
    /// Create the dumped database first (connect with --dsn to another database, e.g. postgres)
    #[arg(long, conflicts_with = "clean")]
    create: bool,
    /// Drop objects before recreating them
    #[arg(long)]
    clean: bool,
    /// Parallel restore jobs (the dump is first written to a temporary file: pg_restore must seek)
    #[arg(long)]
    jobs: Option<u32>,
    /// Only this table (repeatable)
    #[arg(long = "table")]
    tables: Vec<String>,
    /// Only this schema (repeatable)
    #[arg(long = "schema")]
    schemas: Vec<String>,
    /// Restore data only (tables must exist)
    #[arg(long, conflicts_with = "schema_only")]
    data_only: bool,
    /// Restore the schema only
    #[arg(long)]
    schema_only: bool,
    /// Do not restore object ownership
    #[arg(long)]
    no_owner: bool,
    /// Create this scratch database and restore into it (e.g. to pull back deleted rows)
    #[arg(long, conflicts_with = "create")]
    into_database: Option<String>,
    /// Directory for the temporary dump file used with --jobs
    #[arg(long)]
    temp_dir: Option<PathBuf>,

    /// Physical restore (base backup + WAL) into --target-dir
    #[arg(long, requires = "target_dir")]
    physical: bool,
    /// Data directory to create (missing or empty)
    #[arg(long)]
    target_dir: Option<PathBuf>,
    /// Recover to this time (RFC 3339, or "YYYY-MM-DD HH:MM:SS[+TZ]" in local time)
    #[arg(long, group = "target")]
    to_time: Option<String>,
    /// Recover to this LSN (e.g. 0/3000060)
    #[arg(long, group = "target")]
    to_lsn: Option<String>,
    /// Recover to (just after) this transaction id
    #[arg(long, group = "target")]
    to_xid: Option<u64>,
    /// Recover to this named restore point (pg_create_restore_point)
    #[arg(long, group = "target")]
    to_name: Option<String>,
    /// Recover all archived WAL (default)
    #[arg(long, group = "target")]
    latest: bool,
    /// Stop as soon as the base backup is consistent
    #[arg(long, group = "target")]
    immediate: bool,
    /// Stop just before the target instead of just after it
    #[arg(long)]
    exclusive: bool,
    /// Use this base backup instead of choosing one
    #[arg(long = "snapshot")]
    snapshot_opt: Option<String>,
    /// Cluster name (when the repository holds several)
    #[arg(long, env = "LIFEBOAT_PG_CLUSTER")]
    cluster: Option<String>,
    /// Start a temporary server, wait until recovery reached the target and report where it stopped
    #[arg(long)]
    start: bool,
    /// Port of the temporary server (default: a free one)
    #[arg(long, requires = "start")]
    port: Option<u16>,
    /// Leave the server running after recovery
    #[arg(long, requires = "start")]
    keep_running: bool,
    /// When lifeboat runs as root: the operating-system user to start the server as (PostgreSQL
    /// refuses root; the restored directory is given to this user) [default: postgres]
    #[arg(long, requires = "start")]
    run_as: Option<String>,
    /// Seconds to wait for recovery
    #[arg(long, default_value_t = 3600)]
    start_timeout: u64,
    /// Archiving on the restored server: `off` (default with --start: a drill must not archive
    /// into the production repository) or `preserve` (default otherwise)
    #[arg(long, value_enum)]
    archive_mode: Option<ArchiveMode>,
    /// Restore the tablespace with this OID into DIR (missing or empty) instead of its original
    /// location (repeatable)
    #[arg(long = "tablespace-map", value_name = "OID=DIR", value_parser = parse_tablespace_map)]
    tablespace_map: Vec<(String, PathBuf)>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

fn parse_tablespace_map(s: &str) -> std::result::Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((oid, dir))
            if !oid.is_empty() && oid.bytes().all(|b| b.is_ascii_digit()) && !dir.is_empty() =>
        {
            Ok((oid.to_string(), PathBuf::from(dir)))
        }
        _ => Err(format!(
            "expected OID=DIR (the tablespace's OID, as in `lifeboat snapshots --json`), got '{s}'"
        )),
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ArchiveMode {
    Off,
    Preserve,
}

/// `lifeboat wal-push`.
#[derive(Args, Debug)]
pub struct WalPushArgs {
    /// The WAL file (archive_command's %p)
    path: PathBuf,
    /// Cluster name in the repository
    #[arg(long, env = "LIFEBOAT_PG_CLUSTER", default_value = DEFAULT_CLUSTER)]
    cluster: String,
    /// Refuse WAL of any other database system
    #[arg(long, env = "LIFEBOAT_PG_SYSTEM_ID")]
    system_id: Option<u64>,
    /// Keep unlocked keys in this directory (0600 file) to skip the password derivation per call
    #[arg(long, env = "LIFEBOAT_KEY_CACHE")]
    key_cache: Option<PathBuf>,
    /// zstd level for WAL
    #[arg(long, default_value_t = 1)]
    compression: i32,
    /// Also push up to N further segments already marked ready (archive_status/*.ready), in
    /// parallel; their own later wal-push calls then return at once (0 = off)
    #[arg(long, env = "LIFEBOAT_WAL_PUSH_AHEAD", default_value_t = 2)]
    ahead: usize,
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
    /// Cluster name in the repository
    #[arg(long, env = "LIFEBOAT_PG_CLUSTER", default_value = DEFAULT_CLUSTER)]
    cluster: String,
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
    Show(WalShowArgs),
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

/// `lifeboat wal show`.
#[derive(Args, Debug)]
pub struct WalShowArgs {
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

/// The journal description of a PostgreSQL command (operation, arguments), for
/// `journal_cmd::describe`. `wal-push` and `wal-fetch` are not journaled: one record per WAL
/// segment would double the archive latency and flood the journal.
pub fn journal_description(
    cmd: &super::Command,
) -> Option<(String, std::collections::BTreeMap<String, String>)> {
    let mut args = std::collections::BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            args.insert(k.to_string(), v);
        }
    };
    let op = match cmd {
        super::Command::BackupPostgres(a) => {
            put(
                "postgres",
                Some(if a.physical { "physical" } else { "logical" }.into()),
            );
            put("cluster", a.physical.then(|| a.cluster.clone()));
            put(
                "method",
                a.physical.then(|| {
                    match a.method {
                        Method::Auto => "auto",
                        Method::Copy => "copy",
                        Method::PgBasebackup => "pg_basebackup",
                    }
                    .into()
                }),
            );
            put("force", a.force.then(|| "true".into()));
            put(
                "databases",
                (!a.databases.is_empty()).then(|| a.databases.join(" ")),
            );
            put("all", a.all.then(|| "true".into()));
            put("tags", (!a.tags.is_empty()).then(|| a.tags.join(" ")));
            "backup"
        }
        super::Command::RestorePostgres(a) => {
            put(
                "postgres",
                Some(if a.physical { "physical" } else { "logical" }.into()),
            );
            put("snapshot", a.snapshot.clone().or(a.snapshot_opt.clone()));
            put(
                "target",
                a.target_dir.as_ref().map(|d| {
                    std::path::absolute(d)
                        .unwrap_or(d.clone())
                        .display()
                        .to_string()
                }),
            );
            put("to_time", a.to_time.clone());
            put("to_lsn", a.to_lsn.clone());
            put("to_xid", a.to_xid.map(|x| x.to_string()));
            put("to_name", a.to_name.clone());
            put("into_database", a.into_database.clone());
            put("tables", (!a.tables.is_empty()).then(|| a.tables.join(" ")));
            put(
                "schemas",
                (!a.schemas.is_empty()).then(|| a.schemas.join(" ")),
            );
            put("start", a.start.then(|| "true".into()));
            "restore"
        }
        super::Command::Wal(WalCommand::Expire(a)) => {
            put("cluster", a.cluster.clone());
            put("dry_run", a.dry_run.then(|| "true".into()));
            "wal expire"
        }
        _ => return None,
    };
    Some((op.to_string(), args))
}

fn snapshot_opts(tags: &[String], host: &Option<String>) -> BackupOptions {
    BackupOptions {
        tags: tags.to_vec(),
        host: host.clone(),
        ..Default::default()
    }
}

/// `lifeboat backup postgres`.
pub fn backup(cli: &Cli, a: &PgBackupArgs, show_progress: bool) -> Result<i32> {
    let repo = open_repo(cli)?;
    let progress = Arc::new(Progress::default());
    let display = show_progress.then(|| output::ProgressDisplay::backup(progress.clone()));
    if a.physical {
        let out = physical::backup_physical(
            &repo,
            &PhysicalOptions {
                dsn: a.dsn.clone(),
                cluster: a.cluster.clone(),
                fast_checkpoint: matches!(a.checkpoint, Checkpoint::Fast),
                wal_timeout: Duration::from_secs(a.wal_timeout),
                include_wal: a.include_wal,
                method: match a.method {
                    Method::Auto => BaseBackupMethod::Auto,
                    Method::Copy => BaseBackupMethod::Copy,
                    Method::PgBasebackup => BaseBackupMethod::Basebackup,
                },
                backup: BackupOptions {
                    force: a.force,
                    ..snapshot_opts(&a.tags, &a.host)
                },
            },
            progress,
        )?;
        drop(display);
        super::journal_cmd::affected(&out.outcome.snapshot_id);
        let s = out.outcome.snapshot.summary.clone().unwrap_or_default();
        if a.json {
            output::json(&serde_json::json!({
                "snapshot_id": out.outcome.snapshot_id,
                "summary": s,
                "stream": out.outcome.snapshot.stream,
                "postgres": out.meta,
            }));
        } else if !cli.quiet {
            println!(
                "base backup {} of cluster '{}' (system {}, PostgreSQL {}): timeline {}, LSN {} .. {}, WAL {} .. {} archived",
                &out.outcome.snapshot_id[..8],
                out.meta.cluster,
                out.meta.system_identifier,
                out.meta.server_version,
                out.meta.timeline,
                out.meta.start_lsn,
                out.meta.stop_lsn,
                out.meta.wal_start_segment,
                out.meta.wal_stop_segment
            );
            println!(
                "  {} read, {} added to the repository, {:.1}s",
                output::human_bytes(s.bytes_read),
                output::human_bytes(s.bytes_added),
                s.duration_seconds
            );
        }
        return Ok(0);
    }
    let databases = if a.all {
        Databases::All
    } else if !a.databases.is_empty() {
        Databases::Named(a.databases.clone())
    } else {
        Databases::FromDsn
    };
    let outs = logical::backup_logical(
        &repo,
        &LogicalOptions {
            dsn: a.dsn.clone(),
            databases,
            backup: snapshot_opts(&a.tags, &a.host),
        },
        progress,
    )?;
    drop(display);
    for o in &outs {
        super::journal_cmd::affected(&o.outcome.snapshot_id);
    }
    if a.json {
        output::json(
            &outs
                .iter()
                .map(|o| {
                    serde_json::json!({
                        "snapshot_id": o.outcome.snapshot_id,
                        "summary": o.outcome.snapshot.summary,
                        "stream": o.outcome.snapshot.stream,
                        "postgres": o.meta,
                    })
                })
                .collect::<Vec<_>>(),
        );
    } else if !cli.quiet {
        for o in &outs {
            let s = o.outcome.snapshot.summary.clone().unwrap_or_default();
            println!(
                "snapshot {} of {} ({} format, PostgreSQL {}): {}, {} added, sha256 {}",
                &o.outcome.snapshot_id[..8],
                match &o.meta.database {
                    Some(d) => format!("database '{d}'"),
                    None => "roles and tablespaces".into(),
                },
                o.meta.format,
                o.meta.server_version,
                output::human_bytes(o.meta.size),
                output::human_bytes(s.bytes_added),
                &o.meta.sha256[..16]
            );
        }
    }
    Ok(0)
}

/// Parses a recovery target time: RFC 3339 / ISO 8601 with an offset, or a civil time in the
/// local time zone.
fn parse_time(s: &str) -> Result<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let dt: jiff::civil::DateTime = s.parse().map_err(|e| {
        anyhow!("cannot read '{s}' as a time (use RFC 3339, e.g. 2026-11-01T14:35:00Z, or \"2026-11-01 14:35:00\" in local time): {e}")
    })?;
    Ok(dt.to_zoned(jiff::tz::TimeZone::system())?.timestamp())
}

fn absolute_repo(repo: &str) -> String {
    let (prefix, path) = match repo.strip_prefix("local:") {
        Some(p) => ("local:", p),
        None if repo.contains(':') => return repo.to_string(),
        None => ("", repo),
    };
    if path.is_empty() {
        return repo.to_string();
    }
    match std::path::absolute(path) {
        Ok(p) => format!("{prefix}{}", p.display()),
        Err(_) => repo.to_string(),
    }
}

/// The restore_command written into a restored data directory.
fn restore_command(cli: &Cli) -> Result<String> {
    let exe = std::env::current_exe().context("finding the lifeboat executable")?;
    let mut parts = vec![shell_quote(&exe.to_string_lossy())];
    if !cli.repo.is_empty() {
        parts.push("-r".into());
        parts.push(shell_quote(&absolute_repo(&cli.repo)));
    }
    if let Some(f) = &cli.password_file {
        parts.push("--password-file".into());
        parts.push(shell_quote(
            &std::path::absolute(f)
                .unwrap_or(f.clone())
                .to_string_lossy(),
        ));
    } else if let Some(c) = &cli.password_command {
        parts.push("--password-command".into());
        parts.push(shell_quote(c));
    }
    parts.push("wal-fetch %f %p".into());
    Ok(parts.join(" "))
}

/// `lifeboat restore postgres`.
pub fn restore(cli: &Cli, a: &PgRestoreArgs) -> Result<i32> {
    if a.physical {
        return restore_physical(cli, a);
    }
    let Some(snapshot) = &a.snapshot else {
        bail!("give the snapshot of a logical backup to restore (see `lifeboat snapshots`), or --physical --target-dir DIR for a physical restore");
    };
    let Some(dsn) = &a.dsn else {
        bail!("give the target server with --dsn (or LIFEBOAT_PG_DSN)");
    };
    let repo = open_repo(cli)?;
    let snap = repo.find_snapshot(snapshot)?;
    super::journal_cmd::affected(&snap.id);
    let report = logical::restore_logical(
        &repo,
        &snap,
        &LogicalRestoreOptions {
            dsn: dsn.clone(),
            create: a.create,
            clean: a.clean,
            jobs: a.jobs,
            tables: a.tables.clone(),
            schemas: a.schemas.clone(),
            data_only: a.data_only,
            schema_only: a.schema_only,
            no_owner: a.no_owner,
            into_database: a.into_database.clone(),
            temp_dir: a.temp_dir.clone(),
        },
    )?;
    if a.json {
        output::json(&report);
    } else if !cli.quiet {
        println!(
            "restored snapshot {} ({}) into {} in {:.2}s",
            snap.short_id(),
            output::human_bytes(report.bytes),
            report
                .database
                .as_deref()
                .map(|d| format!("database '{d}'"))
                .unwrap_or_else(|| "the server".into()),
            report.duration_seconds
        );
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(0)
}

fn restore_physical(cli: &Cli, a: &PgRestoreArgs) -> Result<i32> {
    let target = if let Some(t) = &a.to_time {
        RecoveryTarget::Time(parse_time(t)?)
    } else if let Some(l) = &a.to_lsn {
        RecoveryTarget::Lsn(l.parse().map_err(|e: String| anyhow!(e))?)
    } else if let Some(x) = a.to_xid {
        RecoveryTarget::Xid(x)
    } else if let Some(n) = &a.to_name {
        RecoveryTarget::Name(n.clone())
    } else if a.immediate {
        RecoveryTarget::Immediate
    } else {
        RecoveryTarget::Latest
    };
    if a.snapshot.is_some() && a.snapshot_opt.is_some() {
        bail!("give the base backup either as an argument or with --snapshot, not both");
    }
    let password = read_password(cli)?;
    let repo = open_repo(cli)?;
    let archive_off = match a.archive_mode {
        Some(m) => m == ArchiveMode::Off,
        None => a.start,
    };
    let opts = PhysicalRestoreOptions {
        target_dir: a.target_dir.clone().expect("clap requires it"),
        target,
        snapshot: a.snapshot.clone().or(a.snapshot_opt.clone()),
        cluster: a.cluster.clone(),
        restore_command: restore_command(cli)?,
        archive_off,
        exclusive: a.exclusive,
        start: a.start.then(|| StartOptions {
            port: a.port,
            keep_running: a.keep_running,
            timeout: Duration::from_secs(a.start_timeout),
            env: Vec::new(),
            run_as: a.run_as.clone(),
        }),
        tablespace_map: a.tablespace_map.clone(),
    };
    let report = pitr::restore_physical(&repo, &opts, Some(&password))?;
    super::journal_cmd::affected(&report.snapshot_id);
    if a.json {
        output::json(&report);
        return Ok(0);
    }
    if cli.quiet {
        return Ok(0);
    }
    println!(
        "restored base backup {} of cluster '{}' (ended {} at LSN {}) into {}: {}",
        &report.snapshot_id[..8],
        report.backup.cluster,
        report.backup.stop_time,
        report.backup.stop_lsn,
        report.target_dir.display(),
        output::human_bytes(report.bytes)
    );
    for t in &report.tablespaces {
        println!("tablespace {} restored to {}", t.oid, t.path);
    }
    for n in &report.notes {
        println!("note: {n}");
    }
    println!("recovery target: {}", report.target);
    println!("written to postgresql.auto.conf (with recovery.signal):");
    for s in &report.settings {
        println!("  {s}");
    }
    match &report.started {
        Some(s) => {
            let r = &s.recovery;
            println!(
                "recovered to LSN {}, last transaction at {}{}",
                r.lsn.as_deref().unwrap_or("?"),
                r.last_transaction_time
                    .as_deref()
                    .unwrap_or("(none replayed)"),
                r.timeline
                    .map(|t| format!(", new timeline {t}"))
                    .unwrap_or_default()
            );
            if let Some(m) = &r.stop_message {
                println!("  server: {m}");
            }
            if s.running {
                println!(
                    "the server keeps running: psql \"{}\" (stop it with pg_ctl -D {} stop)",
                    s.dsn,
                    report.target_dir.display()
                );
            } else {
                println!("the temporary server was stopped");
            }
        }
        None => {
            if cli.password_file.is_none() && cli.password_command.is_none() {
                println!("note: restore_command needs the repository password: start the server with LIFEBOAT_PASSWORD (or LIFEBOAT_PASSWORD_FILE) in its environment");
            }
            println!(
                "start it with: pg_ctl -D {} start   (as the database's operating-system user)",
                report.target_dir.display()
            );
        }
    }
    println!("restore took {:.1}s", report.duration_seconds);
    Ok(0)
}

/// `lifeboat wal-push`: quiet on success (its output lands in the server log).
pub fn wal_push(cli: &Cli, a: &WalPushArgs) -> Result<i32> {
    let t0 = Instant::now();
    let storage = lifeboat_storage::choose::open(&cli.repo).map_err(lifeboat_core::Error::from)?;
    let password = read_password(cli)?;
    let archive = WalArchive::open(storage, &password, a.key_cache.as_deref())?;
    let opened = t0.elapsed().as_secs_f64();
    let (out, ahead) = archive.push_with_ahead(
        &a.path,
        &PushOptions {
            cluster: a.cluster.clone(),
            system_id: a.system_id,
            compression_level: a.compression,
        },
        a.ahead,
    )?;
    if a.json {
        output::json(&serde_json::json!({
            "pushed": out,
            "pushed_ahead": ahead,
            "key_source": archive.key_source,
            "open_seconds": opened,
            "total_seconds": t0.elapsed().as_secs_f64(),
        }));
    } else if !out.stored && !cli.quiet {
        eprintln!(
            "{} was already archived (identical); nothing to do",
            out.name
        );
    }
    Ok(0)
}

/// `lifeboat wal-fetch`: exit 1 (quietly) when the file is not archived, 200 on other failures.
pub fn wal_fetch(cli: &Cli, a: &WalFetchArgs) -> Result<i32> {
    let r = (|| -> Result<u64> {
        let storage =
            lifeboat_storage::choose::open(&cli.repo).map_err(lifeboat_core::Error::from)?;
        let password = read_password(cli)?;
        let archive = WalArchive::open(storage, &password, a.key_cache.as_deref())?;
        let sysid = archive.resolve_sysid(a.system_id, &a.cluster)?;
        Ok(archive.fetch(sysid, &a.name, &a.dest)?)
    })();
    match r {
        Ok(_) => Ok(0),
        Err(e)
            if e.downcast_ref::<PgError>()
                .is_some_and(PgError::is_wal_not_found) =>
        {
            tracing::debug!("{e}");
            Ok(1)
        }
        Err(e) => {
            eprintln!("error: wal-fetch {}: {e:#}", a.name);
            Ok(WAL_FETCH_FATAL)
        }
    }
}

/// `lifeboat wal ...`.
pub fn wal(cli: &Cli, c: &WalCommand) -> Result<i32> {
    match c {
        WalCommand::Verify(a) => wal_verify(cli, a),
        WalCommand::Show(a) => wal_show(cli, a),
        WalCommand::Expire(a) => {
            let repo = open_repo(cli)?;
            let report = expire(&repo, a.cluster.as_deref(), a.dry_run)?;
            if a.json {
                output::json(&report);
            } else if !cli.quiet {
                print_expire(&report);
            }
            Ok(0)
        }
    }
}

fn wal_verify(cli: &Cli, a: &WalVerifyArgs) -> Result<i32> {
    let repo = open_repo(cli)?;
    let state = pitr::cluster_state(&repo, a.cluster.as_deref())?;
    let mut c = pitr::continuity(&repo, &state)?;
    let mut corrupt = Vec::new();
    if a.read_data {
        let archive = WalArchive::from_repo(&repo);
        for f in &state.files {
            if let Err(e) = archive.read_file(state.sysid, &f.file.name) {
                corrupt.push(e.to_string());
            }
        }
    }
    let oldest = state.backups.iter().min_by_key(|(_, m)| m.start_lsn);
    let ok = c.gaps.is_empty() && c.problems.is_empty() && corrupt.is_empty();
    c.problems.extend(corrupt.iter().cloned());
    if a.json {
        output::json(&serde_json::json!({
            "cluster": state.cluster,
            "system_identifier": state.sysid.to_string(),
            "files": state.files.len(),
            "base_backups": state.backups.len(),
            "oldest_backup_start": oldest.map(|(_, m)| m.wal_start_segment.clone()),
            "newest_segment": state.end.newest_segment.as_ref().map(|s| s.2.clone()),
            "timelines": c.timelines,
            "gaps": c.gaps,
            "problems": c.problems,
            "verified_data": a.read_data,
            "ok": ok,
        }));
    } else {
        println!(
            "cluster '{}' (system {}): {} archived files, {} base backups",
            state.cluster,
            state.sysid,
            state.files.len(),
            state.backups.len()
        );
        for t in &c.timelines {
            println!("timeline {}:", t.timeline);
            for r in &t.ranges {
                println!("  {} .. {} ({} segments)", r.first, r.last, r.count);
            }
            for p in &t.partial {
                println!("  {p}");
            }
        }
        if let Some((_, m)) = oldest {
            println!("oldest base backup needs WAL from {}", m.wal_start_segment);
        }
        for g in &c.gaps {
            println!(
                "GAP on timeline {}: {} .. {} ({} segments missing)",
                g.timeline, g.from, g.to, g.missing
            );
        }
        for p in &c.problems {
            println!("PROBLEM: {p}");
        }
        if ok {
            println!(
                "no gaps: WAL is continuous{}",
                if a.read_data {
                    " and every file verified"
                } else {
                    ""
                }
            );
        }
    }
    Ok(if ok { 0 } else { 1 })
}

fn wal_show(cli: &Cli, a: &WalShowArgs) -> Result<i32> {
    let repo = open_repo(cli)?;
    let archive = WalArchive::from_repo(&repo);
    let mut clusters = Vec::new();
    let now = jiff::Timestamp::now();
    for b in archive.bindings()? {
        let state = pitr::cluster_state(&repo, Some(&b.cluster))?;
        let stored: u64 = state.files.iter().map(|f| f.size).sum();
        let age = state
            .end
            .newest_archived_at
            .map(|t| (now.as_millisecond() - t.as_millisecond()) as f64 / 1000.0);
        clusters.push(serde_json::json!({
            "cluster": b.cluster,
            "system_identifier": b.system_identifier,
            "wal_segment_size": b.wal_segment_size,
            "files": state.files.len(),
            "stored_bytes": stored,
            "newest_segment": state.end.newest_segment.as_ref().map(|s| s.2.clone()),
            "newest_archived_at": state.end.newest_archived_at.map(|t| t.to_string()),
            "newest_age_seconds": age,
            "timelines": state.files.iter().map(|f| f.file.tli).collect::<std::collections::BTreeSet<_>>(),
            "base_backups": state.backups.len(),
            "newest_base_backup": state.backups.last().map(|(id, m)| serde_json::json!({"snapshot_id": id, "stop_time": m.stop_time, "stop_lsn": m.stop_lsn})),
        }));
    }
    if a.json {
        output::json(&serde_json::json!({ "clusters": clusters }));
    } else {
        if clusters.is_empty() {
            println!("no WAL archived in this repository");
        }
        for c in &clusters {
            println!(
                "cluster '{}' (system {}): {} files, {}; newest segment {} archived {} ({}s ago); {} base backups",
                c["cluster"].as_str().unwrap_or(""),
                c["system_identifier"].as_str().unwrap_or(""),
                c["files"],
                output::human_bytes(c["stored_bytes"].as_u64().unwrap_or(0)),
                c["newest_segment"].as_str().unwrap_or("-"),
                c["newest_archived_at"].as_str().unwrap_or("-"),
                c["newest_age_seconds"].as_f64().map(|s| format!("{s:.0}")).unwrap_or("-".into()),
                c["base_backups"]
            );
        }
    }
    Ok(0)
}

/// What WAL expiry did (or would do) for one cluster.
#[derive(Debug, serde::Serialize)]
pub struct ExpireReport {
    /// Per cluster.
    pub clusters: Vec<ClusterExpiry>,
    /// True when nothing was deleted on purpose.
    pub dry_run: bool,
}

/// Expiry of one cluster.
#[derive(Debug, serde::Serialize)]
pub struct ClusterExpiry {
    /// Cluster name.
    pub cluster: String,
    /// Kept base backups.
    pub base_backups: usize,
    /// WAL before this segment number may go (oldest kept backup's start).
    pub keep_from: Option<String>,
    /// Files deleted.
    pub deleted: Vec<String>,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Files that may go but are still under object-lock retention (a later run deletes them).
    pub retained: Vec<String>,
    /// Why nothing was deleted, when so.
    pub note: Option<String>,
}

/// Deletes WAL that no remaining physical base backup needs (every cluster, or one).
pub fn expire(repo: &Repository, cluster: Option<&str>, dry_run: bool) -> Result<ExpireReport> {
    if !dry_run {
        repo.require_writable("wal expire")?;
    }
    let archive = WalArchive::from_repo(repo);
    let mut out = ExpireReport {
        clusters: Vec::new(),
        dry_run,
    };
    for b in archive.bindings()? {
        if cluster.is_some_and(|c| c != b.cluster) {
            continue;
        }
        let state = pitr::cluster_state(repo, Some(&b.cluster))?;
        let starts: Vec<u64> = state
            .backups
            .iter()
            .filter(|(_, m)| !m.wal_included)
            .map(|(_, m)| m.start_lsn.segno(m.wal_segment_size))
            .collect();
        let names: Vec<_> = state.files.iter().map(|f| f.file.clone()).collect();
        let gone = expire_candidates(&names, &starts);
        let mut c = ClusterExpiry {
            cluster: b.cluster.clone(),
            base_backups: state.backups.len(),
            keep_from: state
                .backups
                .iter()
                .filter(|(_, m)| !m.wal_included)
                .min_by_key(|(_, m)| m.start_lsn)
                .map(|(_, m)| m.wal_start_segment.clone()),
            deleted: Vec::new(),
            retained: Vec::new(),
            bytes_freed: 0,
            note: starts.is_empty().then(|| {
                "no physical base backup: nothing expires (the WAL may belong to a backup in progress)".to_string()
            }),
        };
        for g in gone {
            let f = state
                .files
                .iter()
                .find(|f| f.file.name == g.name)
                .expect("listed");
            if !dry_run {
                match repo.storage().remove(&f.key) {
                    Ok(()) => {}
                    // Under object-lock retention: deletable later, by a later expiry.
                    Err(e) if e.kind == lifeboat_storage::ErrorKind::Locked => {
                        c.retained.push(g.name.clone());
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            c.deleted.push(g.name.clone());
            c.bytes_freed += f.size;
        }
        out.clusters.push(c);
    }
    Ok(out)
}

fn print_expire(r: &ExpireReport) {
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

/// Runs WAL expiry after `prune` (so forgetting base backups also frees their WAL).
pub fn expire_after_prune(repo: &Repository, dry_run: bool, json: bool) -> Result<()> {
    let report = expire(repo, None, dry_run)?;
    if report.clusters.is_empty() {
        return Ok(());
    }
    if json {
        // Keep stdout one JSON document (prune's); summarise on stderr.
        let n: usize = report.clusters.iter().map(|c| c.deleted.len()).sum();
        eprintln!(
            "WAL expiry: {} {n} WAL files no kept base backup needs (details: lifeboat wal expire --dry-run --json)",
            if dry_run { "would delete" } else { "deleted" }
        );
    } else {
        print_expire(&report);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(args: &[&str]) -> Vec<String> {
        rewrite_args(args.iter().map(OsString::from))
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn rewrites_postgres_subcommands() {
        assert_eq!(
            rw(&["lb", "backup", "postgres", "--dsn", "x"]),
            ["lb", "backup-postgres", "--dsn", "x"]
        );
        assert_eq!(
            rw(&["lb", "-r", "/repo", "restore", "postgres", "abc"]),
            ["lb", "-r", "/repo", "restore-postgres", "abc"]
        );
        assert_eq!(
            rw(&["lb", "restore", "-q", "postgres"]),
            ["lb", "restore-postgres", "-q"]
        );
        assert_eq!(
            rw(&["lb", "backup", "/srv", "postgres"]),
            ["lb", "backup", "/srv", "postgres"]
        );
        assert_eq!(
            rw(&["lb", "backup", "--tag", "t", "postgres"]),
            ["lb", "backup", "--tag", "t", "postgres"]
        );
        assert_eq!(
            rw(&["lb", "restore", "latest", "--target", "postgres"]),
            ["lb", "restore", "latest", "--target", "postgres"]
        );
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2026-11-01T14:35:00Z").unwrap(),
            "2026-11-01T14:35:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        assert_eq!(
            parse_time("2026-11-01 14:35:00.5+00").unwrap(),
            "2026-11-01T14:35:00.5Z".parse::<jiff::Timestamp>().unwrap()
        );
        assert!(parse_time("2026-11-01 14:35:00").is_ok());
        assert!(parse_time("yesterday").is_err());
    }
}
