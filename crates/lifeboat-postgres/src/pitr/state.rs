//! The state of one cluster in the repository: its base backups, its archived WAL, the
//! archive's end, its timeline histories and the archive's continuity.

use crate::error::{PgError, Result};
use crate::lsn::{parse_history, HistoryEntry, WalFileKind};
use crate::physical::{list_base_backups, PhysicalMeta};
use crate::plan::{check_continuity, ArchiveEnd, Continuity};
use crate::wal::WalArchive;
use lifeboat_core::error::Hint;
use lifeboat_core::Repository;
use std::collections::BTreeMap;

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
                    return Err(PgError::guided(
                        format!(
                            "the repository holds several PostgreSQL clusters ({}); say which one",
                            many.join(", ")
                        ),
                        Hint::SetOption {
                            option: "cluster",
                            value: None,
                        },
                    ))
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
            restore_points: Default::default(),
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
