//! The dashboard in a real browser: a real `lifeboat daemon` (files source, local repository,
//! an operator token) on a loopback port, headless Chromium driven through chromedriver
//! (WebDriver, `thirtyfour`). It signs in with a wrong token (refused), then with the operator
//! token, clicks "Back up now" on the source's row and waits until the row shows the new
//! snapshot, the job history shows the backup as succeeded and the journal tail its record. A screenshot of the page is
//! saved to `TARGET_DIR/test-artifacts/dashboard.png` (and the whole page to
//! `dashboard-full.png`).
//!
//! Chromium and chromedriver are Debian packages (`scripts/test.sh` installs them); without
//! them this test fails, it never skips.

use anyhow::{bail, ensure, Context as _, Result};
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thirtyfour::prelude::*;

/// A program on PATH.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The browser and its driver, or a failure that says how to get them.
fn browser() -> (PathBuf, PathBuf) {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|n| which(n));
    let driver = which("chromedriver");
    match (chromium, driver) {
        (Some(c), Some(d)) => (c, d),
        (c, d) => panic!(
            "\n\n*** the dashboard test needs Chromium and chromedriver (found chromium: {}, chromedriver: {}).\n\
             *** Install them: apt-get install -y --no-install-recommends chromium chromium-driver\n\
             *** (scripts/test.sh does this). This test fails rather than skips without them.\n",
            c.map_or("no".into(), |p| p.display().to_string()),
            d.map_or("no".into(), |p| p.display().to_string()),
        ),
    }
}

/// Where artifacts go: `TARGET_DIR/test-artifacts` (the test binary is `TARGET_DIR/PROFILE/deps/…`).
fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("test-artifacts")
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
struct Proc {
    name: &'static str,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("{} did not stop on SIGTERM; killing it", self.name);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `cmd`, collecting its stderr (and stdout) lines; `ready` is sent the first line
/// for which `want` returns something.
fn spawn(
    name: &'static str,
    mut cmd: Command,
    want: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> Result<(Proc, std::sync::mpsc::Receiver<String>)> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let want = Arc::new(want);
    for stream in [
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let (log, tx, want) = (log.clone(), tx.clone(), want.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
                if let Some(v) = want(&line) {
                    let _ = tx.send(v);
                }
                log.lock().unwrap().push(line);
            }
        });
    }
    Ok((Proc { name, child, log }, rx))
}

/// The lifeboat binary with a clean environment.
fn lifeboat(home: &Path) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("lifeboat"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LIFEBOAT_INSECURE_TEST_KDF", "1")
        .env("LIFEBOAT_LOCK_WAIT", "2")
        .env("RUST_LOG", "info");
    c
}

fn run_ok(mut c: Command, what: &str) -> Result<Vec<u8>> {
    let out = c.output().with_context(|| format!("running {what}"))?;
    ensure!(
        out.status.success(),
        "{what} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.stdout)
}

/// A free loopback port (for chromedriver, which takes a port number).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The test's world: a repository, a files source, a daemon with an operator token.
struct World {
    _dir: tempfile::TempDir,
    home: PathBuf,
    repo: PathBuf,
    url: String,
    token: String,
    daemon: Proc,
}

fn world() -> Result<World> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().to_path_buf();
    let repo = root.join("repo");
    let src = root.join("app");
    std::fs::create_dir_all(src.join("sub"))?;
    std::fs::write(src.join("hello.txt"), "hello, dashboard\n")?;
    std::fs::write(src.join("sub/data.bin"), vec![42u8; 256 * 1024])?;
    let pass = root.join("repo.pass");
    std::fs::write(&pass, "correct horse\n")?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600))?;
    }

    let mut init = lifeboat(&root);
    init.arg("init")
        .env("LIFEBOAT_REPOSITORY", &repo)
        .env("LIFEBOAT_PASSWORD", "correct horse");
    run_ok(init, "lifeboat init")?;

    let mut add = lifeboat(&root);
    add.args([
        "daemon", "token", "add", "dash", "--role", "operator", "--json",
    ]);
    let tok: serde_json::Value =
        serde_json::from_slice(&run_ok(add, "lifeboat daemon token add")?)?;
    let token = tok["token"]
        .as_str()
        .context("token in the JSON")?
        .to_string();
    let hash = tok["hash"]
        .as_str()
        .context("hash in the JSON")?
        .to_string();
    ensure!(tok["role"] == "operator", "token JSON: {tok}");

    let config = root.join("lifeboat.toml");
    std::fs::write(
        &config,
        format!(
            r#"[repositories.main]
url = "{repo}"
password_file = "{pass}"

[sources.app]
kind = "files"
paths = ["{src}"]
repository = "main"

[targets.app]
rpo = "1h"
rto = "10m"

[drills.app-restore]
source = "app"
scratch_dir = "{scratch}"

[daemon]
listen = "127.0.0.1:0"
state_dir = "{state}"

[daemon.tokens.dash]
role = "operator"
hash = "{hash}"
"#,
            repo = repo.display(),
            pass = pass.display(),
            src = src.display(),
            scratch = root.join("scratch").display(),
            state = root.join("state").display(),
        ),
    )?;

    let mut cmd = lifeboat(&root);
    cmd.arg("--config").arg(&config).arg("daemon");
    let (daemon, ready) = spawn("lifeboat daemon", cmd, |line| {
        line.split("lifeboat daemon listening on ")
            .nth(1)
            .map(|u| u.trim().to_string())
    })?;
    let url = match ready.recv_timeout(Duration::from_secs(30)) {
        Ok(u) => u,
        Err(_) => bail!("the daemon did not start listening:\n{}", daemon.log()),
    };
    let url = if url.ends_with('/') {
        url
    } else {
        format!("{url}/")
    };
    Ok(World {
        _dir: dir,
        home: root,
        repo,
        url,
        token,
        daemon,
    })
}

/// Polls `check` every 250 ms until it gives `Some`, for at most `limit`.
async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let t0 = Instant::now();
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if t0.elapsed() > limit {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The text of the first element matching `css`, if any.
async fn text_of(driver: &WebDriver, css: &str) -> Result<Option<String>> {
    Ok(match driver.find_all(By::Css(css)).await?.first() {
        Some(e) => Some(e.text().await?),
        None => None,
    })
}

/// What the test does in the browser; returns the snapshot id the row showed.
async fn scenario(driver: &WebDriver, w: &World) -> Result<String> {
    driver.goto(&w.url).await?;

    // No token yet: the sign-in form.
    let token_input = driver.find(By::Id("token")).await?;
    ensure!(
        token_input.is_displayed().await?,
        "the token field is shown"
    );
    ensure!(
        !driver
            .find(By::Id("dashboard-view"))
            .await?
            .is_displayed()
            .await?,
        "the dashboard is hidden before signing in"
    );

    // A wrong token is refused.
    token_input.send_keys("lb_this-is-not-a-token").await?;
    driver.find(By::Id("login")).await?.click().await?;
    let err = wait_for(Duration::from_secs(10), "the login error", || async {
        let e = driver.find(By::Id("login-error")).await?;
        Ok(if e.is_displayed().await? {
            Some(e.text().await?)
        } else {
            None
        })
    })
    .await?;
    ensure!(err == "invalid token", "login error says {err:?}");
    ensure!(
        !driver
            .find(By::Id("dashboard-view"))
            .await?
            .is_displayed()
            .await?,
        "a wrong token shows no dashboard"
    );

    // The operator token signs in.
    let token_input = driver.find(By::Id("token")).await?;
    token_input.clear().await?;
    token_input.send_keys(w.token.as_str()).await?;
    driver.find(By::Id("login")).await?.click().await?;
    let row_css = r#"#sources tr[data-source="app"]"#;
    wait_for(Duration::from_secs(15), "the source's row", || async {
        Ok(driver.find_all(By::Css(row_css)).await?.first().map(|_| ()))
    })
    .await?;
    ensure!(
        driver
            .find(By::Id("dashboard-view"))
            .await?
            .is_displayed()
            .await?,
        "the dashboard is shown"
    );
    let stored: serde_json::Value = driver
        .execute("return sessionStorage.getItem('lifeboat.token');", vec![])
        .await?
        .json()
        .clone();
    ensure!(
        stored == w.token.as_str(),
        "the token is kept in sessionStorage"
    );
    ensure!(
        text_of(driver, "#role")
            .await?
            .as_deref()
            .map(str::to_lowercase)
            == Some("operator".into()),
        "the role badge shows the operator role"
    );
    // Nothing backed up yet: no snapshot, RPO unknown.
    let row = driver.find(By::Css(row_css)).await?;
    ensure!(
        row.find_all(By::Css(".rpo-unknown")).await?.len() == 1,
        "before any backup the RPO is unknown: {}",
        row.text().await?
    );
    ensure!(
        row.find_all(By::Css("td.snapshot code")).await?.is_empty(),
        "no snapshot yet: {}",
        row.text().await?
    );

    // Back up now.
    let button = row
        .find(By::Css(r#"button.backup-now[data-source="app"]"#))
        .await?;
    ensure!(
        button.is_displayed().await?,
        "an operator sees 'Back up now'"
    );
    ensure!(button.is_enabled().await?, "'Back up now' is enabled");
    button.click().await?;

    let snapshot = wait_for(
        Duration::from_secs(60),
        "the row to show the new snapshot",
        || async {
            let rows = driver.find_all(By::Css(row_css)).await?;
            let Some(row) = rows.first() else {
                return Ok(None);
            };
            let ids = row.find_all(By::Css("td.snapshot code")).await?;
            Ok(match ids.first() {
                Some(c) => {
                    let t = c.text().await?;
                    (!t.trim().is_empty()).then(|| t.trim().to_string())
                }
                None => None,
            })
        },
    )
    .await?;
    let job = wait_for(
        Duration::from_secs(60),
        "the backup to be listed as succeeded",
        || async {
            for r in driver
                .find_all(By::Css("#jobs tr.state-succeeded[data-job-id]"))
                .await?
            {
                let t = r.text().await?;
                if t.contains("backup") && t.contains("app") {
                    return Ok(r.attr("data-job-id").await?);
                }
            }
            Ok(None)
        },
    )
    .await?;
    println!("backup job {job} succeeded; the row shows snapshot {snapshot}");
    let row = driver.find(By::Css(row_css)).await?;
    ensure!(
        row.find_all(By::Css(".rpo-ok")).await?.len() == 1,
        "after the backup the RPO is within its target: {}",
        row.text().await?
    );
    // The journal tail shows the backup's record (refreshed when a job ends).
    wait_for(
        Duration::from_secs(30),
        "the backup in the journal",
        || async {
            for op in driver
                .find_all(By::Css("#journal tr[data-seq] code"))
                .await?
            {
                if op.text().await?.starts_with("backup") {
                    return Ok(Some(()));
                }
            }
            Ok(None)
        },
    )
    .await?;
    // The timeline has a bar for the snapshot (refreshed when the newest snapshot changes).
    wait_for(Duration::from_secs(15), "the timeline bar", || async {
        Ok(driver
            .find_all(By::Css(r#"[data-timeline="app"] svg .bar"#))
            .await?
            .first()
            .map(|_| ()))
    })
    .await?;
    Ok(snapshot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_signs_in_and_backs_up_a_source_in_a_real_browser() {
    let t0 = Instant::now();
    let (chromium, chromedriver) = browser();
    let w = world().expect("the daemon");

    let port = free_port();
    let mut cmd = Command::new(&chromedriver);
    cmd.arg(format!("--port={port}"));
    let (driver_proc, _ready) = spawn("chromedriver", cmd, |_| None).expect("chromedriver");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen on port {port}:\n{}",
            driver_proc.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(&chromium.display().to_string()).unwrap();
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--hide-scrollbars",
    ] {
        caps.add_arg(arg).unwrap();
    }
    let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), caps)
        .await
        .unwrap_or_else(|e| panic!("a browser session: {e}\n{}", driver_proc.log()));

    let result = scenario(&driver, &w).await;

    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).expect("artifacts directory");
    let shot = dir.join("dashboard.png");
    let full = dir.join("dashboard-full.png");
    let shots = async {
        driver.execute("window.scrollTo(0, 0);", vec![]).await?;
        driver.screenshot(&shot).await?;
        // The whole page: the window as tall as the document.
        let h = driver
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await?
            .json()
            .as_i64()
            .unwrap_or(900);
        driver
            .set_window_rect(0, 0, 1280, (h + 120).min(4000) as u32)
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        driver.screenshot(&full).await?;
        Ok::<_, WebDriverError>(())
    }
    .await;
    let _ = driver.quit().await;
    drop(driver_proc);

    match &shots {
        Ok(()) => println!(
            "dashboard screenshot: {}\nwhole page: {}",
            shot.display(),
            full.display()
        ),
        Err(e) => eprintln!("no screenshot: {e}"),
    }
    if let Err(e) = result {
        panic!(
            "{e:#}\n\n--- daemon log ---\n{}\n(screenshot: {})",
            w.daemon.log(),
            shot.display()
        );
    }
    let snapshot = result.unwrap();

    // The row's snapshot is the repository's newest snapshot.
    let mut list = lifeboat(&w.home);
    list.args(["snapshots", "--json"])
        .env("LIFEBOAT_REPOSITORY", &w.repo)
        .env("LIFEBOAT_PASSWORD", "correct horse");
    let snaps: serde_json::Value =
        serde_json::from_slice(&run_ok(list, "lifeboat snapshots").unwrap()).unwrap();
    let snaps = snaps.as_array().cloned().unwrap_or_default();
    assert_eq!(snaps.len(), 1, "one snapshot: {snaps:?}");
    let id = snaps[0]["id"].as_str().unwrap();
    assert!(
        id.starts_with(&snapshot),
        "the row shows {snapshot}, the repository has {id}"
    );
    shots.unwrap();
    println!("dashboard test took {:.1} s", t0.elapsed().as_secs_f64());
}
