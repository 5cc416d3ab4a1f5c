//! Application crash detection (`lifeboat app start|stop NAME`): did the application stop
//! cleanly last time, and if not, which restore point to go back to
//! (docs/design/restore-points.md, "Application crash recovery").
//!
//! State: one file per application, `STATE_DIR/apps/NAME.json`, written atomically (temporary
//! file, fsync, rename, fsync of the directory): `{name, started, pid, stopped}`. `start`
//! reads the previous record, answers, and writes the new start; `stop` writes `stopped`. A
//! record whose `stopped` is missing or older than its `started` means the previous run did
//! not stop cleanly: a crash.

use crate::{OpsError, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default state directory.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/lifeboat";

/// One application's record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppRecord {
    /// The application's name.
    pub name: String,
    /// When it last started (RFC 3339).
    pub started: String,
    /// The process that said so (`app start` runs as a child of the application, so this is
    /// the parent of that command).
    pub pid: u32,
    /// When it last stopped cleanly (RFC 3339), if it did after `started`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// How the previous run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Previous {
    /// It stopped cleanly (`app stop` after its `app start`).
    Clean,
    /// It started and never stopped cleanly.
    Crash,
    /// There is no previous run.
    FirstStart,
}

/// The answer of `app start`.
#[derive(Clone, Debug, Serialize)]
pub struct StartReport {
    /// The application.
    pub name: String,
    /// How the previous run ended.
    pub previous: Previous,
    /// Clean: when it stopped; crash: when the crashed run started; first start: null.
    pub since: Option<String>,
    /// The newest restore point (filled in by the front end when a repository is at hand).
    pub latest_restore_point: Option<serde_json::Value>,
}

fn valid_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 100
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        return Err(OpsError::invalid(
            "name",
            format!("'{name}' is not an application name (letters, digits, '-', '_', '.'; not starting with '.')"),
        ));
    }
    Ok(())
}

fn record_path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join("apps").join(format!("{name}.json"))
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> OpsError {
    OpsError::Conflict(format!(
        "{what} {}: {e}; check that the state directory exists and is writable (--state-dir, LIFEBOAT_STATE_DIR)",
        path.display()
    ))
}

fn read(state_dir: &Path, name: &str) -> Result<Option<AppRecord>> {
    let path = record_path(state_dir, name);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            OpsError::Conflict(format!(
                "the state file {} is damaged ({e}); remove it to start over",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("reading", &path, e)),
    }
}

fn write(state_dir: &Path, rec: &AppRecord) -> Result<()> {
    let path = record_path(state_dir, &rec.name);
    let dir = path.parent().expect("apps dir");
    std::fs::create_dir_all(dir).map_err(|e| io_err("creating", dir, e))?;
    let tmp = dir.join(format!(".{}.json.tmp-{}", rec.name, std::process::id()));
    let bytes = serde_json::to_vec_pretty(rec).expect("record serializes");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_err("writing", &tmp, e))?;
    f.write_all(&bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| io_err("writing", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io_err("renaming into", &path, e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn parse(t: &str) -> Option<jiff::Timestamp> {
    t.parse().ok()
}

/// Records that `name` starts (as process `pid`) and says how its previous run ended.
/// `stale_after`: when the previous run's process is still alive and started less than this
/// long ago, the start is refused (it is still running); zero never refuses.
pub fn start(state_dir: &Path, name: &str, pid: u32, stale_after: Duration) -> Result<StartReport> {
    valid_name(name)?;
    let now = jiff::Timestamp::now();
    let prev = read(state_dir, name)?;
    let (previous, since) = match &prev {
        None => (Previous::FirstStart, None),
        Some(r) => {
            let started = parse(&r.started);
            let stopped = r.stopped.as_deref().and_then(parse);
            match (started, stopped) {
                (Some(a), Some(b)) if b >= a => (Previous::Clean, r.stopped.clone()),
                _ => {
                    let alive = r.pid != pid && Path::new(&format!("/proc/{}", r.pid)).exists();
                    let young =
                        started.is_some_and(|a| now.duration_since(a).unsigned_abs() < stale_after);
                    if alive && young {
                        return Err(OpsError::Conflict(format!(
                            "application '{name}' is still running (process {}, started {}); stop it first, or wait {}",
                            r.pid,
                            r.started,
                            lifeboat_config::format_duration(stale_after)
                        )));
                    }
                    (Previous::Crash, Some(r.started.clone()))
                }
            }
        }
    };
    write(
        state_dir,
        &AppRecord {
            name: name.to_string(),
            started: now.to_string(),
            pid,
            stopped: None,
        },
    )?;
    Ok(StartReport {
        name: name.to_string(),
        previous,
        since,
        latest_restore_point: None,
    })
}

/// Every application's record with whether its last run is still going (or crashed):
/// `running` is true when the record has no stop after its start.
pub fn list(state_dir: &Path) -> Result<Vec<serde_json::Value>> {
    let dir = state_dir.join("apps");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("reading", &dir, e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        if let Some(r) = read(state_dir, &name)? {
            let running = r.stopped.as_ref().is_none_or(|s| *s < r.started);
            out.push(serde_json::json!({
                "name": r.name,
                "started": r.started,
                "pid": r.pid,
                "stopped": r.stopped,
                "running": running,
            }));
        }
    }
    Ok(out)
}

/// Records a clean shutdown of `name`.
pub fn stop(state_dir: &Path, name: &str) -> Result<AppRecord> {
    valid_name(name)?;
    let Some(mut r) = read(state_dir, name)? else {
        return Err(OpsError::invalid(
            "name",
            format!("application '{name}' never recorded a start (`lifeboat app start {name}`)"),
        ));
    };
    r.stopped = Some(jiff::Timestamp::now().to_string());
    write(state_dir, &r)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_then_clean_then_crash() {
        let d = tempfile::tempdir().unwrap();
        let z = Duration::ZERO;
        assert_eq!(
            start(d.path(), "shop", 1, z).unwrap().previous,
            Previous::FirstStart
        );
        stop(d.path(), "shop").unwrap();
        let r = start(d.path(), "shop", 1, z).unwrap();
        assert_eq!(r.previous, Previous::Clean);
        assert!(r.since.is_some());
        // Started, never stopped: the next start says crash and when the crashed run began.
        let r = start(d.path(), "shop", 1, z).unwrap();
        assert_eq!(r.previous, Previous::Crash);
        assert!(r.since.is_some());
        assert!(start(d.path(), "../evil", 1, z).is_err());
    }

    #[test]
    fn a_live_previous_run_within_stale_after_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let me = std::process::id();
        start(d.path(), "app", me, Duration::ZERO).unwrap();
        // Another process (pid 1 exists) claims the start while "me" is alive and recent.
        let e = start(d.path(), "app", 1, Duration::from_secs(3600)).unwrap_err();
        assert!(e.to_string().contains("still running"), "{e}");
    }
}
