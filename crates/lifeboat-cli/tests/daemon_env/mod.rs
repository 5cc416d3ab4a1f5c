//! Helpers for tests of the real daemon: a configuration with a local repository, tokens of
//! every role, the daemon process on a free loopback port, an HTTP client, and a webhook
//! receiver that records what it is sent.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Tokens of each role.
pub struct Tokens {
    pub read: String,
    pub operator: String,
    pub admin: String,
}

/// A directory with a repository, a password file, data and tokens; `config(extra)` writes
/// the configuration file.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tokens: Tokens,
    hashes: Vec<(String, String, String)>,
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("lifeboat")
}

fn lifeboat(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("LIFEBOAT_INSECURE_TEST_KDF", "1")
        .env("HOME", dir)
        .env_remove("LIFEBOAT_CONFIG")
        .env_remove("LIFEBOAT_REPOSITORY")
        .env_remove("LIFEBOAT_PASSWORD")
        .env_remove("LIFEBOAT_STATE_DIR");
    c
}

impl Setup {
    /// A repository at `DIR/repo` (password in `DIR/pass`), data at `DIR/data`.
    pub fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("data")).unwrap();
        std::fs::write(d.join("data/a.txt"), "hello lifeboat\n").unwrap();
        std::fs::write(d.join("pass"), "pw\n").unwrap();
        let out = lifeboat(d)
            .args(["-r"])
            .arg(d.join("repo"))
            .arg("--password-file")
            .arg(d.join("pass"))
            .arg("init")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut hashes = Vec::new();
        let mut tok = |name: &str, role: &str| -> String {
            let out = lifeboat(d)
                .args(["daemon", "token", "add", name, "--role", role, "--json"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["name"], name);
            assert_eq!(v["role"], role);
            hashes.push((
                name.to_string(),
                role.to_string(),
                v["hash"].as_str().unwrap().to_string(),
            ));
            v["token"].as_str().unwrap().to_string()
        };
        let tokens = Tokens {
            read: tok("viewer", "read"),
            operator: tok("ci", "operator"),
            admin: tok("root", "admin"),
        };
        Setup {
            dir,
            port: free_port(),
            tokens,
            hashes,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `lifeboat.toml`: the repository `main`, the source `app` (the data directory),
    /// the `[daemon]` section and tokens, and `extra`.
    pub fn config(&self, extra: &str) -> PathBuf {
        let d = self.path();
        let mut text = format!(
            "[repositories.main]\nurl = \"{}\"\npassword_file = \"{}\"\n\n[sources.app]\nkind = \"files\"\npaths = [\"{}\"]\nrepository = \"main\"\n\n[daemon]\nlisten = \"127.0.0.1:{}\"\nstate_dir = \"{}\"\nshutdown_timeout = \"10s\"\nprobe_interval = \"1s\"\nrestore_roots = [\"{}\"]\n\n",
            d.join("repo").display(),
            d.join("pass").display(),
            d.join("data").display(),
            self.port,
            d.join("state").display(),
            d.join("restores").display(),
        );
        for (name, role, hash) in &self.hashes {
            text.push_str(&format!(
                "[daemon.tokens.{name}]\nrole = \"{role}\"\nhash = \"{hash}\"\n\n"
            ));
        }
        text.push_str(extra);
        let path = d.join("lifeboat.toml");
        std::fs::write(&path, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    /// A lifeboat command on the repository.
    pub fn cli(&self) -> Command {
        self.cli_on(&self.path().join("repo"))
    }

    /// A lifeboat command on the repository at `repo` (same password).
    pub fn cli_on(&self, repo: &Path) -> Command {
        let d = self.path();
        let mut c = lifeboat(d);
        c.arg("-r")
            .arg(repo)
            .arg("--password-file")
            .arg(d.join("pass"));
        c
    }

    /// Starts the daemon with `lifeboat.toml` and waits until it answers.
    pub fn start(&self) -> Daemon {
        let d = self.path();
        let log = d.join(format!(
            "daemon-{}.log",
            Instant::now().elapsed().as_nanos()
        ));
        let log_file = std::fs::File::create(&log).unwrap();
        let child = lifeboat(d)
            .args(["daemon", "--config"])
            .arg(d.join("lifeboat.toml"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let daemon = Daemon {
            child: Some(child),
            base: format!("http://127.0.0.1:{}", self.port),
            log,
        };
        daemon.wait_ready();
        daemon
    }
}

/// A running daemon process.
pub struct Daemon {
    child: Option<Child>,
    pub base: String,
    pub log: PathBuf,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> Answer {
    match r {
        Ok(r) => Answer {
            status: r.status(),
            body: r.into_string().unwrap_or_default(),
        },
        Err(ureq::Error::Status(code, r)) => Answer {
            status: code,
            body: r.into_string().unwrap_or_default(),
        },
        Err(e) => panic!("request failed: {e}"),
    }
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = ureq::get(&format!("{}/healthz", self.base))
                .timeout(Duration::from_secs(2))
                .call()
            {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not answer within 60 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A request with `token` (None: no Authorization header).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let mut req =
            ureq::request(method, &format!("{}{path}", self.base)).timeout(Duration::from_secs(60));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        answer(match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        })
    }

    /// A request whose body is `bytes`.
    pub fn upload(&self, path: &str, token: &str, bytes: &[u8]) -> Answer {
        answer(
            ureq::post(&format!("{}{path}", self.base))
                .timeout(Duration::from_secs(60))
                .set("Authorization", &format!("Bearer {token}"))
                .set("Content-Type", "application/octet-stream")
                .send_bytes(bytes),
        )
    }

    pub fn get(&self, path: &str, token: &str) -> serde_json::Value {
        let a = self.request("GET", path, Some(token), None);
        assert_eq!(a.status, 200, "GET {path}: {}", a.body);
        a.json()
    }

    /// Waits until `f` holds for the status (up to `secs`).
    pub fn wait_for(
        &self,
        token: &str,
        secs: u64,
        what: &str,
        f: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.get("/api/v1/status", token);
            if f(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; status: {s:#}\nlog:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until job `id` has an end state; returns it.
    pub fn wait_job(&self, token: &str, id: i64, secs: u64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let j = self.get(&format!("/api/v1/jobs/{id}"), token);
            let state = j["state"].as_str().unwrap_or("").to_string();
            if !matches!(state.as_str(), "queued" | "running") {
                return j;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} still {state}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `signal` and waits for the exit status.
    pub fn signal_and_wait(&mut self, signal: i32) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit after signal {signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A webhook receiver on a free loopback port: records each POSTed body.
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let b = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_ok() {
                    if let Ok(v) = serde_json::from_slice(&body) {
                        b.lock().unwrap().push(v);
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Receiver { url, bodies }
    }

    /// Waits for an event named `event`.
    pub fn wait_event(&self, event: &str, secs: u64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = self
                .bodies
                .lock()
                .unwrap()
                .iter()
                .find(|v| v["event"] == event)
            {
                return v.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {event} notification within {secs} s; got {:?}",
                self.bodies.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Parses a Prometheus text exposition into `name{labels} -> value`.
pub fn parse_metrics(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}
