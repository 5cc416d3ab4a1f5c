//! Test helpers shared by the unit tests of several layers.

use crate::format::config::Config;
use crate::layers::object_lock::emulated::LockingMemory;
use crate::layers::object_lock::parse_object_lock;
use crate::Repository;
use std::sync::Arc;

/// A repository with object lock (COMPLIANCE, 30 days) on an emulated locking store.
pub(crate) fn locked_repo() -> (Arc<LockingMemory>, Repository) {
    std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
    let store = Arc::new(LockingMemory::default());
    let mut config = Config::new();
    config.object_lock = Some(parse_object_lock("COMPLIANCE:30").unwrap());
    let repo = Repository::init(store.clone(), b"pw", config).unwrap();
    (store, repo)
}

/// Backs up `data` as a stream; returns the snapshot id.
pub(crate) fn backup(repo: &Repository, data: &[u8]) -> String {
    let opts = crate::archiver::BackupOptions::default();
    crate::archiver::backup_stream(repo, "s", data, &opts, Default::default(), |_| {
        Ok(Default::default())
    })
    .unwrap()
    .snapshot_id
}
