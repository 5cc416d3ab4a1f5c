//! Cluster bindings: which database system (and WAL segment size) a cluster name archives
//! for, stored as `wal/clusters/<keyed hash of the name>` and sealed with the metadata key.

use super::WalArchive;
use crate::error::{PgError, Result};
use lifeboat_storage::{ErrorKind, WriteOptions};
use serde::{Deserialize, Serialize};

/// Context of cluster binding envelopes.
const BINDING_CONTEXT: &[u8] = b"lifeboat wal cluster";
/// Default cluster name.
pub const DEFAULT_CLUSTER: &str = "main";

/// A cluster binding: which database system a cluster name archives for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Binding {
    /// Cluster name (`--cluster`, default `main`).
    pub cluster: String,
    /// Database system identifier (decimal string: JSON numbers lose u64 precision elsewhere).
    pub system_identifier: String,
    /// WAL segment size in bytes.
    pub wal_segment_size: u64,
    /// When the binding was made.
    pub created: String,
    /// Host that made it.
    pub hostname: String,
}

impl Binding {
    /// The system identifier as a number.
    pub fn sysid(&self) -> u64 {
        self.system_identifier.parse().unwrap_or(0)
    }
}

impl WalArchive {
    fn binding_key(&self, cluster: &str) -> String {
        let k = blake3::derive_key("lifeboat 2026-11 wal cluster name", &self.keys.meta_key.0);
        let h = blake3::keyed_hash(&k, cluster.as_bytes());
        format!("wal/clusters/{}", &h.to_hex()[..32])
    }

    /// Reads the binding of `cluster`, if any.
    pub fn binding(&self, cluster: &str) -> Result<Option<Binding>> {
        let key = self.binding_key(cluster);
        let bytes = match self.storage.read(&key) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let b: Binding =
            lifeboat_core::util::open_json(&self.keys.meta_key, BINDING_CONTEXT, &bytes, &key)?;
        if b.cluster != cluster {
            return Err(PgError::Corrupt {
                key,
                detail: format!(
                    "binding names cluster '{}', expected '{cluster}'",
                    b.cluster
                ),
            });
        }
        Ok(Some(b))
    }

    /// Every binding in the repository.
    pub fn bindings(&self) -> Result<Vec<Binding>> {
        let mut out = Vec::new();
        for o in self.storage.list("wal/clusters/")? {
            let bytes = match self.storage.read(&o.key) {
                Ok(b) => b,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            out.push(lifeboat_core::util::open_json(
                &self.keys.meta_key,
                BINDING_CONTEXT,
                &bytes,
                &o.key,
            )?);
        }
        out.sort_by(|a: &Binding, b| a.cluster.cmp(&b.cluster));
        Ok(out)
    }

    /// Binds `cluster` to system `sysid` if unbound; refuses another system if bound.
    pub fn bind(&self, cluster: &str, sysid: u64, seg_size: u64) -> Result<Binding> {
        validate_cluster_name(cluster)?;
        if let Some(b) = self.binding(cluster)? {
            return check_binding(b, cluster, sysid, seg_size);
        }
        let b = Binding {
            cluster: cluster.to_string(),
            system_identifier: sysid.to_string(),
            wal_segment_size: seg_size,
            created: jiff::Timestamp::now().to_string(),
            hostname: lifeboat_core::util::hostname(),
        };
        let key = self.binding_key(cluster);
        let bytes = lifeboat_core::util::seal_json(&self.keys.meta_key, BINDING_CONTEXT, &b);
        match self
            .storage
            .write(&key, &bytes, &WriteOptions::create_new())
        {
            Ok(()) => Ok(b),
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                // Lost a race with another first push: the winner's binding decides.
                let b = self
                    .binding(cluster)?
                    .ok_or_else(|| PgError::BindingVanished {
                        cluster: cluster.to_string(),
                    })?;
                check_binding(b, cluster, sysid, seg_size)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Accepts an existing binding only for the same system and segment size.
pub(super) fn check_binding(
    b: Binding,
    cluster: &str,
    sysid: u64,
    seg_size: u64,
) -> Result<Binding> {
    if b.sysid() != sysid {
        return Err(PgError::WrongSystem {
            what: format!("WAL or backup for cluster '{cluster}'"),
            expected: b.sysid(),
            expected_from: format!(
                "cluster '{cluster}' in this repository (bound {})",
                b.created
            ),
            found: sysid,
        });
    }
    if b.wal_segment_size != seg_size {
        return Err(PgError::Invalid(format!(
            "cluster '{cluster}' uses {}-byte WAL segments, this file says {seg_size}",
            b.wal_segment_size
        )));
    }
    Ok(b)
}

/// Checks a cluster name (letters, digits, `-`, `_`, `.`; 1..=64 characters).
pub fn validate_cluster_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(PgError::Invalid(format!(
            "invalid cluster name '{name}': use 1 to 64 letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names() {
        assert!(validate_cluster_name("main").is_ok());
        assert!(validate_cluster_name("prod-eu.1").is_ok());
        assert!(validate_cluster_name("").is_err());
        assert!(validate_cluster_name("a/b").is_err());
    }
}
