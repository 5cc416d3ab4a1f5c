//! Issuing write-only keys (construction and threat model: `docs/design/writeonly.md`; the
//! stored forms are [`crate::format::writeonly`]).

use crate::error::Result;
use crate::format::writeonly::{ensure_identity, wrap_write_only};
use crate::repo::Repository;
use lifeboat_storage::WriteOptions;

/// A new write-only key under `password`: returns `(key id, recipient)`. Creates the
/// repository's identity with the first one.
pub fn add_write_only_key(repo: &Repository, password: &[u8]) -> Result<(String, String)> {
    repo.require_writable("key add")?;
    repo.require_full_key("add keys")?;
    let recipient = ensure_identity(repo.storage().as_ref(), repo.keys())?;
    let (id, bytes) = wrap_write_only(repo.keys(), &repo.config().id, &recipient, password)?;
    repo.storage()
        .write(&format!("keys/{id}"), &bytes, &WriteOptions::create_new())?;
    Ok((id, recipient))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::format::config::Config;
    use crate::format::writeonly::KeyScope;
    use lifeboat_storage::memory::MemoryStorage;
    use std::sync::Arc;

    #[test]
    fn write_only_host_backs_up_and_full_key_reads_it() {
        std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
        let storage: lifeboat_storage::Storage = Arc::new(MemoryStorage::new());
        let full = Repository::init(storage.clone(), b"full", Config::new()).unwrap();
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let opts = crate::archiver::BackupOptions::default();
        crate::archiver::backup_stream(&full, "a", &data[..], &opts, Default::default(), |_| {
            Ok(Default::default())
        })
        .unwrap();
        let (_, recipient) = add_write_only_key(&full, b"wo").unwrap();
        assert!(recipient.starts_with("age1"));

        let wo = Repository::open(storage.clone(), b"wo").unwrap();
        assert_eq!(wo.keys().scope, KeyScope::WriteOnly);
        let mut more = data.clone();
        more.extend_from_slice(b"and a little more");
        let out =
            crate::archiver::backup_stream(&wo, "a", &more[..], &opts, Default::default(), |_| {
                Ok(Default::default())
            })
            .unwrap();
        // Deduplicated against the full key's data.
        assert!(out.snapshot.summary.unwrap().bytes_added_raw < 300_000);
        assert!(matches!(wo.snapshots(), Err(Error::InsufficientKey { .. })));
        assert!(matches!(
            wo.find_snapshot(&out.snapshot_id),
            Err(Error::InsufficientKey { .. })
        ));
        assert!(wo.add_key(b"x").is_err());

        let full = Repository::open(storage, b"full").unwrap();
        let snaps = full.snapshots().unwrap();
        assert_eq!(snaps.len(), 2);
        let mut dumped = Vec::new();
        let entry = snaps.iter().find(|s| s.id == out.snapshot_id).unwrap();
        crate::restorer::dump(&full, entry, None, &mut dumped).unwrap();
        assert_eq!(dumped, more);
        let report = crate::checker::check(
            &full,
            &crate::checker::CheckOptions {
                read_data: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    }
}
