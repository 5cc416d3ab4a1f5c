//! Restore drills: prove that a backup restores and that the restored copy satisfies the
//! application's invariants, measuring RTO and RPO and keeping a report as evidence.
//!
//! The engine pieces live here (choosing the recovery point, scratch space and its leftovers,
//! throwaway PostgreSQL clusters, the checks, the report and its Markdown rendering); the
//! operation that ties them to a repository, its mode, locks and journal is
//! `lifeboat_ops::drill`. See docs/design/drills.md.

#![warn(missing_docs)]

pub mod checks;
pub mod pick;
pub mod points;
pub mod report;
pub mod run;
pub mod scratch;
