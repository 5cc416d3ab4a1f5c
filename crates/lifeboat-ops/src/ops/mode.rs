//! `mode`: show or change the repository's resilience mode.

use crate::modes::{self, Operation};
use crate::record::Recorder;
use crate::{journaled, Context, Result};
use lifeboat_core::mode::{self, Mode, ModeRecord};
use lifeboat_core::Repository;
use serde::Serialize;

/// The current mode and the record that set it.
#[derive(Clone, Debug, Serialize)]
pub struct ModeStatus {
    /// The mode.
    pub mode: Mode,
    /// Who set it and when (`None`: never set, normal).
    pub since: Option<ModeRecord>,
}

/// The current mode.
pub fn show(_ctx: &Context, repo: &Repository) -> Result<ModeStatus> {
    modes::require(repo, Operation::ModeShow)?;
    let since = mode::current_record(repo)?;
    Ok(ModeStatus {
        mode: since.as_ref().map_or(Mode::Normal, |r| r.mode),
        since,
    })
}

/// Sets the mode (needs a full key); journaled.
pub fn set(ctx: &Context, repo: &Repository, to: Mode) -> Result<ModeRecord> {
    let mut rec = Recorder::new(ctx, "mode");
    rec.arg("mode", Some(to.name()));
    rec.add(repo);
    journaled(ctx, rec, |_| {
        modes::require(repo, Operation::ModeSet)?;
        Ok(mode::set(repo, to)?)
    })
}
