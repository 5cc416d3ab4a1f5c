//! Throwaway PostgreSQL clusters in scratch space (restore drills of logical backups) and
//! stopping servers that lifeboat started.
//!
//! A [`ScratchCluster`] is `initdb` of one exact major version (the dump's), configured for a
//! short life: unix socket only (`listen_addresses = ''`), a port chosen by lifeboat,
//! `fsync = off` (the data is thrown away), no archiving, no autovacuum. When lifeboat runs as
//! root the cluster belongs to and runs as an unprivileged user (PostgreSQL refuses root).
//! Dropping it stops the server (`immediate`); the files stay for the caller to remove.

use crate::error::{PgError, Result};
use crate::pitr::server::{free_port, pid_alive};
use crate::pitr::user::{chown_tree, lookup_user, RunAs};
use crate::tools::{run_capture, PgTools};
use lifeboat_core::error::Hint;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The server programs of exactly PostgreSQL `major` (`initdb`, `pg_ctl`, `postgres`), or an
/// error naming the missing version.
pub fn server_tools(major: u32) -> Result<PgTools> {
    let tools = PgTools::locate(Some(major));
    let initdb = tools.program("initdb");
    let version = Command::new(&initdb)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let found = version.as_deref().and_then(|v| {
        v.rsplit(' ')
            .next()
            .and_then(|n| n.split('.').next())
            .and_then(|m| m.parse::<u32>().ok())
    });
    if found == Some(major) {
        return Ok(tools);
    }
    let have = match &version {
        Some(v) => format!("the installed initdb is \"{v}\""),
        None => "no initdb was found".to_string(),
    };
    Err(PgError::guided(
        format!(
            "the backup was made by PostgreSQL {major}, and a drill restores it into a PostgreSQL {major} server, but PostgreSQL {major}'s server programs are not installed ({have}); install them (Debian: apt-get install postgresql-{major}) or point LIFEBOAT_PG_BINDIR at their bin directory"
        ),
        Hint::InstallPostgres,
    ))
}

/// The user a server runs as when lifeboat runs as root (`name`, default `postgres`); `None`
/// when lifeboat is not root (the server runs as lifeboat's user).
pub fn server_user(name: Option<&str>) -> Result<Option<RunAs>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = name.unwrap_or("postgres");
    let user = lookup_user(name).ok_or_else(|| {
        PgError::guided(
            format!(
                "PostgreSQL refuses to run as root, and there is no user '{name}' to run the scratch server as; name the operating-system user PostgreSQL runs as"
            ),
            Hint::SetOption {
                option: "run_as",
                value: None,
            },
        )
    })?;
    if user.uid == 0 {
        return Err(PgError::guided(
            format!("user '{name}' is root, and PostgreSQL refuses to run as root"),
            Hint::SetOption {
                option: "run_as",
                value: None,
            },
        ));
    }
    Ok(Some(user))
}

/// A free TCP port number other than `avoid`.
pub fn port_other_than(avoid: Option<u16>) -> Result<u16> {
    loop {
        let p = free_port()?;
        if Some(p) != avoid {
            return Ok(p);
        }
    }
}

/// A running throwaway cluster (see the module documentation).
#[derive(Debug)]
pub struct ScratchCluster {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The unix socket directory.
    pub socket_dir: PathBuf,
    /// The port (names the socket file; nothing listens on TCP).
    pub port: u16,
    /// The superuser to connect as.
    pub superuser: String,
    /// The server log.
    pub log_file: PathBuf,
    /// The cluster's programs.
    pub tools: PgTools,
    run_as: Option<RunAs>,
    running: bool,
}

impl ScratchCluster {
    /// Creates (`initdb`) and starts a cluster of PostgreSQL `major` in `data_dir` (missing or
    /// empty), its socket in `socket_dir`, on a port other than `avoid_port`.
    pub fn create(
        major: u32,
        data_dir: &Path,
        socket_dir: &Path,
        run_as: Option<&str>,
        avoid_port: Option<u16>,
    ) -> Result<ScratchCluster> {
        let tools = server_tools(major)?;
        let user = server_user(run_as)?;
        for d in [data_dir, socket_dir] {
            std::fs::create_dir_all(d).map_err(|e| PgError::io("creating", d, e))?;
            if let Some(u) = &user {
                chown_tree(d, u)?;
            }
        }
        let as_user = |c: &mut Command| {
            if let Some(u) = &user {
                c.uid(u.uid).gid(u.gid);
            }
        };
        let mut c = tools.command("initdb");
        c.args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "-N",
        ])
        .arg("--no-instructions")
        .arg("-D")
        .arg(data_dir)
        .current_dir(data_dir)
        .env("LC_ALL", "C");
        as_user(&mut c);
        run_capture(c, "initdb")?;
        let port = port_other_than(avoid_port)?;
        let conf = format!(
            "\n# lifeboat drill: a throwaway copy\nlisten_addresses = ''\nunix_socket_directories = {}\nport = {port}\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\narchive_mode = off\nautovacuum = off\nmax_wal_size = '4GB'\nshared_buffers = '128MB'\nmaintenance_work_mem = '256MB'\nlogging_collector = off\nlc_messages = 'C'\n",
            crate::tools::conf_quote(&socket_dir.to_string_lossy())
        );
        let conf_path = data_dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path)
            .map_err(|e| PgError::io("reading", &conf_path, e))?;
        text.push_str(&conf);
        std::fs::write(&conf_path, text).map_err(|e| PgError::io("writing", &conf_path, e))?;
        let log_file = data_dir.join("lifeboat-drill.log");
        let mut c = tools.command("pg_ctl");
        c.arg("-D")
            .arg(data_dir)
            .arg("-l")
            .arg(&log_file)
            .args(["-w", "-t", "120", "start"])
            .current_dir(data_dir)
            .stdout(std::process::Stdio::null());
        as_user(&mut c);
        run_capture(c, "pg_ctl start").map_err(|e| {
            let log = std::fs::read_to_string(&log_file).unwrap_or_default();
            PgError::Tool(format!(
                "{e}; the scratch server's log ended with:\n{}",
                crate::tools::last_lines(&log, 15)
            ))
        })?;
        Ok(ScratchCluster {
            data_dir: data_dir.to_path_buf(),
            socket_dir: socket_dir.to_path_buf(),
            port,
            superuser: "postgres".into(),
            log_file,
            tools,
            run_as: user,
            running: true,
        })
    }

    /// A connection string for `database`.
    pub fn dsn(&self, database: &str) -> String {
        format!(
            "host='{}' port={} user={} dbname='{}'",
            self.socket_dir.display(),
            self.port,
            self.superuser,
            database.replace('\\', "\\\\").replace('\'', "\\'")
        )
    }

    /// Stops the server (fast shutdown, immediate when that takes too long).
    pub fn stop(&mut self) {
        if self.running {
            stop_data_dir(&self.tools, &self.data_dir, self.run_as.as_ref());
            self.running = false;
        }
    }

    /// Forgets the server without stopping it (`drill run --keep`).
    pub fn leave_running(mut self) {
        self.running = false;
    }
}

impl Drop for ScratchCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Stops the server of `data_dir` with `pg_ctl stop -m fast` (as `run_as`), falling back to
/// signalling the postmaster recorded in `postmaster.pid`.
pub fn stop_data_dir(tools: &PgTools, data_dir: &Path, run_as: Option<&RunAs>) {
    let mut c = tools.command("pg_ctl");
    c.arg("-D")
        .arg(data_dir)
        .args(["-m", "fast", "-w", "-t", "30", "stop"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(u) = run_as {
        c.uid(u.uid).gid(u.gid);
    }
    let _ = c.status();
    kill_postmaster(data_dir);
}

/// Stops whatever server still runs in `data_dir` by signalling the postmaster that
/// `postmaster.pid` names: SIGQUIT (immediate shutdown), then SIGKILL after 10 s. Returns
/// whether a server was running. Needs no PostgreSQL programs (leftovers of a killed drill).
pub fn kill_postmaster(data_dir: &Path) -> bool {
    let pid: i32 = std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    if pid <= 0 || !pid_alive(pid) || !is_postgres(pid, data_dir) {
        return false;
    }
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, libc::SIGQUIT) };
    let t0 = Instant::now();
    while pid_alive(pid) && t0.elapsed() < Duration::from_secs(10) {
        reap(pid);
        std::thread::sleep(Duration::from_millis(50));
    }
    if pid_alive(pid) {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        std::thread::sleep(Duration::from_millis(200));
        reap(pid);
    }
    true
}

fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG on a pid that may not be our child simply fails.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
}

/// True when process `pid` is a PostgreSQL server whose command line or working directory
/// names `data_dir` (a recycled pid is left alone).
fn is_postgres(pid: i32, data_dir: &Path) -> bool {
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
    let canon = std::fs::canonicalize(data_dir).ok();
    if cwd.is_some() && cwd == canon {
        return true;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text = String::from_utf8_lossy(&cmdline);
    text.contains("postgres") && text.contains(&*data_dir.to_string_lossy())
}
