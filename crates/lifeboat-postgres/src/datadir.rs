//! Base backups that read the data directory directly (`--method copy`), the way pgBackRest
//! and Barman's rsync method do: one SQL session holds the non-exclusive backup open
//! (`pg_backup_start` / `pg_backup_stop`, or `pg_start_backup` / `pg_stop_backup` before
//! PostgreSQL 15) while lifeboat copies the files itself into a directory snapshot. No
//! walsender, no tar stream: the files go straight into the engine's parallel pipeline, and a
//! restore writes them back in parallel.
//!
//! Safety rules (the same as pg_basebackup's): files changing while they are copied are fine
//! (full-page writes are forced during a backup and recovery replays WAL from the start LSN);
//! files that vanish are left out; any other read error fails the backup. The `backup_label`
//! (and `tablespace_map`) returned by the stop call are added to the snapshot's root. If the
//! session dies (lifeboat killed), the server aborts the backup by itself.

use crate::error::{PgError, Result};
use crate::tools::{PgTools, StderrTail};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

/// One `psql` session fed statement by statement (the backup API needs a single session
/// from start to stop).
pub struct SqlSession {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    tail: StderrTail,
}

/// Marks the end of one statement's output.
const END_MARK: &str = "--lifeboat-end-of-result--";

impl SqlSession {
    /// Connects.
    pub fn open(tools: &PgTools, dsn: &str) -> Result<SqlSession> {
        let mut c = tools.command("psql");
        c.args(["-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"])
            .arg("-F")
            .arg("\u{1f}")
            .arg("-d")
            .arg(dsn)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| PgError::ToolNotFound {
            program: c.get_program().to_string_lossy().into_owned(),
            detail: e.to_string(),
        })?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let tail = StderrTail::start(child.stderr.take().expect("piped stderr"));
        Ok(SqlSession {
            child,
            stdin,
            stdout,
            tail,
        })
    }

    /// Runs one statement; returns its rows (fields split, NULL as "").
    pub fn query(&mut self, sql: &str) -> Result<Vec<Vec<String>>> {
        let failed = |s: &mut SqlSession, what: String| -> PgError {
            let _ = s.child.kill();
            let _ = s.child.wait();
            let tail = s.tail.finish(20);
            PgError::Tool(format!(
                "{what} (query `{sql}`){}{tail}",
                if tail.is_empty() { "" } else { ": " }
            ))
        };
        let stdin = self.stdin.as_mut().expect("open session");
        if let Err(e) = writeln!(stdin, "{sql};\n\\echo {END_MARK}").and_then(|_| stdin.flush()) {
            return Err(failed(self, format!("psql session ended ({e})")));
        }
        let mut rows = Vec::new();
        loop {
            let mut line = String::new();
            match self.stdout.read_line(&mut line) {
                Ok(0) => return Err(failed(self, "psql session ended".into())),
                Ok(_) => {}
                Err(e) => return Err(failed(self, format!("reading from psql failed: {e}"))),
            }
            let line = line.trim_end_matches('\n');
            if line == END_MARK {
                return Ok(rows);
            }
            if !line.is_empty() {
                rows.push(line.split('\u{1f}').map(str::to_string).collect());
            }
        }
    }

    /// Runs a statement that returns one row.
    pub fn query_row(&mut self, sql: &str) -> Result<Vec<String>> {
        let mut rows = self.query(sql)?;
        if rows.len() != 1 {
            return Err(PgError::unexpected(
                format!("answer to `{sql}`"),
                format!("{} rows, expected one", rows.len()),
            ));
        }
        Ok(rows.remove(0))
    }
}

impl Drop for SqlSession {
    fn drop(&mut self) {
        // Closing standard input ends psql and the session (an open backup is aborted).
        drop(self.stdin.take());
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn unhex(field: &str) -> Result<String> {
    let bytes = hex::decode(field.trim())
        .map_err(|e| PgError::unexpected("answer from the backup stop call", e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// What the stop call returned.
#[derive(Debug)]
pub struct BackupStop {
    /// Stop LSN.
    pub lsn: crate::lsn::Lsn,
    /// Content of `backup_label`.
    pub label_file: String,
    /// Content of `tablespace_map` (empty when there are no tablespaces).
    pub tablespace_map: String,
}

/// An open non-exclusive backup.
pub struct BackupInProgress {
    session: SqlSession,
    version_num: u32,
}

impl BackupInProgress {
    /// Starts a backup (a checkpoint first: immediate with `fast`).
    pub fn start(
        tools: &PgTools,
        dsn: &str,
        version_num: u32,
        label: &str,
        fast: bool,
    ) -> Result<BackupInProgress> {
        let mut session = SqlSession::open(tools, dsn)?;
        let sql = if version_num >= 150000 {
            format!("SELECT pg_backup_start({}, {fast})", literal(label))
        } else {
            format!("SELECT pg_start_backup({}, {fast}, false)", literal(label))
        };
        session.query_row(&sql)?;
        Ok(BackupInProgress {
            session,
            version_num,
        })
    }

    /// Stops the backup (the server switches to a new WAL segment; lifeboat itself waits for
    /// the archive) and returns the label to store.
    pub fn stop(mut self) -> Result<BackupStop> {
        let f = if self.version_num >= 150000 {
            "pg_backup_stop(false)"
        } else {
            "pg_stop_backup(false, false)"
        };
        let r = self.session.query_row(&format!(
            "SELECT lsn, encode(convert_to(labelfile, 'UTF8'), 'hex'), \
             coalesce(encode(convert_to(spcmapfile, 'UTF8'), 'hex'), '') FROM {f}"
        ))?;
        if r.len() != 3 {
            return Err(PgError::unexpected(
                format!("answer from {f}"),
                format!("{r:?}"),
            ));
        }
        Ok(BackupStop {
            lsn: r[0]
                .trim()
                .parse()
                .map_err(|e| PgError::unexpected(format!("answer from {f}"), e))?,
            label_file: unhex(&r[1])?,
            tablespace_map: unhex(&r[2])?,
        })
    }
}

/// Directories whose content is not copied (recreated or reset by the server), as in
/// pg_basebackup. `pg_wal` is handled separately (its `archive_status` directory is kept).
const EXCLUDED_DIR_CONTENTS: &[&str] = &[
    "pg_dynshmem",
    "pg_notify",
    "pg_replslot",
    "pg_serial",
    "pg_snapshots",
    "pg_stat_tmp",
    "pg_subtrans",
];

/// Files in the data directory's top level that are not copied.
const EXCLUDED_TOP_FILES: &[&str] = &[
    "postmaster.pid",
    "postmaster.opts",
    "backup_label",
    "backup_label.old",
    "tablespace_map",
    "tablespace_map.old",
    "backup_manifest",
    "recovery.signal",
    "standby.signal",
    "postgresql.auto.conf.tmp",
    "current_logfiles.tmp",
];

/// True for a temporary relation's file (`t<backend>_<relfilenode>[.n|_fork]`).
fn temp_relation(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('t') else {
        return false;
    };
    let Some((backend, rel)) = rest.split_once('_') else {
        return false;
    };
    !backend.is_empty()
        && backend.bytes().all(|b| b.is_ascii_digit())
        && rel.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// Whether `rel` (a path relative to the data directory) is left out of a base backup.
pub fn excluded(rel: &Path) -> bool {
    let parts: Vec<&str> = rel.iter().map(|c| c.to_str().unwrap_or("")).collect();
    let Some(name) = parts.last() else {
        return false;
    };
    if name.starts_with("pgsql_tmp") || name.starts_with("pg_internal.init") {
        return true;
    }
    match parts.as_slice() {
        [top] => EXCLUDED_TOP_FILES.contains(top),
        ["pg_wal", "archive_status"] => false,
        ["pg_wal", ..] => true,
        [dir, ..] if EXCLUDED_DIR_CONTENTS.contains(dir) => true,
        ["base", _, file] | ["global", file] | ["pg_tblspc", _, _, _, file] => temp_relation(file),
        _ => false,
    }
}

/// Whether `rel` is a tablespace link (`pg_tblspc/<oid>`), backed up as the directory it
/// points to.
pub fn tablespace_link(rel: &Path) -> bool {
    let parts: Vec<&str> = rel.iter().map(|c| c.to_str().unwrap_or("")).collect();
    matches!(parts.as_slice(), ["pg_tblspc", oid] if !oid.is_empty() && oid.bytes().all(|b| b.is_ascii_digit()))
}

/// One tablespace of a base backup: its OID and the directory it was in.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tablespace {
    /// OID (the name of its link in `pg_tblspc`).
    pub oid: String,
    /// Its location on the backed-up server.
    pub path: String,
}

/// Parses a `tablespace_map` file (`<oid> <path>` per line; PostgreSQL escapes a newline or
/// carriage return inside a path with a backslash).
pub fn parse_tablespace_map(text: &str) -> Result<Vec<Tablespace>> {
    let mut out = Vec::new();
    let mut line = String::new();
    let mut chars = text.chars().peekable();
    let mut lines = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('\n') | Some('\r')) => {
                line.push(chars.next().expect("peeked"));
            }
            '\n' => lines.push(std::mem::take(&mut line)),
            c => line.push(c),
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    for l in lines.iter().filter(|l| !l.trim().is_empty()) {
        let bad = || PgError::unexpected("tablespace_map line", format!("'{l}'"));
        let (oid, path) = l.split_once(' ').ok_or_else(bad)?;
        if oid.is_empty() || !oid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        out.push(Tablespace {
            oid: oid.to_string(),
            path: path.to_string(),
        });
    }
    Ok(out)
}

/// Writes a `tablespace_map` file's content.
pub fn format_tablespace_map(spaces: &[Tablespace]) -> String {
    spaces
        .iter()
        .map(|t| {
            let path = t.path.replace('\n', "\\\n").replace('\r', "\\\r");
            format!("{} {path}\n", t.oid)
        })
        .collect()
}

/// Size of `global/pg_control` (`PG_CONTROL_FILE_SIZE`).
const CONTROL_FILE_SIZE: usize = 8192;

/// `PG_CONTROL_MAX_SAFE_SIZE`: the checksummed part of pg_control fits in this many bytes.
const CONTROL_MAX_SAFE_SIZE: usize = 512;

/// Whether a copy of `pg_control` is intact: its contents end in a CRC-32C of everything
/// before it. The struct's size differs between versions, so every 4-byte-aligned end within
/// the safe size is tried (a false match has a chance of about 2^-25).
pub fn control_file_intact(data: &[u8]) -> bool {
    if data.len() != CONTROL_FILE_SIZE {
        return false;
    }
    (16..=CONTROL_MAX_SAFE_SIZE - 4).step_by(4).any(|end| {
        let stored = u32::from_le_bytes(data[end..end + 4].try_into().expect("4 bytes"));
        crc32c::crc32c(&data[..end]) == stored
    })
}

/// Reads `global/pg_control` so that the copy is never torn: the server may rewrite the file
/// while it is read (at every checkpoint), so a read that fails its checksum is retried.
pub fn read_control_file(data_dir: &Path) -> Result<Vec<u8>> {
    let path = data_dir.join("global/pg_control");
    let mut last = Vec::new();
    for attempt in 0..20 {
        last = std::fs::read(&path).map_err(|e| PgError::io("reading", &path, e))?;
        if control_file_intact(&last) {
            return Ok(last);
        }
        tracing::debug!(
            "{} read torn (attempt {attempt}), reading again",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(PgError::unexpected(
        format!("content of {}", path.display()),
        format!(
            "it fails its checksum in 20 reads ({} bytes), so the file is damaged; no snapshot was written",
            last.len()
        ),
    ))
}

/// A data directory lifeboat can read, verified to be the running server's.
#[derive(Debug, Clone)]
pub struct LocalDataDir {
    /// The directory.
    pub path: PathBuf,
}

/// Finds the server's data directory on this machine and checks it belongs to the server
/// behind `dsn` (same system identifier, and `postmaster.pid` names the same start time and
/// port), so a standby's or an old copy's directory at the same path is never mistaken for it.
/// `Err` says why the directory cannot be used.
pub fn locate(tools: &PgTools, dsn: &str, sysid: Option<u64>) -> Result<LocalDataDir, String> {
    let r = tools
        .query_row(
            dsn,
            "SELECT current_setting('data_directory'), current_setting('port'), \
             extract(epoch from date_trunc('second', pg_postmaster_start_time()))::bigint",
        )
        .map_err(|e| format!("cannot ask the server for its data directory ({e})"))?;
    let path = PathBuf::from(&r[0]);
    let pid_file = path.join("postmaster.pid");
    let pid = std::fs::read_to_string(&pid_file)
        .map_err(|e| format!("cannot read {} ({e})", pid_file.display()))?;
    let lines: Vec<&str> = pid.lines().collect();
    // Line 3: the postmaster's start time (Unix seconds; taken a few milliseconds apart from
    // pg_postmaster_start_time()); line 4: its port.
    let start: Option<i64> = lines.get(2).and_then(|s| s.trim().parse().ok());
    let server_start: Option<i64> = r[2].trim().parse().ok();
    let same_start = matches!((start, server_start), (Some(a), Some(b)) if (a - b).abs() <= 2);
    if !same_start || lines.get(3).map(|s| s.trim()) != Some(r[1].trim()) {
        return Err(format!(
            "{} belongs to another server instance than the one connected to (start time/port differ)",
            pid_file.display()
        ));
    }
    let local = crate::tools::read_control_system_id(&path)
        .ok_or_else(|| format!("cannot read {}/global/pg_control", path.display()))?;
    match sysid {
        Some(s) if s == local => Ok(LocalDataDir { path }),
        Some(s) => Err(format!(
            "{} holds system {local}, the server reports {s}",
            path.display()
        )),
        None => Err(
            "the server's system identifier is not visible to this role (pg_control_system())"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_match_pg_basebackup() {
        for p in [
            "postmaster.pid",
            "backup_label",
            "pg_wal/000000010000000000000001",
            "pg_wal/archive_status/000000010000000000000001.done",
            "pg_replslot/slot/state",
            "pg_stat_tmp/global.stat",
            "base/5/pgsql_tmp",
            "base/pgsql_tmp/pgsql_tmp123.0",
            "global/pg_internal.init",
            "base/16384/pg_internal.init",
            "base/16384/t3_16400",
            "base/16384/t3_16400_fsm",
        ] {
            assert!(excluded(Path::new(p)), "{p} should be excluded");
        }
        for p in [
            "pg_wal",
            "pg_wal/archive_status",
            "pg_replslot",
            "base/16384/16400",
            "base/16384/16400.1",
            "global/pg_control",
            "postgresql.conf",
            "postgresql.auto.conf",
            "pg_xact/0000",
            "log/postgresql.log",
            "base/16384/text_file",
        ] {
            assert!(!excluded(Path::new(p)), "{p} should be copied");
        }
    }

    #[test]
    fn tablespace_maps_round_trip() {
        let text = "16385 /srv/ts one\n16386 /srv/odd\\\nname\n";
        let spaces = parse_tablespace_map(text).unwrap();
        assert_eq!(
            spaces,
            vec![
                Tablespace {
                    oid: "16385".into(),
                    path: "/srv/ts one".into()
                },
                Tablespace {
                    oid: "16386".into(),
                    path: "/srv/odd\nname".into()
                },
            ]
        );
        assert_eq!(format_tablespace_map(&spaces), text);
        assert!(parse_tablespace_map("x /a\n").is_err());
        assert!(tablespace_link(Path::new("pg_tblspc/16385")));
        assert!(!tablespace_link(Path::new("pg_tblspc/16385/PG_15")));
        assert!(!tablespace_link(Path::new("base/16385")));
        assert!(excluded(Path::new(
            "pg_tblspc/16385/PG_15_202209061/5/t3_16400"
        )));
        assert!(!excluded(Path::new(
            "pg_tblspc/16385/PG_15_202209061/5/16400"
        )));
    }

    #[test]
    fn control_file_checksum_finds_torn_copies() {
        // A pg_control-like file: 296 bytes of fields, CRC-32C at 296, zero padding to 8 KiB.
        let mut data = vec![0u8; CONTROL_FILE_SIZE];
        for (i, b) in data[..296].iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let crc = crc32c::crc32c(&data[..296]);
        data[296..300].copy_from_slice(&crc.to_le_bytes());
        assert!(control_file_intact(&data));
        let mut torn = data.clone();
        torn[100] ^= 0x40;
        assert!(!control_file_intact(&torn));
        assert!(!control_file_intact(&data[..4096]));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("global")).unwrap();
        std::fs::write(dir.path().join("global/pg_control"), &data).unwrap();
        assert_eq!(read_control_file(dir.path()).unwrap(), data);
    }

    #[test]
    fn literals_are_quoted() {
        assert_eq!(literal("it's"), "'it''s'");
    }
}
