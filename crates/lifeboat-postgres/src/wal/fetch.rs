//! `wal-fetch`: resolving the system to fetch for, reading and verifying one archived file,
//! and writing it where `restore_command` asks, atomically.

use super::object::{decode_object, object_key, ObjectHeader};
use super::WalArchive;
use crate::error::{PgError, Result};
use crate::lsn::parse_wal_file_name;
use lifeboat_core::error::Hint;
use std::io::Write;
use std::path::Path;

impl WalArchive {
    /// Resolves the system identifier for fetching: explicit, else the data directory's
    /// `global/pg_control` (restore_command runs in the data directory), else the binding.
    pub fn resolve_sysid(&self, explicit: Option<u64>, cluster: &str) -> Result<u64> {
        if let Some(s) = explicit {
            return Ok(s);
        }
        if let Some(s) = crate::tools::read_control_system_id(Path::new(".")) {
            return Ok(s);
        }
        match self.binding(cluster)? {
            Some(b) => Ok(b.sysid()),
            None => Err(PgError::guided(
                format!(
                    "no WAL is archived for cluster '{cluster}' in this repository, so the database system to fetch for is unknown"
                ),
                Hint::SetOption {
                    option: "cluster",
                    value: None,
                },
            )),
        }
    }

    /// Reads and verifies one archived file.
    pub fn read_file(&self, sysid: u64, name: &str) -> Result<(ObjectHeader, Vec<u8>)> {
        let file = parse_wal_file_name(name, 16 << 20)
            .or_else(|| parse_wal_file_name(name, 1 << 30))
            .ok_or_else(|| PgError::Invalid(format!("'{name}' is not a WAL file name")))?;
        let key = object_key(sysid, file.tli, name);
        let bytes = match self.storage.read(&key) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                return Err(PgError::WalNotFound {
                    name: name.to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        decode_object(&self.keys, &key, &bytes)
    }

    /// Fetches `name` into `dest` atomically (temporary file, fsync, rename).
    pub fn fetch(&self, sysid: u64, name: &str, dest: &Path) -> Result<u64> {
        let (_, data) = self.read_file(sysid, name)?;
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.lifeboat-{:08x}",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("wal"),
            rand::random::<u32>()
        ));
        let result = (|| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, dest)?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(PgError::io("writing fetched WAL to", dest, e));
        }
        Ok(data.len() as u64)
    }
}
