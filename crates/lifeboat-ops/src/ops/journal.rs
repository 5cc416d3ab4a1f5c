//! Reading the tamper-evident journal: list, head, verify.

use crate::modes::{self, Operation};
use crate::{Context, Result};
use lifeboat_core::journal::{self, Head, Journal, Record, SavedHead, VerifyReport};
use lifeboat_core::Repository;
use serde::Serialize;

/// One journal entry as listed: the record, or why it cannot be read.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Listed {
    /// A readable record.
    Record(Box<Record>),
    /// An unreadable one.
    Unreadable {
        /// Its sequence number.
        seq: u64,
        /// Why it cannot be read.
        unreadable: String,
    },
}

/// Every record, oldest first.
pub fn list(_ctx: &Context, repo: &Repository) -> Result<Vec<Listed>> {
    modes::require(repo, Operation::Journal)?;
    Ok(Journal::of(repo)
        .list()?
        .into_iter()
        .map(|r| match r {
            Ok(r) => Listed::Record(Box::new(r)),
            Err((seq, e)) => Listed::Unreadable {
                seq,
                unreadable: e.to_string(),
            },
        })
        .collect())
}

/// The current head (save it elsewhere to detect a rewritten tail later).
pub fn head(_ctx: &Context, repo: &Repository) -> Result<Head> {
    modes::require(repo, Operation::Journal)?;
    Ok(Journal::of(repo).head()?)
}

/// Recomputes the hash chain; with `saved`, checks that head is still part of it.
pub fn verify(_ctx: &Context, repo: &Repository, saved: Option<&str>) -> Result<VerifyReport> {
    modes::require(repo, Operation::Journal)?;
    let saved: Option<SavedHead> = saved.map(str::parse).transpose()?;
    Ok(journal::verify(&Journal::of(repo), saved.as_ref())?)
}
