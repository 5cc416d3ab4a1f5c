//! Which snapshots belong to a configured source, and the newest point the source can be
//! recovered to (the drill's RPO).
//!
//! Snapshots are matched by what they hold, not by a label, so backups taken from the command
//! line count as well as `backup --source` ones: a files source's snapshots have exactly its
//! paths; a command source's are stream snapshots of its stream name; a logical PostgreSQL
//! source's are dumps of the drilled database; a physical source's are base backups of its
//! cluster; a SQLite source's are SQLite snapshots of any of its database files.

use lifeboat_config::{PgDatabases, Source, SourceKind};
use lifeboat_core::snapshot::SnapshotEntry;
use lifeboat_core::Repository;
use lifeboat_postgres::logical::{LogicalMeta, SOURCE_LOGICAL};
use lifeboat_postgres::lsn::parse_wal_file_name;
use lifeboat_postgres::physical::PhysicalMeta;
use lifeboat_postgres::pitr::{cluster_state, continuity};
use lifeboat_postgres::wal::WalArchive;
use lifeboat_sqlite::SqliteMeta;
use std::path::Path;

/// The database named in a libpq connection string (`dbname=` or a URI's path), if any.
pub fn dsn_database(dsn: &str) -> Option<String> {
    dsn_field(dsn, "dbname")
}

/// The port named in a libpq connection string, if any.
pub fn dsn_port(dsn: &str) -> Option<u16> {
    dsn_field(dsn, "port").and_then(|p| p.parse().ok())
}

fn dsn_field(dsn: &str, key: &str) -> Option<String> {
    let lower = dsn.to_ascii_lowercase();
    for scheme in ["postgresql://", "postgres://"] {
        if lower.starts_with(scheme) {
            let rest = &dsn[scheme.len()..];
            let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
            for kv in query.split('&') {
                if let Some(v) = kv.strip_prefix(&format!("{key}=")) {
                    return Some(v.to_string());
                }
            }
            let (authority, path) = main.split_once('/').unwrap_or((main, ""));
            return match key {
                "dbname" => (!path.is_empty()).then(|| path.to_string()),
                "port" => authority
                    .rsplit_once(':')
                    .map(|(_, p)| p.to_string())
                    .filter(|p| p.chars().all(|c| c.is_ascii_digit())),
                _ => None,
            };
        }
    }
    dsn.split_whitespace().find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.trim_matches('\'').to_string())
    })
}

/// The database a logical source's drill restores: the drill's `database`, else the one the
/// source dumps (the DSN's, or the first named).
pub fn logical_database(source: &Source, drill_database: Option<&str>) -> Option<String> {
    if let Some(d) = drill_database {
        return Some(d.to_string());
    }
    match &source.kind {
        SourceKind::Postgres(pg) => match &pg.databases {
            PgDatabases::FromDsn => dsn_database(&pg.dsn),
            PgDatabases::Named(d) => d.first().cloned(),
            PgDatabases::All => None,
        },
        _ => None,
    }
}

fn paths_equal(snapshot_paths: &[String], source_paths: &[std::path::PathBuf]) -> bool {
    let mut a: Vec<String> = snapshot_paths.to_vec();
    let mut b: Vec<String> = source_paths
        .iter()
        .map(|p| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    for p in a.iter_mut() {
        *p = p.trim_end_matches('/').to_string();
    }
    a.sort();
    b.sort();
    a == b
}

/// The snapshots of `source` (oldest first). For a logical source: the dumps of `database`
/// (`None`: of any database but the globals).
pub fn snapshots_of(
    all: &[SnapshotEntry],
    source: &Source,
    database: Option<&str>,
) -> Vec<SnapshotEntry> {
    all.iter()
        .filter(|s| match &source.kind {
            SourceKind::Files(f) => {
                s.snapshot.source == "files" && paths_equal(&s.snapshot.paths, &f.paths)
            }
            SourceKind::Command(c) => {
                s.snapshot.source == "stream"
                    && s.snapshot
                        .stream
                        .as_ref()
                        .is_some_and(|st| st.name == c.stream_name)
            }
            SourceKind::Postgres(_) => {
                s.snapshot.source == SOURCE_LOGICAL
                    && LogicalMeta::from_snapshot(s).is_some_and(|m| {
                        match (&m.database, database) {
                            (Some(d), Some(want)) => d == want,
                            (Some(_), None) => true,
                            (None, _) => false,
                        }
                    })
            }
            SourceKind::PostgresPhysical(p) => {
                PhysicalMeta::from_snapshot(s).is_some_and(|m| m.cluster == p.cluster)
            }
            SourceKind::Sqlite(q) => SqliteMeta::from_snapshot(s).is_some_and(|m| {
                q.paths
                    .iter()
                    .any(|p| paths_equal(std::slice::from_ref(&m.path), std::slice::from_ref(p)))
            }),
        })
        .cloned()
        .collect()
}

/// The newest recoverable point of a source: its time and a description.
#[derive(Clone, Debug)]
pub struct NewestPoint {
    /// When.
    pub time: jiff::Timestamp,
    /// What it is (`snapshot 1a2b3c4d`, `WAL segment ... archived at ...`).
    pub what: String,
}

/// The newest point `source` can be recovered to: the newest snapshot's time, or for a
/// physical source the archive time of the newest WAL segment reachable without a gap from
/// the newest base backup (at least that backup's end).
pub fn newest_point(
    repo: &Repository,
    source: &Source,
    snapshots: &[SnapshotEntry],
) -> Result<Option<NewestPoint>, String> {
    let SourceKind::PostgresPhysical(p) = &source.kind else {
        return Ok(snapshots.last().map(|s| NewestPoint {
            time: s.snapshot.timestamp(),
            what: format!("snapshot {} of {}", s.short_id(), s.snapshot.time),
        }));
    };
    let Some(newest) = snapshots
        .iter()
        .filter_map(PhysicalMeta::from_snapshot)
        .max_by_key(|m| m.stop_lsn)
    else {
        return Ok(None);
    };
    let mut best = NewestPoint {
        time: newest.stop_timestamp(),
        what: format!(
            "the end of base backup at LSN {} ({})",
            newest.stop_lsn, newest.stop_time
        ),
    };
    let state = cluster_state(repo, Some(&p.cluster)).map_err(|e| e.to_string())?;
    let cont = continuity(repo, &state).map_err(|e| e.to_string())?;
    let start_seg = newest.start_lsn.segno(newest.wal_segment_size);
    // The first gap at or after the newest base backup's start bounds what is reachable.
    let first_gap = cont
        .gaps
        .iter()
        .filter_map(|g| parse_wal_file_name(&g.from, state.seg_size))
        .filter(|g| g.segno >= start_seg)
        .map(|g| g.segno)
        .min();
    let reachable = state
        .files
        .iter()
        .filter(|f| f.file.kind == lifeboat_postgres::lsn::WalFileKind::Segment)
        .filter(|f| first_gap.is_none_or(|gap| f.file.segno < gap))
        .max_by_key(|f| (f.file.segno, f.file.tli));
    if let Some(f) = reachable {
        let archive = WalArchive::from_repo(repo);
        let at = archive
            .header(&f.key)
            .map_err(|e| e.to_string())?
            .archived_at();
        if at > best.time {
            best = NewestPoint {
                time: at,
                what: format!(
                    "WAL segment {} archived at {at}{}",
                    f.file.name,
                    if first_gap.is_some() {
                        " (the newest before a gap in the archive)"
                    } else {
                        ""
                    }
                ),
            };
        }
    }
    Ok(Some(best))
}

/// True when `inner` is `outer` or lies below it (after resolving what exists of both).
pub fn is_within(inner: &Path, outer: &Path) -> bool {
    let resolve = |p: &Path| -> std::path::PathBuf {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        // Lexically first (a missing directory followed by `..`), then through the filesystem.
        let mut lexical = std::path::PathBuf::new();
        for c in abs.components() {
            match c {
                std::path::Component::ParentDir => {
                    lexical.pop();
                }
                std::path::Component::CurDir => {}
                other => lexical.push(other),
            }
        }
        let abs = lexical;
        // Canonicalize the longest existing prefix, keep the rest as written.
        let mut existing = abs.clone();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (
                existing.file_name().map(|n| n.to_os_string()),
                existing.parent(),
            ) {
                (Some(n), Some(parent)) => {
                    rest.push(n);
                    existing = parent.to_path_buf();
                }
                _ => break,
            }
        }
        let mut out = std::fs::canonicalize(&existing).unwrap_or(existing);
        for n in rest.into_iter().rev() {
            out.push(n);
        }
        out
    };
    resolve(inner).starts_with(resolve(outer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_fields_from_key_value_and_uri_forms() {
        assert_eq!(
            dsn_database("host=/tmp port=5433 dbname=shop").as_deref(),
            Some("shop")
        );
        assert_eq!(dsn_port("host=/tmp port=5433 dbname=shop"), Some(5433));
        assert_eq!(
            dsn_database("postgresql://u@h:5444/shop?sslmode=off").as_deref(),
            Some("shop")
        );
        assert_eq!(dsn_port("postgresql://u@h:5444/shop"), Some(5444));
        assert_eq!(dsn_database("host=/tmp"), None);
    }

    #[test]
    fn within_resolves_missing_tails_and_dot_dots() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        std::fs::create_dir(&data).unwrap();
        assert!(is_within(&data, &data));
        assert!(is_within(&data.join("x/y"), &data));
        assert!(is_within(&d.path().join("other/../data/z"), &data));
        assert!(!is_within(&d.path().join("scratch"), &data));
    }
}
