//! The daemon's state database (`STATE_DIR/daemon.sqlite`, WAL mode): every run and a few
//! facts about the daemon's own lifetime. Specified in `docs/design/daemon.md`.
//!
//! The journal in each repository stays the tamper-evident record; this database is what the
//! API and the dashboard read, and what survives restarts of the daemon.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A failure of the state database.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state directory could not be created or used.
    #[error("cannot use the state directory {}: {source}; create it (owned by the daemon's user) or set [daemon] state_dir", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("state database {}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
}

/// The end states and the two live ones of a run.
pub const STATES: &[&str] = &[
    "queued",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "interrupted",
    "cancelled",
];

/// One run of a job, as stored and as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// The job id.
    pub id: i64,
    /// `backup`, `forget`, `prune`, `check`, `drill`, `copy`, `restore`, `upload`,
    /// `restore_point`.
    pub job: String,
    /// What it applies to.
    pub target: String,
    /// The schedule that started it, if any.
    pub schedule: Option<String>,
    /// `schedule`, `api` or `catch_up`.
    pub trigger: String,
    /// `scheduler` or the API token's name.
    pub actor: String,
    /// One of [`STATES`].
    pub state: String,
    /// Attempt number (retries count up).
    pub attempt: i64,
    /// When it was queued (RFC 3339).
    pub queued_at: String,
    /// When it started.
    pub started_at: Option<String>,
    /// When it ended.
    pub ended_at: Option<String>,
    /// The daemon process that ran it.
    pub pid: Option<i64>,
    /// Why it failed, was skipped or interrupted.
    pub error: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
    /// The operation's report.
    pub report: Option<serde_json::Value>,
}

/// The state database.
pub struct State {
    path: PathBuf,
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  schedule TEXT,
  job TEXT NOT NULL,
  target TEXT NOT NULL,
  trigger TEXT NOT NULL,
  actor TEXT NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 1,
  queued_at TEXT NOT NULL,
  started_at TEXT,
  ended_at TEXT,
  pid INTEGER,
  error TEXT,
  hint TEXT,
  report TEXT
);
CREATE INDEX IF NOT EXISTS runs_schedule ON runs(schedule, id);
CREATE INDEX IF NOT EXISTS runs_state ON runs(state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

const COLUMNS: &str = "id, job, target, schedule, trigger, actor, state, attempt, queued_at, started_at, ended_at, pid, error, hint, report";

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

impl State {
    /// Opens (creating) `dir/daemon.sqlite`.
    pub fn open(dir: &Path) -> Result<State, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("daemon.sqlite");
        let err = |source| StateError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(State {
            path,
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StateError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn).map_err(|source| StateError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Records a new queued run and returns its id.
    pub fn insert(
        &self,
        job: &str,
        target: &str,
        schedule: Option<&str>,
        trigger: &str,
        actor: &str,
    ) -> Result<i64, StateError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (job, target, schedule, trigger, actor, state, attempt, queued_at) VALUES (?1, ?2, ?3, ?4, ?5, 'queued', 1, ?6)",
                params![job, target, schedule, trigger, actor, now()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Records a run that never ran (`skipped`) with why.
    pub fn insert_skipped(
        &self,
        job: &str,
        target: &str,
        schedule: Option<&str>,
        trigger: &str,
        actor: &str,
        why: &str,
    ) -> Result<i64, StateError> {
        self.with(|c| {
            let t = now();
            c.execute(
                "INSERT INTO runs (job, target, schedule, trigger, actor, state, attempt, queued_at, started_at, ended_at, error) VALUES (?1, ?2, ?3, ?4, ?5, 'skipped', 1, ?6, ?6, ?6, ?7)",
                params![job, target, schedule, trigger, actor, t, why],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Marks run `id` running (attempt `attempt`) in this process.
    pub fn start(&self, id: i64, attempt: u32) -> Result<(), StateError> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET state = 'running', attempt = ?2, started_at = COALESCE(started_at, ?3), pid = ?4, error = NULL, hint = NULL WHERE id = ?1",
                params![id, attempt, now(), std::process::id()],
            )
            .map(|_| ())
        })
    }

    /// Records the failure of one attempt that will be retried (the run stays running).
    pub fn attempt_failed(
        &self,
        id: i64,
        error: &str,
        hint: Option<&str>,
    ) -> Result<(), StateError> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET error = ?2, hint = ?3 WHERE id = ?1",
                params![id, error, hint],
            )
            .map(|_| ())
        })
    }

    /// Gives run `id` its end state.
    pub fn finish(
        &self,
        id: i64,
        state: &str,
        error: Option<&str>,
        hint: Option<&str>,
        report: Option<&serde_json::Value>,
    ) -> Result<(), StateError> {
        let report = report.map(|r| r.to_string());
        self.with(|c| {
            c.execute(
                "UPDATE runs SET state = ?2, ended_at = ?3, error = ?4, hint = ?5, report = ?6 WHERE id = ?1",
                params![id, state, now(), error, hint, report],
            )
            .map(|_| ())
        })
    }

    fn row(r: &rusqlite::Row) -> rusqlite::Result<Run> {
        let report: Option<String> = r.get(14)?;
        Ok(Run {
            id: r.get(0)?,
            job: r.get(1)?,
            target: r.get(2)?,
            schedule: r.get(3)?,
            trigger: r.get(4)?,
            actor: r.get(5)?,
            state: r.get(6)?,
            attempt: r.get(7)?,
            queued_at: r.get(8)?,
            started_at: r.get(9)?,
            ended_at: r.get(10)?,
            pid: r.get(11)?,
            error: r.get(12)?,
            hint: r.get(13)?,
            report: report.and_then(|s| serde_json::from_str(&s).ok()),
        })
    }

    /// Run `id`.
    pub fn get(&self, id: i64) -> Result<Option<Run>, StateError> {
        self.with(|c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"))?
                .query_row([id], Self::row)
                .optional()
        })
    }

    /// The newest `limit` runs, newest first, optionally of one state or job.
    pub fn list(
        &self,
        limit: usize,
        state: Option<&str>,
        job: Option<&str>,
    ) -> Result<Vec<Run>, StateError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM runs WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR job = ?2) ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![state, job, limit as i64], Self::row)?;
            rows.collect()
        })
    }

    /// The newest run of `job` on `target` in one of `states`.
    pub fn last_of(
        &self,
        job: &str,
        target: &str,
        states: &[&str],
    ) -> Result<Option<Run>, StateError> {
        let list = states
            .iter()
            .map(|s| format!("'{}'", s.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(",");
        self.with(|c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM runs WHERE job = ?1 AND target = ?2 AND state IN ({list}) ORDER BY id DESC LIMIT 1"))?
                .query_row(params![job, target], Self::row)
                .optional()
        })
    }

    /// When schedule `name` last started a run (scheduled or caught up), RFC 3339.
    pub fn last_scheduled(&self, name: &str) -> Result<Option<String>, StateError> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT queued_at FROM runs WHERE schedule = ?1 AND trigger IN ('schedule', 'catch_up') ORDER BY id DESC LIMIT 1",
            )?
            .query_row([name], |r| r.get(0))
            .optional()
        })
    }

    /// Runs left `queued` or `running` (by a daemon that died).
    pub fn unfinished(&self) -> Result<Vec<Run>, StateError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM runs WHERE state IN ('queued', 'running') ORDER BY id"
            ))?;
            let rows = stmt.query_map([], Self::row)?;
            rows.collect()
        })
    }

    /// A fact about the daemon (`last_start`, `last_shutdown`, …).
    pub fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        self.with(|c| {
            c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()
        })
    }

    /// Sets a fact about the daemon.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StateError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_survive_reopening_and_unfinished_ones_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path()).unwrap();
        let a = s
            .insert("backup", "app", Some("hourly"), "schedule", "scheduler")
            .unwrap();
        s.start(a, 1).unwrap();
        let b = s.insert("check", "main", None, "api", "ci").unwrap();
        s.start(b, 1).unwrap();
        s.finish(
            b,
            "succeeded",
            None,
            None,
            Some(&serde_json::json!({"ok": true})),
        )
        .unwrap();
        s.set_meta("last_start", "x").unwrap();
        drop(s);
        let s = State::open(dir.path()).unwrap();
        let unfinished = s.unfinished().unwrap();
        assert_eq!(unfinished.len(), 1);
        assert_eq!(unfinished[0].id, a);
        assert_eq!(s.get(b).unwrap().unwrap().report.unwrap()["ok"], true);
        assert_eq!(s.list(10, None, None).unwrap()[0].id, b);
        assert!(s.last_scheduled("hourly").unwrap().is_some());
        assert_eq!(s.meta("last_start").unwrap().as_deref(), Some("x"));
        assert!(s
            .last_of("check", "main", &["succeeded"])
            .unwrap()
            .is_some());
    }
}
