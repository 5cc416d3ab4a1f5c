//! The temporary server after a restore: starting it with `pg_ctl` (as the `--run-as` user
//! when lifeboat runs as root, with a private key cache for its `restore_command`), waiting
//! until recovery promotes it, and reading what recovery reached.

use super::user::{chown_tree, RunAs};
use crate::error::{PgError, Result};
use crate::lsn::Lsn;
use crate::physical::PhysicalMeta;
use crate::tools::{last_lines, PgTools};
use crate::wal::WalKeys;
use lifeboat_core::Repository;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of a temporary server start after restore.
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// Port (default: a free one).
    pub port: Option<u16>,
    /// Leave the server running after recovery.
    pub keep_running: bool,
    /// Also serve TCP clients on these addresses (`listen_addresses`: `127.0.0.1`,
    /// `0.0.0.0`, `*`, a comma-separated list); default none (unix socket only).
    pub listen: Option<String>,
    /// Give up waiting for recovery after this long.
    pub timeout: Duration,
    /// Extra environment for the server (and so for its restore_command).
    pub env: Vec<(String, String)>,
    /// The operating-system user the server runs as when lifeboat runs as root (PostgreSQL
    /// refuses root); default `postgres`. The restored directories are given to this user.
    pub run_as: Option<String>,
}

/// What recovery reached (read from the server log and, where possible, SQL).
#[derive(Clone, Debug, Serialize, Default)]
pub struct RecoveryPoint {
    /// LSN of the last replayed record ("redo done at").
    pub lsn: Option<String>,
    /// Commit time of the last replayed transaction.
    pub last_transaction_time: Option<String>,
    /// The server's own "recovery stopping ..." message.
    pub stop_message: Option<String>,
    /// New timeline after promotion.
    pub timeline: Option<u32>,
}

/// Result of starting the restored server.
#[derive(Clone, Debug, Serialize)]
pub struct StartReport {
    /// Port.
    pub port: u16,
    /// Unix socket directory.
    pub socket_dir: PathBuf,
    /// Connection string for psql.
    pub dsn: String,
    /// The server log.
    pub log_file: PathBuf,
    /// Where recovery stopped.
    pub recovery: RecoveryPoint,
    /// Seconds from server start to promotion.
    pub recovery_seconds: f64,
    /// True when left running (`--keep-running`).
    pub running: bool,
    /// The TCP addresses it listens on (`--listen`), when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Connection string for TCP clients (the first `--listen` address; `localhost` for a
    /// wildcard).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_dsn: Option<String>,
    /// The operating-system user the server ran as, when lifeboat ran as root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as: Option<String>,
}

pub(crate) fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| PgError::io("finding a free port", "127.0.0.1", e))?;
    Ok(l.local_addr()
        .map_err(|e| PgError::io("finding a free port", "127.0.0.1", e))?
        .port())
}

pub(crate) fn pid_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// Parses what recovery reached from the server log.
pub fn parse_recovery_log(log: &str) -> RecoveryPoint {
    let mut p = RecoveryPoint::default();
    for line in log.lines() {
        if let Some(i) = line.find("recovery stopping ") {
            p.stop_message = Some(line[i..].trim().to_string());
        }
        if let Some(i) = line.find("redo done at ") {
            p.lsn = line[i + 13..].split_whitespace().next().map(str::to_string);
        }
        if let Some(i) = line.find("last completed transaction was at log time ") {
            p.last_transaction_time = Some(line[i + 43..].trim().to_string());
        }
        if let Some(i) = line.find("selected new timeline ID: ") {
            p.timeline = line[i + 26..]
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok());
        }
    }
    p
}

/// Starts the restored server in `dir` and waits until recovery has promoted it (stopping it
/// again unless `st.keep_running`); on failure the server is stopped and the log's end reported.
pub fn start_and_wait(
    repo: &Repository,
    dir: &Path,
    meta: &PhysicalMeta,
    st: &StartOptions,
    password: Option<&[u8]>,
    run_as: Option<&RunAs>,
) -> Result<StartReport> {
    use std::os::unix::process::CommandExt;
    let as_user = |c: &mut std::process::Command| {
        if let Some(u) = run_as {
            c.uid(u.uid).gid(u.gid);
        }
    };
    let tools = PgTools::locate(Some(meta.server_version_num / 10000));
    let port = match st.port {
        Some(p) => p,
        None => free_port()?,
    };
    // Unix socket paths are limited to ~107 bytes.
    let socket_dir = if dir.as_os_str().len() < 90 {
        dir.to_path_buf()
    } else {
        let d = std::env::temp_dir().join(format!("lifeboat-pg-{port}"));
        std::fs::create_dir_all(&d).map_err(|e| PgError::io("creating", &d, e))?;
        if let Some(u) = run_as {
            chown_tree(&d, u)?;
        }
        d
    };
    let log_file = dir.join("lifeboat-recovery.log");
    // A private key cache for the server's restore_command calls, so each wal-fetch skips the
    // password derivation; removed once recovery is over.
    let cache = tempfile::Builder::new()
        .prefix("lifeboat-keycache-")
        .tempdir()
        .map_err(|e| PgError::io("creating a key cache directory in", std::env::temp_dir(), e))?;
    if let Some(pw) = password {
        let keys = WalKeys::from(repo.keys());
        if let Err(e) =
            crate::wal::KeyCache::store(cache.path(), &repo.config().id, repo.key_id(), pw, &keys)
        {
            tracing::warn!("cannot prepare the key cache: {e}");
        }
    }
    if let Some(u) = run_as {
        // The server's restore_command runs as that user and reads the key cache.
        chown_tree(cache.path(), u)?;
    }
    let mut cmd = tools.command("pg_ctl");
    cmd.arg("-D")
        .arg(dir)
        .arg("-l")
        .arg(&log_file)
        .arg("-o")
        .arg(format!(
            "-p {port} -k {} -c listen_addresses={} -c logging_collector=off -c log_destination=stderr -c lc_messages=C",
            crate::tools::shell_quote(&socket_dir.to_string_lossy()),
            crate::tools::shell_quote(st.listen.as_deref().unwrap_or(""))
        ))
        .args(["-W", "start"]);
    as_user(&mut cmd);
    cmd.env("LIFEBOAT_KEY_CACHE", cache.path());
    for (k, v) in &st.env {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::null());
    let t0 = Instant::now();
    crate::tools::run_capture(cmd, "pg_ctl start")?;
    let dsn = format!("host={} port={port} dbname=postgres", socket_dir.display());
    let stop = |tools: &PgTools| {
        let mut c = tools.command("pg_ctl");
        c.arg("-D").arg(dir).args(["-m", "fast", "-w", "stop"]);
        as_user(&mut c);
        let _ = crate::tools::run_capture(c, "pg_ctl stop");
    };
    let deadline = t0 + st.timeout;
    let mut pid: i32 = 0;
    let fail = |why: String, tools: &PgTools| -> PgError {
        stop(tools);
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        PgError::Recovery(format!(
            "{why}. The server log ({}) ended with:\n{}",
            log_file.display(),
            last_lines(&log, 25)
        ))
    };
    loop {
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        if pid == 0 {
            pid = std::fs::read_to_string(dir.join("postmaster.pid"))
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
                .unwrap_or(0);
        }
        let promoted = log.contains("archive recovery complete")
            && log.contains("database system is ready to accept connections");
        if promoted {
            break;
        }
        if log.contains("recovery ended before configured recovery target was reached") {
            return Err(fail(
                "recovery ended before reaching the target: the archived WAL does not contain it"
                    .into(),
                &tools,
            ));
        }
        if pid != 0 && !pid_alive(pid) || pid == 0 && t0.elapsed() > Duration::from_secs(30) {
            return Err(fail(
                "the restored server stopped during recovery".into(),
                &tools,
            ));
        }
        if Instant::now() > deadline {
            return Err(fail(
                format!("recovery did not finish within {}s", st.timeout.as_secs()),
                &tools,
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovery_seconds = t0.elapsed().as_secs_f64();
    drop(cache);
    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
    let mut recovery = parse_recovery_log(&log);
    // Prefer the server's own answer where we can connect.
    if let Ok(r) = tools.query_row(
        &dsn,
        "SELECT pg_last_wal_replay_lsn(), pg_last_xact_replay_timestamp()",
    ) {
        if recovery.lsn.is_none() && !r[0].is_empty() {
            recovery.lsn = Some(r[0].clone());
        }
        if recovery.last_transaction_time.is_none() && !r[1].is_empty() {
            recovery.last_transaction_time = Some(r[1].clone());
        }
    }
    if let Some(l) = &recovery.lsn {
        recovery.lsn = l
            .parse::<Lsn>()
            .ok()
            .map(|l| l.to_string())
            .or(recovery.lsn.clone());
    }
    if !st.keep_running {
        stop(&tools);
    }
    Ok(StartReport {
        port,
        socket_dir,
        dsn,
        log_file,
        recovery,
        recovery_seconds,
        running: st.keep_running,
        run_as: run_as.map(|u| u.name.clone()),
        tcp_dsn: st.listen.as_deref().map(|l| {
            let first = l.split(',').next().unwrap_or("").trim();
            let host = match first {
                "" | "*" | "0.0.0.0" => "127.0.0.1",
                "::" => "::1",
                h => h,
            };
            format!("host={host} port={port} dbname=postgres")
        }),
        listen: st.listen.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_log_parsing() {
        let log = "2026-11-21 20:30:01.000 UTC [1] LOG:  starting point-in-time recovery to 2026-11-21 20:30:00+00\n\
            LOG:  recovery stopping before commit of transaction 741, time 2026-11-21 20:30:00.5+00\n\
            LOG:  redo done at 0/3000148 system usage: CPU: user: 0.00 s\n\
            LOG:  last completed transaction was at log time 2026-11-21 20:29:59.9+00\n\
            LOG:  selected new timeline ID: 2\n\
            LOG:  archive recovery complete\n";
        let p = parse_recovery_log(log);
        assert_eq!(p.lsn.as_deref(), Some("0/3000148"));
        assert_eq!(p.timeline, Some(2));
        assert_eq!(
            p.last_transaction_time.as_deref(),
            Some("2026-11-21 20:29:59.9+00")
        );
        assert!(p.stop_message.unwrap().contains("transaction 741"));
    }
}
