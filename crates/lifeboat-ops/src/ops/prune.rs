//! `prune`: remove data no snapshot references, then expire the WAL that no remaining
//! physical base backup needs, under the same exclusive lock.

use crate::modes::{self, Operation};
use crate::ops::wal::{self, ExpireReport};
use crate::record::Recorder;
use crate::{journaled, Context, Result};
use lifeboat_core::prune::{self, PruneOptions, PruneReport};
use lifeboat_core::Repository;
use serde::Serialize;

/// What prune (and the WAL expiry after it) did.
#[derive(Clone, Debug, Serialize)]
pub struct PruneOutcome {
    /// Packs and blobs.
    #[serde(flatten)]
    pub prune: PruneReport,
    /// The WAL expiry hook.
    pub wal_expiry: ExpireReport,
}

/// Runs prune (`dry_run`: report only).
pub fn prune(ctx: &Context, repo: &Repository, dry_run: bool) -> Result<PruneOutcome> {
    let mut rec = Recorder::new(ctx, "prune");
    rec.flag("dry_run", dry_run);
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        let out = prune_unjournaled(ctx, repo, dry_run)?;
        rec.note(format!(
            "{} packs deleted, {} repacked; {} WAL files expired",
            out.prune.packs_deleted,
            out.prune.packs_repacked,
            out.wal_expiry.deleted()
        ));
        Ok(out)
    })
}

/// Prune as a step of another journaled operation (forget --prune).
pub(crate) fn prune_unjournaled(
    ctx: &Context,
    repo: &Repository,
    dry_run: bool,
) -> Result<PruneOutcome> {
    modes::require(
        repo,
        if dry_run {
            Operation::PruneDryRun
        } else {
            Operation::Prune
        },
    )?;
    let (prune, wal_expiry) = prune::prune_then(
        repo,
        &PruneOptions {
            dry_run,
            cancel: ctx.cancel_token().clone(),
        },
        |_| wal::expire_locked(repo, None, dry_run),
    )?;
    Ok(PruneOutcome { prune, wal_expiry })
}
