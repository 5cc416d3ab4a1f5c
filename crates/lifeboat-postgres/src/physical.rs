//! Physical base backups: pg_basebackup's tar stream into the repository, with the metadata
//! PITR planning needs, recorded only once the WAL the backup needs is in the archive.

use crate::error::{PgError, Result};
use crate::lsn::{segment_name, Lsn};
use crate::stream::store_stream;
use crate::tarwatch::TarWatcher;
use crate::tools::{ChildSource, PgTools};
use crate::wal::WalArchive;
use lifeboat_core::backup::{BackupOptions, BackupOutcome, Progress};
use lifeboat_core::error::Hint;
use lifeboat_core::snapshot::SnapshotEntry;
use lifeboat_core::Repository;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Source kind of physical base backup snapshots.
pub const SOURCE_PHYSICAL: &str = "postgres-physical";
/// Key of the PostgreSQL metadata in a snapshot's `extra`.
pub const EXTRA_KEY: &str = "postgres";

/// What a physical base backup snapshot records (under `extra.postgres`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PhysicalMeta {
    /// Always `physical`.
    pub kind: String,
    /// Cluster name in the repository (`--cluster`).
    pub cluster: String,
    /// Database system identifier (decimal string).
    pub system_identifier: String,
    /// Server version (`server_version`).
    pub server_version: String,
    /// `server_version_num`.
    pub server_version_num: u32,
    /// WAL segment size in bytes.
    pub wal_segment_size: u64,
    /// Timeline the backup started on.
    pub timeline: u32,
    /// Backup start (redo) LSN.
    pub start_lsn: Lsn,
    /// Checkpoint LSN.
    pub checkpoint_lsn: Option<Lsn>,
    /// Backup stop LSN: the data directory is consistent once WAL up to here is replayed.
    pub stop_lsn: Lsn,
    /// Timeline the backup stopped on.
    pub stop_timeline: u32,
    /// Server time just before the backup started (RFC 3339).
    pub start_time: String,
    /// Server time just after the backup finished (RFC 3339); never earlier than the true end.
    pub stop_time: String,
    /// First WAL segment needed.
    pub wal_start_segment: String,
    /// Last WAL segment needed for consistency.
    pub wal_stop_segment: String,
    /// Backup label.
    pub label: String,
    /// How the data directory is stored: `files` (`--method copy`: the snapshot's tree is the
    /// data directory, `backup_label` included) or `tar` (`--method pg_basebackup`: one stream,
    /// pg_basebackup's tar of the data directory plus its manifest).
    pub format: String,
    /// True when the WAL is inside the tar (`--include-wal`); false: it comes from the archive.
    pub wal_included: bool,
    /// Tablespaces outside the data directory (`files` backups store each one's content as
    /// the directory `pg_tblspc/<oid>`; a restore writes it back to its location or to the one
    /// `--tablespace-map` gives).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tablespaces: Vec<crate::datadir::Tablespace>,
    /// The server's next transaction id (64-bit, with epoch) read after the backup stopped:
    /// every transaction at or above it began after the backup ended, so `--to-xid` can start
    /// from the newest such backup. Absent in backups taken before lifeboat recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_xid: Option<u64>,
}

impl PhysicalMeta {
    /// The system identifier as a number.
    pub fn sysid(&self) -> u64 {
        self.system_identifier.parse().unwrap_or(0)
    }

    /// Stop time parsed.
    pub fn stop_timestamp(&self) -> jiff::Timestamp {
        self.stop_time
            .parse()
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Reads the metadata of a physical snapshot; `None` for other snapshots.
    pub fn from_snapshot(s: &SnapshotEntry) -> Option<PhysicalMeta> {
        if s.snapshot.source != SOURCE_PHYSICAL {
            return None;
        }
        serde_json::from_value(s.snapshot.extra.get(EXTRA_KEY)?.clone()).ok()
    }
}

/// Options of a physical backup.
#[derive(Clone, Debug)]
pub struct PhysicalOptions {
    /// Connection string (a replication connection is made from it).
    pub dsn: String,
    /// Cluster name in the repository.
    pub cluster: String,
    /// Request an immediate checkpoint (`--checkpoint=fast`) instead of a spread one.
    pub fast_checkpoint: bool,
    /// How long to wait for the backup's WAL to reach the archive.
    pub wal_timeout: Duration,
    /// Include the WAL in the tar (`-X fetch`), making the backup self-contained.
    pub include_wal: bool,
    /// How the data directory is read.
    pub method: BaseBackupMethod,
    /// Snapshot options (tags, host).
    pub backup: BackupOptions,
}

/// How a base backup reads the data directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BaseBackupMethod {
    /// `Copy` when the server's data directory is on this machine and readable (and the
    /// backup does not include WAL), else `Basebackup`.
    #[default]
    Auto,
    /// Read the data directory's files directly, in parallel, between `pg_backup_start` and
    /// `pg_backup_stop` ([`crate::datadir`]); stored as a directory snapshot.
    Copy,
    /// Stream `pg_basebackup`'s tar over a replication connection (works from any host).
    Basebackup,
}

/// A finished physical backup.
#[derive(Debug)]
pub struct PhysicalOutcome {
    /// The snapshot.
    pub outcome: BackupOutcome,
    /// Its metadata.
    pub meta: PhysicalMeta,
}

/// Facts about a server, read over a normal connection.
#[derive(Clone, Debug, Serialize)]
pub struct ServerInfo {
    /// `server_version`.
    pub version: String,
    /// `server_version_num`.
    pub version_num: u32,
    /// WAL segment size.
    pub wal_segment_size: u64,
    /// `archive_mode`.
    pub archive_mode: String,
    /// `archive_command`.
    pub archive_command: String,
    /// True on a standby.
    pub in_recovery: bool,
    /// Connected database.
    pub database: String,
    /// Server clock (Unix seconds).
    pub now: f64,
    /// System identifier when `pg_control_system()` is allowed.
    pub system_identifier: Option<u64>,
}

impl ServerInfo {
    /// Major version (15 for 15.4).
    pub fn major(&self) -> u32 {
        self.version_num / 10000
    }

    /// Queries a server.
    pub fn query(tools: &PgTools, dsn: &str) -> Result<ServerInfo> {
        let r = tools.query_row(
            dsn,
            "SELECT current_setting('server_version'), current_setting('server_version_num'), \
             (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'), \
             current_setting('archive_mode'), current_setting('archive_command'), \
             pg_is_in_recovery(), current_database(), extract(epoch from clock_timestamp())",
        )?;
        let num = |i: usize| -> Result<u64> {
            r.get(i)
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| PgError::unexpected("answer from the server", format!("{r:?}")))
        };
        let system_identifier = tools
            .query_row(dsn, "SELECT system_identifier FROM pg_control_system()")
            .ok()
            .and_then(|r| r.first().and_then(|v| v.parse().ok()));
        Ok(ServerInfo {
            version: r[0].clone(),
            version_num: num(1)? as u32,
            wal_segment_size: num(2)?,
            archive_mode: r[3].clone(),
            archive_command: r[4].clone(),
            in_recovery: r[5] == "t",
            database: r[6].clone(),
            now: r[7].trim().parse().unwrap_or(0.0),
            system_identifier,
        })
    }
}

fn server_now(tools: &PgTools, dsn: &str) -> Result<jiff::Timestamp> {
    let r = tools.query_row(dsn, "SELECT extract(epoch from clock_timestamp())")?;
    epoch_to_ts(r[0].trim().parse().unwrap_or(0.0))
}

/// The next transaction id to be assigned (64-bit, with epoch).
fn server_next_xid(tools: &PgTools, dsn: &str, version_num: u32) -> Result<u64> {
    let sql = if version_num >= 130000 {
        "SELECT pg_snapshot_xmax(pg_current_snapshot())"
    } else {
        "SELECT txid_snapshot_xmax(txid_current_snapshot())"
    };
    let r = tools.query_row(dsn, sql)?;
    r[0].trim()
        .parse()
        .map_err(|e| PgError::unexpected("next transaction id", format!("{r:?}: {e}")))
}

fn epoch_to_ts(secs: f64) -> Result<jiff::Timestamp> {
    jiff::Timestamp::from_microsecond((secs * 1e6).round() as i64)
        .map_err(|e| PgError::unexpected("server time", format!("{secs}: {e}")))
}

/// Fields of a `backup_label` file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackupLabel {
    /// START WAL LOCATION.
    pub start_lsn: Lsn,
    /// CHECKPOINT LOCATION.
    pub checkpoint_lsn: Option<Lsn>,
    /// START TIMELINE.
    pub timeline: u32,
    /// LABEL.
    pub label: String,
}

/// Parses a `backup_label` file.
pub fn parse_backup_label(text: &str) -> Result<BackupLabel> {
    let mut l = BackupLabel::default();
    let mut have_start = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(": ") else {
            continue;
        };
        match k {
            "START WAL LOCATION" => {
                let lsn = v.split_whitespace().next().unwrap_or("");
                l.start_lsn = lsn
                    .parse()
                    .map_err(|e| PgError::unexpected("backup_label", e))?;
                have_start = true;
            }
            "CHECKPOINT LOCATION" => l.checkpoint_lsn = v.trim().parse().ok(),
            "START TIMELINE" => l.timeline = v.trim().parse().unwrap_or(0),
            "LABEL" => l.label = v.trim().to_string(),
            _ => {}
        }
    }
    if !have_start {
        return Err(PgError::unexpected(
            "backup_label",
            "it has no START WAL LOCATION",
        ));
    }
    if l.timeline == 0 {
        // Servers before 11 omit START TIMELINE; the segment name carries it.
        l.timeline = text
            .lines()
            .find_map(|line| line.split("(file ").nth(1))
            .and_then(|f| u32::from_str_radix(f.get(..8)?, 16).ok())
            .unwrap_or(1);
    }
    Ok(l)
}

/// The WAL range(s) a backup manifest names: `(timeline, start, end)`.
pub fn parse_manifest_wal_ranges(manifest: &[u8]) -> Result<Vec<(u32, Lsn, Lsn)>> {
    #[derive(Deserialize)]
    struct Range {
        #[serde(rename = "Timeline")]
        timeline: u32,
        #[serde(rename = "Start-LSN")]
        start: Lsn,
        #[serde(rename = "End-LSN")]
        end: Lsn,
    }
    #[derive(Deserialize)]
    struct Manifest {
        #[serde(rename = "WAL-Ranges")]
        wal_ranges: Vec<Range>,
    }
    let m: Manifest = serde_json::from_slice(manifest)
        .map_err(|e| PgError::unexpected("backup manifest", e.to_string()))?;
    if m.wal_ranges.is_empty() {
        return Err(PgError::unexpected(
            "backup manifest",
            "it has no WAL-Ranges",
        ));
    }
    Ok(m.wal_ranges
        .into_iter()
        .map(|r| (r.timeline, r.start, r.end))
        .collect())
}

/// Takes a base backup of the server at `opts.dsn` into the repository.
pub fn backup_physical(
    repo: &Repository,
    opts: &PhysicalOptions,
    progress: Arc<Progress>,
) -> Result<PhysicalOutcome> {
    crate::wal::validate_cluster_name(&opts.cluster)?;
    let info = ServerInfo::query(&PgTools::locate(None), &opts.dsn)?;
    let tools = PgTools::locate(Some(info.major()));
    if info.version_num < 130000 {
        return Err(PgError::Invalid(format!(
            "physical backups need PostgreSQL 13 or newer (backup manifests); this server is {}",
            info.version
        )));
    }
    let archive = WalArchive::from_repo(repo);
    if !opts.include_wal {
        if info.archive_mode == "off" {
            return Err(PgError::guided(
                "archive_mode is off on the server, so the WAL this backup needs would never reach the repository. \
                 Set archive_mode = on and archive_command = 'lifeboat wal-push %p' (with the repository and password in the server's environment) and restart it, \
                 or include the WAL in the backup for a self-contained backup without point-in-time recovery",
                Hint::SetOption {
                    option: "include_wal",
                    value: None,
                },
            ));
        }
        // With -X none the server ends the backup only once its WAL is archived: if archiving
        // is failing right now, pg_basebackup would wait forever. Refuse up front instead.
        if let Ok(r) = tools.query_row(
            &opts.dsn,
            "SELECT failed_count, coalesce(last_failed_wal, ''), \
             coalesce(extract(epoch from last_failed_time), 0) > coalesce(extract(epoch from last_archived_time), 0) \
             FROM pg_stat_archiver",
        ) {
            if r.get(2).map(String::as_str) == Some("t") {
                return Err(PgError::Invalid(format!(
                    "the server's WAL archiving is failing (archive_command failed on {}; {} failures so far): a base backup would wait for it forever. \
                     Fix archive_command (see the server log) and retry",
                    r[1], r[0]
                )));
            }
        }
        if info.in_recovery && info.archive_mode != "always" {
            return Err(PgError::Invalid(
                "this server is a standby with archive_mode != always: its WAL is not archived from here; back up the primary or set archive_mode = always".into(),
            ));
        }
        if let Some(sysid) = info.system_identifier {
            // Refuse early (before streaming gigabytes) if the name is bound to another system.
            if let Some(b) = archive.binding(&opts.cluster)? {
                if b.sysid() != sysid {
                    return Err(PgError::WrongSystem {
                        what: format!("a base backup of system {sysid}"),
                        expected: b.sysid(),
                        expected_from: format!("cluster '{}' in this repository", opts.cluster),
                        found: sysid,
                    });
                }
            }
        }
    }
    let start_time = epoch_to_ts(info.now)?;
    let label = format!("lifeboat {} {}", opts.cluster, start_time);
    let ctx = Ctx {
        opts,
        info: &info,
        tools: &tools,
        archive: &archive,
        start_time,
        label,
    };
    match choose_method(&ctx)? {
        Some(dir) => backup_copy(repo, &ctx, &dir, progress),
        None => backup_tar(repo, &ctx, progress),
    }
}

/// What both methods share.
struct Ctx<'a> {
    opts: &'a PhysicalOptions,
    info: &'a ServerInfo,
    tools: &'a PgTools,
    archive: &'a WalArchive,
    start_time: jiff::Timestamp,
    label: String,
}

/// The data directory to copy, or `None` for pg_basebackup.
fn choose_method(ctx: &Ctx<'_>) -> Result<Option<crate::datadir::LocalDataDir>> {
    let opts = ctx.opts;
    let why_not = if opts.include_wal {
        Some("only pg_basebackup's tar can include the WAL".to_string())
    } else if ctx.info.in_recovery {
        Some("the server is a standby".to_string())
    } else {
        None
    };
    match (opts.method, why_not) {
        (BaseBackupMethod::Basebackup, _) => Ok(None),
        (BaseBackupMethod::Copy, Some(why)) => Err(PgError::guided(
            format!("copying the data directory is not possible: {why}"),
            pg_basebackup(),
        )),
        (BaseBackupMethod::Auto, Some(_)) => Ok(None),
        (method, None) => {
            match crate::datadir::locate(ctx.tools, &opts.dsn, ctx.info.system_identifier) {
                Ok(dir) => Ok(Some(dir)),
                Err(why) if method == BaseBackupMethod::Copy => Err(PgError::guided(
                    format!(
                        "copying the data directory needs it on this machine, readable by lifeboat: {why}. \
                         Run lifeboat on the database host (as the postgres user or root), or take the backup through pg_basebackup"
                    ),
                    pg_basebackup(),
                )),
                Err(why) => {
                    tracing::info!("base backup through pg_basebackup: {why}");
                    Ok(None)
                }
            }
        }
    }
}

/// The hint to take the backup through pg_basebackup.
fn pg_basebackup() -> Hint {
    Hint::SetOption {
        option: "method",
        value: Some("pg_basebackup".into()),
    }
}

/// Waits for the WAL a finished backup needs and builds its metadata. `ranges` is the
/// backup's WAL as `(timeline, start, end)`.
fn complete(
    ctx: &Ctx<'_>,
    sysid: u64,
    bl: &BackupLabel,
    ranges: &[(u32, Lsn, Lsn)],
    format: &str,
) -> Result<PhysicalMeta> {
    let (opts, info) = (ctx.opts, ctx.info);
    if let Some(q) = info.system_identifier {
        if q != sysid {
            return Err(PgError::unexpected(
                "pg_control in the backup",
                format!(
                    "it names system identifier {sysid}, but the server reported {q}; no snapshot was written"
                ),
            ));
        }
    }
    let seg = info.wal_segment_size;
    let (stop_tli, _, stop_lsn) = *ranges
        .iter()
        .max_by_key(|r| r.2)
        .ok_or_else(|| PgError::unexpected("base backup", "it names no WAL range"))?;
    if !opts.include_wal {
        ctx.archive.bind(&opts.cluster, sysid, seg)?;
        let mut needed = Vec::new();
        for (tli, start, end) in ranges {
            for segno in start.segno(seg)..=end.segno(seg) {
                needed.push(segment_name(*tli, segno, seg));
            }
        }
        let missing = ctx
            .archive
            .wait_for(sysid, seg, &needed, opts.wal_timeout)?;
        if !missing.is_empty() {
            return Err(PgError::WalNotArchived {
                waited_seconds: opts.wal_timeout.as_secs(),
                missing,
            });
        }
    }
    let stop_time = server_now(ctx.tools, &opts.dsn).unwrap_or_else(|_| jiff::Timestamp::now());
    let next_xid = server_next_xid(ctx.tools, &opts.dsn, info.version_num).ok();
    Ok(PhysicalMeta {
        kind: "physical".into(),
        cluster: opts.cluster.clone(),
        system_identifier: sysid.to_string(),
        server_version: info.version.clone(),
        server_version_num: info.version_num,
        wal_segment_size: seg,
        timeline: bl.timeline,
        start_lsn: bl.start_lsn,
        checkpoint_lsn: bl.checkpoint_lsn,
        stop_lsn,
        stop_timeline: stop_tli,
        start_time: ctx.start_time.to_string(),
        stop_time: stop_time.to_string(),
        wal_start_segment: segment_name(bl.timeline, bl.start_lsn.segno(seg), seg),
        wal_stop_segment: segment_name(stop_tli, stop_lsn.segno(seg), seg),
        label: bl.label.clone(),
        format: format.into(),
        wal_included: opts.include_wal,
        tablespaces: Vec::new(),
        next_xid,
    })
}

fn meta_extra(meta: &PhysicalMeta) -> BTreeMap<String, serde_json::Value> {
    let mut extra = BTreeMap::new();
    extra.insert(
        EXTRA_KEY.to_string(),
        serde_json::to_value(meta).expect("meta serializes"),
    );
    extra
}

/// The newest earlier `files` base backup of the same system, directory and host, with the
/// instant before which its recorded file times prove a file unchanged: its `start_time`
/// (server clock, taken before the backup started) minus a second of margin.
fn copy_parent(
    repo: &Repository,
    ctx: &Ctx<'_>,
    dir: &crate::datadir::LocalDataDir,
) -> Result<Option<(SnapshotEntry, i64)>> {
    if ctx.opts.backup.force || repo.is_write_only() {
        return Ok(None);
    }
    let (Some(sysid), path) = (ctx.info.system_identifier, dir.path.to_string_lossy()) else {
        return Ok(None);
    };
    let host = ctx
        .opts
        .backup
        .host
        .clone()
        .unwrap_or_else(lifeboat_core::util::hostname);
    let parent = list_base_backups(repo)?.into_iter().rev().find(|(s, m)| {
        m.format == "files"
            && m.cluster == ctx.opts.cluster
            && m.sysid() == sysid
            && s.snapshot.hostname == host
            && s.snapshot.paths.first().map(String::as_str) == Some(&*path)
    });
    Ok(parent.and_then(|(s, m)| {
        let start: jiff::Timestamp = m.start_time.parse().ok()?;
        let before = start.as_nanosecond() - 1_000_000_000;
        Some((s, i64::try_from(before).ok()?))
    }))
}

/// `--method copy`: the data directory's files, read directly while the backup is open.
fn backup_copy(
    repo: &Repository,
    ctx: &Ctx<'_>,
    dir: &crate::datadir::LocalDataDir,
    progress: Arc<Progress>,
) -> Result<PhysicalOutcome> {
    use lifeboat_core::backup::{backup_dir_root, DirAdditions, DirSource};
    let opts = ctx.opts;
    let backup = crate::datadir::BackupInProgress::start(
        ctx.tools,
        &opts.dsn,
        ctx.info.version_num,
        &ctx.label,
        opts.fast_checkpoint,
    )?;
    let root = dir.path.clone();
    // pg_control is read after everything else, as pg_basebackup does, and checked against
    // its checksum (the server rewrites it at checkpoints): see `finished` below.
    let exclude = |p: &std::path::Path| {
        p.strip_prefix(&root).is_ok_and(|rel| {
            crate::datadir::excluded(rel) || rel == std::path::Path::new("global/pg_control")
        })
    };
    let follow = |p: &std::path::Path| {
        p.strip_prefix(&root)
            .map(crate::datadir::tablespace_link)
            .unwrap_or(false)
    };
    let mut bopts = opts.backup.clone();
    bopts.source_kind = Some(SOURCE_PHYSICAL.into());
    let meta_slot: std::cell::RefCell<Option<PhysicalMeta>> = Default::default();
    let mut source_error: Option<PgError> = None;
    let src = DirSource {
        dir: &dir.path,
        exclude: &exclude,
        follow: &follow,
        parent: copy_parent(repo, ctx, dir)?,
    };
    let outcome = backup_dir_root(repo, &src, &bopts, progress, || {
        let finished = (|| -> Result<DirAdditions> {
            let control = crate::datadir::read_control_file(&dir.path)?;
            let stop = backup.stop()?;
            let bl = parse_backup_label(&stop.label_file)?;
            let sysid = u64::from_le_bytes(control[..8].try_into().expect("8 KiB file"));
            let mut meta = complete(
                ctx,
                sysid,
                &bl,
                &[(bl.timeline, bl.start_lsn, stop.lsn)],
                "files",
            )?;
            meta.tablespaces = crate::datadir::parse_tablespace_map(&stop.tablespace_map)?;
            let mut files = vec![
                ("backup_label".to_string(), stop.label_file.into_bytes()),
                ("global/pg_control".to_string(), control),
            ];
            if !stop.tablespace_map.is_empty() {
                files.push(("tablespace_map".into(), stop.tablespace_map.into_bytes()));
            }
            let extra = meta_extra(&meta);
            *meta_slot.borrow_mut() = Some(meta);
            Ok(DirAdditions { files, extra })
        })();
        finished.map_err(|e| {
            let text = e.to_string();
            source_error = Some(e);
            lifeboat_core::Error::SourceFailed(text)
        })
    });
    let outcome = match (outcome, source_error) {
        (_, Some(e)) => return Err(e),
        (Ok(o), None) => o,
        (Err(e @ lifeboat_core::Error::Cancelled { .. }), None) => return Err(e.into()),
        (Err(cause), None) => return Err(PgError::CopyAbandoned { cause }),
    };
    let meta = meta_slot.into_inner().expect("finished ran");
    Ok(PhysicalOutcome { outcome, meta })
}

/// `--method pg_basebackup`: pg_basebackup's tar stream.
fn backup_tar(
    repo: &Repository,
    ctx: &Ctx<'_>,
    progress: Arc<Progress>,
) -> Result<PhysicalOutcome> {
    let (opts, tools) = (ctx.opts, ctx.tools);
    let label = &ctx.label;
    let mut cmd = tools.command("pg_basebackup");
    cmd.arg("-d")
        .arg(&opts.dsn)
        .args(["-D", "-", "-F", "t", "-w", "-l", label])
        .arg(format!(
            "--checkpoint={}",
            if opts.fast_checkpoint {
                "fast"
            } else {
                "spread"
            }
        ))
        .args(["-X", if opts.include_wal { "fetch" } else { "none" }]);
    let (mut child, stdout) = ChildSource::spawn(cmd, "pg_basebackup")?;
    let (watcher, captured) = TarWatcher::new(
        stdout,
        &[
            ("backup_label", 1 << 20),
            ("backup_manifest", 512 << 20),
            ("global/pg_control", 8),
        ],
    );
    let mut bopts = opts.backup.clone();
    bopts.source_kind = Some(SOURCE_PHYSICAL.into());
    let name = format!("pgdata-{}.tar", opts.cluster);
    let meta_slot: std::cell::RefCell<Option<PhysicalMeta>> = Default::default();
    let outcome = store_stream(repo, &name, watcher, &bopts, progress, || {
        child.finish("; no snapshot was written")?;
        let cap = captured.lock().expect("captured");
        let incomplete = |file: &str| {
            PgError::unexpected(
                "pg_basebackup stream",
                format!("it has no {file}; no snapshot was written"),
            )
        };
        let label_text = cap
            .get("backup_label")
            .ok_or_else(|| incomplete("backup_label"))?;
        let bl = parse_backup_label(&String::from_utf8_lossy(label_text))?;
        let manifest = cap
            .get("backup_manifest")
            .ok_or_else(|| incomplete("backup_manifest"))?;
        let ranges = parse_manifest_wal_ranges(manifest)?;
        let control = cap
            .get("global/pg_control")
            .filter(|c| c.len() == 8)
            .ok_or_else(|| incomplete("global/pg_control"))?;
        let sysid = u64::from_le_bytes(control[..8].try_into().expect("8 bytes"));
        drop(cap);
        let meta = complete(ctx, sysid, &bl, &ranges, "tar")?;
        let extra = meta_extra(&meta);
        *meta_slot.borrow_mut() = Some(meta);
        Ok(extra)
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            child.kill();
            return Err(e);
        }
    };
    let meta = meta_slot.into_inner().expect("finished ran");
    Ok(PhysicalOutcome { outcome, meta })
}

/// Every physical base backup in the repository, oldest first.
pub fn list_base_backups(repo: &Repository) -> Result<Vec<(SnapshotEntry, PhysicalMeta)>> {
    Ok(repo
        .snapshots()?
        .into_iter()
        .filter_map(|s| PhysicalMeta::from_snapshot(&s).map(|m| (s, m)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_and_manifest() {
        let label = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-11-21 20:18:48 UTC\nLABEL: lifeboat main\nSTART TIMELINE: 1\n";
        let l = parse_backup_label(label).unwrap();
        assert_eq!(l.start_lsn, "0/2000028".parse().unwrap());
        assert_eq!(l.checkpoint_lsn, Some("0/2000060".parse().unwrap()));
        assert_eq!(l.timeline, 1);
        assert_eq!(l.label, "lifeboat main");
        let m = br#"{"PostgreSQL-Backup-Manifest-Version": 1, "Files": [], "WAL-Ranges": [ { "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" } ], "Manifest-Checksum": "x"}"#;
        assert_eq!(
            parse_manifest_wal_ranges(m).unwrap(),
            vec![(
                1,
                "0/2000028".parse().unwrap(),
                "0/2000100".parse().unwrap()
            )]
        );
        assert!(parse_backup_label("nothing").is_err());
    }
}
