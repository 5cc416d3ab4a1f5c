//! Journal records: the stored form of the hash-chained journal (spec: `docs/design/journal.md`).
//!
//! Every record is stored under `journal/<seq, 20 digits>` as a metadata envelope (metadata key,
//! context `lifeboat journal`) of zstd JSON. Each record carries the SHA-256 of its predecessor
//! (`prev_hash`) and its own `hash`, computed over the [`canonical`] encoding of every other
//! field. Appending and verifying the chain: `governance/journal.rs`.

use crate::error::{Error, Hint, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Associated data of journal envelopes.
pub const JOURNAL_CONTEXT: &[u8] = b"lifeboat journal";
/// Key prefix of journal records.
pub const JOURNAL_PREFIX: &str = "journal/";
/// `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Domain separator at the start of the canonical encoding.
const CANONICAL_MAGIC: &[u8] = b"lifeboat journal record v1\0";

/// The storage key of record `seq`.
pub fn record_key(seq: u64) -> String {
    format!("{JOURNAL_PREFIX}{seq:020}")
}

/// Parses a journal key back into its sequence number (`None` for foreign objects).
pub fn parse_key(key: &str) -> Option<u64> {
    let name = key.strip_prefix(JOURNAL_PREFIX)?;
    if name.len() != 20 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// The result of the journaled operation.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Outcome {
    /// `ok`, `error` or `cancelled`.
    pub status: String,
    /// Error text, or a short note on success (may be empty).
    #[serde(default)]
    pub message: String,
}

impl Outcome {
    /// A success with an optional note.
    pub fn ok(message: impl Into<String>) -> Self {
        Outcome {
            status: "ok".into(),
            message: message.into(),
        }
    }

    /// A failure with its error text.
    pub fn error(message: impl Into<String>) -> Self {
        Outcome {
            status: "error".into(),
            message: message.into(),
        }
    }

    /// An operation that ran to its end and found a problem (a drill whose check or target
    /// failed): not an error of the operation itself.
    pub fn failed(message: impl Into<String>) -> Self {
        Outcome {
            status: "failed".into(),
            message: message.into(),
        }
    }

    /// A cancellation: the operation stopped cleanly at a cancel request.
    pub fn cancelled(message: impl Into<String>) -> Self {
        Outcome {
            status: "cancelled".into(),
            message: message.into(),
        }
    }

    /// True for `ok`.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// One journal record as stored (inside its envelope).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    /// Sequence number, from 1, without gaps.
    pub seq: u64,
    /// Time of the append (RFC 3339, UTC).
    pub time: String,
    /// Host that ran the operation.
    pub host: String,
    /// User that ran the operation.
    pub user: String,
    /// Operation name.
    pub operation: String,
    /// Arguments that matter.
    pub arguments: BTreeMap<String, String>,
    /// Result.
    pub result: Outcome,
    /// Affected snapshot ids.
    pub snapshots: Vec<String>,
    /// `hash` of record `seq - 1` ([`GENESIS_HASH`] for the first record).
    pub prev_hash: String,
    /// SHA-256 (hex) of [`canonical`] of this record.
    pub hash: String,
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The canonical encoding the hash is computed over: every field but `hash`, in a fixed order,
/// each string as `u64 big-endian length || UTF-8 bytes`, lists as `u64 count || items`
/// (arguments sorted by key bytes), after a fixed magic. See the design doc for the exact layout.
pub fn canonical(r: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(CANONICAL_MAGIC);
    out.extend_from_slice(&r.seq.to_be_bytes());
    for s in [&r.time, &r.host, &r.user, &r.operation] {
        put_field(&mut out, s.as_bytes());
    }
    out.extend_from_slice(&(r.arguments.len() as u64).to_be_bytes());
    for (k, v) in &r.arguments {
        put_field(&mut out, k.as_bytes());
        put_field(&mut out, v.as_bytes());
    }
    put_field(&mut out, r.result.status.as_bytes());
    put_field(&mut out, r.result.message.as_bytes());
    out.extend_from_slice(&(r.snapshots.len() as u64).to_be_bytes());
    for s in &r.snapshots {
        put_field(&mut out, s.as_bytes());
    }
    put_field(&mut out, r.prev_hash.as_bytes());
    out
}

/// The hash a record should carry.
pub fn compute_hash(r: &Record) -> String {
    crate::format::crypto::sha256_hex(&canonical(r))
}

/// The newest record: what an operator saves to detect a truncated or rewritten tail later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Sequence number of the newest record (0: empty journal).
    pub seq: u64,
    /// Its hash ([`GENESIS_HASH`] for an empty journal).
    pub hash: String,
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// A head as given back by the operator: `SEQ:HASH` (as printed by `journal head`) or a bare hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedHead {
    /// Sequence number, when given.
    pub seq: Option<u64>,
    /// The hash (lowercase hex).
    pub hash: String,
}

impl std::str::FromStr for SavedHead {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let (seq, hash) = match s.split_once([':', ' ']) {
            Some((a, b)) => (
                Some(a.trim().parse::<u64>().map_err(|_| {
                    Error::guided(
                        format!("bad journal head '{s}': expected SEQ:HASH or HASH"),
                        Hint::RunOperation {
                            operation: "journal head",
                        },
                    )
                })?),
                b.trim(),
            ),
            None => (None, s),
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::guided(
                format!("bad journal head '{s}': the hash must be 64 hex digits"),
                Hint::RunOperation {
                    operation: "journal head",
                },
            ));
        }
        Ok(SavedHead {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}
