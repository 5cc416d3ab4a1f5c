//! The dashboard in a real browser: a real `lifeboat daemon` (files source, local repository,
//! tokens of each role; `daemon_env`) on a loopback port, headless Chromium driven through
//! chromedriver (WebDriver, `thirtyfour`). It signs in with a wrong token (refused), then with
//! the operator token, clicks "Back up now" on the source's row and waits until the row shows
//! the new snapshot, the job history shows the backup as succeeded and the journal tail its
//! record; then signs out and in with the read token, which sees the same row without buttons.
//! A screenshot is saved to `TARGET_DIR/test-artifacts/dashboard.png` (1280×900; the whole
//! page in `dashboard-full.png`).
//!
//! Chromium and chromedriver are Debian packages (`scripts/test.sh` installs them); without
//! them this test fails, it never skips.

mod daemon_env;

use anyhow::{bail, ensure, Context as _, Result};
use daemon_env::{free_port, Setup, Tokens};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
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

/// Starts `cmd`, collecting its output lines (shown when something goes wrong).
fn spawn(name: &'static str, mut cmd: Command) -> Result<Proc> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let streams: Vec<Box<dyn std::io::Read + Send>> = vec![
        Box::new(child.stderr.take().context("stderr")?),
        Box::new(child.stdout.take().context("stdout")?),
    ];
    for stream in streams {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
                log.lock().unwrap().push(line);
            }
        });
    }
    Ok(Proc { name, child, log })
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
async fn scenario(driver: &WebDriver, url: &str, tokens: &Tokens) -> Result<String> {
    driver.goto(url).await?;

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
    token_input.send_keys(tokens.operator.as_str()).await?;
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
        stored == tokens.operator.as_str(),
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

/// Signs out, then in with the read token: the same data, no buttons that change anything.
async fn read_only(driver: &WebDriver, tokens: &Tokens, snapshot: &str) -> Result<()> {
    driver.find(By::Id("logout")).await?.click().await?;
    let token_input = driver.find(By::Id("token")).await?;
    ensure!(
        token_input.is_displayed().await?,
        "signing out shows the form"
    );
    let stored: serde_json::Value = driver
        .execute("return sessionStorage.getItem('lifeboat.token');", vec![])
        .await?
        .json()
        .clone();
    ensure!(stored.is_null(), "signing out forgets the token: {stored}");
    token_input.send_keys(tokens.read.as_str()).await?;
    driver.find(By::Id("login")).await?.click().await?;
    let row_css = r#"#sources tr[data-source="app"]"#;
    let shown = wait_for(
        Duration::from_secs(15),
        "the row for the read token",
        || async { text_of(driver, &format!("{row_css} td.snapshot code")).await },
    )
    .await?;
    ensure!(
        shown == snapshot,
        "the read token sees snapshot {shown}, not {snapshot}"
    );
    ensure!(
        text_of(driver, "#role")
            .await?
            .as_deref()
            .map(str::to_lowercase)
            == Some("read".into()),
        "the role badge shows the read role"
    );
    ensure!(
        driver
            .find_all(By::Css("button.backup-now"))
            .await?
            .is_empty()
            && driver
                .find_all(By::Css("button.run-drill"))
                .await?
                .is_empty(),
        "a read token sees no Back up now / Run drill buttons"
    );
    Ok(())
}

#[test]
fn dashboard_signs_in_and_backs_up_a_source_in_a_real_browser() {
    let t0 = Instant::now();
    let (chromium, chromedriver) = browser();
    let s = Setup::new();
    s.config(&format!(
        "[targets.app]\nrpo = \"1h\"\nrto = \"10m\"\n\n[drills.app-restore]\nsource = \"app\"\nscratch_dir = \"{}\"\n",
        s.path().join("scratch").display()
    ));
    let daemon = s.start();
    let url = format!("{}/", daemon.base);

    let port = free_port();
    let mut cmd = Command::new(&chromedriver);
    cmd.arg(format!("--port={port}"));
    let driver_proc = spawn("chromedriver", cmd).expect("chromedriver");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen on port {port}:\n{}",
            driver_proc.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).expect("artifacts directory");
    let shot = dir.join("dashboard.png");
    let full = dir.join("dashboard-full.png");
    let (result, shots) = runtime
        .block_on(async {
            let mut caps = DesiredCapabilities::chrome();
            caps.set_binary(&chromium.display().to_string())?;
            for arg in [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
                "--hide-scrollbars",
            ] {
                caps.add_arg(arg)?;
            }
            let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), caps).await?;
            let result = scenario(&driver, &url, &s.tokens).await;
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
                    .set_window_rect(0, 0, 1280, (h + 120).clamp(900, 4000) as u32)
                    .await?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                driver.screenshot(&full).await?;
                driver.set_window_rect(0, 0, 1280, 900).await?;
                Ok::<_, WebDriverError>(())
            }
            .await;
            let result = match result {
                Ok(snap) => read_only(&driver, &s.tokens, &snap).await.map(|()| snap),
                Err(e) => Err(e),
            };
            let _ = driver.quit().await;
            Ok::<_, WebDriverError>((result, shots))
        })
        .unwrap_or_else(|e| panic!("the browser session: {e}\n{}", driver_proc.log()));
    drop(driver_proc);

    match &shots {
        Ok(()) => println!(
            "dashboard screenshot: {}\nwhole page: {}",
            shot.display(),
            full.display()
        ),
        Err(e) => eprintln!("no screenshot: {e}"),
    }
    let snapshot = result.unwrap_or_else(|e| {
        panic!(
            "{e:#}\n\n--- daemon log ---\n{}\n(screenshot: {})",
            daemon.log_text(),
            shot.display()
        )
    });

    // What the page showed is what the daemon says.
    let status = daemon.get("/api/v1/status", &s.tokens.read);
    let last = &status["sources"][0]["last_backup"];
    assert_eq!(last["short_id"], snapshot.as_str(), "{status:#}");
    let jobs = daemon.get("/api/v1/jobs?limit=10", &s.tokens.read);
    let backups: Vec<_> = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["job"] == "backup" && j["target"] == "app")
        .collect();
    assert_eq!(backups.len(), 1, "{jobs:#}");
    assert_eq!(backups[0]["state"], "succeeded");
    assert_eq!(backups[0]["trigger"], "api");
    assert_eq!(backups[0]["actor"], "ci");
    shots.unwrap();
    println!("dashboard test took {:.1} s", t0.elapsed().as_secs_f64());
}
