//! `lifeboat backup postgres` and `lifeboat restore postgres`: arguments, calls into the
//! operations layer, and output.

use crate::output;
use crate::session::Session;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use lifeboat_ops::backup::{
    self, DatabaseSelection, PhysicalReport, PhysicalRequest, PostgresReport, PostgresRequest,
    SnapshotLabels,
};
use lifeboat_postgres::counts::RowCounts;
use lifeboat_postgres::logical::LogicalRestoreOptions;
use lifeboat_postgres::pitr::{PhysicalRestoreOptions, StartOptions};
use lifeboat_postgres::plan::RecoveryTarget;
use lifeboat_postgres::tools::shell_quote;
use lifeboat_postgres::wal::DEFAULT_CLUSTER;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Record no row counts (by default every table's exact row count is recorded, counted in
    /// the dump's own snapshot, for drills' `row_count` checks)
    #[arg(long, conflicts_with_all = ["physical", "count_rows"])]
    no_count_rows: bool,
    /// Record the row counts of only these tables (repeatable; `table` or `schema.table`)
    #[arg(long = "count-rows", value_name = "TABLE", conflicts_with = "physical")]
    count_rows: Vec<String>,
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
pub enum Method {
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
    /// With --keep-running: also serve TCP clients, on ADDR (`127.0.0.1`, `0.0.0.0`, a list
    /// `a,b`) or ADDR:PORT (the port then replaces --port); the restored pg_hba.conf decides who
    /// may connect
    #[arg(long, value_name = "ADDR[:PORT]", requires = "keep_running")]
    listen: Option<String>,
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

impl Method {
    fn ops(self) -> backup::Method {
        match self {
            Method::Auto => backup::Method::Auto,
            Method::Copy => backup::Method::Copy,
            Method::PgBasebackup => backup::Method::PgBasebackup,
        }
    }
}

/// Runs `lifeboat backup postgres`.
pub fn backup(s: &Session, a: &PgBackupArgs) -> Result<i32> {
    let repo = s.open()?;
    let display = s
        .show_progress()
        .then(|| output::ProgressDisplay::backup(s.ctx.progress.clone()));
    let labels = SnapshotLabels {
        tags: a.tags.clone(),
        host: a.host.clone(),
    };
    if a.physical {
        let r = backup::postgres_physical(
            &s.ctx,
            &repo,
            &PhysicalRequest {
                dsn: a.dsn.clone(),
                cluster: a.cluster.clone(),
                fast_checkpoint: matches!(a.checkpoint, Checkpoint::Fast),
                wal_timeout_seconds: a.wal_timeout,
                include_wal: a.include_wal,
                method: a.method.ops(),
                force: a.force,
                labels,
            },
        )?;
        drop(display);
        print_physical(s, &r, a.json);
        return Ok(0);
    }
    let databases = if a.all {
        DatabaseSelection::All
    } else if !a.databases.is_empty() {
        DatabaseSelection::Named(a.databases.clone())
    } else {
        DatabaseSelection::FromDsn
    };
    let reports = backup::postgres(
        &s.ctx,
        &repo,
        &PostgresRequest {
            dsn: a.dsn.clone(),
            databases,
            count_rows: if a.no_count_rows {
                RowCounts::None
            } else if a.count_rows.is_empty() {
                RowCounts::All
            } else {
                RowCounts::Tables(a.count_rows.clone())
            },
            labels,
        },
    )?;
    drop(display);
    print_logical(s, &reports, a.json);
    Ok(0)
}

/// Prints a physical base backup's report.
pub fn print_physical(s: &Session, r: &PhysicalReport, json: bool) {
    if json {
        output::json(r);
        return;
    }
    if s.quiet {
        return;
    }
    let m = &r.postgres;
    let sum = r.backup.summary.clone().unwrap_or_default();
    println!(
        "base backup {} of cluster '{}' (system {}, PostgreSQL {}): timeline {}, LSN {} .. {}, WAL {} .. {} archived",
        &r.backup.snapshot_id[..8],
        m.cluster,
        m.system_identifier,
        m.server_version,
        m.timeline,
        m.start_lsn,
        m.stop_lsn,
        m.wal_start_segment,
        m.wal_stop_segment
    );
    println!(
        "  {} read, {} added to the repository, {:.1}s",
        output::human_bytes(sum.bytes_read),
        output::human_bytes(sum.bytes_added),
        sum.duration_seconds
    );
}

/// Prints a logical backup's reports.
pub fn print_logical(s: &Session, reports: &[PostgresReport], json: bool) {
    if json {
        output::json(&reports);
        return;
    }
    if s.quiet {
        return;
    }
    for o in reports {
        let sum = o.backup.summary.clone().unwrap_or_default();
        println!(
            "snapshot {} of {} ({} format, PostgreSQL {}): {}, {} added, sha256 {}",
            &o.backup.snapshot_id[..8],
            match &o.postgres.database {
                Some(d) => format!("database '{d}'"),
                None => "roles and tablespaces".into(),
            },
            o.postgres.format,
            o.postgres.server_version,
            output::human_bytes(o.postgres.size),
            output::human_bytes(sum.bytes_added),
            &o.postgres.sha256[..16]
        );
    }
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
        None if repo.contains(':') || repo.starts_with('@') => return repo.to_string(),
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

/// The restore_command written into a restored data directory: this executable with the
/// same repository, configuration file and password options.
pub(crate) fn restore_command(
    s: &Session,
    config: Option<&std::path::Path>,
    repo: Option<&str>,
) -> Result<String> {
    let exe = std::env::current_exe().context("finding the lifeboat executable")?;
    let mut parts = vec![shell_quote(&exe.to_string_lossy())];
    if let Some(c) = config {
        parts.push("--config".into());
        parts.push(shell_quote(
            &std::path::absolute(c)
                .unwrap_or(c.to_path_buf())
                .to_string_lossy(),
        ));
    }
    if let Some(r) = repo.or(s.repo.as_deref()) {
        parts.push("-r".into());
        parts.push(shell_quote(&absolute_repo(r)));
    }
    let (file, command) = s.password_flags();
    if let Some(f) = file {
        parts.push("--password-file".into());
        parts.push(shell_quote(
            &std::path::absolute(f)
                .unwrap_or(f.clone())
                .to_string_lossy(),
        ));
    } else if let Some(c) = command {
        parts.push("--password-command".into());
        parts.push(shell_quote(c));
    }
    parts.push("wal-fetch %f %p".into());
    Ok(parts.join(" "))
}

/// Runs `lifeboat restore postgres`.
pub fn restore(s: &Session, a: &PgRestoreArgs) -> Result<i32> {
    if a.physical {
        return restore_physical(s, a);
    }
    let Some(snapshot) = &a.snapshot else {
        bail!("give the snapshot of a logical backup to restore (see `lifeboat snapshots`), or --physical --target-dir DIR for a physical restore");
    };
    let Some(dsn) = &a.dsn else {
        bail!("give the target server with --dsn (or LIFEBOAT_PG_DSN)");
    };
    let repo = s.open()?;
    let report = lifeboat_ops::restore::postgres(
        &s.ctx,
        &repo,
        snapshot,
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
            no_privileges: false,
            into_database: a.into_database.clone(),
            temp_dir: a.temp_dir.clone(),
        },
    )?;
    if a.json {
        output::json(&report);
    } else if !s.quiet {
        println!(
            "restored snapshot {} ({}) into {} in {:.2}s",
            &report.snapshot_id[..8],
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

fn restore_physical(s: &Session, a: &PgRestoreArgs) -> Result<i32> {
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
    let named = s.target()?;
    let password = s.password(&named, false)?;
    let repo = lifeboat_ops::open::open(&named.location, &password)?;
    let archive_off = match a.archive_mode {
        Some(m) => m == ArchiveMode::Off,
        None => a.start,
    };
    let config_path = s.config()?.map(|c| c.path.clone());
    let (listen_addr, listen_port) = match a.listen.as_deref().map(split_listen).transpose()? {
        Some((addr, port)) => (Some(addr), port),
        None => (None, None),
    };
    let opts = PhysicalRestoreOptions {
        target_dir: a.target_dir.clone().expect("clap requires it"),
        target,
        snapshot: a.snapshot.clone().or(a.snapshot_opt.clone()),
        cluster: a.cluster.clone(),
        restore_command: restore_command(s, config_path.as_deref(), None)?,
        archive_off,
        exclusive: a.exclusive,
        start: a.start.then(|| StartOptions {
            port: listen_port.or(a.port),
            keep_running: a.keep_running,
            listen: listen_addr.clone(),
            timeout: Duration::from_secs(a.start_timeout),
            env: Vec::new(),
            run_as: a.run_as.clone(),
        }),
        tablespace_map: a.tablespace_map.clone(),
        known_points: Vec::new(),
    };
    let report = lifeboat_ops::restore::postgres_physical(&s.ctx, &repo, &opts, Some(&password))?;
    if a.json {
        output::json(&report);
        return Ok(0);
    }
    if s.quiet {
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
                if let (Some(l), Some(tcp)) = (&s.listen, &s.tcp_dsn) {
                    println!(
                        "it serves TCP clients on {l}, port {}: psql \"{tcp}\"",
                        s.port
                    );
                }
            } else {
                println!("the temporary server was stopped");
            }
        }
        None => {
            if s.password_flags() == (None, None) && named.password.is_none() {
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

/// `--listen ADDR` or `ADDR:PORT` (IPv6 as `[::1]:PORT`): the addresses and the port, if given.
fn split_listen(v: &str) -> Result<(String, Option<u16>)> {
    let bad = || anyhow::anyhow!("--listen {v}: give ADDR (127.0.0.1, 0.0.0.0, a,b) or ADDR:PORT");
    if let Some(rest) = v.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None if tail.is_empty() => None,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    match v.rsplit_once(':') {
        // One colon: host:port; more (a bare IPv6 address) is an address.
        Some((host, port)) if !host.contains(':') => {
            Ok((host.to_string(), Some(port.parse().map_err(|_| bad())?)))
        }
        _ if v.trim().is_empty() => Err(bad()),
        _ => Ok((v.to_string(), None)),
    }
}
