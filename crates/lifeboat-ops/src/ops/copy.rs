//! `copy`: replicate snapshots (and the data they reference) into another repository, and
//! with them the WAL archive of the clusters whose physical base backups were copied.

use crate::modes::{self, Operation};
use crate::record::{Recorder, FIRST};
use crate::{journaled, Context, Result};
use lifeboat_core::copy::CopyReport;
use lifeboat_core::Repository;
use lifeboat_postgres::physical::PhysicalMeta;
use lifeboat_postgres::wal::{WalArchive, WalCopyReport};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What to copy.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CopyRequest {
    /// Snapshots (id, unique prefix or `latest`); empty: all.
    pub snapshots: Vec<String>,
    /// Copy the WAL archive of the clusters whose physical base backups are copied (so the
    /// destination can restore to any point in time on its own).
    pub wal: bool,
}

impl Default for CopyRequest {
    fn default() -> Self {
        CopyRequest {
            snapshots: Vec::new(),
            wal: true,
        }
    }
}

/// What a copy did.
#[derive(Clone, Debug, Serialize)]
pub struct CopyOutcome {
    /// The snapshots.
    #[serde(flatten)]
    pub report: CopyReport,
    /// The WAL archives copied along.
    pub wal: Vec<WalCopyReport>,
}

/// Copies snapshots of `src` into `dst`; journaled in both (`role` source / destination).
pub fn copy(
    ctx: &Context,
    src: &Repository,
    dst: &Repository,
    req: &CopyRequest,
) -> Result<CopyOutcome> {
    let mut rec = Recorder::new(ctx, "copy");
    rec.list("snapshots", &req.snapshots);
    rec.add_with(
        src,
        BTreeMap::from([
            ("role".to_string(), "source".to_string()),
            ("to".to_string(), dst.storage().location()),
        ]),
    );
    let to = rec.add_with(
        dst,
        BTreeMap::from([
            ("role".to_string(), "destination".to_string()),
            ("from".to_string(), src.storage().location()),
        ]),
    );
    journaled(ctx, rec, |rec| {
        modes::require(src, Operation::CopyFrom)?;
        modes::require(dst, Operation::CopyInto)?;
        let snapshots = if req.snapshots.is_empty() {
            src.snapshots()?
        } else {
            req.snapshots
                .iter()
                .map(|s| src.find_snapshot(s))
                .collect::<lifeboat_core::Result<Vec<_>>>()?
        };
        let report = lifeboat_core::copy::copy(src, dst, &snapshots, ctx.progress.clone())?;
        for s in report.snapshots.iter().filter(|s| !s.skipped) {
            rec.affected(FIRST, &s.source);
            rec.affected(to, &s.destination);
        }
        // A base backup alone restores only to its end; the archive makes the copy
        // PITR-capable.
        let mut wal = Vec::new();
        if req.wal {
            let clusters: BTreeSet<String> = snapshots
                .iter()
                .filter_map(|s| PhysicalMeta::from_snapshot(s).map(|m| m.cluster))
                .collect();
            let (from, into) = (WalArchive::from_repo(src), WalArchive::from_repo(dst));
            for c in clusters {
                ctx.cancel_token().check("copy")?;
                wal.push(from.copy_to(&into, &c).map_err(|e| {
                    crate::OpsError::from(e).during(format!(
                        "copying the WAL archive of cluster '{c}' (the snapshots were copied; rerun copy to retry the WAL)"
                    ))
                })?);
            }
        }
        let skipped = report.snapshots.len() - report.copied();
        let wal_copied: u64 = wal.iter().map(|w| w.copied).sum();
        rec.note(format!(
            "{} copied, {skipped} already there{}",
            report.copied(),
            if wal.is_empty() {
                String::new()
            } else {
                format!("; {wal_copied} WAL files copied")
            }
        ));
        Ok(CopyOutcome { report, wal })
    })
}
