//! `check`: verify the repository's structure and, optionally, its data.

use crate::modes::{self, Operation};
use crate::record::Recorder;
use crate::{Context, OpsError, Result};
use lifeboat_core::check::{self, CheckOptions, CheckReport};
use lifeboat_core::journal::Outcome;
use lifeboat_core::Repository;
use serde::Deserialize;

/// How much data a check reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadData {
    /// Structure only: indexes, pack headers, snapshots, trees.
    #[default]
    None,
    /// Decrypt and verify every blob.
    All,
    /// Decrypt and verify the blobs of this percentage of packs, chosen at random.
    Subset(f64),
}

impl ReadData {
    /// Parses a subset percentage such as `10` or `10%`.
    pub fn parse_subset(s: &str) -> Result<ReadData> {
        let v: f64 = s.trim().trim_end_matches('%').parse().map_err(|_| {
            OpsError::invalid(
                "read data subset",
                format!("'{s}' is not a percentage such as 10 or 10%"),
            )
        })?;
        if !(0.0..=100.0).contains(&v) {
            return Err(OpsError::invalid(
                "read data subset",
                format!("{v} is not between 0 and 100"),
            ));
        }
        Ok(ReadData::Subset(v))
    }

    /// True when blobs are decrypted.
    pub fn reads_data(self) -> bool {
        self != ReadData::None
    }
}

/// Runs the check. A check that ran and found problems returns `Ok` with them in the report
/// (and is journaled as an error); `Err` means it could not run.
pub fn check(ctx: &Context, repo: &Repository, read: ReadData) -> Result<CheckReport> {
    let mut rec = Recorder::new(ctx, "check");
    match read {
        ReadData::None => {}
        ReadData::All => {
            rec.flag("read_data", true);
        }
        ReadData::Subset(p) => {
            rec.arg("read_data_subset", Some(format!("{p}%")));
        }
    }
    rec.add(repo);
    let result = modes::require(repo, Operation::Check).and_then(|()| {
        Ok(check::check(
            repo,
            &CheckOptions {
                read_data: read == ReadData::All,
                read_data_subset: match read {
                    ReadData::Subset(p) => Some(p),
                    _ => None,
                },
                cancel: ctx.cancel_token().clone(),
            },
        )?)
    });
    let warnings = match &result {
        Ok(report) => {
            let note = format!(
                "{} errors, {} warnings",
                report.errors.len(),
                report.warnings.len()
            );
            rec.append(if report.errors.is_empty() {
                Outcome::ok(note)
            } else {
                Outcome::error(note)
            })
        }
        Err(_) => rec.finish(&result),
    };
    for w in warnings {
        ctx.warn(w);
    }
    result
}
