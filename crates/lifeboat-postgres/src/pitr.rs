//! Physical restore and point-in-time recovery: choose a base backup, unpack it, write the
//! recovery settings, and optionally start a temporary server until recovery reaches its target.

use crate::error::{PgError, Result};
use crate::lsn::{parse_history, HistoryEntry, Lsn, WalFileKind};
use crate::physical::{list_base_backups, PhysicalMeta};
use crate::plan::{check_continuity, plan_restore, ArchiveEnd, Continuity, RecoveryTarget};
use crate::tools::{conf_quote, last_lines, PgTools};
use crate::wal::{WalArchive, WalKeys};
use lifeboat_core::Repository;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

/// Options of a temporary server start after restore.
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// Port (default: a free one).
    pub port: Option<u16>,
    /// Leave the server running after recovery.
    pub keep_running: bool,
    /// Give up waiting for recovery after this long.
    pub timeout: Duration,
    /// Extra environment for the server (and so for its restore_command).
    pub env: Vec<(String, String)>,
    /// The operating-system user the server runs as when lifeboat runs as root (PostgreSQL
    /// refuses root); default `postgres`. The restored directories are given to this user.
    pub run_as: Option<String>,
}

/// A user to run the server as: name, uid, gid.
#[derive(Clone, Debug)]
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
}

/// Looks up a user in the system's user database.
fn lookup_user(name: &str) -> Option<RunAs> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam takes a NUL-terminated name and returns a pointer to static storage or
    // NULL; the fields are copied out before any other call could overwrite it.
    unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        if pw.is_null() {
            return None;
        }
        Some(RunAs {
            name: name.to_string(),
            uid: (*pw).pw_uid,
            gid: (*pw).pw_gid,
        })
    }
}

/// Gives everything below `path` (not following links) to `user`.
fn chown_tree(path: &Path, user: &RunAs) -> Result<()> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| PgError::io("reading", path, e))?;
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
        .map_err(|e| PgError::io("changing the owner of", path, e))?;
    if meta.is_dir() {
        for e in std::fs::read_dir(path).map_err(|e| PgError::io("reading", path, e))? {
            let e = e.map_err(|e| PgError::io("reading", path, e))?;
            chown_tree(&e.path(), user)?;
        }
    }
    Ok(())
}

/// Options of a physical restore.
#[derive(Clone, Debug)]
pub struct PhysicalRestoreOptions {
    /// The data directory to create (must be missing or empty).
    pub target_dir: PathBuf,
    /// Where recovery stops.
    pub target: RecoveryTarget,
    /// Force this base backup (full snapshot id).
    pub snapshot: Option<String>,
    /// Cluster name (needed when the repository holds several).
    pub cluster: Option<String>,
    /// The `restore_command` to write (`%f`/`%p` placeholders included).
    pub restore_command: String,
    /// Write `archive_mode = off` so the restored server does not archive into the repository.
    pub archive_off: bool,
    /// Stop just before the target instead of just after it (`recovery_target_inclusive`).
    pub exclusive: bool,
    /// Start a temporary server.
    pub start: Option<StartOptions>,
    /// `(tablespace OID, directory)`: where to write a tablespace instead of its original
    /// location (`--tablespace-map`).
    pub tablespace_map: Vec<(String, PathBuf)>,
}

/// What recovery reached (read from the server log and, where possible, SQL).
#[derive(Clone, Debug, Serialize, Default)]
pub struct RecoveryPoint {
    /// LSN of the last replayed record ("redo done at").
    pub lsn: Option<String>,
    /// Commit time of the last replayed transaction.
    pub last_transaction_time: Option<String>,
    /// The server's own "recovery stopping ..." message.
    pub stop_message: Option<String>,
    /// New timeline after promotion.
    pub timeline: Option<u32>,
}

/// Result of starting the restored server.
#[derive(Clone, Debug, Serialize)]
pub struct StartReport {
    /// Port.
    pub port: u16,
    /// Unix socket directory.
    pub socket_dir: PathBuf,
    /// Connection string for psql.
    pub dsn: String,
    /// The server log.
    pub log_file: PathBuf,
    /// Where recovery stopped.
    pub recovery: RecoveryPoint,
    /// Seconds from server start to promotion.
    pub recovery_seconds: f64,
    /// True when left running (`--keep-running`).
    pub running: bool,
    /// The operating-system user the server ran as, when lifeboat ran as root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as: Option<String>,
}

/// Result of a physical restore.
#[derive(Clone, Debug, Serialize)]
pub struct PhysicalRestoreReport {
    /// The base backup used.
    pub snapshot_id: String,
    /// Its metadata.
    pub backup: PhysicalMeta,
    /// The recovery target.
    pub target: String,
    /// The data directory.
    pub target_dir: PathBuf,
    /// Settings written to postgresql.auto.conf.
    pub settings: Vec<String>,
    /// Notes from planning.
    pub notes: Vec<String>,
    /// Bytes unpacked.
    pub bytes: u64,
    /// The temporary server, when started.
    pub started: Option<StartReport>,
    /// Seconds for the whole restore (unpack, recovery, stop).
    pub duration_seconds: f64,
    /// Tablespaces, with the directories they were restored to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tablespaces: Vec<crate::datadir::Tablespace>,
}

/// The base backups and WAL state of one cluster.
pub struct ClusterState {
    /// Cluster name.
    pub cluster: String,
    /// System identifier.
    pub sysid: u64,
    /// WAL segment size.
    pub seg_size: u64,
    /// Base backups (snapshot id, meta), oldest first.
    pub backups: Vec<(String, PhysicalMeta)>,
    /// The archive's end.
    pub end: ArchiveEnd,
    /// All archived files.
    pub files: Vec<crate::wal::ArchivedFile>,
}

/// Collects the backups and the archive state of a cluster (`cluster` may be omitted when the
/// repository holds exactly one).
pub fn cluster_state(repo: &Repository, cluster: Option<&str>) -> Result<ClusterState> {
    let archive = WalArchive::from_repo(repo);
    let all = list_base_backups(repo)?;
    let bindings = archive.bindings()?;
    let name = match cluster {
        Some(c) => c.to_string(),
        None => {
            let mut names: Vec<String> = bindings.iter().map(|b| b.cluster.clone()).collect();
            names.extend(all.iter().map(|(_, m)| m.cluster.clone()));
            names.sort();
            names.dedup();
            match names.as_slice() {
                [] => crate::wal::DEFAULT_CLUSTER.to_string(),
                [one] => one.clone(),
                many => {
                    return Err(PgError::Invalid(format!(
                        "the repository holds several PostgreSQL clusters ({}); choose one with --cluster",
                        many.join(", ")
                    )))
                }
            }
        }
    };
    let binding = bindings.iter().find(|b| b.cluster == name);
    let backups: Vec<(String, PhysicalMeta)> = all
        .into_iter()
        .filter(|(_, m)| m.cluster == name)
        .map(|(s, m)| (s.id, m))
        .collect();
    let (sysid, seg_size) = match (binding, backups.last()) {
        (Some(b), _) => (b.sysid(), b.wal_segment_size),
        (None, Some((_, m))) => (m.sysid(), m.wal_segment_size),
        (None, None) => {
            return Err(PgError::Plan(format!(
                "cluster '{name}' has neither archived WAL nor base backups in this repository"
            )))
        }
    };
    let files = archive.list(sysid, seg_size)?;
    let newest = files
        .iter()
        .filter(|f| f.file.kind == WalFileKind::Segment)
        .max_by_key(|f| (f.file.segno, f.file.tli));
    let end = match newest {
        Some(f) => ArchiveEnd {
            newest_segment: Some((f.file.tli, f.file.segno, f.file.name.clone())),
            newest_archived_at: Some(archive.header(&f.key)?.archived_at()),
        },
        None => ArchiveEnd::default(),
    };
    Ok(ClusterState {
        cluster: name,
        sysid,
        seg_size,
        backups,
        end,
        files,
    })
}

/// Reads every archived timeline history file of the cluster.
pub fn read_histories(
    archive: &WalArchive,
    state: &ClusterState,
) -> Result<BTreeMap<u32, Vec<HistoryEntry>>> {
    let mut out = BTreeMap::new();
    for f in state
        .files
        .iter()
        .filter(|f| f.file.kind == WalFileKind::History)
    {
        let (_, data) = archive.read_file(state.sysid, &f.file.name)?;
        let h = parse_history(&String::from_utf8_lossy(&data)).map_err(|e| PgError::Corrupt {
            key: f.key.clone(),
            detail: e,
        })?;
        out.insert(f.file.tli, h);
    }
    Ok(out)
}

/// Continuity of a cluster's archive from its oldest base backup.
pub fn continuity(repo: &Repository, state: &ClusterState) -> Result<Continuity> {
    let archive = WalArchive::from_repo(repo);
    let histories = read_histories(&archive, state)?;
    let oldest = state
        .backups
        .iter()
        .filter(|(_, m)| !m.wal_included)
        .min_by_key(|(_, m)| m.start_lsn)
        .map(|(_, m)| (m.timeline, m.start_lsn.segno(m.wal_segment_size)));
    let names: Vec<_> = state.files.iter().map(|f| f.file.clone()).collect();
    Ok(check_continuity(&names, &histories, oldest, state.seg_size))
}

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
        let dumped = dumper.join().expect("dump thread");
        dumped?;
        unpacked?;
        drained.map_err(|e| PgError::io("reading the base backup for", dir, e))?;
        Ok(total)
    })
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| PgError::io("finding a free port", "127.0.0.1", e))?;
    Ok(l.local_addr()
        .map_err(|e| PgError::io("finding a free port", "127.0.0.1", e))?
        .port())
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// Parses what recovery reached from the server log.
pub fn parse_recovery_log(log: &str) -> RecoveryPoint {
    let mut p = RecoveryPoint::default();
    for line in log.lines() {
        if let Some(i) = line.find("recovery stopping ") {
            p.stop_message = Some(line[i..].trim().to_string());
        }
        if let Some(i) = line.find("redo done at ") {
            p.lsn = line[i + 13..].split_whitespace().next().map(str::to_string);
        }
        if let Some(i) = line.find("last completed transaction was at log time ") {
            p.last_transaction_time = Some(line[i + 43..].trim().to_string());
        }
        if let Some(i) = line.find("selected new timeline ID: ") {
            p.timeline = line[i + 26..]
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok());
        }
    }
    p
}

/// Restores a physical base backup into `opts.target_dir` and sets up recovery.
pub fn restore_physical(
    repo: &Repository,
    opts: &PhysicalRestoreOptions,
    password: Option<&[u8]>,
) -> Result<PhysicalRestoreReport> {
    let started = Instant::now();
    let state = cluster_state(repo, opts.cluster.as_deref())?;
    let explicit = match &opts.snapshot {
        Some(s) => Some(repo.find_snapshot(s)?.id),
        None => None,
    };
    let plan = plan_restore(
        &state.backups,
        &opts.target,
        &state.end,
        explicit.as_deref(),
    )
    .map_err(PgError::Plan)?;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let run_as = match &opts.start {
        Some(st) if root => {
            let name = st.run_as.as_deref().unwrap_or("postgres");
            let user = lookup_user(name).ok_or_else(|| {
                PgError::Invalid(format!(
                    "PostgreSQL refuses to run as root, and there is no user '{name}' to start the restored server as: pass --run-as USER (the operating-system user PostgreSQL runs as)"
                ))
            })?;
            if user.uid == 0 {
                return Err(PgError::Invalid(format!(
                    "--run-as {name}: PostgreSQL refuses to run as root; name an unprivileged user"
                )));
            }
            Some(user)
        }
        Some(st) if st.run_as.is_some() => {
            return Err(PgError::Invalid(
                "--run-as needs lifeboat to run as root (it starts the server as that user); without root the server runs as you".into(),
            ));
        }
        _ => None,
    };
    let tablespaces = tablespace_destinations(&plan.meta, opts)?;
    // Target directory: missing or empty.
    let dir = &opts.target_dir;
    match std::fs::read_dir(dir) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                return Err(PgError::Invalid(format!(
                    "target directory {} is not empty; choose an empty or missing directory",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| PgError::io("creating", dir, e))?;
        }
        Err(e) => return Err(PgError::io("reading", dir, e)),
    }
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| PgError::io("setting permissions of", dir, e))?;
    }
    let dir = std::path::absolute(dir).map_err(|e| PgError::io("resolving", dir, e))?;
    let bytes = unpack_base_backup(repo, &plan.snapshot_id, &dir, &tablespaces)?;
    // Recovery settings.
    let mut settings: Vec<String> = Vec::new();
    if !plan.meta.wal_included || !matches!(opts.target, RecoveryTarget::Immediate) {
        settings.push(format!(
            "restore_command = {}",
            conf_quote(&opts.restore_command)
        ));
    }
    let target_settings = opts.target.settings();
    for (k, v) in &target_settings {
        settings.push(format!("{k} = {}", conf_quote(v)));
    }
    if !target_settings.is_empty() {
        settings.push("recovery_target_action = 'promote'".into());
        if opts.exclusive {
            settings.push("recovery_target_inclusive = off".into());
        }
    }
    settings.push("recovery_target_timeline = 'latest'".into());
    if opts.archive_off {
        settings.push("archive_mode = 'off'".into());
    }
    let auto = dir.join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "# Recovery settings written by lifeboat restore at {} (base backup {}, target: {})\n",
        jiff::Timestamp::now(),
        &plan.snapshot_id[..12.min(plan.snapshot_id.len())],
        opts.target.describe()
    ));
    for s in &settings {
        text.push_str(s);
        text.push('\n');
    }
    std::fs::write(&auto, text).map_err(|e| PgError::io("writing", &auto, e))?;
    std::fs::write(dir.join("recovery.signal"), b"")
        .map_err(|e| PgError::io("writing recovery.signal in", &dir, e))?;
    if let Some(user) = &run_as {
        chown_tree(&dir, user)?;
        for t in &tablespaces {
            chown_tree(Path::new(&t.path), user)?;
        }
    }
    let started_report = match &opts.start {
        Some(st) => Some(start_and_wait(
            repo,
            &dir,
            &plan.meta,
            st,
            password,
            run_as.as_ref(),
        )?),
        None => None,
    };
    Ok(PhysicalRestoreReport {
        snapshot_id: plan.snapshot_id,
        backup: plan.meta,
        target: opts.target.describe(),
        target_dir: dir,
        settings,
        notes: plan.notes,
        bytes,
        started: started_report,
        duration_seconds: started.elapsed().as_secs_f64(),
        tablespaces,
    })
}

/// Where each tablespace of the backup goes: its original location unless
/// `--tablespace-map` says otherwise. Checked before anything is written: every mapped OID
/// must be one of the backup's, and every destination absolute, distinct, outside the target
/// directory, and missing or empty.
fn tablespace_destinations(
    meta: &PhysicalMeta,
    opts: &PhysicalRestoreOptions,
) -> Result<Vec<crate::datadir::Tablespace>> {
    let known: Vec<&str> = meta.tablespaces.iter().map(|t| t.oid.as_str()).collect();
    for (oid, _) in &opts.tablespace_map {
        if !known.contains(&oid.as_str()) {
            return Err(PgError::Invalid(format!(
                "--tablespace-map {oid}=...: the base backup has no tablespace with OID {oid} (its tablespaces: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        }
    }
    let target = std::path::absolute(&opts.target_dir)
        .map_err(|e| PgError::io("resolving", &opts.target_dir, e))?;
    let mut out: Vec<crate::datadir::Tablespace> = Vec::new();
    for t in &meta.tablespaces {
        let mapped = opts.tablespace_map.iter().rev().find(|(o, _)| *o == t.oid);
        let dest = match mapped {
            Some((_, d)) => std::path::absolute(d).map_err(|e| PgError::io("resolving", d, e))?,
            None => PathBuf::from(&t.path),
        };
        let how = if mapped.is_some() {
            String::new()
        } else {
            format!(
                " (its original location; restore it elsewhere with --tablespace-map {}=DIR)",
                t.oid
            )
        };
        if !dest.is_absolute() || dest.starts_with(&target) || target.starts_with(&dest) {
            return Err(PgError::Invalid(format!(
                "tablespace {} cannot be restored to {}{how}: give an absolute directory outside the target directory",
                t.oid,
                dest.display()
            )));
        }
        if std::fs::read_dir(&dest).is_ok_and(|mut rd| rd.next().is_some()) {
            return Err(PgError::Invalid(format!(
                "tablespace {} would be restored to {}, which is not empty{how}",
                t.oid,
                dest.display()
            )));
        }
        if out.iter().any(|o| Path::new(&o.path) == dest) {
            return Err(PgError::Invalid(format!(
                "two tablespaces would be restored to {}",
                dest.display()
            )));
        }
        out.push(crate::datadir::Tablespace {
            oid: t.oid.clone(),
            path: dest.to_string_lossy().into_owned(),
        });
    }
    Ok(out)
}

fn start_and_wait(
    repo: &Repository,
    dir: &Path,
    meta: &PhysicalMeta,
    st: &StartOptions,
    password: Option<&[u8]>,
    run_as: Option<&RunAs>,
) -> Result<StartReport> {
    use std::os::unix::process::CommandExt;
    let as_user = |c: &mut std::process::Command| {
        if let Some(u) = run_as {
            c.uid(u.uid).gid(u.gid);
        }
    };
    let tools = PgTools::locate(Some(meta.server_version_num / 10000));
    let port = match st.port {
        Some(p) => p,
        None => free_port()?,
    };
    // Unix socket paths are limited to ~107 bytes.
    let socket_dir = if dir.as_os_str().len() < 90 {
        dir.to_path_buf()
    } else {
        let d = std::env::temp_dir().join(format!("lifeboat-pg-{port}"));
        std::fs::create_dir_all(&d).map_err(|e| PgError::io("creating", &d, e))?;
        if let Some(u) = run_as {
            chown_tree(&d, u)?;
        }
        d
    };
    let log_file = dir.join("lifeboat-recovery.log");
    // A private key cache for the server's restore_command calls, so each wal-fetch skips the
    // password derivation; removed once recovery is over.
    let cache = tempfile::Builder::new()
        .prefix("lifeboat-keycache-")
        .tempdir()
        .map_err(|e| PgError::io("creating a key cache directory in", std::env::temp_dir(), e))?;
    if let Some(pw) = password {
        let keys = WalKeys::from(repo.keys());
        if let Err(e) =
            crate::wal::KeyCache::store(cache.path(), &repo.config().id, repo.key_id(), pw, &keys)
        {
            tracing::warn!("cannot prepare the key cache: {e}");
        }
    }
    if let Some(u) = run_as {
        // The server's restore_command runs as that user and reads the key cache.
        chown_tree(cache.path(), u)?;
    }
    let mut cmd = tools.command("pg_ctl");
    cmd.arg("-D")
        .arg(dir)
        .arg("-l")
        .arg(&log_file)
        .arg("-o")
        .arg(format!(
            "-p {port} -k {} -c listen_addresses= -c logging_collector=off -c log_destination=stderr -c lc_messages=C",
            crate::tools::shell_quote(&socket_dir.to_string_lossy())
        ))
        .args(["-W", "start"]);
    as_user(&mut cmd);
    cmd.env("LIFEBOAT_KEY_CACHE", cache.path());
    for (k, v) in &st.env {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::null());
    let t0 = Instant::now();
    crate::tools::run_capture(cmd, "pg_ctl start")?;
    let dsn = format!("host={} port={port} dbname=postgres", socket_dir.display());
    let stop = |tools: &PgTools| {
        let mut c = tools.command("pg_ctl");
        c.arg("-D").arg(dir).args(["-m", "fast", "-w", "stop"]);
        as_user(&mut c);
        let _ = crate::tools::run_capture(c, "pg_ctl stop");
    };
    let deadline = t0 + st.timeout;
    let mut pid: i32 = 0;
    let fail = |why: String, tools: &PgTools| -> PgError {
        stop(tools);
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        PgError::Recovery(format!(
            "{why}. The server log ({}) ended with:\n{}",
            log_file.display(),
            last_lines(&log, 25)
        ))
    };
    loop {
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        if pid == 0 {
            pid = std::fs::read_to_string(dir.join("postmaster.pid"))
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
                .unwrap_or(0);
        }
        let promoted = log.contains("archive recovery complete")
            && log.contains("database system is ready to accept connections");
        if promoted {
            break;
        }
        if log.contains("recovery ended before configured recovery target was reached") {
            return Err(fail(
                "recovery ended before reaching the target: the archived WAL does not contain it"
                    .into(),
                &tools,
            ));
        }
        if pid != 0 && !pid_alive(pid) || pid == 0 && t0.elapsed() > Duration::from_secs(30) {
            return Err(fail(
                "the restored server stopped during recovery".into(),
                &tools,
            ));
        }
        if Instant::now() > deadline {
            return Err(fail(
                format!("recovery did not finish within {}s", st.timeout.as_secs()),
                &tools,
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovery_seconds = t0.elapsed().as_secs_f64();
    drop(cache);
    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
    let mut recovery = parse_recovery_log(&log);
    // Prefer the server's own answer where we can connect.
    if let Ok(r) = tools.query_row(
        &dsn,
        "SELECT pg_last_wal_replay_lsn(), pg_last_xact_replay_timestamp()",
    ) {
        if recovery.lsn.is_none() && !r[0].is_empty() {
            recovery.lsn = Some(r[0].clone());
        }
        if recovery.last_transaction_time.is_none() && !r[1].is_empty() {
            recovery.last_transaction_time = Some(r[1].clone());
        }
    }
    if let Some(l) = &recovery.lsn {
        recovery.lsn = l
            .parse::<Lsn>()
            .ok()
            .map(|l| l.to_string())
            .or(recovery.lsn.clone());
    }
    if !st.keep_running {
        stop(&tools);
    }
    Ok(StartReport {
        port,
        socket_dir,
        dsn,
        log_file,
        recovery,
        recovery_seconds,
        running: st.keep_running,
        run_as: run_as.map(|u| u.name.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_log_parsing() {
        let log = "2026-11-21 20:30:01.000 UTC [1] LOG:  starting point-in-time recovery to 2026-11-21 20:30:00+00\n\
            LOG:  recovery stopping before commit of transaction 741, time 2026-11-21 20:30:00.5+00\n\
            LOG:  redo done at 0/3000148 system usage: CPU: user: 0.00 s\n\
            LOG:  last completed transaction was at log time 2026-11-21 20:29:59.9+00\n\
            LOG:  selected new timeline ID: 2\n\
            LOG:  archive recovery complete\n";
        let p = parse_recovery_log(log);
        assert_eq!(p.lsn.as_deref(), Some("0/3000148"));
        assert_eq!(p.timeline, Some(2));
        assert_eq!(
            p.last_transaction_time.as_deref(),
            Some("2026-11-21 20:29:59.9+00")
        );
        assert!(p.stop_message.unwrap().contains("transaction 741"));
    }
}
