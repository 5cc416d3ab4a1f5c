//! `unlock`: remove stale locks (or all of them).

use crate::modes::{self, Operation};
use crate::{Context, Result};
use lifeboat_core::Repository;

/// Removes stale locks (`all`: every lock); returns how many.
pub fn unlock(_ctx: &Context, repo: &Repository, all: bool) -> Result<usize> {
    modes::require(repo, Operation::Unlock)?;
    Ok(lifeboat_core::lock::unlock(repo, all)?)
}
