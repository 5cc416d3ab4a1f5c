//! Resilience modes: `normal`, `degraded` (keep protecting data, destroy nothing: a suspected
//! compromise) and `read-only` (freeze the repository during an incident).
//!
//! The mode is the newest mode record ([`crate::format::mode`], stored under `mode/<seq>`); no
//! record means `normal`.
//!
//! In read-only mode every write (backup, forget, prune, copy into the repository, key changes)
//! is refused with [`Error::ReadOnly`]; restore, dump, check, listing and the journal work. In
//! degraded mode writes that add data (backups, WAL, copies into the repository, new keys) work
//! and everything that destroys data (forget, prune, WAL expiry, key removal, password changes)
//! is refused. The operations layer (`lifeboat-ops`, `modes.rs`) holds the table of which
//! operation each mode allows; the engine checks again where it writes
//! ([`Repository::require_writable`], [`Repository::require_may_destroy`]), so no front end can
//! skip it. An unreadable mode record fails closed: writes are refused until it is repaired.
//!
//! [`Error::ReadOnly`]: crate::Error::ReadOnly

use crate::error::Result;
use crate::format::json::seal_json;
use crate::format::mode::{newest_seq, read_newest, record_key, Mode, ModeRecord, MODE_CONTEXT};
use crate::repo::Repository;
use lifeboat_storage::{ErrorKind, WriteOptions};

/// The newest mode record, `None` when the mode was never set.
pub fn current_record(repo: &Repository) -> Result<Option<ModeRecord>> {
    read_newest(repo.storage().as_ref(), &repo.keys().meta_key)
}

/// The current mode (`normal` when never set).
pub fn current(repo: &Repository) -> Result<Mode> {
    Ok(current_record(repo)?.map_or(Mode::Normal, |r| r.mode))
}

/// Records a new mode. Needs a full key (a write-only host cannot unfreeze a repository).
pub fn set(repo: &Repository, mode: Mode) -> Result<ModeRecord> {
    repo.require_full_key("change the repository mode")?;
    loop {
        let seq = newest_seq(repo.storage().as_ref())?.unwrap_or(0) + 1;
        let rec = ModeRecord {
            seq,
            mode,
            time: jiff::Timestamp::now().to_string(),
            host: crate::host::hostname(),
            user: crate::host::username(),
        };
        let bytes = seal_json(&repo.keys().meta_key, MODE_CONTEXT, &rec);
        match repo
            .storage()
            .write(&record_key(seq), &bytes, &WriteOptions::create_new())
        {
            Ok(()) => return Ok(rec),
            Err(e) if e.kind == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Refuses `operation`, a write that adds data, in read-only mode (the check is the
/// repository's: [`Repository::require_writable`]).
pub fn require_writable(repo: &Repository, operation: &str) -> Result<()> {
    repo.require_writable(operation)
}

/// Refuses `operation`, a write that destroys data, unless the repository is in normal mode
/// ([`Repository::require_may_destroy`]).
pub fn require_may_destroy(repo: &Repository, operation: &str) -> Result<()> {
    repo.require_may_destroy(operation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::format::config::Config;
    use lifeboat_storage::memory::MemoryStorage;
    use std::sync::Arc;

    #[test]
    fn modes_round_trip_and_refuse_writes() {
        std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
        let repo = Repository::init(Arc::new(MemoryStorage::new()), b"pw", Config::new()).unwrap();
        assert_eq!(current(&repo).unwrap(), Mode::Normal);
        require_writable(&repo, "backup").unwrap();
        set(&repo, Mode::ReadOnly).unwrap();
        let e = require_writable(&repo, "backup").unwrap_err();
        assert!(matches!(e, Error::ReadOnly { .. }), "{e}");
        assert!(e.to_string().contains("read-only"));
        set(&repo, Mode::Degraded).unwrap();
        require_writable(&repo, "backup").unwrap();
        let e = require_may_destroy(&repo, "prune").unwrap_err();
        assert!(
            e.to_string().contains("degraded mode: prune is refused"),
            "{e}"
        );
        set(&repo, Mode::Normal).unwrap();
        require_writable(&repo, "backup").unwrap();
        require_may_destroy(&repo, "prune").unwrap();
        // Replaying the read-only record under a newer name is detected (fails closed).
        // (Records 1 to 3 exist: read-only, degraded, normal.)
        let old = repo.storage().read(&record_key(1)).unwrap();
        repo.storage()
            .write(&record_key(4), &old, &WriteOptions::create_new())
            .unwrap();
        assert!(require_writable(&repo, "backup").is_err());
    }
}
