//! The daemon's life: start (crash detection and recovery), serve (HTTP or HTTPS, the
//! scheduler, the prober), reload on SIGHUP or `POST /api/v1/reload`, and a clean shutdown on
//! SIGTERM/SIGINT.

use crate::api::{self, Api};
use crate::crash;
use crate::metrics::Metrics;
use crate::notify::Event;
use crate::probe;
use crate::runner::Daemon;
use crate::state::State;
use crate::DaemonError;
use lifeboat_config::Config;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// How the daemon is started.
#[derive(Clone, Debug)]
pub struct Options {
    /// The configuration file.
    pub config_path: PathBuf,
    /// `--state-dir` (else `LIFEBOAT_STATE_DIR`, `[daemon] state_dir`, `/var/lib/lifeboat`).
    pub state_dir: Option<PathBuf>,
}

/// The state directory: the option, else `LIFEBOAT_STATE_DIR`, else the configured one, else
/// `/var/lib/lifeboat`.
pub fn state_dir(given: Option<&std::path::Path>, config: &Config) -> PathBuf {
    if let Some(d) = given {
        return d.to_path_buf();
    }
    if let Some(d) = std::env::var_os("LIFEBOAT_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    config
        .daemon
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(lifeboat_config::DEFAULT_STATE_DIR))
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(opts: Options) -> Result<(), DaemonError> {
    let config = Config::load(&opts.config_path)?;
    let dir = state_dir(opts.state_dir.as_deref(), &config);
    let state = State::open(&dir)?;
    let found = crash::detect(&state, &dir)?;
    let metrics = Arc::new(Metrics::new());
    metrics.started(!found.crashed);
    let daemon = Daemon::new(
        config,
        state,
        metrics,
        (found.last_shutdown.clone(), found.at.clone()),
        dir.clone(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("lifeboat-daemon")
        .build()
        .map_err(|e| DaemonError::Start(format!("starting the runtime: {e}")))?;
    runtime.block_on(serve(daemon.clone(), opts, found))?;
    // Every run has an end state now; the marker is the very last step.
    crash::clean_shutdown(&daemon.state, &dir)?;
    tracing::info!("clean shutdown");
    Ok(())
}

/// After a crash: release the dead daemon's locks, journal the crash, notify.
fn recover(daemon: &Daemon, found: &crash::Found) {
    let config = daemon.config();
    let ctx = lifeboat_ops::Context::new(lifeboat_ops::Actor {
        user: "daemon".into(),
        front_end: lifeboat_ops::FrontEnd::Scheduler,
    });
    let at = found.at.clone().unwrap_or_default();
    for name in config.repositories.keys() {
        match crate::jobs::open(&config, name) {
            Ok((repo, _)) => {
                match lifeboat_ops::unlock::unlock(&ctx, &repo, false) {
                    Ok(n) if n > 0 => {
                        tracing::warn!(
                            "repository {name}: removed {n} lock(s) left by the dead daemon"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("repository {name}: unlocking: {e}"),
                }
                let mut rec = lifeboat_ops::record::Recorder::new(&ctx, "daemon-crash");
                rec.arg("pid", found.pid.map(|p| p.to_string()))
                    .arg("last_seen", Some(at.clone()))
                    .list(
                        "interrupted",
                        &found
                            .interrupted
                            .iter()
                            .map(|i| i.to_string())
                            .collect::<Vec<_>>(),
                    );
                rec.add(&repo);
                for w in rec.finish::<()>(&Ok(())) {
                    tracing::warn!("{w}");
                }
            }
            Err(e) => tracing::error!("repository {name}: {}", e.message),
        }
    }
    let mut ev = Event::new(
        "crash_detected",
        None,
        format!(
            "the previous lifeboat daemon (pid {}) died; last seen alive at {at}; {} run(s) interrupted",
            found.pid.map_or("?".into(), |p| p.to_string()),
            found.interrupted.len()
        ),
    );
    ev.hint = Some(
        "look at the system log for why it died; interrupted runs run again at their next schedule"
            .into(),
    );
    daemon.notify(ev);
}

async fn serve(daemon: Arc<Daemon>, opts: Options, found: crash::Found) -> Result<(), DaemonError> {
    if found.crashed {
        tracing::warn!(
            "the previous daemon stopped without a clean shutdown (last seen {}); recovering",
            found.at.as_deref().unwrap_or("?")
        );
        let d = daemon.clone();
        let f = found.clone();
        tokio::task::spawn_blocking(move || recover(&d, &f))
            .await
            .map_err(|e| DaemonError::Start(e.to_string()))?;
    }
    let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel(4);
    let api = Arc::new(Api {
        daemon: daemon.clone(),
        probe: RwLock::new(Default::default()),
        config_path: opts.config_path.clone(),
        reload: reload_tx,
    });
    let config = daemon.config();
    let listen = config.daemon.listen;
    let app = api::router(api.clone());
    let handle = axum_server::Handle::new();
    let server = match &config.daemon.tls {
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    DaemonError::Start(format!(
                        "loading tls_cert {} and tls_key {}: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?;
            let listener = std::net::TcpListener::bind(listen)
                .map_err(|e| DaemonError::Start(format!("listening on {listen}: {e}")))?;
            listener.set_nonblocking(true).ok();
            let addr = listener.local_addr().ok();
            eprintln!(
                "lifeboat daemon listening on https://{}",
                addr.unwrap_or(listen)
            );
            let server = axum_server::from_tcp_rustls(listener, tls)
                .map_err(|e| DaemonError::Start(format!("listening on {listen}: {e}")))?
                .handle(handle.clone());
            tokio::spawn(async move { server.serve(app.into_make_service()).await })
        }
        None => {
            let listener = std::net::TcpListener::bind(listen)
                .map_err(|e| DaemonError::Start(format!("listening on {listen}: {e}")))?;
            listener.set_nonblocking(true).ok();
            let addr = listener.local_addr().ok();
            eprintln!(
                "lifeboat daemon listening on http://{}",
                addr.unwrap_or(listen)
            );
            let server = axum_server::from_tcp(listener)
                .map_err(|e| DaemonError::Start(format!("listening on {listen}: {e}")))?
                .handle(handle.clone());
            tokio::spawn(async move { server.serve(app.into_make_service()).await })
        }
    };
    tokio::spawn(prober(api.clone()));
    tokio::spawn(crate::scheduler::run(daemon.clone()));
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!("ready (state in {})", daemon.state_dir.display());

    let mut term =
        signal(SignalKind::terminate()).map_err(|e| DaemonError::Start(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| DaemonError::Start(e.to_string()))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| DaemonError::Start(e.to_string()))?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                if let Err(e) = reload(&daemon, &opts) {
                    tracing::error!("SIGHUP: {e}");
                }
            }
            Some(answer) = reload_rx.recv() => {
                let _ = answer.send(reload(&daemon, &opts));
            }
        }
    }

    tracing::info!(
        "stopping: no new jobs; running ones have {:?}",
        daemon.config().daemon.shutdown_timeout
    );
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    daemon.stopping.store(true, Ordering::SeqCst);
    let timeout = daemon.config().daemon.shutdown_timeout;
    let d = daemon.clone();
    let all_stopped = tokio::task::spawn_blocking(move || d.stop_all(timeout))
        .await
        .unwrap_or(false);
    if !all_stopped {
        for r in daemon.running() {
            let _ = daemon.state.finish(
                r.id,
                "interrupted",
                Some(&format!(
                    "the daemon stopped before this finished (shutdown_timeout {timeout:?})"
                )),
                None,
                None,
            );
        }
    }
    handle.graceful_shutdown(Some(Duration::from_secs(2)));
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    Ok(())
}

/// Loads the configuration file again; an invalid one is rejected and the old one kept.
fn reload(daemon: &Daemon, opts: &Options) -> Result<(), String> {
    match Config::load(&opts.config_path) {
        Ok(c) => {
            if c.daemon.listen != daemon.config().daemon.listen
                || c.daemon.tls != daemon.config().daemon.tls
            {
                tracing::warn!("reload: listen and tls take effect at the next start");
            }
            daemon.set_config(c);
            daemon.probe_now.notify_one();
            tracing::info!("configuration reloaded from {}", opts.config_path.display());
            Ok(())
        }
        Err(e) => {
            let text = e.to_string();
            tracing::error!("reload rejected, the old configuration stays in force: {text}");
            Err(text)
        }
    }
}

/// Probes every `probe_interval`, and at once after each run; notifies an unreachable
/// repository and an exceeded RPO target when they become so.
async fn prober(api: Arc<Api>) {
    let mut reachable: BTreeMap<String, bool> = BTreeMap::new();
    let mut exceeded: BTreeMap<String, bool> = BTreeMap::new();
    loop {
        let d = api.daemon.clone();
        let Ok(p) = tokio::task::spawn_blocking(move || probe::probe(&d)).await else {
            return;
        };
        for r in &p.repositories {
            let was = reachable.insert(r.name.clone(), r.reachable);
            if !r.reachable && was != Some(false) {
                let mut ev = Event::new(
                    "repository_unreachable",
                    Some(&r.name),
                    format!(
                        "repository {} ({}) cannot be opened: {}",
                        r.name,
                        r.url,
                        r.error.as_deref().unwrap_or("?")
                    ),
                );
                ev.hint = Some("check the storage, its credentials and the password source".into());
                api.daemon.notify(ev);
            }
        }
        let now = jiff::Timestamp::now().as_millisecond();
        for s in &p.sources {
            let rpo = s.newest_point_ms.map(|t| (now - t) as f64 / 1000.0);
            let over = matches!((rpo, s.rpo_target_seconds), (Some(r), Some(t)) if r > t);
            let was = exceeded.insert(s.name.clone(), over);
            if over && was != Some(true) {
                let ev = Event::new(
                    "rpo_exceeded",
                    Some(&s.name),
                    format!(
                        "source {}: RPO {:.0}s exceeds its target {:.0}s",
                        s.name,
                        rpo.unwrap_or(0.0),
                        s.rpo_target_seconds.unwrap_or(0.0)
                    ),
                );
                api.daemon.notify(ev);
            }
        }
        *api.probe.write().unwrap_or_else(|e| e.into_inner()) = p;
        if api.daemon.stopping.load(Ordering::SeqCst) {
            return;
        }
        let interval = api.daemon.config().daemon.probe_interval;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = api.daemon.probe_now.notified() => {}
        }
    }
}
