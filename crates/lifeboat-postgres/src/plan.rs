//! Pure planning functions: which base backup serves a recovery target, which WAL is missing,
//! which WAL may be expired. No I/O here, so every rule is unit-tested.

use crate::error::PgError;
use crate::lsn::{segment_end, segment_name, HistoryEntry, Lsn, WalFileKind, WalFileName};
use crate::physical::PhysicalMeta;
use lifeboat_core::error::Hint;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Where recovery should stop.
#[derive(Clone, Debug, PartialEq)]
pub enum RecoveryTarget {
    /// Stop before the first transaction that committed after this time.
    Time(jiff::Timestamp),
    /// Stop at this WAL position.
    Lsn(Lsn),
    /// Stop after this transaction id.
    Xid(u64),
    /// Stop at this named restore point (`pg_create_restore_point`).
    Name(String),
    /// Replay all archived WAL.
    Latest,
    /// Stop as soon as the base backup is consistent.
    Immediate,
}

impl RecoveryTarget {
    /// Human description.
    pub fn describe(&self) -> String {
        match self {
            RecoveryTarget::Time(t) => format!("time {t}"),
            RecoveryTarget::Lsn(l) => format!("LSN {l}"),
            RecoveryTarget::Xid(x) => format!("transaction {x}"),
            RecoveryTarget::Name(n) => format!("restore point '{n}'"),
            RecoveryTarget::Latest => "the end of the archived WAL".into(),
            RecoveryTarget::Immediate => "the end of the base backup (consistency)".into(),
        }
    }

    /// The `recovery_target*` settings (name, value) for postgresql.conf.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        match self {
            RecoveryTarget::Time(t) => vec![(
                "recovery_target_time",
                t.strftime("%Y-%m-%d %H:%M:%S%.6f+00").to_string(),
            )],
            RecoveryTarget::Lsn(l) => vec![("recovery_target_lsn", l.to_string())],
            RecoveryTarget::Xid(x) => vec![("recovery_target_xid", x.to_string())],
            RecoveryTarget::Name(n) => vec![("recovery_target_name", n.clone())],
            RecoveryTarget::Latest => vec![],
            RecoveryTarget::Immediate => vec![("recovery_target", "immediate".into())],
        }
    }
}

/// What the archive holds at its end.
#[derive(Clone, Debug, Default)]
pub struct ArchiveEnd {
    /// Newest complete segment: (timeline, segment number, name).
    pub newest_segment: Option<(u32, u64, String)>,
    /// When it was archived.
    pub newest_archived_at: Option<jiff::Timestamp>,
    /// Named restore points whose position is known (lifeboat's restore points record the LSN
    /// `pg_create_restore_point` returned): name → LSN. A `Name` target found here is planned
    /// like an LSN target.
    pub restore_points: BTreeMap<String, Lsn>,
}

/// A named restore point of a cluster whose WAL position is known (recorded by a lifeboat
/// restore point when it called `pg_create_restore_point`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownRestorePoint {
    /// The cluster's name in the repository.
    pub cluster: String,
    /// The restore point's name.
    pub name: String,
    /// Where `pg_create_restore_point` wrote it.
    pub lsn: Lsn,
}

/// The chosen base backup.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Snapshot id.
    pub snapshot_id: String,
    /// Its metadata.
    pub meta: PhysicalMeta,
    /// Remarks for the operator.
    pub notes: Vec<String>,
}

/// Chooses the base backup for `target`: the newest one that ended before it — for time and LSN
/// targets; for a restore point whose LSN is known ([`ArchiveEnd::restore_points`]); for a
/// transaction id at or above a backup's [`PhysicalMeta::next_xid`] (every such transaction
/// began, so committed, after that backup ended) — else the oldest (the position of an unknown
/// name or an older transaction is not known in advance), the newest for `Latest` and
/// `Immediate`. `explicit` forces a snapshot id.
/// Errors (before anything is written) when the target lies before the oldest backup's end or
/// after the newest archived WAL, or the archive lacks the chosen backup's WAL: a
/// [`PgError::Plan`], or a [`PgError::Core`] with guidance where changing the request helps.
pub fn plan_restore(
    backups: &[(String, PhysicalMeta)],
    target: &RecoveryTarget,
    archive: &ArchiveEnd,
    explicit: Option<&str>,
) -> Result<Plan, PgError> {
    let latest = || Hint::SetOption {
        option: "latest",
        value: None,
    };
    let empty_archive = || {
        PgError::Plan("the WAL archive of this cluster is empty: nothing to recover with".into())
    };
    if backups.is_empty() {
        return Err(PgError::guided(
            "no physical base backup of this cluster in the repository; take one first",
            Hint::RunOperation {
                operation: "backup postgres --physical",
            },
        ));
    }
    let mut sorted: Vec<&(String, PhysicalMeta)> = backups.iter().collect();
    sorted.sort_by_key(|(_, m)| (m.stop_lsn, m.stop_timestamp()));
    let oldest = sorted[0];
    let newest = sorted[sorted.len() - 1];
    let mut notes = Vec::new();
    let all_self_contained = sorted.iter().all(|(_, m)| m.wal_included);
    // Is the target inside the archive?
    match target {
        RecoveryTarget::Time(t) => {
            if *t < oldest.1.stop_timestamp() {
                return Err(PgError::Plan(format!(
                    "target time {t} is before the end of the oldest base backup ({} ended {}); the earliest time that can be restored is {}",
                    &oldest.0[..8.min(oldest.0.len())],
                    oldest.1.stop_time,
                    oldest.1.stop_time
                )));
            }
            if !all_self_contained {
                match archive.newest_archived_at {
                    Some(a) if *t > a => {
                        return Err(PgError::guided(format!(
                            "target time {t} is after the newest archived WAL ({} archived at {a}): the WAL for that time is not in the archive yet. Wait for the next segment to be archived (or run `SELECT pg_switch_wal()` on the server), or recover to the end of the archive",
                            archive.newest_segment.as_ref().map(|s| s.2.as_str()).unwrap_or("?")
                        ), latest()))
                    }
                    None => return Err(empty_archive()),
                    _ => {}
                }
            }
        }
        RecoveryTarget::Lsn(l) => {
            if *l < oldest.1.stop_lsn {
                return Err(PgError::Plan(format!(
                    "target LSN {l} is before the end of the oldest base backup ({} ended at {}); the earliest restorable LSN is {}",
                    &oldest.0[..8.min(oldest.0.len())],
                    oldest.1.stop_lsn,
                    oldest.1.stop_lsn
                )));
            }
            if !all_self_contained {
                let seg = newest.1.wal_segment_size;
                match &archive.newest_segment {
                    Some((_, segno, name)) if *l > segment_end(*segno, seg) => {
                        return Err(PgError::guided(format!(
                            "target LSN {l} is after the newest archived WAL (segment {name} ends at {}); wait for archiving, or recover to the end of the archive",
                            segment_end(*segno, seg)
                        ), latest()))
                    }
                    None => return Err(empty_archive()),
                    _ => {}
                }
            }
        }
        RecoveryTarget::Name(n) => {
            if let Some(l) = archive.restore_points.get(n) {
                if *l < oldest.1.stop_lsn {
                    return Err(PgError::Plan(format!(
                        "restore point '{n}' (at LSN {l}) is before the end of the oldest base backup ({} ended at {}); no base backup in the repository can recover to it",
                        &oldest.0[..8.min(oldest.0.len())],
                        oldest.1.stop_lsn
                    )));
                }
            }
        }
        _ => {}
    }
    let chosen: &(String, PhysicalMeta) = if let Some(id) = explicit {
        let c = sorted.iter().find(|(sid, _)| sid == id).ok_or_else(|| {
            PgError::Plan(format!(
                "snapshot {id} is not a physical base backup of this cluster"
            ))
        })?;
        let let_lifeboat_choose = || Hint::DropOption { option: "snapshot" };
        match target {
            RecoveryTarget::Time(t) if *t < c.1.stop_timestamp() => {
                return Err(PgError::guided(format!(
                    "target time {t} is before the end of the chosen base backup ({}); choose an older one, or let lifeboat choose",
                    c.1.stop_time
                ), let_lifeboat_choose()))
            }
            RecoveryTarget::Lsn(l) if *l < c.1.stop_lsn => {
                return Err(PgError::guided(format!(
                    "target LSN {l} is before the end of the chosen base backup ({}); choose an older one, or let lifeboat choose",
                    c.1.stop_lsn
                ), let_lifeboat_choose()))
            }
            _ => {}
        }
        c
    } else {
        match target {
            RecoveryTarget::Time(t) => sorted
                .iter()
                .rev()
                .find(|(_, m)| m.stop_timestamp() <= *t)
                .expect("checked against the oldest"),
            RecoveryTarget::Lsn(l) => sorted
                .iter()
                .rev()
                .find(|(_, m)| m.stop_lsn <= *l)
                .expect("checked against the oldest"),
            RecoveryTarget::Name(n) if archive.restore_points.contains_key(n) => {
                let l = archive.restore_points[n];
                sorted
                    .iter()
                    .rev()
                    .find(|(_, m)| m.stop_lsn <= l)
                    .expect("checked against the oldest")
            }
            RecoveryTarget::Xid(x) if sorted.iter().any(|(_, m)| xid_after(m, *x)) => sorted
                .iter()
                .rev()
                .find(|(_, m)| xid_after(m, *x))
                .expect("checked"),
            RecoveryTarget::Xid(_) | RecoveryTarget::Name(_) => {
                notes.push(format!(
                    "the position of {} is not known in advance, so the oldest base backup was chosen (name a snapshot to start from a newer one)",
                    target.describe()
                ));
                oldest
            }
            RecoveryTarget::Latest | RecoveryTarget::Immediate => newest,
        }
    };
    let m = &chosen.1;
    if !m.wal_included {
        let stop_segno = m.stop_lsn.segno(m.wal_segment_size);
        match &archive.newest_segment {
            Some((_, segno, _)) if *segno >= stop_segno => {}
            _ => {
                return Err(PgError::guided(
                    format!(
                        "the archive does not reach the end of base backup {} (needs WAL up to {}); check the archive's continuity",
                        &chosen.0[..8.min(chosen.0.len())],
                        m.wal_stop_segment
                    ),
                    Hint::RunOperation {
                        operation: "wal verify",
                    },
                ))
            }
        }
    }
    Ok(Plan {
        snapshot_id: chosen.0.clone(),
        meta: m.clone(),
        notes,
    })
}

/// True when transaction `xid` began after base backup `m` ended (`xid` at or above the
/// backup's recorded next transaction id). A 32-bit `xid` (what `recovery_target_xid` usually
/// gets) is read in the epoch of the backup's next id.
fn xid_after(m: &PhysicalMeta, xid: u64) -> bool {
    let Some(next) = m.next_xid else {
        return false;
    };
    let full = if xid >> 32 == 0 {
        (next & !0xffff_ffff) | xid
    } else {
        xid
    };
    full >= next
}

/// A run of consecutive archived segments.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SegmentRange {
    /// First segment name.
    pub first: String,
    /// Last segment name.
    pub last: String,
    /// Number of segments.
    pub count: u64,
}

/// Archived segments of one timeline.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TimelineReport {
    /// Timeline.
    pub timeline: u32,
    /// Runs of consecutive segments.
    pub ranges: Vec<SegmentRange>,
    /// Partial segments (`.partial`).
    pub partial: Vec<String>,
    /// True when the timeline's history file is archived (always true for timeline 1).
    pub history: bool,
}

/// Missing segments that recovery needs.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Gap {
    /// Timeline.
    pub timeline: u32,
    /// First missing segment.
    pub from: String,
    /// Last missing segment.
    pub to: String,
    /// Number of missing segments.
    pub missing: u64,
}

/// Result of checking an archive's continuity.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Default)]
pub struct Continuity {
    /// Per timeline.
    pub timelines: Vec<TimelineReport>,
    /// Gaps on the path from the oldest base backup to the newest segment.
    pub gaps: Vec<Gap>,
    /// Other problems (missing history files, ...).
    pub problems: Vec<String>,
}

fn runs(set: &BTreeSet<u64>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &s in set {
        match out.last_mut() {
            Some((_, hi)) if *hi + 1 == s => *hi = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// Checks continuity: reports runs per timeline and every gap on the path recovery takes
/// from `oldest_backup_start` (timeline, segment) to the newest segment of the newest timeline,
/// following the newest timeline's history (`histories[tli]` = parsed history file of `tli`).
pub fn check_continuity(
    files: &[WalFileName],
    histories: &BTreeMap<u32, Vec<HistoryEntry>>,
    oldest_backup_start: Option<(u32, u64)>,
    seg_size: u64,
) -> Continuity {
    let mut segs: BTreeMap<u32, BTreeSet<u64>> = BTreeMap::new();
    let mut partial: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut history_files: BTreeSet<u32> = BTreeSet::new();
    for f in files {
        match f.kind {
            WalFileKind::Segment => {
                segs.entry(f.tli).or_default().insert(f.segno);
            }
            WalFileKind::Partial => partial.entry(f.tli).or_default().push(f.name.clone()),
            WalFileKind::History => {
                history_files.insert(f.tli);
            }
            WalFileKind::BackupHistory => {}
        }
    }
    let mut report = Continuity::default();
    let all_tlis: BTreeSet<u32> = segs.keys().chain(partial.keys()).copied().collect();
    for &tli in &all_tlis {
        report.timelines.push(TimelineReport {
            timeline: tli,
            ranges: segs
                .get(&tli)
                .map(|s| {
                    runs(s)
                        .into_iter()
                        .map(|(a, b)| SegmentRange {
                            first: segment_name(tli, a, seg_size),
                            last: segment_name(tli, b, seg_size),
                            count: b - a + 1,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            partial: partial.get(&tli).cloned().unwrap_or_default(),
            history: tli == 1 || history_files.contains(&tli),
        });
    }
    let Some(&newest) = segs.keys().max() else {
        if oldest_backup_start.is_some() {
            report.problems.push("no WAL segment is archived".into());
        }
        return report;
    };
    // The path: (timeline, from segno (inclusive), to segno (inclusive)); None = open end.
    let mut chain: Vec<(u32, Option<u64>, Option<u64>)> = Vec::new();
    if newest > 1 && !histories.contains_key(&newest) {
        report.problems.push(format!(
            "the history file of timeline {newest} ({newest:08X}.history) is not archived; recovery cannot follow that timeline"
        ));
    }
    let mut from = None;
    for e in histories.get(&newest).map(|v| v.as_slice()).unwrap_or(&[]) {
        let switch = e.switch.segno(seg_size);
        chain.push((e.parent, from, Some(switch.wrapping_sub(1))));
        if switch == 0 {
            chain.pop();
        }
        from = Some(switch);
    }
    chain.push((newest, from, None));
    if let Some((btli, bseg)) = oldest_backup_start {
        match chain.iter().position(|(t, lo, hi)| {
            *t == btli && lo.is_none_or(|l| bseg >= l) && hi.is_none_or(|h| bseg <= h)
        }) {
            Some(i) => {
                chain.drain(..i);
                chain[0].1 = Some(bseg);
            }
            None => report.problems.push(format!(
                "the oldest base backup starts at {} on timeline {btli}, which is not on the history of the newest timeline {newest}",
                segment_name(btli, bseg, seg_size)
            )),
        }
    }
    let empty = BTreeSet::new();
    for (tli, lo, hi) in chain {
        let have = segs.get(&tli).unwrap_or(&empty);
        let lo = match lo.or_else(|| have.iter().next().copied()) {
            Some(l) => l,
            None => continue,
        };
        let hi = match hi.or_else(|| have.iter().next_back().copied()) {
            Some(h) => h,
            None => continue,
        };
        if hi < lo {
            continue;
        }
        let mut missing: BTreeSet<u64> = BTreeSet::new();
        // Iterate over what is present to keep this cheap for long ranges.
        let mut expect = lo;
        for &s in have.range(lo..=hi) {
            for m in expect..s {
                missing.insert(m);
            }
            expect = s + 1;
        }
        for m in expect..=hi {
            missing.insert(m);
        }
        for (a, b) in runs(&missing) {
            report.gaps.push(Gap {
                timeline: tli,
                from: segment_name(tli, a, seg_size),
                to: segment_name(tli, b, seg_size),
                missing: b - a + 1,
            });
        }
    }
    report
}

/// The WAL files that no kept base backup needs: segments, partial segments and backup history
/// files below the oldest kept backup's start segment. History files are always kept. With no
/// base backup at all nothing is expired (the WAL may belong to a backup still running).
pub fn expire_candidates<'a>(
    files: &'a [WalFileName],
    kept_backup_starts: &[u64],
) -> Vec<&'a WalFileName> {
    let Some(&keep_from) = kept_backup_starts.iter().min() else {
        return Vec::new();
    };
    files
        .iter()
        .filter(|f| f.kind != WalFileKind::History && f.segno < keep_from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsn::parse_wal_file_name;

    const SEG: u64 = 16 << 20;

    fn meta(stop_lsn: &str, stop_time: &str, start_lsn: &str) -> PhysicalMeta {
        let start: Lsn = start_lsn.parse().unwrap();
        let stop: Lsn = stop_lsn.parse().unwrap();
        PhysicalMeta {
            kind: "physical".into(),
            cluster: "main".into(),
            system_identifier: "42".into(),
            server_version: "15.4".into(),
            server_version_num: 150004,
            wal_segment_size: SEG,
            timeline: 1,
            start_lsn: start,
            checkpoint_lsn: None,
            stop_lsn: stop,
            stop_timeline: 1,
            start_time: stop_time.into(),
            stop_time: stop_time.into(),
            wal_start_segment: segment_name(1, start.segno(SEG), SEG),
            wal_stop_segment: segment_name(1, stop.segno(SEG), SEG),
            label: String::new(),
            format: "tar".into(),
            wal_included: false,
            tablespaces: Vec::new(),
            next_xid: None,
        }
    }

    #[test]
    fn xid_targets_start_from_the_newest_backup_that_ended_before_the_transaction_began() {
        let a = archive(20, "2026-11-01T13:00:00Z");
        let mut b = backups();
        b[0].1.next_xid = Some(1000);
        b[1].1.next_xid = Some(5000);
        let pick = |b: &[(String, PhysicalMeta)], x: u64| {
            plan_restore(b, &RecoveryTarget::Xid(x), &a, None).unwrap()
        };
        assert_eq!(pick(&b, 7000).snapshot_id, "bbbb2222");
        assert_eq!(pick(&b, 5000).snapshot_id, "bbbb2222");
        assert_eq!(pick(&b, 4999).snapshot_id, "aaaa1111");
        assert!(pick(&b, 4999).notes.is_empty());
        // Begun before every backup ended: its commit may still lie after the oldest's end.
        let p = pick(&b, 10);
        assert_eq!(p.snapshot_id, "aaaa1111");
        assert!(!p.notes.is_empty());
        // A 32-bit id is read in the backups' epoch.
        b[1].1.next_xid = Some((3 << 32) | 5000);
        assert_eq!(pick(&b, 6000).snapshot_id, "bbbb2222");
        assert_eq!(pick(&b, (3 << 32) | 6000).snapshot_id, "bbbb2222");
        // Backups without the recorded id fall back to the oldest.
        assert_eq!(
            plan_restore(&backups(), &RecoveryTarget::Xid(7000), &a, None)
                .unwrap()
                .snapshot_id,
            "aaaa1111"
        );
    }

    #[test]
    fn known_restore_points_start_from_the_newest_backup_before_them() {
        let mut a = archive(20, "2026-11-01T13:00:00Z");
        a.restore_points
            .insert("late".into(), "0/9000000".parse().unwrap());
        a.restore_points
            .insert("early".into(), "0/5000000".parse().unwrap());
        a.restore_points
            .insert("ancient".into(), "0/1000000".parse().unwrap());
        let pick = |n: &str| plan_restore(&backups(), &RecoveryTarget::Name(n.into()), &a, None);
        let late = pick("late").unwrap();
        assert_eq!(late.snapshot_id, "bbbb2222");
        assert!(late.notes.is_empty());
        assert_eq!(pick("early").unwrap().snapshot_id, "aaaa1111");
        let e = pick("ancient").unwrap_err().to_string();
        assert!(
            e.contains("before the end of the oldest base backup"),
            "{e}"
        );
        // A name lifeboat did not record: the oldest, with a note.
        let unknown = pick("made by hand").unwrap();
        assert_eq!(unknown.snapshot_id, "aaaa1111");
        assert!(!unknown.notes.is_empty());
    }

    fn backups() -> Vec<(String, PhysicalMeta)> {
        vec![
            (
                "aaaa1111".into(),
                meta("0/3000100", "2026-11-01T10:00:00Z", "0/3000028"),
            ),
            (
                "bbbb2222".into(),
                meta("0/8000100", "2026-11-01T12:00:00Z", "0/8000028"),
            ),
        ]
    }

    fn archive(newest: u64, at: &str) -> ArchiveEnd {
        ArchiveEnd {
            newest_segment: Some((1, newest, segment_name(1, newest, SEG))),
            newest_archived_at: Some(at.parse().unwrap()),
            restore_points: BTreeMap::new(),
        }
    }

    #[test]
    fn picks_newest_backup_ending_before_target() {
        let a = archive(0x20, "2026-11-01T13:00:00Z");
        let t = |s: &str| RecoveryTarget::Time(s.parse().unwrap());
        assert_eq!(
            plan_restore(&backups(), &t("2026-11-01T11:00:00Z"), &a, None)
                .unwrap()
                .snapshot_id,
            "aaaa1111"
        );
        assert_eq!(
            plan_restore(&backups(), &t("2026-11-01T12:00:00Z"), &a, None)
                .unwrap()
                .snapshot_id,
            "bbbb2222"
        );
        assert_eq!(
            plan_restore(&backups(), &t("2026-11-01T12:30:00Z"), &a, None)
                .unwrap()
                .snapshot_id,
            "bbbb2222"
        );
        let lsn = |s: &str| RecoveryTarget::Lsn(s.parse().unwrap());
        assert_eq!(
            plan_restore(&backups(), &lsn("0/7000000"), &a, None)
                .unwrap()
                .snapshot_id,
            "aaaa1111"
        );
        assert_eq!(
            plan_restore(&backups(), &lsn("0/9000000"), &a, None)
                .unwrap()
                .snapshot_id,
            "bbbb2222"
        );
        assert_eq!(
            plan_restore(&backups(), &RecoveryTarget::Latest, &a, None)
                .unwrap()
                .snapshot_id,
            "bbbb2222"
        );
        let p = plan_restore(&backups(), &RecoveryTarget::Name("x".into()), &a, None).unwrap();
        assert_eq!(p.snapshot_id, "aaaa1111");
        assert!(!p.notes.is_empty());
        assert_eq!(
            plan_restore(&backups(), &RecoveryTarget::Xid(5), &a, Some("bbbb2222"))
                .unwrap()
                .snapshot_id,
            "bbbb2222"
        );
    }

    #[test]
    fn refuses_targets_outside_the_archive() {
        let a = archive(0x20, "2026-11-01T13:00:00Z");
        let t = |s: &str| RecoveryTarget::Time(s.parse().unwrap());
        let e = plan_restore(&backups(), &t("2026-11-01T09:00:00Z"), &a, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("before the end of the oldest base backup"),
            "{e}"
        );
        let e = plan_restore(&backups(), &t("2026-11-01T14:00:00Z"), &a, None).unwrap_err();
        assert!(
            e.to_string().contains("after the newest archived WAL"),
            "{e}"
        );
        assert_eq!(
            e.hint(),
            Some(Hint::SetOption {
                option: "latest",
                value: None
            })
        );
        let e = plan_restore(
            &backups(),
            &RecoveryTarget::Lsn("0/21000001".parse().unwrap()),
            &a,
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("after the newest archived WAL"),
            "{e}"
        );
        let e = plan_restore(
            &backups(),
            &RecoveryTarget::Lsn("0/1000000".parse().unwrap()),
            &a,
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("before the end of the oldest"),
            "{e}"
        );
        let e =
            plan_restore(&backups(), &t("2026-11-01T11:00:00Z"), &a, Some("bbbb2222")).unwrap_err();
        assert!(e.to_string().contains("chosen base backup"), "{e}");
        assert_eq!(e.hint(), Some(Hint::DropOption { option: "snapshot" }));
        assert!(plan_restore(&[], &RecoveryTarget::Latest, &a, None).is_err());
        // The archive must reach the backup's end.
        let short = archive(0x7, "2026-11-01T13:00:00Z");
        let e = plan_restore(&backups(), &RecoveryTarget::Latest, &short, None).unwrap_err();
        assert!(e.to_string().contains("does not reach"), "{e}");
        assert_eq!(
            e.hint(),
            Some(Hint::RunOperation {
                operation: "wal verify"
            })
        );
    }

    fn names(v: &[&str]) -> Vec<WalFileName> {
        v.iter()
            .map(|n| parse_wal_file_name(n, SEG).unwrap())
            .collect()
    }

    #[test]
    fn continuity_single_timeline() {
        let files = names(&[
            "000000010000000000000002",
            "000000010000000000000003",
            "000000010000000000000005",
            "000000010000000000000006",
        ]);
        let c = check_continuity(&files, &BTreeMap::new(), Some((1, 2)), SEG);
        assert_eq!(c.timelines[0].ranges.len(), 2);
        assert_eq!(
            c.gaps,
            vec![Gap {
                timeline: 1,
                from: "000000010000000000000004".into(),
                to: "000000010000000000000004".into(),
                missing: 1
            }]
        );
        // A backup starting at segment 1, which is missing, is a gap too.
        let c = check_continuity(&files, &BTreeMap::new(), Some((1, 1)), SEG);
        assert_eq!(c.gaps.len(), 2);
        // Nothing before the backup start matters.
        let c = check_continuity(&files, &BTreeMap::new(), Some((1, 5)), SEG);
        assert!(c.gaps.is_empty());
    }

    #[test]
    fn continuity_follows_timeline_history() {
        // Timeline 2 branched at 0/5000000 (segment 5): timeline 1 is needed up to 4.
        let files = names(&[
            "000000010000000000000003",
            "000000010000000000000004",
            "000000010000000000000005",
            "000000010000000000000005.partial",
            "00000002.history",
            "000000020000000000000005",
            "000000020000000000000007",
        ]);
        let mut h = BTreeMap::new();
        h.insert(
            2,
            vec![HistoryEntry {
                parent: 1,
                switch: "0/5000000".parse().unwrap(),
            }],
        );
        let c = check_continuity(&files, &h, Some((1, 3)), SEG);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(
            c.gaps,
            vec![Gap {
                timeline: 2,
                from: "000000020000000000000006".into(),
                to: "000000020000000000000006".into(),
                missing: 1
            }]
        );
        // Without the history file, the problem is reported.
        let c = check_continuity(&files, &BTreeMap::new(), Some((1, 3)), SEG);
        assert!(!c.problems.is_empty());
    }

    #[test]
    fn expiry_keeps_what_backups_need() {
        let files = names(&[
            "00000002.history",
            "000000010000000000000001",
            "000000010000000000000002",
            "000000010000000000000002.00000028.backup",
            "000000010000000000000003",
            "000000020000000000000004",
        ]);
        let gone: Vec<&str> = expire_candidates(&files, &[3, 4])
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            gone,
            vec![
                "000000010000000000000001",
                "000000010000000000000002",
                "000000010000000000000002.00000028.backup"
            ]
        );
        assert!(expire_candidates(&files, &[]).is_empty());
    }
}
