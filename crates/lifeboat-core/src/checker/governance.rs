//! Check of the governance objects: the journal's hash chain, the mode record, the write-only
//! identity and stale locks.

use crate::checker::CheckReport;
use crate::error::Result;
use crate::format::writeonly::{parse_identity, IDENTITY_KEY};
use crate::governance::journal::{verify, Journal};
use crate::repo::Repository;

/// Adds every journal problem, and an unreadable mode record or identity, to `report` as errors
/// (a flipped byte in any repository object is found by `check`).
pub fn check_records(repo: &Repository, report: &mut CheckReport) -> Result<()> {
    let v = verify(&Journal::of(repo), None)?;
    for p in v.problems {
        report
            .errors
            .push(format!("journal record {}: {}", p.seq, p.message));
    }
    if let Err(e) = crate::governance::mode::current_record(repo) {
        report.errors.push(format!("mode: {e}"));
    }
    if let Some(e) = check_identity(repo)? {
        report.errors.push(format!("write-only identity: {e}"));
    }
    Ok(())
}

/// The identity object, when present, opens with the full key in use: `Some(problem)` when not.
pub fn check_identity(repo: &Repository) -> Result<Option<String>> {
    let Some(master) = repo.keys().master() else {
        return Ok(None);
    };
    match repo.storage().read(IDENTITY_KEY) {
        Ok(bytes) => Ok(parse_identity(master, &bytes).err().map(|e| e.to_string())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Ok(Some(format!("{IDENTITY_KEY}: {e}"))),
    }
}

/// Adds a warning for every stale lock.
pub fn check_locks(repo: &Repository, report: &mut CheckReport) -> Result<()> {
    for (key, info) in crate::governance::lock::list_locks(repo)? {
        if info.as_ref().is_none_or(|i| i.is_stale()) {
            report
                .warnings
                .push(format!("stale lock {key} (unlock removes it)"));
        }
    }
    Ok(())
}
