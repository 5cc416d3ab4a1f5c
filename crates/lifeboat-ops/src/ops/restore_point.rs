//! Restore points: one named, consistent set of snapshots across configured sources
//! (docs/design/restore-points.md). `create` captures every member (files, streams, SQLite and
//! logical dumps as new snapshots; physical PostgreSQL as a named WAL position,
//! `pg_create_restore_point`), between the configured `pre_command` and `post_command`, and
//! records the set only when every member succeeded. `restore` brings every member back at its
//! recorded position. `pin` keeps a point (and so its members) through every retention
//! policy; `hold` is the rule forget applies.

use crate::backup::SnapshotLabels;
use crate::modes::{self, Operation};
use crate::record::{Recorder, FIRST};
use crate::sources::{self, SourceReport, SourceRequest};
use crate::{journaled, Context, OpsError, Result};
use lifeboat_config::{Config, Source, SourceKind};
use lifeboat_core::forget::Decision;
use lifeboat_core::restore::{self as core_restore, RestoreOptions};
use lifeboat_core::Repository;
use lifeboat_drill::checks::command::run_program;
use lifeboat_postgres::logical::{restore_logical, LogicalRestoreOptions};
use lifeboat_postgres::physical::{list_base_backups, ServerInfo};
use lifeboat_postgres::pitr::{self, PhysicalRestoreOptions, StartOptions};
use lifeboat_postgres::plan::{KnownRestorePoint, RecoveryTarget};
use lifeboat_postgres::tools::PgTools;
use lifeboat_postgres::wal::WalArchive;
use lifeboat_sqlite::restore::{restore_sqlite, SqliteRestoreOptions};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

/// The restore point format's version.
pub const VERSION: u32 = 1;

/// A stored restore point. `id` is the stored object's name (not part of its bytes).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RestorePoint {
    /// Object id (SHA-256 of the stored bytes); empty until stored.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Format version.
    pub version: u32,
    /// The point's name (unique in the repository).
    pub name: String,
    /// When the capture started (RFC 3339).
    pub time: String,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Host that created it.
    pub host: String,
    /// User that created it.
    pub user: String,
    /// Kept until this time (RFC 3339) or `forever`, as given at creation (pins may change it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_until: Option<String>,
    /// Every member, in capture order.
    pub members: Vec<Member>,
}

/// One member of a restore point.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Member {
    /// The configured source.
    pub source: String,
    /// Its kind (`files`, `command`, `postgres`, `postgres-physical`, `sqlite`).
    pub kind: String,
    /// The snapshots that hold it: the new snapshots of files, command, SQLite and logical
    /// sources; for a physical source the base backup recovery starts from.
    pub snapshots: Vec<String>,
    /// Physical PostgreSQL: the named WAL position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

/// Where a physical member's point lies in the WAL.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Position {
    /// The cluster's name in the repository.
    pub cluster: String,
    /// The name given to `pg_create_restore_point` (the restore point's name).
    pub name: String,
    /// The LSN `pg_create_restore_point` returned.
    pub lsn: String,
    /// The WAL segment that holds it (archived before the point was recorded).
    pub wal_segment: String,
}

/// A pin: keep a restore point until a time or forever (`until = "none"` unpins).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Pin {
    /// The restore point's id.
    pub point: String,
    /// `forever`, an RFC 3339 time, or `none`.
    pub until: String,
    /// When the pin was made.
    pub time: String,
    /// Who made it.
    pub user: String,
}

/// A restore point as listed: the point and its effective pin.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    /// The point.
    #[serde(flatten)]
    pub point: RestorePoint,
    /// The effective pin (`forever` or a time), if any.
    pub pinned_until: Option<String>,
}

/// What `restore-point create` asks.
#[derive(Clone, Debug, Default)]
pub struct CreateRequest {
    /// The point's name.
    pub name: String,
    /// The sources (default: those with `restore_point = true`).
    pub sources: Vec<String>,
    /// A description.
    pub description: Option<String>,
    /// Pin it until this time (RFC 3339) or `forever`.
    pub keep_until: Option<String>,
}

fn valid_until(s: &str) -> Result<()> {
    if s == "forever" || s.parse::<jiff::Timestamp>().is_ok() {
        return Ok(());
    }
    if jiff::civil::Date::strptime("%Y-%m-%d", s).is_ok() {
        return Ok(());
    }
    Err(OpsError::invalid(
        "keep_until",
        format!("'{s}' is neither `forever`, a date (2027-01-31) nor an RFC 3339 time"),
    ))
}

/// The end of a pin as a time (`None`: forever). A date means the end of that day (UTC).
fn until_time(s: &str) -> Option<jiff::Timestamp> {
    if s == "forever" {
        return None;
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    jiff::civil::Date::strptime("%Y-%m-%d", s)
        .ok()
        .and_then(|d| d.tomorrow().ok())
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
}

/// The members `req` names, with their configuration.
fn members<'c>(config: &'c Config, req: &CreateRequest) -> Result<Vec<&'c Source>> {
    let names: Vec<String> = if req.sources.is_empty() {
        config
            .sources
            .values()
            .filter(|s| s.restore_point)
            .map(|s| s.name.clone())
            .collect()
    } else {
        req.sources.clone()
    };
    if names.is_empty() {
        return Err(OpsError::invalid(
            "source",
            "no sources given, and no configured source has `restore_point = true`",
        ));
    }
    let mut out = Vec::new();
    for n in &names {
        out.push(config.sources.get(n).ok_or_else(|| {
            OpsError::invalid(
                "source",
                format!(
                    "source '{n}' is not configured in {}",
                    config.path.display()
                ),
            )
        })?);
    }
    let repos: BTreeMap<&str, &str> = out
        .iter()
        .map(|s| (s.name.as_str(), s.repository.as_str()))
        .collect();
    let distinct: HashSet<&str> = repos.values().copied().collect();
    if distinct.len() > 1 {
        return Err(OpsError::Conflict(format!(
            "the members of a restore point must back up to one repository; these do not: {}",
            repos
                .iter()
                .map(|(s, r)| format!("{s} → {r}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(out)
}

/// The repository the members of `req` back up to.
pub fn repository_of(config: &Config, req: &CreateRequest) -> Result<String> {
    Ok(members(config, req)?[0].repository.clone())
}

fn hook(
    ctx: &Context,
    which: &str,
    command: &[String],
    name: &str,
    timeout: Duration,
) -> std::result::Result<(), String> {
    if command.is_empty() {
        return Ok(());
    }
    let env = vec![("LIFEBOAT_RESTORE_POINT".to_string(), name.into())];
    run_program(command, &env, timeout, ctx.cancel_token())
        .map(drop)
        .map_err(|e| format!("{which} failed: {e}"))
}

/// Captures one member.
fn capture(ctx: &Context, repo: &Repository, source: &Source, name: &str) -> Result<Member> {
    let tag = format!("restore-point:{name}");
    if let SourceKind::PostgresPhysical(pg) = &source.kind {
        // A base backup to start recovery from: the newest, or a new one when there is none.
        let have = list_base_backups(repo)?
            .into_iter()
            .any(|(_, m)| m.cluster == pg.cluster);
        if !have {
            let mut req = SourceRequest::of(source)?;
            req.labels_mut().tags.push(tag.clone());
            sources::backup(ctx, repo, &req)?;
        }
        let tools = PgTools::locate(None);
        let info = ServerInfo::query(&tools, &pg.dsn)?;
        let tools = PgTools::locate(Some(info.major()));
        let quoted = name.replace('\'', "''");
        let row = tools.query_row(
            &pg.dsn,
            &format!(
                "SELECT lsn, pg_walfile_name(lsn) FROM (SELECT pg_create_restore_point('{quoted}') AS lsn) p"
            ),
        )?;
        let (lsn, segment) = (row[0].clone(), row[1].clone());
        // Close the segment so the archiver stores it, and wait until it has.
        tools.query(&pg.dsn, "SELECT pg_switch_wal()")?;
        let base = list_base_backups(repo)?
            .into_iter()
            .filter(|(_, m)| m.cluster == pg.cluster)
            .max_by_key(|(_, m)| m.stop_lsn)
            .ok_or_else(|| OpsError::Conflict("no base backup of the cluster".into()))?;
        let archive = WalArchive::from_repo(repo);
        let missing = archive.wait_for(
            base.1.sysid(),
            base.1.wal_segment_size,
            std::slice::from_ref(&segment),
            pg.wal_timeout,
        )?;
        if !missing.is_empty() {
            return Err(OpsError::Conflict(format!(
                "WAL segment {segment}, which holds the restore point at {lsn}, was not archived within {}s: is archive_command set to `lifeboat wal-push %p`?",
                pg.wal_timeout.as_secs()
            )));
        }
        return Ok(Member {
            source: source.name.clone(),
            kind: source.kind.name().into(),
            snapshots: vec![base.0.id],
            position: Some(Position {
                cluster: pg.cluster.clone(),
                name: name.to_string(),
                lsn,
                wal_segment: segment,
            }),
        });
    }
    let mut req = SourceRequest::of(source)?;
    let labels: &mut SnapshotLabels = req.labels_mut();
    labels.tags.push(tag);
    let report = sources::backup(ctx, repo, &req)?;
    Ok(Member {
        source: source.name.clone(),
        kind: source.kind.name().into(),
        snapshots: report.snapshot_ids(),
        position: None,
    })
}

/// Creates a restore point (see the module documentation). If any member fails, nothing is
/// recorded (snapshots already taken stay, as ordinary snapshots) and the error names it.
pub fn create(
    ctx: &Context,
    repo: &Repository,
    config: &Config,
    req: &CreateRequest,
) -> Result<RestorePoint> {
    let mut rec = Recorder::new(ctx, "restore-point create");
    rec.arg("name", Some(req.name.clone()))
        .list("sources", &req.sources)
        .arg("keep_until", req.keep_until.clone());
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        modes::require(repo, Operation::RestorePointCreate)?;
        if req.name.trim().is_empty() {
            return Err(OpsError::invalid("name", "a restore point needs a name"));
        }
        if let Some(u) = &req.keep_until {
            valid_until(u)?;
        }
        if list(ctx, repo)?.iter().any(|p| p.point.name == req.name) {
            return Err(OpsError::Conflict(format!(
                "a restore point named '{}' exists already; choose another name",
                req.name
            )));
        }
        let sources = members(config, req)?;
        let time = jiff::Timestamp::now().to_string();
        let hooks = &config.restore_points;
        hook(
            ctx,
            "pre_command",
            &hooks.pre_command,
            &req.name,
            hooks.timeout,
        )
        .map_err(|e| {
            OpsError::Conflict(format!(
                "{e}; nothing was captured and no restore point recorded"
            ))
        })?;
        let mut captured = Vec::new();
        let mut failure = None;
        for s in &sources {
            match capture(ctx, repo, s, &req.name) {
                Ok(m) => captured.push(m),
                Err(e) => {
                    failure = Some(OpsError::Step {
                        step: format!(
                            "member '{}' ({}) of restore point '{}' failed, so no restore point was recorded",
                            s.name,
                            s.kind.name(),
                            req.name
                        ),
                        source: Box::new(e),
                    });
                    break;
                }
            }
        }
        // post_command runs whatever happened.
        let post = hook(
            ctx,
            "post_command",
            &hooks.post_command,
            &req.name,
            hooks.timeout,
        );
        if let Some(f) = failure {
            if let Err(e) = post {
                ctx.warn(e);
            }
            return Err(f);
        }
        post.map_err(|e| OpsError::Conflict(format!("{e}; no restore point was recorded")))?;
        let mut point = RestorePoint {
            id: String::new(),
            version: VERSION,
            name: req.name.clone(),
            time,
            description: req.description.clone(),
            host: lifeboat_core::host::hostname(),
            user: ctx.actor.user.clone(),
            keep_until: req.keep_until.clone(),
            members: captured,
        };
        point.id = repo.save_restore_point(&point)?;
        rec.arg("restore_point", Some(point.id.clone()));
        for m in &point.members {
            for s in &m.snapshots {
                rec.affected(FIRST, s);
            }
        }
        rec.note(format!("{} members", point.members.len()));
        Ok(point)
    })
}

fn pins(repo: &Repository) -> Result<BTreeMap<String, Pin>> {
    let mut all: Vec<Pin> = Vec::new();
    for id in repo.list_pin_ids()? {
        all.push(repo.read_pin(&id)?);
    }
    all.sort_by(|a, b| a.time.cmp(&b.time));
    let mut out = BTreeMap::new();
    for p in all {
        out.insert(p.point.clone(), p);
    }
    Ok(out)
}

/// Every restore point with its effective pin, oldest first.
pub fn list(_ctx: &Context, repo: &Repository) -> Result<Vec<Listed>> {
    modes::require(repo, Operation::RestorePointList)?;
    let pins = pins(repo)?;
    let mut out = Vec::new();
    let mut current: Option<Current> = None;
    for id in repo.list_restore_point_ids()? {
        let mut point: RestorePoint = repo.read_restore_point(&id)?;
        point.id = id;
        for m in &mut point.members {
            for s in &mut m.snapshots {
                if current.is_none() {
                    current = Some(Current::of(repo)?);
                }
                if let Some(c) = current
                    .as_mut()
                    .and_then(|c| c.resolve(repo, s).transpose())
                {
                    *s = c?;
                }
            }
        }
        let pinned_until = match pins.get(&point.id) {
            Some(p) if p.until == "none" => None,
            Some(p) => Some(p.until.clone()),
            None => point.keep_until.clone(),
        };
        out.push(Listed {
            point,
            pinned_until,
        });
    }
    out.sort_by(|a, b| a.point.time.cmp(&b.point.time));
    Ok(out)
}

/// The WAL positions this repository's restore points recorded under `name` (one per physical
/// member), so restoring to the name can start from the newest base backup before it. Best
/// effort: unreadable points are passed over (recovery then starts from the oldest backup).
pub fn known_positions(repo: &Repository, name: &str) -> Vec<KnownRestorePoint> {
    let mut out = Vec::new();
    for id in repo.list_restore_point_ids().unwrap_or_default() {
        let Ok(point) = repo.read_restore_point::<RestorePoint>(&id) else {
            tracing::debug!("restore point {id} unreadable; its position is not used");
            continue;
        };
        for pos in point.members.iter().filter_map(|m| m.position.as_ref()) {
            if let (true, Ok(lsn)) = (pos.name == name, pos.lsn.parse()) {
                out.push(KnownRestorePoint {
                    cluster: pos.cluster.clone(),
                    name: pos.name.clone(),
                    lsn,
                });
            }
        }
    }
    out
}

/// The snapshots there are, for following `tag`/`rewrite` chains: a member recorded under an
/// id that a copy replaced (the copy's `replaces` holds it) means the copy.
struct Current {
    ids: HashSet<String>,
    /// Replaced id → current id; read from the snapshots on first need.
    forward: Option<std::collections::HashMap<String, String>>,
}

impl Current {
    fn of(repo: &Repository) -> Result<Current> {
        Ok(Current {
            ids: repo.list_snapshot_ids()?.into_iter().collect(),
            forward: None,
        })
    }

    /// The id standing for `id` now, when that is another one.
    fn resolve(&mut self, repo: &Repository, id: &str) -> Result<Option<String>> {
        if self.ids.contains(id) {
            return Ok(None);
        }
        if self.forward.is_none() {
            let mut map = std::collections::HashMap::new();
            for s in repo.snapshots()? {
                for old in &s.snapshot.replaces {
                    map.insert(old.clone(), s.id.clone());
                }
            }
            self.forward = Some(map);
        }
        Ok(self.forward.as_ref().and_then(|m| m.get(id).cloned()))
    }
}

/// One restore point by name, id or unique id prefix.
pub fn show(ctx: &Context, repo: &Repository, which: &str) -> Result<Listed> {
    let all = list(ctx, repo)?;
    if let Some(p) = all.iter().find(|p| p.point.name == which) {
        return Ok(p.clone());
    }
    let matching: Vec<&Listed> = all
        .iter()
        .filter(|p| !which.is_empty() && p.point.id.starts_with(which))
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(OpsError::invalid(
            "restore_point",
            format!("no restore point named '{which}' (see `lifeboat restore-point list`)"),
        )),
        _ => Err(OpsError::invalid(
            "restore_point",
            format!("'{which}' matches several restore points; give more of the id"),
        )),
    }
}

/// Pins a restore point until `until` (`forever`, a date, an RFC 3339 time, or `none`).
pub fn pin(ctx: &Context, repo: &Repository, which: &str, until: &str) -> Result<Listed> {
    let mut rec = Recorder::new(ctx, "restore-point pin");
    rec.arg("restore_point", Some(which.to_string()))
        .arg("until", Some(until.to_string()));
    rec.add(repo);
    journaled(ctx, rec, |_| {
        modes::require(repo, Operation::RestorePointPin)?;
        if until != "none" {
            valid_until(until)?;
        }
        let mut p = show(ctx, repo, which)?;
        repo.save_pin(&Pin {
            point: p.point.id.clone(),
            until: until.to_string(),
            time: jiff::Timestamp::now().to_string(),
            user: ctx.actor.user.clone(),
        })?;
        p.pinned_until = (until != "none").then(|| until.to_string());
        Ok(p)
    })
}

/// Applies the restore-point rule to forget's decisions: a pinned point's members are all kept;
/// an unpinned point's members are kept together when any of them is kept (or not considered
/// by the policy). Returns the points whose members are all removed (forget removes those
/// points too).
pub fn hold(decisions: &mut [Decision], points: &[Listed], now: jiff::Timestamp) -> Vec<String> {
    let mut gone = Vec::new();
    for p in points {
        let members: HashSet<&str> = p
            .point
            .members
            .iter()
            .flat_map(|m| m.snapshots.iter().map(String::as_str))
            .collect();
        let pinned = p
            .pinned_until
            .as_deref()
            .is_some_and(|u| until_time(u).is_none_or(|t| t > now));
        let considered: Vec<usize> = decisions
            .iter()
            .enumerate()
            .filter(|(_, d)| members.contains(d.id.as_str()))
            .map(|(i, _)| i)
            .collect();
        let any_kept = considered.iter().any(|&i| decisions[i].keep);
        let all_considered = considered.len() == members.len();
        let reason = if pinned {
            Some(format!(
                "pinned restore point {} (until {})",
                p.point.name,
                p.pinned_until.as_deref().unwrap_or("forever")
            ))
        } else if any_kept || !all_considered {
            Some(format!(
                "member of restore point {} (its members are kept together)",
                p.point.name
            ))
        } else {
            None
        };
        match reason {
            Some(r) => {
                for &i in &considered {
                    if !decisions[i].keep {
                        decisions[i].keep = true;
                        decisions[i].reasons.push(r.clone());
                    } else if pinned {
                        decisions[i].reasons.push(r.clone());
                    }
                }
            }
            None => gone.push(p.point.id.clone()),
        }
    }
    gone
}

/// Refuses forgetting `ids` by name when that would split a restore point or remove a pinned
/// one's member.
pub fn check_named(ids: &[String], points: &[Listed], now: jiff::Timestamp) -> Result<Vec<String>> {
    let named: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut gone = Vec::new();
    for p in points {
        let members: Vec<&str> = p
            .point
            .members
            .iter()
            .flat_map(|m| m.snapshots.iter().map(String::as_str))
            .collect();
        let hit: Vec<&str> = members
            .iter()
            .copied()
            .filter(|m| named.contains(m))
            .collect();
        if hit.is_empty() {
            continue;
        }
        let pinned = p
            .pinned_until
            .as_deref()
            .is_some_and(|u| until_time(u).is_none_or(|t| t > now));
        if pinned {
            return Err(OpsError::Conflict(format!(
                "snapshot {} is a member of restore point '{}', pinned until {}; unpin it first (`lifeboat restore-point pin {} --keep-until none`)",
                &hit[0][..8.min(hit[0].len())],
                p.point.name,
                p.pinned_until.as_deref().unwrap_or("forever"),
                p.point.name
            )));
        }
        if hit.len() < members.len() {
            return Err(OpsError::Conflict(format!(
                "snapshot {} is a member of restore point '{}'; forget its members together ({}) or none",
                &hit[0][..8.min(hit[0].len())],
                p.point.name,
                members
                    .iter()
                    .map(|m| &m[..8.min(m.len())])
                    .collect::<Vec<_>>()
                    .join(" ")
            )));
        }
        gone.push(p.point.id.clone());
    }
    Ok(gone)
}

/// What `restore-point restore` asks.
#[derive(Clone, Debug, Default)]
pub struct RestoreRequest {
    /// Name or id.
    pub point: String,
    /// Files and SQLite go below `DIR/<source>`, physical PostgreSQL into `DIR/<source>`.
    pub target_root: PathBuf,
    /// Only these members (default: all).
    pub sources: Vec<String>,
    /// Logical members: the server to restore into, per source.
    pub dsns: BTreeMap<String, String>,
    /// Physical members: start the restored server and let recovery reach the point.
    pub start: bool,
    /// The `restore_command` a restored physical member fetches WAL with.
    pub restore_command: String,
    /// The scratch server's user when run as root.
    pub run_as: Option<String>,
}

/// How one member's restore went.
#[derive(Clone, Debug, Serialize)]
pub struct MemberRestore {
    /// The source.
    pub source: String,
    /// Its kind.
    pub kind: String,
    /// The snapshot restored.
    pub snapshot: Option<String>,
    /// `ok`, `error` or `skipped`.
    pub result: String,
    /// What was restored where, or why not.
    pub detail: String,
    /// Where it went.
    pub target: Option<PathBuf>,
}

/// What `restore-point restore` did.
#[derive(Clone, Debug, Serialize)]
pub struct PointRestoreReport {
    /// The point.
    pub restore_point: String,
    /// Its id.
    pub id: String,
    /// Per member.
    pub members: Vec<MemberRestore>,
    /// True when every selected member was restored.
    pub ok: bool,
}

fn restore_member(
    ctx: &Context,
    repo: &Repository,
    m: &Member,
    req: &RestoreRequest,
    password: Option<&[u8]>,
) -> std::result::Result<(String, PathBuf), String> {
    let target = req.target_root.join(&m.source);
    let snap_id = m.snapshots.first().ok_or("the member has no snapshot")?;
    let snap = repo.find_snapshot(snap_id).map_err(|e| e.to_string())?;
    match (m.kind.as_str(), &m.position) {
        ("postgres-physical", Some(pos)) => {
            let report = pitr::restore_physical(
                repo,
                &PhysicalRestoreOptions {
                    target_dir: target.clone(),
                    target: RecoveryTarget::Name(pos.name.clone()),
                    snapshot: Some(snap.id.clone()),
                    cluster: Some(pos.cluster.clone()),
                    restore_command: req.restore_command.clone(),
                    archive_off: true,
                    exclusive: false,
                    start: req.start.then(|| StartOptions {
                        port: None,
                        keep_running: false,
                        listen: None,
                        timeout: Duration::from_secs(3600),
                        env: Vec::new(),
                        run_as: req.run_as.clone(),
                    }),
                    tablespace_map: Vec::new(),
                    known_points: Vec::new(),
                },
                password,
            )
            .map_err(|e| e.to_string())?;
            let detail = match &report.started {
                Some(s) => format!(
                    "base backup {} replayed to restore point '{}' (recorded at {}); recovery stopped at {}",
                    &snap.id[..8],
                    pos.name,
                    pos.lsn,
                    s.recovery.lsn.as_deref().unwrap_or("?")
                ),
                None => format!(
                    "base backup {} restored with recovery_target_name = '{}' (recorded at {}); start it to replay",
                    &snap.id[..8],
                    pos.name,
                    pos.lsn
                ),
            };
            Ok((detail, target))
        }
        ("postgres", _) => {
            let Some(dsn) = req.dsns.get(&m.source) else {
                return Err(format!(
                    "a logical member is restored into a server: give --dsn {}=DSN",
                    m.source
                ));
            };
            let mut last = String::new();
            for id in &m.snapshots {
                let s = repo.find_snapshot(id).map_err(|e| e.to_string())?;
                let r = restore_logical(
                    repo,
                    &s,
                    &LogicalRestoreOptions {
                        dsn: dsn.clone(),
                        ..Default::default()
                    },
                )
                .map_err(|e| e.to_string())?;
                last = format!(
                    "dump {} restored into {}",
                    &s.id[..8],
                    r.database.as_deref().unwrap_or("the server")
                );
            }
            Ok((last, target))
        }
        ("sqlite", _) => {
            // Each database as `restore sqlite` restores it: verified, integrity-checked.
            let mut done = Vec::new();
            for id in &m.snapshots {
                let s = repo.find_snapshot(id).map_err(|e| e.to_string())?;
                let name = s
                    .snapshot
                    .stream
                    .as_ref()
                    .map(|st| st.name.clone())
                    .ok_or("the member's snapshot holds no database")?;
                let r = restore_sqlite(
                    repo,
                    &s,
                    &SqliteRestoreOptions {
                        target: target.join(&name),
                        overwrite: false,
                        cancel: ctx.cancel_token().clone(),
                    },
                )
                .map_err(|e| e.to_string())?;
                done.push(format!("{} from {}", r.target.display(), &s.id[..8]));
            }
            Ok((
                format!(
                    "SQLite {} restored, integrity_check ok: {}",
                    if done.len() == 1 {
                        "database"
                    } else {
                        "databases"
                    },
                    done.join(", ")
                ),
                target,
            ))
        }
        _ => {
            let mut files = 0;
            for id in &m.snapshots {
                let s = repo.find_snapshot(id).map_err(|e| e.to_string())?;
                let summary = core_restore::restore(
                    repo,
                    &s,
                    &RestoreOptions {
                        target: target.clone(),
                        includes: Vec::new(),
                        overwrite: false,
                        redirects: Vec::new(),
                        cancel: ctx.cancel_token().clone(),
                        no_sparse: false,
                        no_xattrs: false,
                    },
                    ctx.restored_bytes.clone(),
                )
                .map_err(|e| e.to_string())?;
                files += summary.files;
            }
            Ok((
                format!(
                    "{} restored into {} ({files} files, every blob verified)",
                    m.snapshots
                        .iter()
                        .map(|s| &s[..8.min(s.len())])
                        .collect::<Vec<_>>()
                        .join(", "),
                    target.display()
                ),
                target,
            ))
        }
    }
}

/// Restores every (selected) member of a restore point at its recorded position.
pub fn restore(
    ctx: &Context,
    repo: &Repository,
    req: &RestoreRequest,
    password: Option<&[u8]>,
) -> Result<PointRestoreReport> {
    let mut rec = Recorder::new(ctx, "restore-point restore");
    rec.arg("restore_point", Some(req.point.clone()))
        .arg("target_root", Some(req.target_root.display().to_string()))
        .list("sources", &req.sources)
        .flag("start", req.start);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        modes::require(repo, Operation::RestorePointRestore)?;
        let p = show(ctx, repo, &req.point)?.point;
        for s in &req.sources {
            if !p.members.iter().any(|m| &m.source == s) {
                return Err(OpsError::invalid(
                    "source",
                    format!("restore point '{}' has no member '{s}'", p.name),
                ));
            }
        }
        let mut out = Vec::new();
        for m in &p.members {
            if !req.sources.is_empty() && !req.sources.contains(&m.source) {
                continue;
            }
            let r = restore_member(ctx, repo, m, req, password);
            for s in &m.snapshots {
                rec.affected(FIRST, s);
            }
            out.push(match r {
                Ok((detail, target)) => MemberRestore {
                    source: m.source.clone(),
                    kind: m.kind.clone(),
                    snapshot: m.snapshots.first().cloned(),
                    result: "ok".into(),
                    detail,
                    target: Some(target),
                },
                Err(detail) => MemberRestore {
                    source: m.source.clone(),
                    kind: m.kind.clone(),
                    snapshot: m.snapshots.first().cloned(),
                    result: "error".into(),
                    detail,
                    target: None,
                },
            });
        }
        let ok = out.iter().all(|m| m.result == "ok");
        let failed: Vec<String> = out
            .iter()
            .filter(|m| m.result != "ok")
            .map(|m| format!("{}: {}", m.source, m.detail))
            .collect();
        if !ok {
            rec.note(failed.join("; "));
        }
        Ok(PointRestoreReport {
            restore_point: p.name.clone(),
            id: p.id.clone(),
            members: out,
            ok,
        })
    })
}

impl SourceReport {
    /// The snapshots a source backup wrote.
    pub fn snapshot_ids(&self) -> Vec<String> {
        match self {
            SourceReport::Snapshot(r) => vec![r.snapshot_id.clone()],
            SourceReport::Postgres(rs) => rs.iter().map(|r| r.backup.snapshot_id.clone()).collect(),
            SourceReport::PostgresPhysical(r) => vec![r.backup.snapshot_id.clone()],
            SourceReport::Sqlite(rs) => rs.iter().map(|r| r.backup.snapshot_id.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(name: &str, members: &[&str], pinned: Option<&str>) -> Listed {
        Listed {
            point: RestorePoint {
                id: format!("id-{name}"),
                version: VERSION,
                name: name.into(),
                time: "2026-12-01T00:00:00Z".into(),
                description: None,
                host: "h".into(),
                user: "u".into(),
                keep_until: None,
                members: vec![Member {
                    source: "s".into(),
                    kind: "files".into(),
                    snapshots: members.iter().map(|s| s.to_string()).collect(),
                    position: None,
                }],
            },
            pinned_until: pinned.map(str::to_string),
        }
    }

    fn decision(id: &str, keep: bool) -> Decision {
        Decision {
            id: id.into(),
            group: "g".into(),
            keep,
            reasons: Vec::new(),
        }
    }

    fn now() -> jiff::Timestamp {
        "2026-12-02T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn forget_keeps_a_restore_points_members_together() {
        let mut d = vec![
            decision("a", true),
            decision("b", false),
            decision("c", false),
        ];
        let gone = hold(&mut d, &[point("p", &["a", "b"], None)], now());
        assert!(gone.is_empty());
        assert!(d[1].keep, "b was split from a");
        assert!(d[1].reasons[0].contains("restore point p"));
        assert!(!d[2].keep);
    }

    #[test]
    fn forget_removes_a_whole_unpinned_point_and_keeps_a_pinned_one() {
        let mut d = vec![decision("a", false), decision("b", false)];
        let gone = hold(&mut d, &[point("p", &["a", "b"], None)], now());
        assert_eq!(gone, vec!["id-p".to_string()]);
        assert!(!d[0].keep && !d[1].keep);

        let mut d = vec![decision("a", false), decision("b", false)];
        assert!(hold(&mut d, &[point("p", &["a", "b"], Some("forever"))], now()).is_empty());
        assert!(d[0].keep && d[1].keep);
        assert!(d[0].reasons[0].contains("pinned"));

        // An expired pin no longer holds.
        let mut d = vec![decision("a", false), decision("b", false)];
        let gone = hold(
            &mut d,
            &[point("p", &["a", "b"], Some("2026-11-30"))],
            now(),
        );
        assert_eq!(gone.len(), 1);
    }

    #[test]
    fn naming_part_of_a_point_or_a_pinned_member_is_refused() {
        let p = [point("p", &["aaaaaaaaaa", "bbbbbbbbbb"], None)];
        assert!(check_named(&["aaaaaaaaaa".into()], &p, now()).is_err());
        let gone = check_named(&["aaaaaaaaaa".into(), "bbbbbbbbbb".into()], &p, now()).unwrap();
        assert_eq!(gone, vec!["id-p".to_string()]);
        let pinned = [point("p", &["aaaaaaaaaa"], Some("forever"))];
        assert!(check_named(&["aaaaaaaaaa".into()], &pinned, now()).is_err());
    }
}
