//! `lifeboat check`.

use crate::output::{self, ProgressDisplay};
use crate::session::Session;
use anyhow::Result;
use clap::Args;
use lifeboat_ops::check::ReadData;

/// `lifeboat check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Decrypt and verify every blob
    #[arg(long, conflicts_with = "read_data_subset")]
    read_data: bool,
    /// Decrypt and verify a random PERCENT of packs (e.g. 10 or 10%)
    #[arg(long, value_name = "PERCENT")]
    read_data_subset: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat check`: exit 1 when it found errors.
pub fn run(s: &Session, a: &CheckArgs) -> Result<i32> {
    let read = match &a.read_data_subset {
        Some(p) => ReadData::parse_subset(p)?,
        None if a.read_data => ReadData::All,
        None => ReadData::None,
    };
    let repo = s.open()?;
    let spinner = s
        .show_progress()
        .then(|| ProgressDisplay::spinner("checking"));
    let report = lifeboat_ops::check::check(&s.ctx, &repo, read)?;
    drop(spinner);
    if a.json {
        output::json(&report);
    } else {
        output::check_report(&report, read.reads_data());
    }
    Ok(if report.errors.is_empty() { 0 } else { 1 })
}
