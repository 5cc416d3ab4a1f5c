//! The hash-chained journal: a tamper-evident audit trail (spec: `docs/design/journal.md`).
//!
//! Every operation that changes the repository or reads data out of it appends one [`Record`]
//! under `journal/<seq, 20 digits>`. Records are metadata envelopes (metadata key, context
//! `lifeboat journal`) of zstd JSON, written with `create_new`, so two writers never share a
//! sequence number: the loser re-reads the head and retries. Each record carries the SHA-256 of
//! its predecessor (`prev_hash`) and its own `hash`, computed over the [`canonical`] encoding of
//! every other field. [`verify`] recomputes the chain; together with a head the operator saved
//! earlier ([`Head`]) it also detects a truncated or rewritten tail.

use crate::error::{Error, Result};
use crate::format::crypto::Key;
use crate::repo::Repository;
use crate::util::{open_json, seal_json};
use lifeboat_storage::{ErrorKind, Storage, WriteOptions};
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

/// What the caller of [`append`] supplies; the journal adds sequence number, time, host, user
/// and the hashes.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// Operation name (`backup`, `restore`, `key add`, ...).
    pub operation: String,
    /// Arguments that matter (paths, targets, policies), as strings.
    pub arguments: BTreeMap<String, String>,
    /// Result of the operation.
    pub result: Outcome,
    /// Snapshot ids the operation created, removed, read or copied.
    pub snapshots: Vec<String>,
    /// Who acted, when not the operating-system user running this process (for example the
    /// name of an API token); recorded as the record's `user`.
    pub user: Option<String>,
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
                    Error::Invalid(format!("bad journal head '{s}': expected SEQ:HASH or HASH"))
                })?),
                b.trim(),
            ),
            None => (None, s),
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Invalid(format!(
                "bad journal head '{s}': the hash must be 64 hex digits (as printed by `lifeboat journal head`)"
            )));
        }
        Ok(SavedHead {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// A handle for appending to and reading one repository's journal. Cheap to clone; holds only
/// the storage and the metadata key, so a front end can keep it after the operation.
#[derive(Clone, Debug)]
pub struct Journal {
    storage: Storage,
    key: Key,
}

impl Journal {
    /// The journal of `repo`.
    pub fn of(repo: &Repository) -> Journal {
        Journal {
            storage: repo.storage().clone(),
            key: repo.keys().meta_key.clone(),
        }
    }

    /// The repository location (for messages).
    pub fn location(&self) -> String {
        self.storage.location()
    }

    /// Sequence numbers present, ascending.
    pub fn sequence_numbers(&self) -> Result<Vec<u64>> {
        let mut seqs: Vec<u64> = self
            .storage
            .list(JOURNAL_PREFIX)?
            .iter()
            .filter_map(|o| parse_key(&o.key))
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        Ok(seqs)
    }

    /// Reads and decrypts record `seq` (without checking its hash).
    pub fn read(&self, seq: u64) -> Result<Record> {
        let key = record_key(seq);
        let bytes = self.storage.read(&key)?;
        let record: Record = open_json(&self.key, JOURNAL_CONTEXT, &bytes, &key)?;
        if record.seq != seq {
            return Err(Error::corrupt(
                &key,
                format!(
                    "record says it is number {} (moved or replaced)",
                    record.seq
                ),
            ));
        }
        Ok(record)
    }

    /// The current head (seq 0 and [`GENESIS_HASH`] when the journal is empty). Fails when the
    /// newest record cannot be read: the chain cannot be extended from it.
    pub fn head(&self) -> Result<Head> {
        match self.sequence_numbers()?.last() {
            None => Ok(Head {
                seq: 0,
                hash: GENESIS_HASH.into(),
            }),
            Some(&seq) => {
                let r = self.read(seq).map_err(|e| match e {
                    Error::Corrupt { object, detail } => Error::Corrupt {
                        object,
                        detail: format!(
                            "{detail}; the journal's newest record is damaged: run `lifeboat journal verify`"
                        ),
                    },
                    other => other,
                })?;
                Ok(Head { seq, hash: r.hash })
            }
        }
    }

    /// Appends one record after the current head; retries when another writer took the number.
    pub fn append(&self, entry: Entry) -> Result<Record> {
        let atomic = self.storage.capabilities().atomic_create;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let head = self.head()?;
            let mut record = Record {
                seq: head.seq + 1,
                time: jiff::Timestamp::now().to_string(),
                host: crate::util::hostname(),
                user: entry.user.clone().unwrap_or_else(crate::util::username),
                operation: entry.operation.clone(),
                arguments: entry.arguments.clone(),
                result: entry.result.clone(),
                snapshots: entry.snapshots.clone(),
                prev_hash: head.hash,
                hash: String::new(),
            };
            record.hash = compute_hash(&record);
            let bytes = seal_json(&self.key, JOURNAL_CONTEXT, &record);
            let key = record_key(record.seq);
            match self
                .storage
                .write(&key, &bytes, &WriteOptions::create_new())
            {
                Ok(()) => {
                    // Without atomic create a concurrent writer may have replaced our record.
                    if atomic || self.storage.read(&key).is_ok_and(|b| b == bytes) {
                        return Ok(record);
                    }
                }
                Err(e) if e.kind == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
            if attempt >= 100 {
                return Err(Error::Invalid(format!(
                    "could not append to the journal of {} after {attempt} attempts (too many concurrent writers)",
                    self.storage.location()
                )));
            }
            let jitter = rand::random::<u64>() % (10 * u64::from(attempt.min(20)) + 1);
            std::thread::sleep(std::time::Duration::from_millis(jitter));
        }
    }

    /// Every record, ascending; unreadable ones as `(seq, error)`.
    pub fn list(&self) -> Result<Vec<std::result::Result<Record, (u64, Error)>>> {
        let seqs = self.sequence_numbers()?;
        let read = crate::repo::parallel_map(&seqs, 8, |s| self.read(*s));
        Ok(seqs
            .into_iter()
            .zip(read)
            .map(|(s, r)| r.map_err(|e| (s, e)))
            .collect())
    }
}

/// Appends a record to `repo`'s journal (see [`Journal::append`]).
pub fn append(repo: &Repository, entry: Entry) -> Result<Record> {
    Journal::of(repo).append(entry)
}

/// One finding of [`verify`].
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// The record concerned.
    pub seq: u64,
    /// `unreadable`, `hash-mismatch`, `chain-break`, `missing`, `truncated` or `rewritten`.
    pub kind: String,
    /// Human-readable explanation.
    pub message: String,
}

/// The result of [`verify`]. The journal is intact when `problems` is empty.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Records present.
    pub records: usize,
    /// The head found (newest record), when it is readable.
    pub head: Option<Head>,
    /// Sequence number of the first broken link (unreadable, altered, chain break or missing).
    pub first_broken: Option<u64>,
    /// Sequence numbers missing between 1 and the newest record.
    pub missing: Vec<u64>,
    /// Every finding, in sequence order.
    pub problems: Vec<Problem>,
    /// True when a saved head was given and it is still part of the chain.
    pub saved_head_ok: Option<bool>,
}

impl VerifyReport {
    fn problem(&mut self, seq: u64, kind: &str, message: String) {
        self.problems.push(Problem {
            seq,
            kind: kind.into(),
            message,
        });
        if kind != "truncated" && kind != "rewritten" {
            self.first_broken = Some(self.first_broken.map_or(seq, |f| f.min(seq)));
        }
    }
}

/// Recomputes the whole chain. With `saved`, also checks that the saved head is still in the
/// chain (a truncated or rewritten tail otherwise).
pub fn verify(journal: &Journal, saved: Option<&SavedHead>) -> Result<VerifyReport> {
    let records = journal.list()?;
    let mut report = VerifyReport {
        records: records.len(),
        ..Default::default()
    };
    let max = records
        .last()
        .map(|r| match r {
            Ok(r) => r.seq,
            Err((s, _)) => *s,
        })
        .unwrap_or(0);
    // (seq, hash as recomputed) of the previous readable record.
    let mut prev: Option<(u64, String)> = None;
    let mut next_expected = 1u64;
    let mut hashes: BTreeMap<u64, String> = BTreeMap::new();
    for r in &records {
        let seq = match r {
            Ok(r) => r.seq,
            Err((s, _)) => *s,
        };
        for m in next_expected..seq {
            report.missing.push(m);
            report.problem(
                m,
                "missing",
                format!("record {m} is missing (deleted from {})", record_key(m)),
            );
        }
        next_expected = seq + 1;
        let record = match r {
            Ok(r) => r,
            Err((s, e)) => {
                report.problem(
                    *s,
                    "unreadable",
                    format!("record {s} cannot be read or authenticated: {e}"),
                );
                prev = None;
                continue;
            }
        };
        let recomputed = compute_hash(record);
        if recomputed != record.hash {
            report.problem(
                seq,
                "hash-mismatch",
                format!(
                    "record {seq} was altered: its content hashes to {recomputed}, it claims {}",
                    record.hash
                ),
            );
        }
        let expected_prev = match (&prev, seq) {
            (_, 1) => Some(GENESIS_HASH.to_string()),
            (Some((p, h)), _) if *p + 1 == seq => Some(h.clone()),
            _ => None, // predecessor missing or unreadable: already reported
        };
        if let Some(expected) = expected_prev {
            if record.prev_hash != expected {
                report.problem(
                    seq,
                    "chain-break",
                    format!(
                        "chain broken between record {} and {seq}: record {seq} names predecessor {} but record {} hashes to {expected} (a record was replaced or inserted)",
                        seq.saturating_sub(1), record.prev_hash, seq.saturating_sub(1)
                    ),
                );
            }
        }
        hashes.insert(seq, record.hash.clone());
        prev = Some((seq, recomputed));
    }
    report.head = records.last().and_then(|r| r.as_ref().ok()).map(|r| Head {
        seq: r.seq,
        hash: r.hash.clone(),
    });
    if let Some(saved) = saved {
        let found = hashes
            .iter()
            .find(|(_, h)| **h == saved.hash)
            .map(|(s, _)| *s);
        let ok = match (saved.seq, found) {
            (Some(s), Some(f)) if s == f => true,
            (None, Some(_)) => true,
            (Some(0), None) if saved.hash == GENESIS_HASH => true,
            (Some(s), _) if s > max => {
                report.problem(
                    s,
                    "truncated",
                    format!(
                        "the journal was truncated: the saved head is record {s} but the journal ends at record {max}"
                    ),
                );
                false
            }
            (Some(s), _) => {
                let now = hashes
                    .get(&s)
                    .cloned()
                    .unwrap_or_else(|| "(unreadable)".into());
                report.problem(
                    s,
                    "rewritten",
                    format!(
                        "the journal was rewritten: the saved head is record {s} with hash {}, the journal's record {s} now has hash {now}",
                        saved.hash
                    ),
                );
                false
            }
            (None, None) => {
                report.problem(
                    max,
                    "rewritten",
                    format!(
                        "the saved head {} is not in the journal: its tail was truncated or rewritten",
                        saved.hash
                    ),
                );
                false
            }
        };
        report.saved_head_ok = Some(ok);
    }
    report.problems.sort_by_key(|p| p.seq);
    Ok(report)
}

/// Check: adds every journal problem, and an unreadable mode record or identity, to `report`
/// as errors (a flipped byte in any repository object is found by `check`).
pub fn check_into(repo: &Repository, report: &mut crate::checker::CheckReport) -> Result<()> {
    let v = verify(&Journal::of(repo), None)?;
    for p in v.problems {
        report
            .errors
            .push(format!("journal record {}: {}", p.seq, p.message));
    }
    if let Err(e) = crate::governance::mode::current_record(repo) {
        report.errors.push(format!("mode: {e}"));
    }
    if let Some(e) = crate::format::writeonly::check_identity(repo)? {
        report.errors.push(format!("write-only identity: {e}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::config::Config;
    use lifeboat_storage::memory::MemoryStorage;
    use std::sync::Arc;

    fn repo() -> Repository {
        std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
        Repository::init(Arc::new(MemoryStorage::new()), b"pw", Config::new()).unwrap()
    }

    fn entry(op: &str) -> Entry {
        Entry {
            operation: op.into(),
            result: Outcome::ok(""),
            ..Default::default()
        }
    }

    #[test]
    fn chain_appends_and_verifies() {
        let r = repo();
        let j = Journal::of(&r);
        for op in ["init", "backup", "restore"] {
            j.append(entry(op)).unwrap();
        }
        let head = j.head().unwrap();
        assert_eq!(head.seq, 3);
        let rep = verify(&j, None).unwrap();
        assert!(rep.problems.is_empty(), "{:?}", rep.problems);
        let saved = SavedHead {
            seq: Some(3),
            hash: head.hash.clone(),
        };
        assert_eq!(verify(&j, Some(&saved)).unwrap().saved_head_ok, Some(true));
        // Truncate the tail.
        r.storage().remove(&record_key(3)).unwrap();
        let rep = verify(&j, Some(&saved)).unwrap();
        assert_eq!(rep.problems[0].kind, "truncated");
    }

    #[test]
    fn replaced_record_breaks_chain() {
        let r = repo();
        let j = Journal::of(&r);
        for op in ["a", "b", "c"] {
            j.append(entry(op)).unwrap();
        }
        // A validly sealed, self-consistent replacement of record 2.
        let mut fake = j.read(2).unwrap();
        fake.operation = "nothing to see".into();
        fake.hash = compute_hash(&fake);
        let bytes = seal_json(&r.keys().meta_key, JOURNAL_CONTEXT, &fake);
        r.storage()
            .write(&record_key(2), &bytes, &WriteOptions::default())
            .unwrap();
        let rep = verify(&j, None).unwrap();
        assert_eq!(rep.first_broken, Some(3));
        assert_eq!(rep.problems[0].kind, "chain-break");
    }

    #[test]
    fn concurrent_appends_get_distinct_numbers() {
        let r = repo();
        let j = Journal::of(&r);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..5 {
                        j.append(entry("x")).unwrap();
                    }
                });
            }
        });
        let rep = verify(&j, None).unwrap();
        assert_eq!(rep.records, 20);
        assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    }

    #[test]
    fn saved_head_parses() {
        let h: SavedHead = format!("7:{}", "a".repeat(64)).parse().unwrap();
        assert_eq!(h.seq, Some(7));
        assert!("7:xyz".parse::<SavedHead>().is_err());
    }
}
