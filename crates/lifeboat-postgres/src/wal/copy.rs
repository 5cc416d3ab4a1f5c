//! Copying one cluster's WAL archive into another repository (`lifeboat copy`): every file
//! verified, re-sealed for the destination's keys when they differ, archive time kept.

use super::list::ArchivedFile;
use super::object::{decode_object, reencode_object};
use super::WalArchive;
use crate::error::{PgError, Result};
use lifeboat_storage::{ErrorKind, WriteOptions};
use serde::Serialize;

/// What copying one cluster's WAL archive into another repository did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WalCopyReport {
    /// Cluster name.
    pub cluster: String,
    /// Its system identifier (decimal).
    pub system_identifier: String,
    /// Files copied.
    pub copied: u64,
    /// Files the destination already had (same content).
    pub present: u64,
    /// Plaintext bytes copied.
    pub bytes: u64,
}

impl WalArchive {
    /// Copies the WAL archive of `cluster` (segments, history and backup-history files) into
    /// `dst`, binding the cluster there to the same system (a destination bound to another
    /// system is refused). Files the destination has are skipped when their content matches and
    /// refused when it differs ([`PgError::WalConflict`]); every copied file is verified first.
    /// A cluster without archived WAL copies nothing.
    pub fn copy_to(&self, dst: &WalArchive, cluster: &str) -> Result<WalCopyReport> {
        let Some(b) = self.binding(cluster)? else {
            return Ok(WalCopyReport {
                cluster: cluster.to_string(),
                ..Default::default()
            });
        };
        dst.require_writable("copy WAL into")?;
        let (sysid, seg) = (b.sysid(), b.wal_segment_size);
        dst.bind(cluster, sysid, seg)?;
        let have: std::collections::HashSet<String> =
            dst.list(sysid, seg)?.into_iter().map(|f| f.key).collect();
        let (present, todo): (Vec<ArchivedFile>, Vec<ArchivedFile>) = self
            .list(sysid, seg)?
            .into_iter()
            .partition(|f| have.contains(&f.key));
        let same_keys =
            self.keys.data_key.0 == dst.keys.data_key.0 && self.keys.id_key.0 == dst.keys.id_key.0;
        let results = lifeboat_core::repo::parallel_map(&todo, 4, |f| -> Result<u64> {
            let bytes = self.storage.read(&f.key)?;
            let (out, data) = if same_keys {
                let (_, data) = decode_object(&self.keys, &f.key, &bytes)?;
                (bytes, data)
            } else {
                reencode_object(&self.keys, &dst.keys, &f.key, &bytes)?
            };
            match dst.storage.write(&f.key, &out, &WriteOptions::create_new()) {
                Ok(()) => Ok(data.len() as u64),
                Err(e) if e.kind == ErrorKind::AlreadyExists => {
                    let h = dst.header(&f.key)?;
                    if h.content_id == dst.keys.content_id(&data) && h.length == data.len() as u64 {
                        Ok(0)
                    } else {
                        Err(PgError::WalConflict {
                            name: f.file.name.clone(),
                            archived_at: h.archived_at_string(),
                        })
                    }
                }
                Err(e) => Err(e.into()),
            }
        });
        let mut report = WalCopyReport {
            cluster: cluster.to_string(),
            system_identifier: sysid.to_string(),
            present: present.len() as u64,
            ..Default::default()
        };
        for r in results {
            report.bytes += r?;
            report.copied += 1;
        }
        Ok(report)
    }
}
