//! Physical restore: choose the base backup for the target, check the target and tablespace
//! directories, unpack, write the recovery settings, hand the files to the `--run-as` user and
//! optionally start the temporary server.

use super::server::{start_and_wait, StartOptions, StartReport};
use super::settings::{recovery_settings, write_recovery_settings};
use super::state::cluster_state;
use super::unpack::unpack_base_backup;
use super::user::{chown_tree, lookup_user};
use crate::error::{PgError, Result};
use crate::physical::PhysicalMeta;
use crate::plan::{plan_restore, KnownRestorePoint, RecoveryTarget};
use lifeboat_core::error::Hint;
use lifeboat_core::Repository;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    /// Restore points whose positions are known: a `Name` target found among them (for the
    /// restored cluster) starts from the newest base backup that ended before it.
    pub known_points: Vec<KnownRestorePoint>,
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

/// The first position of restore point `name` in the WAL archived since the oldest base backup
/// started (a name created with `pg_create_restore_point` by hand, not by a lifeboat restore
/// point, whose position is recorded): the LSN and the segment holding it.
fn find_in_archive(
    repo: &Repository,
    state: &super::state::ClusterState,
    name: &str,
) -> Result<Option<(crate::lsn::Lsn, String)>> {
    let Some(from) = state
        .backups
        .iter()
        .map(|(_, m)| m.start_lsn.segno(state.seg_size))
        .min()
    else {
        return Ok(None);
    };
    let archive = crate::wal::WalArchive::from_repo(repo);
    archive.first_restore_point(state.sysid, &state.files, name, from)
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
    let mut end = state.end.clone();
    end.restore_points = opts
        .known_points
        .iter()
        .filter(|p| p.cluster == state.cluster)
        .map(|p| (p.name.clone(), p.lsn))
        .collect();
    let mut found_note = None;
    if let RecoveryTarget::Name(n) = &opts.target {
        if explicit.is_none() && !end.restore_points.contains_key(n) {
            if let Some((lsn, segment)) = find_in_archive(repo, &state, n)? {
                end.restore_points.insert(n.clone(), lsn);
                found_note = Some(format!(
                    "restore point '{n}' was found in archived WAL segment {segment} at LSN {lsn}"
                ));
            }
        }
    }
    let mut plan = plan_restore(&state.backups, &opts.target, &end, explicit.as_deref())?;
    plan.notes.extend(found_note);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let run_as = match &opts.start {
        Some(st) if root => {
            let name = st.run_as.as_deref().unwrap_or("postgres");
            let run_as = || Hint::SetOption {
                option: "run_as",
                value: None,
            };
            let user = lookup_user(name).ok_or_else(|| {
                PgError::guided(
                    format!(
                        "PostgreSQL refuses to run as root, and there is no user '{name}' to start the restored server as; name the operating-system user PostgreSQL runs as"
                    ),
                    run_as(),
                )
            })?;
            if user.uid == 0 {
                return Err(PgError::guided(
                    format!(
                        "user '{name}' is root, and PostgreSQL refuses to run as root; name an unprivileged user to start the restored server as"
                    ),
                    run_as(),
                ));
            }
            Some(user)
        }
        Some(st) if st.run_as.is_some() => {
            return Err(PgError::guided(
                "starting the restored server as another user needs lifeboat to run as root; without root the server runs as you",
                Hint::DropOption { option: "run_as" },
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
    let settings = recovery_settings(
        &opts.target,
        &opts.restore_command,
        plan.meta.wal_included,
        opts.exclusive,
        opts.archive_off,
    );
    write_recovery_settings(&dir, &settings, &plan.snapshot_id, &opts.target)?;
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

/// The hint to restore tablespace `oid` elsewhere.
fn map_tablespace(oid: &str) -> Hint {
    Hint::SetOption {
        option: "tablespace_map",
        value: Some(format!("{oid}=DIR")),
    }
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
            let hint = match known.first() {
                Some(k) => map_tablespace(k),
                None => Hint::DropOption {
                    option: "tablespace_map",
                },
            };
            return Err(PgError::guided(
                format!(
                    "the tablespace map names OID {oid}, but the base backup has no tablespace with OID {oid} (its tablespaces: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
                hint,
            ));
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
            ""
        } else {
            " (its original location)"
        };
        if !dest.is_absolute() || dest.starts_with(&target) || target.starts_with(&dest) {
            return Err(PgError::guided(
                format!(
                    "tablespace {} cannot be restored to {}{how}: it needs an absolute directory outside the target directory",
                    t.oid,
                    dest.display()
                ),
                map_tablespace(&t.oid),
            ));
        }
        if std::fs::read_dir(&dest).is_ok_and(|mut rd| rd.next().is_some()) {
            return Err(PgError::guided(
                format!(
                    "tablespace {} would be restored to {}, which is not empty{how}; restore it to an empty or missing directory",
                    t.oid,
                    dest.display()
                ),
                map_tablespace(&t.oid),
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_with_tablespace(oid: &str, path: &Path) -> PhysicalMeta {
        serde_json::from_value(serde_json::json!({
            "kind": "physical",
            "cluster": "main",
            "system_identifier": "42",
            "server_version": "16.2",
            "server_version_num": 160002,
            "wal_segment_size": 16777216,
            "timeline": 1,
            "start_lsn": "0/3000028",
            "checkpoint_lsn": null,
            "stop_lsn": "0/3000100",
            "stop_timeline": 1,
            "start_time": "2026-11-01T10:00:00Z",
            "stop_time": "2026-11-01T10:00:01Z",
            "wal_start_segment": "000000010000000000000003",
            "wal_stop_segment": "000000010000000000000003",
            "label": "",
            "format": "files",
            "wal_included": false,
            "tablespaces": [{"oid": oid, "path": path.to_str().unwrap()}],
        }))
        .unwrap()
    }

    fn opts(target: &Path, map: &[(&str, &Path)]) -> PhysicalRestoreOptions {
        PhysicalRestoreOptions {
            target_dir: target.to_path_buf(),
            target: RecoveryTarget::Latest,
            snapshot: None,
            cluster: None,
            restore_command: String::new(),
            archive_off: true,
            exclusive: false,
            start: None,
            tablespace_map: map
                .iter()
                .map(|(o, d)| (o.to_string(), d.to_path_buf()))
                .collect(),
            known_points: Vec::new(),
        }
    }

    #[test]
    fn tablespace_refusals_say_what_to_map() {
        let tmp = tempfile::tempdir().unwrap();
        let original = tmp.path().join("ts");
        std::fs::create_dir(&original).unwrap();
        std::fs::write(original.join("PG_16"), "in use").unwrap();
        let meta = meta_with_tablespace("16385", &original);
        let target = tmp.path().join("data");

        // The original location is in use.
        let e = tablespace_destinations(&meta, &opts(&target, &[])).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("not empty") && !text.contains("--"), "{text}");
        assert_eq!(
            e.hint(),
            Some(Hint::SetOption {
                option: "tablespace_map",
                value: Some("16385=DIR".into())
            })
        );

        // A mapping for a tablespace the backup does not have.
        let elsewhere = tmp.path().join("elsewhere");
        let e =
            tablespace_destinations(&meta, &opts(&target, &[("99999", &elsewhere)])).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("no tablespace with OID 99999"), "{text}");
        assert!(!text.contains("--"), "{text}");
        assert_eq!(
            e.hint(),
            Some(Hint::SetOption {
                option: "tablespace_map",
                value: Some("16385=DIR".into())
            })
        );

        // Mapped to an empty directory: accepted.
        let spaces =
            tablespace_destinations(&meta, &opts(&target, &[("16385", &elsewhere)])).unwrap();
        assert_eq!(spaces[0].path, elsewhere.to_str().unwrap());
    }
}
