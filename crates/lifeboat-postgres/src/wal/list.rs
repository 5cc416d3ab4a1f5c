//! Listing the archive: the archived files of a system, one object's header, and waiting
//! until given segments have arrived.

use super::object::{object_key, ObjectHeader, HEADER_LEN};
use super::WalArchive;
use crate::error::Result;
use crate::lsn::{parse_wal_file_name, WalFileName};
use std::time::{Duration, Instant};

/// One archived file as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivedFile {
    /// Parsed name.
    pub file: WalFileName,
    /// Storage key.
    pub key: String,
    /// Stored size.
    pub size: u64,
}

impl WalArchive {
    /// Lists the archived files of system `sysid` (unparseable names are ignored).
    pub fn list(&self, sysid: u64, seg_size: u64) -> Result<Vec<ArchivedFile>> {
        let mut out: Vec<ArchivedFile> = self
            .storage
            .list(&format!("wal/{sysid}/"))?
            .into_iter()
            .filter_map(|o| {
                let name = o.key.rsplit('/').next()?.to_string();
                let file = parse_wal_file_name(&name, seg_size)?;
                (o.key == object_key(sysid, file.tli, &name)).then_some(ArchivedFile {
                    file,
                    key: o.key,
                    size: o.size,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            (a.file.segno, a.file.tli, &a.file.name).cmp(&(b.file.segno, b.file.tli, &b.file.name))
        });
        Ok(out)
    }

    /// Reads the header of one stored object.
    pub fn header(&self, key: &str) -> Result<ObjectHeader> {
        let b = self.storage.read_range(key, 0, HEADER_LEN as u64)?;
        ObjectHeader::decode(&b, key)
    }

    /// Waits until every segment of `names` is archived, up to `timeout`.
    pub fn wait_for(
        &self,
        sysid: u64,
        seg_size: u64,
        names: &[String],
        timeout: Duration,
    ) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            let have: std::collections::HashSet<String> = self
                .list(sysid, seg_size)?
                .into_iter()
                .map(|f| f.file.name)
                .collect();
            let missing: Vec<String> = names
                .iter()
                .filter(|n| !have.contains(*n))
                .cloned()
                .collect();
            if missing.is_empty() || Instant::now() >= deadline {
                return Ok(missing);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
