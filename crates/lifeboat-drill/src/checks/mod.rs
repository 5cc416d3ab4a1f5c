//! The checks a drill runs against the restored copy (`[[drills.NAME.checks]]`).
//!
//! Each check kind is one file (`sqlite.rs`: `sql` and `row_count` against a restored SQLite
//! database). A check never aborts the drill: whatever goes wrong (a missing table, a query
//! error, a command that cannot start) becomes that check's `failed` result with the reason in
//! `detail`, and the other checks still run.

mod amcheck;
mod client;
pub mod command;
mod freshness;
mod hash_chain;
mod row_count;
mod sequence_gaps;
mod sql;
mod sqlite;

use lifeboat_config::{Check, CheckKind};
use lifeboat_core::cancel::CancelToken;
use lifeboat_postgres::tools::PgTools;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// A restored PostgreSQL server the checks connect to (unix socket only).
#[derive(Clone, Debug)]
pub struct PgConn {
    /// The server's programs (psql, pg_amcheck) of its major version.
    pub tools: PgTools,
    /// The unix socket directory.
    pub socket_dir: PathBuf,
    /// The port (names the socket file).
    pub port: u16,
    /// The user to connect as.
    pub user: String,
}

impl PgConn {
    /// A libpq connection string for `database`.
    pub fn dsn(&self, database: &str) -> String {
        format!(
            "host='{}' port={} user='{}' dbname='{}'",
            quote(&self.socket_dir.to_string_lossy()),
            self.port,
            quote(&self.user),
            quote(database)
        )
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

/// What the checks run against.
#[derive(Clone, Debug, Default)]
pub struct Subject {
    /// The restored server, for PostgreSQL sources.
    pub pg: Option<PgConn>,
    /// The database checks use unless they name one.
    pub database: String,
    /// The restored files (files and stream sources; `LIFEBOAT_RESTORED_PATH` of commands;
    /// for SQLite sources the restored database file).
    pub restored_path: Option<PathBuf>,
    /// The restored database file, for SQLite sources: `sql` and `row_count` run against it.
    pub sqlite: Option<PathBuf>,
    /// The time of the recovery point (for `freshness`).
    pub recovery_time: Option<jiff::Timestamp>,
    /// Row counts recorded at backup time, keyed `schema.table` (PostgreSQL) or by table name
    /// (SQLite), for `row_count` with `expect = "recorded"`; `None` when the backup recorded
    /// none.
    pub recorded_rows: Option<BTreeMap<String, u64>>,
}

/// The result of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The invariant holds.
    Passed,
    /// It does not, or the check could not run (the detail says which).
    Failed,
}

/// One check in a drill report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's kind (`hash_chain`, ...).
    pub kind: String,
    /// Its name (the configuration's `name`, or the kind and table).
    pub name: String,
    /// Passed or failed.
    pub result: Verdict,
    /// What was found: counts on success; on failure what broke and where.
    pub detail: String,
    /// Seconds the check took.
    pub seconds: f64,
}

/// What one check kind returns: `Ok(detail)` when it passed, `Err(detail)` when it failed.
pub type Outcome = std::result::Result<String, String>;

/// Runs one check against `subject`.
pub fn run_check(check: &Check, subject: &Subject, cancel: &CancelToken) -> CheckResult {
    let t0 = Instant::now();
    let database = check.database.as_deref().unwrap_or(&subject.database);
    let outcome = if cancel.is_cancelled() {
        Err("not run: the drill was cancelled".to_string())
    } else {
        run_kind(&check.kind, subject, database, cancel)
    };
    let (result, detail) = match outcome {
        Ok(d) => (Verdict::Passed, d),
        Err(d) => (Verdict::Failed, d),
    };
    CheckResult {
        kind: check.kind.name().to_string(),
        name: check.name.clone(),
        result,
        detail,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

/// `1 row`, `2 rows`: a count with its noun in the right number.
fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn need_pg<'a>(subject: &'a Subject, kind: &str) -> std::result::Result<&'a PgConn, String> {
    subject.pg.as_ref().ok_or_else(|| {
        let restored = if subject.sqlite.is_some() {
            "a SQLite database"
        } else {
            "files"
        };
        format!("a {kind} check needs a restored PostgreSQL server; this drill restored {restored}")
    })
}

fn run_kind(kind: &CheckKind, subject: &Subject, database: &str, cancel: &CancelToken) -> Outcome {
    match kind {
        CheckKind::Amcheck => amcheck::run(need_pg(subject, "amcheck")?),
        CheckKind::RowCount { table, expect } if subject.sqlite.is_some() => {
            let db = subject.sqlite.as_deref().expect("checked");
            sqlite::run_row_count(db, table, expect, subject)
        }
        CheckKind::RowCount { table, expect } => row_count::run(
            need_pg(subject, "row_count")?,
            database,
            table,
            expect,
            subject,
        ),
        CheckKind::SequenceGaps {
            table,
            partition_by,
            sequence,
            start,
        } => sequence_gaps::run(
            need_pg(subject, "sequence_gaps")?,
            database,
            table,
            partition_by,
            sequence,
            *start,
        ),
        CheckKind::HashChain { .. } => {
            hash_chain::run(need_pg(subject, "hash_chain")?, database, kind, cancel)
        }
        CheckKind::Sql { query, expect } => match &subject.sqlite {
            Some(db) => sqlite::run_sql(db, query, expect),
            None => sql::run(need_pg(subject, "sql")?, database, query, expect),
        },
        CheckKind::Freshness { query, max_lag } => freshness::run(
            need_pg(subject, "freshness")?,
            database,
            query,
            *max_lag,
            subject.recovery_time,
        ),
        CheckKind::Command { command, timeout } => {
            command::run(subject, database, command, *timeout, cancel)
        }
    }
}
