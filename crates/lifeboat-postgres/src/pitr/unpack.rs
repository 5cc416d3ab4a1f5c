//! Unpacking a base backup into a data directory: `files` backups through the engine's
//! restore, `tar` backups by streaming the dump through a bounded in-memory pipe into the
//! tar reader.

use crate::error::{PgError, Result};
use crate::physical::PhysicalMeta;
use lifeboat_core::Repository;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

// ---- a bounded in-memory pipe between the dump thread and the tar reader

struct PipeWriter {
    tx: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            self.tx.send(chunk).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "restore reader stopped")
            })?;
        }
        Ok(())
    }
}

struct PipeReader {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    total: u64,
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.cur = c;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        self.total += n as u64;
        Ok(n)
    }
}

/// Writes a physical snapshot's data directory into `dir` (which exists and is empty):
/// a `files` backup through the engine's parallel restore (every blob verified), a `tar`
/// backup by unpacking its stream (verifying the stream's SHA-256). Returns the bytes written.
///
/// `tablespaces` (`files` backups): each tablespace's content is written to the directory given
/// (missing or empty), `pg_tblspc/<oid>` becomes a link to it, and `tablespace_map` names it.
pub fn unpack_base_backup(
    repo: &Repository,
    snapshot_id: &str,
    dir: &Path,
    tablespaces: &[crate::datadir::Tablespace],
) -> Result<u64> {
    let snap = repo.find_snapshot(snapshot_id)?;
    let files = PhysicalMeta::from_snapshot(&snap).is_some_and(|m| m.format == "files");
    if files {
        let opts = lifeboat_core::restore::RestoreOptions {
            target: dir.to_path_buf(),
            includes: Vec::new(),
            overwrite: false,
            redirects: tablespaces
                .iter()
                .map(|t| (format!("pg_tblspc/{}", t.oid), PathBuf::from(&t.path)))
                .collect(),
            ..Default::default()
        };
        let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let summary = lifeboat_core::restore::restore(repo, &snap, &opts, done)?;
        for t in tablespaces {
            let link = dir.join("pg_tblspc").join(&t.oid);
            std::os::unix::fs::symlink(&t.path, &link)
                .map_err(|e| PgError::io("creating the tablespace link", &link, e))?;
        }
        if !tablespaces.is_empty() {
            let map = dir.join("tablespace_map");
            std::fs::write(&map, crate::datadir::format_tablespace_map(tablespaces))
                .map_err(|e| PgError::io("writing", &map, e))?;
        }
        return Ok(summary.bytes);
    }
    let (tx, rx) = sync_channel::<Vec<u8>>(8);
    std::thread::scope(|s| {
        let dumper = s.spawn(|| {
            let mut w = PipeWriter {
                tx,
                buf: Vec::with_capacity(1 << 20),
            };
            let r = crate::dump::dump_stream(repo, &snap, &mut w);
            drop(w);
            r
        });
        let mut reader = PipeReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            total: 0,
        };
        let unpacked = crate::untar::unpack(&mut reader, dir);
        // Drain the rest so the dump completes and verifies the whole stream's digest.
        let drained = std::io::copy(&mut reader, &mut std::io::sink());
        let total = reader.total;
        drop(reader);
        let dumped = dumper.join().map_err(|_| PgError::ThreadFailed {
            thread: "base backup reading",
        })?;
        dumped?;
        unpacked?;
        drained.map_err(|e| PgError::io("reading the base backup for", dir, e))?;
        Ok(total)
    })
}
