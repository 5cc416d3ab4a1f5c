//! Exact row counts taken in the same MVCC snapshot as a dump.
//!
//! A [`SnapshotSession`] is a `psql` session holding a `REPEATABLE READ` transaction that
//! exported its snapshot (`pg_export_snapshot()`); `pg_dump --snapshot=ID` dumps exactly that
//! snapshot, and the session counts the rows of the selected tables in it while the dump runs.
//! The session stays open until the dump has ended (the exported snapshot must outlive its
//! import). Drills compare a restored copy with these counts (`row_count`, `expect =
//! "recorded"`).

use crate::error::{PgError, Result};
use crate::tools::{PgTools, StderrTail};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

/// Which tables a logical backup counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowCounts {
    /// Every ordinary and partitioned table outside the system schemas (partitions are
    /// counted through their parent).
    #[default]
    All,
    /// None: the dump records no counts.
    None,
    /// These tables (`table` or `schema.table`, resolved like `regclass`).
    Tables(Vec<String>),
}

const END: &str = "__lifeboat_end__";
const SEP: char = '\u{1f}';

/// An open `psql` session with an exported snapshot (see the module documentation).
pub struct SnapshotSession {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    tail: StderrTail,
    /// The exported snapshot's id, for `pg_dump --snapshot`.
    pub snapshot_id: String,
}

impl SnapshotSession {
    /// Connects to `dsn`, starts a read-only repeatable-read transaction and exports its
    /// snapshot.
    pub fn begin(tools: &PgTools, dsn: &str) -> Result<SnapshotSession> {
        let mut cmd = tools.command("psql");
        cmd.args(["-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"])
            .arg("-F")
            .arg(SEP.to_string())
            .arg("-d")
            .arg(dsn)
            .env("PGAPPNAME", "lifeboat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| PgError::ToolNotFound {
            program: cmd.get_program().to_string_lossy().into_owned(),
            detail: e.to_string(),
        })?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let tail = StderrTail::start(child.stderr.take().expect("piped stderr"));
        let mut s = SnapshotSession {
            child,
            stdin,
            stdout,
            tail,
            snapshot_id: String::new(),
        };
        let rows = s.exchange(
            "SET row_security = off;\nBEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot();\n",
        )?;
        s.snapshot_id = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                PgError::unexpected("answer to pg_export_snapshot()", "no snapshot id")
            })?;
        Ok(s)
    }

    /// Sends `sql` followed by an end marker and returns the rows printed before the marker.
    fn exchange(&mut self, sql: &str) -> Result<Vec<Vec<String>>> {
        let fail = |s: &mut SnapshotSession, why: String| {
            let _ = s.child.kill();
            let _ = s.child.wait();
            let tail = s.tail.finish(10);
            PgError::Tool(format!(
                "the psql session that counts rows in the dump's snapshot failed ({why}): {}",
                tail.trim()
            ))
        };
        let stdin = self.stdin.as_mut().expect("session open");
        if let Err(e) = stdin
            .write_all(sql.as_bytes())
            .and_then(|_| stdin.write_all(format!("\\echo {END}\n").as_bytes()))
            .and_then(|_| stdin.flush())
        {
            return Err(fail(self, e.to_string()));
        }
        let mut rows = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            match self.stdout.read_line(&mut line) {
                Ok(0) => return Err(fail(self, "it ended early".into())),
                Ok(_) => {}
                Err(e) => return Err(fail(self, e.to_string())),
            }
            let l = line.trim_end_matches('\n');
            if l == END {
                return Ok(rows);
            }
            if !l.is_empty() {
                rows.push(l.split(SEP).map(str::to_string).collect());
            }
        }
    }

    /// Counts the rows of the selected tables in the exported snapshot, keyed `schema.table`.
    pub fn count(&mut self, which: &RowCounts) -> Result<BTreeMap<String, u64>> {
        let list_sql = match which {
            RowCounts::None => return Ok(BTreeMap::new()),
            RowCounts::All => "SELECT n.nspname || '.' || c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' \
                 ORDER BY 1;\n"
                .to_string(),
            RowCounts::Tables(tables) => {
                let names: Vec<String> = tables
                    .iter()
                    .map(|t| format!("('{}')", t.replace('\'', "''")))
                    .collect();
                format!(
                    "SELECT n.nspname || '.' || c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname) \
                     FROM (VALUES {}) AS w(name) JOIN pg_class c ON c.oid = to_regclass(w.name) \
                     JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 1;\n",
                    names.join(", ")
                )
            }
        };
        let tables = self.exchange(&list_sql)?;
        if let RowCounts::Tables(wanted) = which {
            if tables.len() < wanted.len() {
                tracing::warn!(
                    "some of the tables to count do not exist: {} asked, {} found",
                    wanted.len(),
                    tables.len()
                );
            }
        }
        let mut sql = String::new();
        for t in &tables {
            let (Some(name), Some(quoted)) = (t.first(), t.get(1)) else {
                continue;
            };
            sql.push_str(&format!(
                "SELECT '{}', count(*) FROM {quoted};\n",
                name.replace('\'', "''")
            ));
        }
        let mut out = BTreeMap::new();
        if sql.is_empty() {
            return Ok(out);
        }
        for r in self.exchange(&sql)? {
            if let (Some(name), Some(n)) = (r.first(), r.get(1).and_then(|n| n.parse().ok())) {
                out.insert(name.clone(), n);
            }
        }
        Ok(out)
    }

    /// Ends the transaction and the session.
    pub fn end(mut self) -> Result<()> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"COMMIT;\n\\q\n");
        }
        let status = self
            .child
            .wait()
            .map_err(|e| PgError::Tool(format!("waiting for psql failed: {e}")))?;
        if !status.success() {
            return Err(PgError::Tool(format!(
                "the psql session that counted rows failed: {}",
                self.tail.finish(10).trim()
            )));
        }
        Ok(())
    }
}

impl Drop for SnapshotSession {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
