//! The hash-chained journal: a tamper-evident audit trail (spec: `docs/design/journal.md`).
//!
//! Every operation that changes the repository or reads data out of it appends one [`Record`]
//! under `journal/<seq, 20 digits>`. Records are metadata envelopes (metadata key, context
//! `lifeboat journal`) of zstd JSON, written with `create_new`, so two writers never share a
//! sequence number: the loser re-reads the head and retries. Each record carries the SHA-256 of
//! its predecessor (`prev_hash`) and its own `hash`, computed over the canonical encoding of
//! every other field (record format: [`crate::format::journal`]). [`verify`] recomputes the chain;
//! together with a head the operator saved earlier ([`Head`]) it also detects a truncated or
//! rewritten tail.

use crate::error::{Error, Result};
use crate::format::crypto::Key;
use crate::format::journal::{
    compute_hash, parse_key, record_key, Head, Outcome, Record, SavedHead, GENESIS_HASH,
    JOURNAL_CONTEXT, JOURNAL_PREFIX,
};
use crate::format::json::{open_json, seal_json};
use crate::parallel::parallel_map;
use crate::repo::Repository;
use lifeboat_storage::{ErrorKind, Storage, WriteOptions};
use serde::Serialize;
use std::collections::BTreeMap;

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
                    Error::Corrupt { object, detail } => Error::JournalDamaged { object, detail },
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
                host: crate::host::hostname(),
                user: entry.user.clone().unwrap_or_else(crate::host::username),
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
                return Err(Error::Contention {
                    object: format!("the journal of {}", self.storage.location()),
                    attempts: attempt,
                });
            }
            let jitter = rand::random::<u64>() % (10 * u64::from(attempt.min(20)) + 1);
            std::thread::sleep(std::time::Duration::from_millis(jitter));
        }
    }

    /// Every record, ascending; unreadable ones as `(seq, error)`.
    pub fn list(&self) -> Result<Vec<std::result::Result<Record, (u64, Error)>>> {
        let seqs = self.sequence_numbers()?;
        let read = parallel_map(&seqs, 8, |s| self.read(*s));
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
