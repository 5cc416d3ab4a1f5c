//! Restores of SQLite snapshots (docs/design/sqlite.md, "Restore").
//!
//! Write ordering:
//! 1. refuse, before writing anything, a target that exists without `overwrite`, that is not a
//!    regular file, or that another process has open (the database or its `-wal`, `-shm`,
//!    `-journal`; found in `/proc/*/fd`);
//! 2. write the stream to a temporary file in the target's directory (mode 0600; every blob
//!    verified against its id, the whole stream against its recorded SHA-256) and fsync it;
//! 3. the full check on it (everything `PRAGMA integrity_check` verifies, [`crate::verify`];
//!    opened immutable: no companions are created); a failure
//!    removes it and leaves the target as it was;
//! 4. give it the replaced file's mode and owner (or those recorded at backup time);
//! 5. look for processes holding the target once more, then remove the old file's `-wal`,
//!    `-shm` and `-journal` (SQLite would otherwise apply a stale WAL or roll back a stale
//!    journal into the restored database), then rename the temporary file over the target and
//!    fsync the directory.
//!
//! A crash before step 5 leaves the target untouched (and a `.NAME.lifeboat-restore-*`
//! temporary file to delete); a crash inside step 5 leaves the old database without its
//! companions, or the restored one, never a mixture.

use crate::error::{Result, SqliteError};
use crate::holders::{holders, with_companions};
use crate::meta::SqliteMeta;
use lifeboat_core::cancel::CancelToken;
use lifeboat_core::snapshot::SnapshotEntry;
use lifeboat_core::Repository;
use serde::Serialize;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of a SQLite restore.
#[derive(Clone, Debug, Default)]
pub struct SqliteRestoreOptions {
    /// The database file to write.
    pub target: PathBuf,
    /// Replace an existing file.
    pub overwrite: bool,
    /// Stops the restore between steps (nothing is put in place then).
    pub cancel: CancelToken,
}

/// What a SQLite restore wrote (the JSON of `restore sqlite --json`).
#[derive(Clone, Debug, Serialize)]
pub struct SqliteRestoreReport {
    /// The snapshot restored.
    pub snapshot_id: String,
    /// The database file written (absolute).
    pub target: PathBuf,
    /// The database's path when it was backed up.
    pub source_path: String,
    /// Bytes written.
    pub bytes: u64,
    /// Page size.
    pub page_size: u32,
    /// Pages.
    pub page_count: u64,
    /// The journal mode the database had (a `wal` database is restored in WAL mode).
    pub journal_mode: String,
    /// `PRAGMA integrity_check` of the restored file: `ok`.
    pub integrity_check: String,
    /// Seconds the integrity check took.
    pub integrity_seconds: f64,
    /// True when an existing file was replaced.
    pub replaced: bool,
    /// Companion files of the replaced database that were removed (`-wal`, `-shm`, `-journal`).
    pub removed: Vec<PathBuf>,
    /// Seconds the restore took.
    pub duration_seconds: f64,
}

/// Refuses a target another process holds open.
fn refuse_if_held(target: &Path) -> Result<()> {
    if let Some(h) = holders(&with_companions(target)).into_iter().next() {
        return Err(SqliteError::TargetInUse {
            path: target.to_path_buf(),
            pid: h.pid,
            command: h.command,
            file: h.file,
        });
    }
    Ok(())
}

fn fsync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SqliteError::io("syncing the directory", dir, e))
}

/// Restores the SQLite snapshot `snap` to `opts.target` (see the module documentation for the
/// order of writes).
pub fn restore_sqlite(
    repo: &Repository,
    snap: &SnapshotEntry,
    opts: &SqliteRestoreOptions,
) -> Result<SqliteRestoreReport> {
    let started = Instant::now();
    let meta = SqliteMeta::from_snapshot(snap).ok_or_else(|| SqliteError::NotASqliteSnapshot {
        snapshot: snap.short_id().to_string(),
        source_kind: snap.snapshot.source.clone(),
    })?;
    if snap.snapshot.stream.is_none() {
        return Err(SqliteError::NotASqliteSnapshot {
            snapshot: snap.short_id().to_string(),
            source_kind: snap.snapshot.source.clone(),
        });
    }
    let target = std::path::absolute(&opts.target).unwrap_or_else(|_| opts.target.clone());
    if opts.target.as_os_str().to_string_lossy().ends_with('/') {
        return Err(SqliteError::TargetNotAFile {
            path: target,
            what: "a directory",
        });
    }
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return Err(SqliteError::Invalid(format!(
            "restore target {} names no file",
            target.display()
        )));
    };
    let existing = match std::fs::symlink_metadata(&target) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(SqliteError::io("reading", &target, e)),
    };
    if let Some(m) = &existing {
        let what = if m.is_dir() {
            Some("a directory")
        } else if m.file_type().is_symlink() {
            Some("a symbolic link (give the file it points to)")
        } else if !m.is_file() {
            Some("a special file")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(SqliteError::TargetNotAFile { path: target, what });
        }
        if !opts.overwrite {
            return Err(SqliteError::TargetExists { path: target });
        }
    }
    refuse_if_held(&target)?;
    std::fs::create_dir_all(dir).map_err(|e| SqliteError::io("creating", dir, e))?;
    opts.cancel.check("restore")?;

    // 2. The temporary file beside the target, verified while written, then fsynced.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.lifeboat-restore-", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| SqliteError::io("creating a temporary file in", dir, e))?;
    let tmp_path = tmp.path().to_path_buf();
    let bytes = {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        let n = lifeboat_core::restore::dump(repo, snap, None, &mut w)?;
        w.flush()
            .map_err(|e| SqliteError::io("writing", &tmp_path, e))?;
        n
    };
    tmp.as_file()
        .sync_all()
        .map_err(|e| SqliteError::io("syncing", tmp.path(), e))?;
    opts.cancel.check("restore")?;

    // 3. The check.
    let check_started = Instant::now();
    let problems = crate::verify::check_file(tmp.path()).unwrap_or_else(|e| vec![e.to_string()]);
    for f in with_companions(tmp.path()).iter().skip(1) {
        let _ = std::fs::remove_file(f);
    }
    let integrity_seconds = check_started.elapsed().as_secs_f64();
    if !problems.is_empty() {
        return Err(SqliteError::RestoredDamaged {
            snapshot: snap.short_id().to_string(),
            target,
            problems,
        });
    }
    opts.cancel.check("restore")?;

    // 4. Mode and owner: those of the file replaced, else those recorded.
    let (mode, uid, gid) = match &existing {
        Some(m) => (m.mode() & 0o7777, m.uid(), m.gid()),
        None => (meta.file_mode, meta.uid, meta.gid),
    };
    let mode = if mode == 0 { 0o644 } else { mode };
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| SqliteError::io("setting the mode of", tmp.path(), e))?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::fchown(tmp.as_file(), Some(uid), Some(gid))
            .map_err(|e| SqliteError::io("setting the owner of", tmp.path(), e))?;
    }

    // 5. Nobody holds it; the old companions go; the restored file takes the name.
    refuse_if_held(&target)?;
    let mut removed = Vec::new();
    for f in with_companions(&target).into_iter().skip(1) {
        match std::fs::remove_file(&f) {
            Ok(()) => removed.push(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SqliteError::io("removing", &f, e)),
        }
    }
    tmp.persist(&target)
        .map_err(|e| SqliteError::io("renaming the restored file to", &target, e.error))?;
    fsync_dir(dir)?;
    Ok(SqliteRestoreReport {
        snapshot_id: snap.id.clone(),
        target,
        source_path: meta.path,
        bytes,
        page_size: meta.page_size,
        page_count: meta.page_count,
        journal_mode: meta.journal_mode,
        integrity_check: "ok".into(),
        integrity_seconds,
        replaced: existing.is_some(),
        removed,
        duration_seconds: started.elapsed().as_secs_f64(),
    })
}
