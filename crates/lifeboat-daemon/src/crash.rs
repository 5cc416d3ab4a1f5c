//! Crash detection and the clean-shutdown marker (`STATE_DIR/daemon.clean`).
//!
//! At start: no marker while an earlier daemon had started, or runs left `queued`/`running`,
//! means that daemon died. Its runs become `interrupted` with the crash time (the last
//! heartbeat it wrote), and `last_shutdown` becomes `crash`. The marker is then removed, and
//! written again as the very last step of a clean shutdown.

use crate::state::{State, StateError};
use std::io::Write;
use std::path::Path;

/// The marker's file name in the state directory.
pub const MARKER: &str = "daemon.clean";

/// What start-up found about the previous daemon.
#[derive(Clone, Debug)]
pub struct Found {
    /// True when it died.
    pub crashed: bool,
    /// `clean`, `crash`, or `none` (first start).
    pub last_shutdown: String,
    /// When it stopped (crash: its last heartbeat).
    pub at: Option<String>,
    /// Runs marked interrupted.
    pub interrupted: Vec<i64>,
    /// The process id of the daemon that died.
    pub pid: Option<u32>,
}

/// Looks for a crash of the previous daemon, records it, and prepares this start.
pub fn detect(state: &State, dir: &Path) -> Result<Found, StateError> {
    let marker = dir.join(MARKER);
    let had_start = state.meta("last_start")?.is_some();
    let unfinished = state.unfinished()?;
    let crashed = (had_start && !marker.exists()) || !unfinished.is_empty();
    let pid = state.meta("pid")?.and_then(|p| p.parse().ok());
    let found = if crashed {
        let at = state
            .meta("heartbeat")?
            .or(state.meta("last_start")?)
            .unwrap_or_else(|| jiff::Timestamp::now().to_string());
        let mut interrupted = Vec::new();
        for run in &unfinished {
            state.finish(
                run.id,
                "interrupted",
                Some(&format!(
                    "the daemon (pid {}) stopped while this ran: crash detected at start, last seen alive at {at}",
                    run.pid.map_or("?".to_string(), |p| p.to_string())
                )),
                Some("the run was not finished; it runs again at its next schedule (catch_up runs it now)"),
                None,
            )?;
            interrupted.push(run.id);
        }
        state.set_meta("last_shutdown", "crash")?;
        state.set_meta("last_shutdown_at", &at)?;
        Found {
            crashed: true,
            last_shutdown: "crash".into(),
            at: Some(at),
            interrupted,
            pid,
        }
    } else {
        Found {
            crashed: false,
            last_shutdown: state
                .meta("last_shutdown")?
                .unwrap_or_else(|| "none".into()),
            at: state.meta("last_shutdown_at")?,
            interrupted: Vec::new(),
            pid,
        }
    };
    if marker.exists() {
        std::fs::remove_file(&marker).map_err(|source| StateError::Dir {
            path: marker.clone(),
            source,
        })?;
    }
    let now = jiff::Timestamp::now().to_string();
    state.set_meta("last_start", &now)?;
    state.set_meta("heartbeat", &now)?;
    state.set_meta("pid", &std::process::id().to_string())?;
    Ok(found)
}

/// Records a clean shutdown: the state first, then the marker (fsynced, with its directory).
pub fn clean_shutdown(state: &State, dir: &Path) -> Result<(), StateError> {
    let now = jiff::Timestamp::now().to_string();
    state.set_meta("last_shutdown", "clean")?;
    state.set_meta("last_shutdown_at", &now)?;
    let marker = dir.join(MARKER);
    let io = |source| StateError::Dir {
        path: marker.clone(),
        source,
    };
    let mut f = std::fs::File::create(&marker).map_err(io)?;
    f.write_all(format!("{now} pid {}\n", std::process::id()).as_bytes())
        .map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_marker_or_a_running_run_means_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path()).unwrap();
        let first = detect(&s, dir.path()).unwrap();
        assert!(!first.crashed);
        assert_eq!(first.last_shutdown, "none");
        let id = s.insert("backup", "app", None, "api", "t").unwrap();
        s.start(id, 1).unwrap();
        // No clean shutdown: the next start finds a crash.
        let second = detect(&s, dir.path()).unwrap();
        assert!(second.crashed);
        assert_eq!(second.interrupted, vec![id]);
        assert_eq!(s.get(id).unwrap().unwrap().state, "interrupted");
        clean_shutdown(&s, dir.path()).unwrap();
        let third = detect(&s, dir.path()).unwrap();
        assert!(!third.crashed);
        assert_eq!(third.last_shutdown, "clean");
    }
}
