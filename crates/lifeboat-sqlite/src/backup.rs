//! Backups of live SQLite databases (docs/design/sqlite.md, "Backup").
//!
//! For each database, in order:
//! 1. before anything is copied, every path is checked: it exists, is a regular file, and
//!    starts with the SQLite header (so a missing or foreign file records nothing at all);
//! 2. the database is copied with the online backup API into a private temporary file (mode
//!    0600, in `temp_dir`, default `$TMPDIR`), in **one** `sqlite3_backup_step(-1)`: the copy
//!    is one read transaction, so it is transactionally consistent in WAL and rollback-journal
//!    mode alike, and writers that commit meanwhile cannot restart (and so starve) it. In WAL
//!    mode writers go on committing during the copy; in rollback-journal mode their commits
//!    wait for it (SQLite's busy handler), as for any reader;
//! 3. the copy streams through the engine in fixed blocks of `block_size` (rounded up to a
//!    multiple of the page size) while another thread runs `PRAGMA integrity_check` (or
//!    `quick_check`, when asked) on it and reads the metadata (page size and count,
//!    `user_version`, schema hash, row counts);
//! 4. only when the check said `ok` (the engine asks just before it indexes anything) is the
//!    snapshot recorded; otherwise the backup fails naming the file, and nothing is recorded.
//!
//! The source is opened read-write without create (as the `sqlite3` shell does, so a hot
//! journal left by a crashed writer is rolled back like any reader would) and with
//! `query_only`: lifeboat never writes to it.

use crate::error::{Result, SqliteError};
use crate::meta::{self, open_immutable, pragma, pragma_int, Check, SqliteMeta};
use crate::{DEFAULT_BLOCK_SIZE, EXTRA_KEY, SOURCE};
use lifeboat_core::backup::{
    backup_stream, BackupOptions, BackupOutcome, Chunking, Progress, MAX_FIXED_BLOCK,
};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, ErrorCode, InterruptHandle, OpenFlags};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The SQLite header every database file starts with.
const HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Options of a SQLite backup.
#[derive(Clone, Debug)]
pub struct SqliteBackupOptions {
    /// Tags and host of the snapshots.
    pub backup: BackupOptions,
    /// The block size the copy is stored in, rounded up to a multiple of the page size
    /// (default [`DEFAULT_BLOCK_SIZE`]).
    pub block_size: u32,
    /// Where the temporary copy is written (default: `$TMPDIR`, else `/tmp`). It needs room
    /// for the whole database.
    pub temp_dir: Option<PathBuf>,
    /// How long the copy waits for writers that hold the database locked.
    pub busy_timeout: Duration,
    /// How the copy is checked before it is recorded (default: `PRAGMA integrity_check`).
    pub check: Check,
}

impl Default for SqliteBackupOptions {
    fn default() -> Self {
        SqliteBackupOptions {
            backup: BackupOptions::default(),
            block_size: DEFAULT_BLOCK_SIZE,
            temp_dir: None,
            busy_timeout: Duration::from_secs(60),
            check: Check::Full,
        }
    }
}

/// One snapshot of a SQLite backup.
#[derive(Debug)]
pub struct SqliteOutcome {
    /// The snapshot.
    pub outcome: BackupOutcome,
    /// What it records under `extra.sqlite`.
    pub meta: SqliteMeta,
}

/// Backs up each database in `paths` into a snapshot of its own. Every path is checked first
/// (a missing or foreign file records nothing); then the databases are backed up in order,
/// stopping at the first failure (snapshots already written are complete; the failed database
/// records nothing).
pub fn backup_sqlite(
    repo: &lifeboat_core::Repository,
    paths: &[PathBuf],
    opts: &SqliteBackupOptions,
    progress: Arc<Progress>,
) -> Result<Vec<SqliteOutcome>> {
    if paths.is_empty() {
        return Err(SqliteError::Invalid(
            "nothing to back up: give at least one SQLite database file".into(),
        ));
    }
    if opts.block_size == 0 || opts.block_size > MAX_FIXED_BLOCK {
        return Err(SqliteError::Invalid(format!(
            "invalid block size {}: give 1 to {MAX_FIXED_BLOCK} bytes",
            opts.block_size
        )));
    }
    let checked = paths
        .iter()
        .map(|p| preflight(p))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for (path, file) in checked {
        out.push(backup_one(repo, &path, &file, opts, progress.clone())?);
    }
    Ok(out)
}

/// The absolute path of a database to back up and its metadata, once it is known to exist, be
/// a regular file and start with the SQLite header.
fn preflight(path: &Path) -> Result<(PathBuf, std::fs::Metadata)> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let m = match std::fs::metadata(&abs) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SqliteError::NotFound { path: abs })
        }
        Err(e) => {
            return Err(SqliteError::Unreadable {
                path: abs,
                detail: e.to_string(),
            })
        }
    };
    if m.is_dir() {
        return Err(SqliteError::NotAFile {
            path: abs,
            what: "a directory",
        });
    }
    if !m.is_file() {
        return Err(SqliteError::NotAFile {
            path: abs,
            what: "a special file",
        });
    }
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(&abs)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(|e| SqliteError::Unreadable {
            path: abs.clone(),
            detail: e.to_string(),
        })?;
    if head.is_empty() {
        return Err(SqliteError::NotADatabase {
            path: abs,
            detail: "the file is empty".into(),
        });
    }
    if head.as_slice() != HEADER {
        return Err(SqliteError::NotADatabase {
            path: abs,
            detail: "it does not start with the SQLite header".into(),
        });
    }
    Ok((abs, m))
}

/// A SQLite error on the source database, as the backup reports it.
fn source_error(path: &Path, e: rusqlite::Error) -> SqliteError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => SqliteError::NotADatabase {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        _ => SqliteError::Unreadable {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
    }
}

/// Removes a temporary database and the files SQLite may have created beside it.
struct TempCopy(tempfile::TempPath);

impl Drop for TempCopy {
    fn drop(&mut self) {
        for suffix in ["-journal", "-wal", "-shm"] {
            let mut s = self.0.as_os_str().to_owned();
            s.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(s));
        }
    }
}

/// What the check thread read from the copy.
struct Checked {
    user_version: i64,
    application_id: i64,
    schema_hash: String,
    row_counts: BTreeMap<String, u64>,
}

/// Copies `src` into `dst` in one backup step, waiting up to `timeout` for locks.
fn copy_database(
    path: &Path,
    src: &Connection,
    dst: &mut Connection,
    timeout: Duration,
    progress: &Progress,
) -> Result<()> {
    let b = Backup::new(src, dst).map_err(|e| source_error(path, e))?;
    let started = Instant::now();
    loop {
        progress.cancel.check("backup")?;
        match b.step(-1) {
            Ok(StepResult::Done) => return Ok(()),
            Ok(StepResult::More) => {}
            Ok(_) => {
                // Busy or locked: a writer holds the lock; SQLite's busy handler already
                // waited a little. Wait until `timeout`.
                if started.elapsed() >= timeout {
                    return Err(SqliteError::Busy {
                        path: path.to_path_buf(),
                        waited_seconds: started.elapsed().as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DiskFull) => {
                return Err(SqliteError::Sqlite {
                    op: "writing the temporary copy of",
                    path: path.to_path_buf(),
                    detail: format!("{e} (set TMPDIR to a directory with room for the database)"),
                })
            }
            Err(e) => return Err(source_error(path, e)),
        }
    }
}

/// Checks the copy ([`Check`]) and reads its metadata. Each connection's interrupt handle
/// goes into `handles` first; `stop` set by the other side ends the work.
fn check_copy(
    db: &Path,
    copy: &Path,
    check: Check,
    handles: &Mutex<Vec<InterruptHandle>>,
    stop: &AtomicBool,
) -> Result<Checked> {
    let damaged = |e: rusqlite::Error| SqliteError::CopyDamaged {
        path: db.to_path_buf(),
        check: check.pragma(),
        problems: vec![e.to_string()],
    };
    let open = || -> Result<Connection> {
        let c = open_immutable(copy).map_err(damaged)?;
        handles
            .lock()
            .expect("interrupt handles")
            .push(c.get_interrupt_handle());
        if stop.load(Ordering::SeqCst) {
            return Err(SqliteError::Invalid("the check was stopped".into()));
        }
        Ok(c)
    };
    let c = open()?;
    let t0 = Instant::now();
    let (problems, row_counts) = match check {
        Check::Full => {
            // quick_check on one core, the indexes against their tables on the other.
            let verified = crate::verify::full_check(open()?, &c).map_err(damaged)?;
            (verified.problems, Some(verified.row_counts))
        }
        other => (meta::run_check(&c, other).map_err(damaged)?, None),
    };
    tracing::debug!(
        "{} of the copy of {}: {:.3}s",
        check.pragma(),
        db.display(),
        t0.elapsed().as_secs_f64()
    );
    if !problems.is_empty() {
        return Err(SqliteError::CopyDamaged {
            path: db.to_path_buf(),
            check: check.pragma(),
            problems,
        });
    }
    let t0 = Instant::now();
    let c = open()?;
    let row_counts = match row_counts {
        Some(r) => r,
        None => meta::row_counts(&c).map_err(damaged)?,
    };
    let checked = Checked {
        user_version: pragma_int(&c, "user_version").map_err(damaged)?,
        application_id: pragma_int(&c, "application_id").map_err(damaged)?,
        schema_hash: meta::schema_hash(&c).map_err(damaged)?,
        row_counts,
    };
    tracing::debug!(
        "metadata and row counts of the copy of {}: {:.3}s",
        db.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(checked)
}

fn backup_one(
    repo: &lifeboat_core::Repository,
    path: &Path,
    file: &std::fs::Metadata,
    opts: &SqliteBackupOptions,
    progress: Arc<Progress>,
) -> Result<SqliteOutcome> {
    let src = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| source_error(path, e))?;
    src.busy_timeout(opts.busy_timeout.min(Duration::from_secs(5)))
        .map_err(|e| source_error(path, e))?;
    pragma(&src, "PRAGMA query_only = 1").map_err(|e| source_error(path, e))?;
    let journal_mode: String = src
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(|e| source_error(path, e))?;

    let temp_dir = opts.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new()
        .prefix("lifeboat-sqlite-")
        .suffix(".db")
        .tempfile_in(&temp_dir)
        .map_err(|e| SqliteError::io("creating a temporary copy in", &temp_dir, e))?
        .into_temp_path();
    let tmp = TempCopy(tmp);
    let copy_path = tmp.0.to_path_buf();
    let copy_started = Instant::now();
    {
        let mut dst = Connection::open_with_flags(
            &copy_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| SqliteError::Sqlite {
            op: "creating the temporary copy",
            path: copy_path.clone(),
            detail: e.to_string(),
        })?;
        // A private scratch file: no durability needed, it is checked and read right away.
        pragma(&dst, "PRAGMA synchronous = OFF")
            .and_then(|_| pragma(&dst, "PRAGMA journal_mode = MEMORY"))
            .map_err(|e| SqliteError::Sqlite {
                op: "preparing the temporary copy",
                path: copy_path.clone(),
                detail: e.to_string(),
            })?;
        copy_database(path, &src, &mut dst, opts.busy_timeout, &progress)?;
        dst.close().map_err(|(_, e)| SqliteError::Sqlite {
            op: "closing the temporary copy",
            path: copy_path.clone(),
            detail: e.to_string(),
        })?;
    }
    let copy_seconds = copy_started.elapsed().as_secs_f64();
    tracing::debug!("copy of {}: {copy_seconds:.3}s", path.display());
    drop(src);

    let sqlite_err = |op: &'static str| {
        let p = copy_path.clone();
        move |e: rusqlite::Error| SqliteError::Sqlite {
            op,
            path: p,
            detail: e.to_string(),
        }
    };
    let (page_size, page_count) = {
        let c = open_immutable(&copy_path).map_err(sqlite_err("opening the copy"))?;
        (
            pragma_int(&c, "page_size").map_err(sqlite_err("reading the copy"))?,
            pragma_int(&c, "page_count").map_err(sqlite_err("reading the copy"))?,
        )
    };
    let page_size = page_size.clamp(512, 65536) as u32;
    let size = std::fs::metadata(&copy_path)
        .map_err(|e| SqliteError::io("reading", &copy_path, e))?
        .len();
    let block_size = {
        let b = opts.block_size.div_ceil(page_size) * page_size;
        if b > MAX_FIXED_BLOCK {
            page_size
        } else {
            b
        }
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "database.sqlite".into());
    let mut bopts = opts.backup.clone();
    bopts.source_kind = Some(SOURCE.into());
    bopts.chunking = Chunking::Fixed(block_size);
    bopts.stream_paths = vec![path.display().to_string()];
    let mut meta = SqliteMeta {
        path: path.display().to_string(),
        page_size,
        page_count: page_count.max(0) as u64,
        size,
        journal_mode: journal_mode.to_ascii_lowercase(),
        user_version: 0,
        application_id: 0,
        schema_hash: String::new(),
        sqlite_version: crate::sqlite_version().to_string(),
        check: opts.check.pragma().into(),
        integrity_check: "ok".into(),
        method: "backup-api".into(),
        block_size,
        copy_seconds,
        file_mode: file.mode() & 0o7777,
        uid: file.uid(),
        gid: file.gid(),
        row_counts: BTreeMap::new(),
    };

    let handles = Mutex::new(Vec::<InterruptHandle>::new());
    let stop = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel::<Result<Checked>>();
    let mut failure: Option<SqliteError> = None;
    let result = std::thread::scope(|scope| {
        let (copy, handles, stop) = (&copy_path, &handles, &stop);
        scope.spawn(move || {
            let _ = tx.send(check_copy(path, copy, opts.check, handles, stop));
        });
        let reader = std::fs::File::open(&copy_path)
            .map(|f| std::io::BufReader::with_capacity(1 << 20, f))
            .map_err(|e| SqliteError::io("reading", &copy_path, e));
        let result = reader.and_then(|reader| {
            let streaming = Instant::now();
            backup_stream(repo, &name, reader, &bopts, progress.clone(), |info| {
                tracing::debug!(
                    "the copy of {} streamed through the engine: {:.3}s",
                    path.display(),
                    streaming.elapsed().as_secs_f64()
                );
                let checked = match rx.recv() {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        let text = e.to_string();
                        failure = Some(e);
                        return Err(lifeboat_core::Error::SourceFailed(text));
                    }
                    Err(_) => {
                        return Err(lifeboat_core::Error::ThreadFailed {
                            thread: "SQLite integrity check",
                        })
                    }
                };
                if info.size != size {
                    return Err(lifeboat_core::Error::SourceFailed(format!(
                        "the temporary copy of {} changed while it was stored ({size} bytes, {} read); nothing was recorded",
                        path.display(),
                        info.size
                    )));
                }
                meta.user_version = checked.user_version;
                meta.application_id = checked.application_id;
                meta.schema_hash = checked.schema_hash;
                meta.row_counts = checked.row_counts;
                Ok(BTreeMap::from([(
                    EXTRA_KEY.to_string(),
                    serde_json::to_value(&meta).expect("metadata serializes"),
                )]))
            })
            .map_err(SqliteError::from)
        });
        if result.is_err() {
            // The backup stopped before (or instead of) asking for the check: end it now.
            stop.store(true, Ordering::SeqCst);
            for h in handles.lock().expect("interrupt handles").iter() {
                h.interrupt();
            }
        }
        result
    });
    drop(tmp);
    match (result, failure) {
        (Ok(outcome), _) => Ok(SqliteOutcome { outcome, meta }),
        (Err(_), Some(f)) => Err(f),
        (Err(e), None) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_refuses_missing_empty_and_foreign_files() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("missing.db");
        assert!(matches!(
            preflight(&missing),
            Err(SqliteError::NotFound { .. })
        ));
        assert!(matches!(
            preflight(d.path()),
            Err(SqliteError::NotAFile { .. })
        ));
        let empty = d.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            preflight(&empty),
            Err(SqliteError::NotADatabase { .. })
        ));
        let text = d.path().join("notes.txt");
        std::fs::write(&text, b"hello, this is not a database at all").unwrap();
        let e = preflight(&text).unwrap_err();
        assert!(e.to_string().contains("notes.txt"), "{e}");
        let db = d.path().join("ok.db");
        Connection::open(&db)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        assert!(preflight(&db).is_ok());
    }
}
