//! Mode records: the stored form of the repository mode (spec: `docs/design/modes.md`, "Stored
//! form and write ordering"; what the modes mean: `governance/mode.rs`).
//!
//! A mode change is one record under `mode/<seq, 20 digits>`: a metadata envelope (metadata key,
//! context `lifeboat mode`) holding [`ModeRecord`], written with `create_new`. The record with the
//! highest sequence number is the current mode; no record means `normal`. Records are never
//! overwritten or deleted, so they can carry object-lock retention like everything else, and an
//! old record copied over a newer name is detected (the name and the sealed `seq` disagree).

use crate::error::{Error, Result};
use crate::format::crypto::Key;
use crate::format::json::open_json;
use lifeboat_storage::ReadStorage;
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

/// The storage key of record `seq`.
pub fn record_key(seq: u64) -> String {
    format!("{MODE_PREFIX}{seq:020}")
}

/// The highest record number present, `None` when the mode was never set.
pub fn newest_seq(storage: &dyn ReadStorage) -> Result<Option<u64>> {
    Ok(storage
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

/// Reads the newest record with the metadata key, `None` when the mode was never set. Fails when
/// that record cannot be opened or its sealed `seq` is not its name's (replayed or moved).
pub fn read_newest(storage: &dyn ReadStorage, meta_key: &Key) -> Result<Option<ModeRecord>> {
    let Some(seq) = newest_seq(storage)? else {
        return Ok(None);
    };
    let k = record_key(seq);
    let bytes = storage.read(&k)?;
    let rec: ModeRecord = open_json(meta_key, MODE_CONTEXT, &bytes, &k)?;
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
