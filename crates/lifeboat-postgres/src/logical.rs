//! Logical backups (pg_dump custom format, pg_dumpall --globals-only) and their restore
//! (pg_restore / psql), streamed through pipes.

use crate::counts::{RowCounts, SnapshotSession};
use crate::error::{PgError, Result};
use crate::physical::{ServerInfo, EXTRA_KEY};
use crate::stream::store_stream;
use crate::tools::{tool_failure, with_database, ChildSource, PgTools, StderrTail};
use lifeboat_core::backup::{BackupOptions, BackupOutcome, Progress};
use lifeboat_core::error::Hint;
use lifeboat_core::snapshot::SnapshotEntry;
use lifeboat_core::Repository;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

/// Source kind of logical snapshots.
pub const SOURCE_LOGICAL: &str = "postgres-logical";

/// What a logical snapshot records (under `extra.postgres`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogicalMeta {
    /// Always `logical`.
    pub kind: String,
    /// The database dumped (`None` for the globals dump).
    pub database: Option<String>,
    /// `custom` (pg_dump -Fc) or `plain` (pg_dumpall --globals-only SQL).
    pub format: String,
    /// Compression inside the dump: `none` (lifeboat compresses and deduplicates chunks).
    pub compression: String,
    /// Server version.
    pub server_version: String,
    /// `server_version_num`.
    pub server_version_num: u32,
    /// The dump program's `--version` line.
    pub dump_program: String,
    /// Database system identifier when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_identifier: Option<String>,
    /// Dump size in bytes (same as the stream's).
    pub size: u64,
    /// SHA-256 of the dump (same as the stream's).
    pub sha256: String,
    /// Exact row counts (`schema.table` → rows) taken in the dump's own snapshot; absent when
    /// none were counted (globals, `count_rows = false`, older backups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_counts: Option<BTreeMap<String, u64>>,
}

impl LogicalMeta {
    /// Reads the metadata of a logical snapshot; `None` for other snapshots.
    pub fn from_snapshot(s: &SnapshotEntry) -> Option<LogicalMeta> {
        if s.snapshot.source != SOURCE_LOGICAL {
            return None;
        }
        serde_json::from_value(s.snapshot.extra.get(EXTRA_KEY)?.clone()).ok()
    }
}

/// Which databases to dump.
#[derive(Clone, Debug)]
pub enum Databases {
    /// The database the connection string names.
    FromDsn,
    /// These databases.
    Named(Vec<String>),
    /// Every connectable non-template database, plus roles and tablespaces.
    All,
}

/// Options of a logical backup.
#[derive(Clone, Debug)]
pub struct LogicalOptions {
    /// Connection string.
    pub dsn: String,
    /// Databases.
    pub databases: Databases,
    /// Snapshot options (tags, host).
    pub backup: BackupOptions,
    /// Which tables' rows are counted in the dump's snapshot.
    pub row_counts: RowCounts,
}

/// One snapshot written by a logical backup.
#[derive(Debug)]
pub struct LogicalOutcome {
    /// The snapshot.
    pub outcome: BackupOutcome,
    /// Its metadata.
    pub meta: LogicalMeta,
}

fn stream_name(db: Option<&str>) -> String {
    match db {
        None => "globals.sql".into(),
        Some(d) => format!("{}.pgdump", d.replace('%', "%25").replace('/', "%2F")),
    }
}

fn program_version(tools: &PgTools, program: &str) -> String {
    tools
        .command(program)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Dumps the selected databases, one snapshot each (globals first with `All`). Stops at the
/// first failure: snapshots already written are complete; the failed dump records nothing.
pub fn backup_logical(
    repo: &Repository,
    opts: &LogicalOptions,
    progress: Arc<Progress>,
) -> Result<Vec<LogicalOutcome>> {
    let info = ServerInfo::query(&PgTools::locate(None), &opts.dsn)?;
    let tools = PgTools::locate(Some(info.major()));
    let mut jobs: Vec<Option<String>> = Vec::new();
    match &opts.databases {
        Databases::FromDsn => jobs.push(Some(info.database.clone())),
        Databases::Named(v) => jobs.extend(v.iter().cloned().map(Some)),
        Databases::All => {
            jobs.push(None);
            let rows = tools.query(
                &opts.dsn,
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname",
            )?;
            jobs.extend(
                rows.into_iter()
                    .filter_map(|r| r.into_iter().next())
                    .map(Some),
            );
        }
    }
    let mut out = Vec::new();
    for db in jobs {
        let (program, mut cmd) = match &db {
            None => {
                let mut c = tools.command("pg_dumpall");
                c.arg("-d").arg(&opts.dsn).args(["--globals-only", "-w"]);
                ("pg_dumpall", c)
            }
            Some(d) => {
                let mut c = tools.command("pg_dump");
                c.arg("-d")
                    .arg(with_database(&opts.dsn, d))
                    .args(["-F", "c", "-Z", "0", "-w"]);
                ("pg_dump", c)
            }
        };
        cmd.env("PGAPPNAME", "lifeboat");
        let what = match &db {
            None => "pg_dumpall --globals-only".to_string(),
            Some(d) => format!("pg_dump of database '{d}'"),
        };
        // Row counts in the dump's own MVCC snapshot: a session exports its snapshot, pg_dump
        // dumps exactly it, and the session counts while the dump streams.
        let mut session = match &db {
            Some(d) if opts.row_counts != RowCounts::None => {
                let s =
                    SnapshotSession::begin(&tools, &with_database(&opts.dsn, d)).map_err(|e| {
                        PgError::Tool(format!(
                            "{what} could not start: {e}; no snapshot was written"
                        ))
                    })?;
                Some(s)
            }
            _ => None,
        };
        let mut meta = LogicalMeta {
            kind: "logical".into(),
            database: db.clone(),
            format: if db.is_some() { "custom" } else { "plain" }.into(),
            compression: "none".into(),
            server_version: info.version.clone(),
            server_version_num: info.version_num,
            dump_program: program_version(&tools, program),
            system_identifier: info.system_identifier.map(|s| s.to_string()),
            size: 0,
            sha256: String::new(),
            row_counts: None,
        };

        if let Some(s) = &session {
            cmd.arg(format!("--snapshot={}", s.snapshot_id));
        }
        let (mut child, stdout) = ChildSource::spawn(cmd, what)?;
        let mut bopts = opts.backup.clone();
        bopts.source_kind = Some(SOURCE_LOGICAL.into());
        bopts.extra.insert(
            EXTRA_KEY.to_string(),
            serde_json::to_value(&meta).expect("meta serializes"),
        );
        let which = &opts.row_counts;
        let result = std::thread::scope(|scope| {
            let counter = session
                .as_mut()
                .map(|s| scope.spawn(move || s.count(which)));
            let meta_ref = &meta;
            store_stream(
                repo,
                &stream_name(db.as_deref()),
                stdout,
                &bopts,
                progress.clone(),
                || {
                    child.finish("; no snapshot was written")?;
                    let mut extra = BTreeMap::new();
                    if let Some(counter) = counter {
                        let counts = counter.join().map_err(|_| {
                            PgError::Tool("the row-counting thread panicked".into())
                        })?;
                        let counts = counts
                            .map_err(|e| PgError::Tool(format!("{e}; no snapshot was written")))?;
                        let mut m = meta_ref.clone();
                        m.row_counts = Some(counts);
                        extra.insert(
                            EXTRA_KEY.to_string(),
                            serde_json::to_value(&m).expect("meta serializes"),
                        );
                    }
                    Ok(extra)
                },
            )
        });
        if let Some(s) = session.take() {
            if let Err(e) = s.end() {
                tracing::warn!("{e}");
            }
        }
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                child.kill();
                return Err(e);
            }
        };
        // The stream's size and SHA-256 are known only at the end (store_stream fills them in).
        if let Some(s) = &outcome.snapshot.stream {
            meta.size = s.size;
            meta.sha256 = s.sha256.clone();
        }
        if let Some(m) = outcome
            .snapshot
            .extra
            .get(EXTRA_KEY)
            .and_then(|v| serde_json::from_value::<LogicalMeta>(v.clone()).ok())
        {
            meta.row_counts = m.row_counts;
        }
        out.push(LogicalOutcome { outcome, meta });
    }
    Ok(out)
}

/// Options of a logical restore.
#[derive(Clone, Debug, Default)]
pub struct LogicalRestoreOptions {
    /// Connection string of the target (its database is restored into, or with `create`, the
    /// database connected to first).
    pub dsn: String,
    /// Create the dumped database (pg_restore --create).
    pub create: bool,
    /// Drop objects before recreating them (pg_restore --clean --if-exists).
    pub clean: bool,
    /// Parallel jobs: the dump is first written to a temporary file (pg_restore needs to seek).
    pub jobs: Option<u32>,
    /// Only these tables (repeatable --table).
    pub tables: Vec<String>,
    /// Only these schemas.
    pub schemas: Vec<String>,
    /// Data only (no schema).
    pub data_only: bool,
    /// Schema only.
    pub schema_only: bool,
    /// Skip ownership commands.
    pub no_owner: bool,
    /// Skip privileges (GRANT/REVOKE), e.g. when the roles they name do not exist.
    pub no_privileges: bool,
    /// Create this (scratch) database and restore into it.
    pub into_database: Option<String>,
    /// Where the temporary file for `jobs` goes (default: the system temp dir).
    pub temp_dir: Option<PathBuf>,
}

/// What a logical restore did.
#[derive(Clone, Debug, Serialize)]
pub struct LogicalRestoreReport {
    /// Snapshot restored.
    pub snapshot_id: String,
    /// Database the data went into (as far as known).
    pub database: Option<String>,
    /// Bytes of dump streamed.
    pub bytes: u64,
    /// Warnings (e.g. psql errors while replaying globals).
    pub warnings: Vec<String>,
    /// Seconds.
    pub duration_seconds: f64,
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Restores a logical snapshot.
pub fn restore_logical(
    repo: &Repository,
    snap: &SnapshotEntry,
    opts: &LogicalRestoreOptions,
) -> Result<LogicalRestoreReport> {
    let started = std::time::Instant::now();
    let meta = LogicalMeta::from_snapshot(snap).ok_or_else(|| {
        PgError::Invalid(format!(
            "snapshot {} is not a PostgreSQL logical backup (source '{}')",
            snap.short_id(),
            snap.snapshot.source
        ))
    })?;
    let tools = PgTools::locate(Some(meta.server_version_num / 10000));
    if opts.create && opts.into_database.is_some() {
        return Err(PgError::guided(
            "a restore either creates the dumped database or goes into another database, not both",
            Hint::DropOption { option: "create" },
        ));
    }
    let mut dsn = opts.dsn.clone();
    let mut database = None;
    if let Some(db) = &opts.into_database {
        tools.query(&opts.dsn, &format!("CREATE DATABASE {}", quote_ident(db)))?;
        dsn = with_database(&opts.dsn, db);
        database = Some(db.clone());
    }
    if meta.format == "plain" {
        let given = if opts.jobs.is_some() {
            Some("jobs")
        } else if !opts.tables.is_empty() {
            Some("table")
        } else if !opts.schemas.is_empty() {
            Some("schema")
        } else {
            None
        };
        if let Some(option) = given {
            return Err(PgError::guided(
                "the globals snapshot is plain SQL: parallel jobs and table or schema selection do not apply to it",
                Hint::DropOption { option },
            ));
        }
        let mut cmd = tools.command("psql");
        cmd.args(["-X", "-q", "-w", "-v", "ON_ERROR_STOP=0", "-d"])
            .arg(&dsn)
            .args(["-f", "-"]);
        let (bytes, tail) = pipe_into(repo, snap, cmd, "psql")?;
        let warnings = tail
            .lines()
            .filter(|l| l.contains("ERROR"))
            .map(str::to_string)
            .collect();
        return Ok(LogicalRestoreReport {
            snapshot_id: snap.id.clone(),
            database,
            bytes,
            warnings,
            duration_seconds: started.elapsed().as_secs_f64(),
        });
    }
    let mut cmd = tools.command("pg_restore");
    cmd.args(["-w", "--exit-on-error", "-d"]).arg(&dsn);
    if opts.create {
        cmd.arg("--create");
        database = meta.database.clone();
    } else if database.is_none() {
        database = tools
            .query_row(&dsn, "SELECT current_database()")
            .ok()
            .and_then(|r| r.into_iter().next());
    }
    if opts.clean {
        cmd.args(["--clean", "--if-exists"]);
    }
    if opts.data_only {
        cmd.arg("--data-only");
    }
    if opts.schema_only {
        cmd.arg("--schema-only");
    }
    if opts.no_owner {
        cmd.arg("--no-owner");
    }
    if opts.no_privileges {
        cmd.arg("--no-privileges");
    }
    for t in &opts.tables {
        cmd.arg("-t").arg(t);
    }
    for s in &opts.schemas {
        cmd.arg("-n").arg(s);
        // pg_restore -n restores the objects in a schema but not the schema itself.
        if !opts.create && !opts.data_only {
            tools.query(
                &dsn,
                &format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(s)),
            )?;
        }
    }
    let bytes = match opts.jobs {
        Some(j) if j > 1 => {
            // pg_restore --jobs needs a seekable file: dump into a private temporary file first.
            let dir = opts.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
            let mut tmp = tempfile::Builder::new()
                .prefix("lifeboat-restore-")
                .suffix(".pgdump")
                .tempfile_in(&dir)
                .map_err(|e| PgError::io("creating a temporary file in", &dir, e))?;
            let n = {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
                let n = crate::dump::dump_stream(repo, snap, &mut w)?;
                w.flush()
                    .map_err(|e| PgError::io("writing", dir.clone(), e))?;
                n
            };
            cmd.arg("-j").arg(j.to_string()).arg(tmp.path());
            crate::tools::run_capture(cmd, "pg_restore")?;
            n
        }
        _ => pipe_into(repo, snap, cmd, "pg_restore")?.0,
    };
    Ok(LogicalRestoreReport {
        snapshot_id: snap.id.clone(),
        database,
        bytes,
        warnings: Vec::new(),
        duration_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Streams a snapshot into a child's standard input; the child's failure wins over a broken
/// pipe. Returns the bytes written and the child's error-output tail.
fn pipe_into(
    repo: &Repository,
    snap: &SnapshotEntry,
    mut cmd: std::process::Command,
    name: &str,
) -> Result<(u64, String)> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| PgError::ToolNotFound {
            program: name.to_string(),
            detail: e.to_string(),
        })?;
    let mut tail = StderrTail::start(child.stderr.take().expect("piped"));
    let stdin = child.stdin.take().expect("piped");
    let mut counter = CountingWriter { inner: stdin, n: 0 };
    let written = {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut counter);
        let r = crate::dump::dump_stream(repo, snap, &mut w);
        drop(w);
        r
    };
    drop(counter.inner);
    let status = child
        .wait()
        .map_err(|e| PgError::Tool(format!("waiting for {name} failed: {e}")))?;
    let tail_text = tail.finish(40);
    if !status.success() {
        return Err(tool_failure(
            name,
            &crate::tools::describe_status(&status),
            &crate::tools::last_lines(&tail_text, 20),
            "; the restore is incomplete",
        ));
    }
    match written {
        Ok(n) => Ok((n, tail_text)),
        // pg_restore stops reading once it has every item it was asked for (--table,
        // --schema): a closed pipe after a successful exit is not an error. Every blob that was
        // sent had been authenticated.
        Err(PgError::Core(lifeboat_core::Error::Io { source, .. }))
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Ok((counter.n, tail_text))
        }
        Err(e) => Err(e),
    }
}

struct CountingWriter<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
