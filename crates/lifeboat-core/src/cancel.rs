//! Cancellation of long operations.
//!
//! A [`CancelToken`] is shared between a front end (a signal handler, an API request) and a
//! running operation. Long operations (backup, restore, check, prune, copy) poll it between
//! units of work (a chunk, a file, a pack) and stop with [`Error::Cancelled`] within a second
//! of [`CancelToken::cancel`]. Stopping never leaves a repository object that points at
//! missing data: a cancelled backup stops before its index and snapshot are written (its packs
//! are unindexed leftovers that `prune` removes), a cancelled prune stops before it writes its
//! new index or between deletions of objects nothing references any more.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared "please stop" flag; clones observe the same flag. The default token is never
/// cancelled unless [`CancelToken::cancel`] is called on it or a clone.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A new, not cancelled token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every holder of this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Error::Cancelled)` once cancelled; `operation` names what stops.
    pub fn check(&self, operation: &str) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled {
                operation: operation.to_string(),
            })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag() {
        let a = CancelToken::new();
        let b = a.clone();
        assert!(b.check("backup").is_ok());
        a.cancel();
        assert!(b.is_cancelled());
        assert!(matches!(b.check("backup"), Err(Error::Cancelled { .. })));
    }
}
