//! Resilience modes: `normal`, `degraded` (keep protecting data, destroy nothing: a suspected
//! compromise) and `read-only` (freeze the repository during an incident).
//!
//! A mode change is one record under `mode/<seq, 20 digits>`: a metadata envelope (metadata key,
//! context `lifeboat mode`) holding [`ModeRecord`], written with `create_new`. The record with the
//! highest sequence number is the current mode; no record means `normal`. Records are never
//! overwritten or deleted, so they can carry object-lock retention like everything else, and an
//! old record copied over a newer name is detected (the name and the sealed `seq` disagree).
//!
//! In read-only mode every write (backup, forget, prune, copy into the repository, key changes)
//! is refused with [`Error::ReadOnly`]; restore, dump, check, listing and the journal work. In
//! degraded mode writes that add data (backups, WAL, copies into the repository, new keys) work
//! and everything that destroys data (forget, prune, WAL expiry, key removal, password changes)
//! is refused. The operations layer (`lifeboat-ops`, `modes.rs`) holds the table of which
//! operation each mode allows; the engine checks again where it writes
//! ([`Repository::require_writable`], [`Repository::require_may_destroy`]), so no front end can
//! skip it. An unreadable mode record fails closed: writes are refused until it is repaired.

use crate::error::{Error, Result};
use crate::repo::Repository;
use crate::util::{open_json, seal_json};
use lifeboat_storage::{ErrorKind, WriteOptions};
use serde::{Deserialize, Serialize};

/// Associated data of mode envelopes.
pub const MODE_CONTEXT: &[u8] = b"lifeboat mode";
/// Key prefix of mode records.
pub const MODE_PREFIX: &str = "mode/";

/// A repository mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Everything allowed.
    #[serde(rename = "normal")]
    Normal,
    /// New data may be added (backups, WAL, copies, keys); nothing may be destroyed.
    #[serde(rename = "degraded")]
    Degraded,
    /// Only reads (restore, dump, check, listing) and journal records.
    #[serde(rename = "read-only")]
    ReadOnly,
}

impl Mode {
    /// The mode's name as shown and accepted on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Degraded => "degraded",
            Mode::ReadOnly => "read-only",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "normal" => Ok(Mode::Normal),
            "degraded" => Ok(Mode::Degraded),
            "read-only" | "readonly" => Ok(Mode::ReadOnly),
            _ => Err(Error::Invalid(format!(
                "unknown mode '{s}': use normal, degraded or read-only (use read-only or normal to freeze or thaw)"
            ))),
        }
    }
}

/// One stored mode change.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ModeRecord {
    /// Sequence number (matches the object name).
    pub seq: u64,
    /// The mode from now on.
    pub mode: Mode,
    /// When it was set (RFC 3339).
    pub time: String,
    /// Who set it: host.
    pub host: String,
    /// Who set it: user.
    pub user: String,
}

fn key(seq: u64) -> String {
    format!("{MODE_PREFIX}{seq:020}")
}

fn newest_seq(repo: &Repository) -> Result<Option<u64>> {
    Ok(repo
        .storage()
        .list(MODE_PREFIX)?
        .iter()
        .filter_map(|o| {
            let n = o.key.strip_prefix(MODE_PREFIX)?;
            (n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse().ok())
                .flatten()
        })
        .max())
}

/// The newest mode record, `None` when the mode was never set.
pub fn current_record(repo: &Repository) -> Result<Option<ModeRecord>> {
    let Some(seq) = newest_seq(repo)? else {
        return Ok(None);
    };
    let k = key(seq);
    let bytes = repo.storage().read(&k)?;
    let rec: ModeRecord = open_json(&repo.keys().meta_key, MODE_CONTEXT, &bytes, &k)?;
    if rec.seq != seq {
        return Err(Error::corrupt(
            &k,
            format!(
                "mode record says it is number {} (replayed or moved)",
                rec.seq
            ),
        ));
    }
    Ok(Some(rec))
}

/// The current mode (`normal` when never set).
pub fn current(repo: &Repository) -> Result<Mode> {
    Ok(current_record(repo)?.map_or(Mode::Normal, |r| r.mode))
}

/// Records a new mode. Needs a full key (a write-only host cannot unfreeze a repository).
pub fn set(repo: &Repository, mode: Mode) -> Result<ModeRecord> {
    repo.require_full_key("change the repository mode")?;
    loop {
        let seq = newest_seq(repo)?.unwrap_or(0) + 1;
        let rec = ModeRecord {
            seq,
            mode,
            time: jiff::Timestamp::now().to_string(),
            host: crate::util::hostname(),
            user: crate::util::username(),
        };
        let bytes = seal_json(&repo.keys().meta_key, MODE_CONTEXT, &rec);
        match repo
            .storage()
            .write(&key(seq), &bytes, &WriteOptions::create_new())
        {
            Ok(()) => return Ok(rec),
            Err(e) if e.kind == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn require(repo: &Repository, operation: &str, allowed: &[Mode]) -> Result<()> {
    let mode = current(repo).map_err(|e| Error::ReadOnly {
        mode: format!("an unknown ({e})"),
        operation: format!("{operation} (refused until the mode record is readable again)"),
    })?;
    if allowed.contains(&mode) {
        Ok(())
    } else {
        Err(Error::ReadOnly {
            mode: mode.name().into(),
            operation: operation.into(),
        })
    }
}

/// Refuses `operation`, a write that adds data, in read-only mode.
pub fn require_writable(repo: &Repository, operation: &str) -> Result<()> {
    require(repo, operation, &[Mode::Normal, Mode::Degraded])
}

/// Refuses `operation`, a write that destroys data, unless the repository is in normal mode.
pub fn require_may_destroy(repo: &Repository, operation: &str) -> Result<()> {
    require(repo, operation, &[Mode::Normal])
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let old = repo.storage().read(&key(1)).unwrap();
        repo.storage()
            .write(&key(4), &old, &WriteOptions::create_new())
            .unwrap();
        assert!(require_writable(&repo, "backup").is_err());
    }
}
