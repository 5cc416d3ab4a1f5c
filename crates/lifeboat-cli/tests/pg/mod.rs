//! Shared helpers of the PostgreSQL integration tests: real clusters (initdb in temp dirs,
//! unix sockets, free ports) and a repository, with every process run as an unprivileged user
//! when the tests run as root (PostgreSQL refuses root).
//!
//! PostgreSQL must be installed (Debian: `apt-get install postgresql`); a missing installation
//! fails these tests, it never skips them.
#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "pg-test-password";

pub fn bindir() -> PathBuf {
    if let Some(d) = std::env::var_os("LIFEBOAT_PG_BINDIR") {
        return PathBuf::from(d);
    }
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
    {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if d.join("initdb").exists() {
            return d;
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).expect(
        "PostgreSQL server programs (initdb, pg_ctl) not found: install PostgreSQL (apt-get install postgresql) or set LIFEBOAT_PG_BINDIR; these tests do not skip",
    )
}

pub fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() > 3 && f[0] == name {
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        } else {
            None
        }
    })
}

/// The (uid, gid) to run as when we are root.
pub fn run_as() -> Option<(u32, u32)> {
    let euid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1);
    if euid != 0 {
        return None;
    }
    if let Some(u) = lookup_user("postgres").or_else(|| lookup_user("lifeboat-test")) {
        return Some(u);
    }
    let _ = std::process::Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "lifeboat-test",
        ])
        .status();
    Some(lookup_user("lifeboat-test").expect("running as root and no unprivileged user to run PostgreSQL as (creating lifeboat-test failed)"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A test environment: a temp dir owned by the user the servers run as, and a repository.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub user: Option<(u32, u32)>,
    pub bin: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("lbpg")
            .tempdir_in("/tmp")
            .unwrap();
        let user = run_as();
        if let Some((u, g)) = user {
            std::os::unix::fs::chown(dir.path(), Some(u), Some(g)).unwrap();
        }
        let env = Env {
            dir,
            user,
            bin: bindir(),
        };
        env.lb().arg("init").assert().success();
        env
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn repo(&self) -> PathBuf {
        self.path().join("repo")
    }

    /// A process running as the test user, with the repository environment.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut c = self.cmd_as_self(program);
        if let Some((u, g)) = self.user {
            c.uid(u).gid(g);
        }
        c
    }

    /// Like [`Env::cmd`], but as the test process's own user (root in CI).
    pub fn cmd_as_self(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut c = std::process::Command::new(program);
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.current_dir(self.path())
            .env("PATH", path)
            .env("HOME", self.path())
            .env("LIFEBOAT_REPOSITORY", self.repo())
            .env("LIFEBOAT_PASSWORD", PASSWORD)
            .env("LIFEBOAT_INSECURE_TEST_KDF", "1")
            .env("LIFEBOAT_PG_BINDIR", &self.bin)
            .env_remove("LIFEBOAT_KEY_CACHE")
            .env_remove("PGDATABASE")
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .env("LC_ALL", "C");
        c
    }

    pub fn lb(&self) -> Command {
        Command::from_std(self.cmd(env!("CARGO_BIN_EXE_lifeboat")))
    }

    pub fn lb_json(&self, args: &[&str]) -> Value {
        let out = self.lb().args(args).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "lifeboat {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "bad JSON from {args:?}: {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn snapshots(&self) -> Vec<Value> {
        self.lb_json(&["snapshots"]).as_array().unwrap().clone()
    }

    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .cmd(self.bin.join(program))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// pg_dump's plain output without the per-run random `\restrict` keys: the schema exactly, the
/// data as sorted lines (a restore may store rows in another physical order).
pub fn stable_dump(env: &Env, dsn: &str) -> String {
    let clean = |text: String| {
        text.lines()
            .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let schema = clean(env.run("pg_dump", &["-s", "-d", dsn]));
    let mut data = clean(env.run("pg_dump", &["-a", "-d", dsn]));
    data.sort();
    format!("{}\n-- data --\n{}", schema.join("\n"), data.join("\n"))
}

pub fn assert_same_dump(a: &str, b: &str, what: &str) {
    if a != b {
        let line = a.lines().zip(b.lines()).position(|(x, y)| x != y);
        let l = line.unwrap_or(0);
        panic!(
            "{what}: pg_dump output differs at line {l}: {:?} vs {:?}",
            a.lines().nth(l),
            b.lines().nth(l)
        );
    }
}

/// A running throwaway cluster.
pub struct Cluster<'a> {
    pub env: &'a Env,
    pub data: PathBuf,
    pub sock: PathBuf,
    pub port: u16,
}

impl<'a> Cluster<'a> {
    pub fn start(env: &'a Env, name: &str, archive: bool) -> Cluster<'a> {
        let data = env.path().join(name);
        let sock = env.path().join(format!("{name}-sock"));
        let port = free_port();
        env.run(
            "initdb",
            &[
                "-N",
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-instructions",
                "-D",
                data.to_str().unwrap(),
            ],
        );
        std::fs::create_dir_all(&sock).unwrap();
        if let Some((u, g)) = env.user {
            std::os::unix::fs::chown(&sock, Some(u), Some(g)).unwrap();
        }
        let mut conf = format!(
            "\nlisten_addresses = ''\nunix_socket_directories = '{}'\nport = {port}\nfsync = off\nwal_level = replica\nmax_wal_senders = 4\nshared_buffers = 32MB\nlc_messages = 'C'\n",
            sock.display()
        );
        if archive {
            conf.push_str(&format!(
                "archive_mode = on\narchive_command = '{} wal-push %p'\n",
                env!("CARGO_BIN_EXE_lifeboat")
            ));
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(&mut f, conf.as_bytes()).unwrap();
        let log = env.path().join(format!("{name}.log"));
        env.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        Cluster {
            env,
            data,
            sock,
            port,
        }
    }

    /// `lifeboat backup postgres --physical [extra...] --dsn <this cluster> --json`.
    pub fn physical_backup(&self, extra: &[&str]) -> Value {
        let dsn = self.dsn("postgres");
        let mut args = vec!["backup", "postgres", "--physical"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--dsn", &dsn]);
        self.env.lb_json(&args)
    }

    pub fn dsn(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={db}",
            self.sock.display(),
            self.port
        )
    }

    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.env
            .run(
                "psql",
                &[
                    "-X",
                    "-q",
                    "-A",
                    "-t",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-d",
                    &self.dsn(db),
                    "-c",
                    sql,
                ],
            )
            .trim()
            .to_string()
    }

    pub fn sysid(&self) -> String {
        self.psql(
            "postgres",
            "SELECT system_identifier FROM pg_control_system()",
        )
    }

    /// Closes the current WAL segment and waits until the archiver has stored it.
    pub fn switch_and_wait(&self) {
        let name = self.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
        let t0 = Instant::now();
        loop {
            let last = self.psql(
                "postgres",
                "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver",
            );
            if last.as_str() >= name.as_str() {
                return;
            }
            let failed = self.psql(
                "postgres",
                "SELECT coalesce(last_failed_wal, '') || ' ' || failed_count FROM pg_stat_archiver",
            );
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "segment {name} not archived (last {last}, failed {failed})"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Cluster<'_> {
    fn drop(&mut self) {
        let _ = self
            .env
            .cmd(self.env.bin.join("pg_ctl"))
            .args(["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub fn stop_dir(env: &Env, dir: &Path) {
    let _ = env
        .cmd(env.bin.join("pg_ctl"))
        .args(["-D", dir.to_str().unwrap(), "-m", "fast", "-w", "stop"])
        .stdout(Stdio::null())
        .status();
}

/// The configuration file of a test environment.
pub fn config_path(env: &Env) -> PathBuf {
    env.path().join("lifeboat.toml")
}

/// Writes the configuration: the test repository (password from `LIFEBOAT_PASSWORD`) plus
/// `body`.
pub fn write_config(env: &Env, body: &str) {
    let text = format!(
        "[repositories.main]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\n{body}",
        env.repo().display()
    );
    std::fs::write(config_path(env), text).unwrap();
}

/// Restores `--physical` with `target` into `dir` under the test directory, starts the server
/// and keeps it running, runs `sql` on it, and stops it. `lifeboat_json` runs lifeboat with the
/// given arguments and returns its `--json` report (with or without a configuration file).
pub fn restore_and_query(
    env: &Env,
    lifeboat_json: impl Fn(&[&str]) -> Value,
    dir: &str,
    target: &[&str],
    sql: &str,
) -> (Value, String) {
    let target_dir = env.path().join(dir);
    let mut args = vec![
        "restore",
        "postgres",
        "--physical",
        "--target-dir",
        target_dir.to_str().unwrap(),
    ];
    args.extend_from_slice(target);
    args.extend_from_slice(&["--start", "--keep-running", "--start-timeout", "120"]);
    let report = lifeboat_json(&args);
    let dsn = report["started"]["dsn"].as_str().unwrap().to_string() + " user=postgres";
    let out = env.run("psql", &["-X", "-A", "-t", "-d", &dsn, "-c", sql]);
    stop_dir(env, &target_dir);
    (report, out.trim().to_string())
}
