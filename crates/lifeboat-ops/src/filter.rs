//! Which snapshots a listing or a retention policy considers: by host and tags.

use lifeboat_core::snapshot::SnapshotEntry;
use serde::Deserialize;

/// Selects snapshots by host and tags (any of the tags matches). Empty selects everything.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotFilter {
    /// Only snapshots of this host.
    pub host: Option<String>,
    /// Only snapshots with at least one of these tags.
    pub tags: Vec<String>,
}

impl SnapshotFilter {
    /// True when `s` is selected.
    pub fn matches(&self, s: &SnapshotEntry) -> bool {
        self.host.as_ref().is_none_or(|h| &s.snapshot.hostname == h)
            && (self.tags.is_empty() || s.snapshot.tags.iter().any(|t| self.tags.contains(t)))
    }

    /// The selected snapshots of `all`, in their order.
    pub fn apply(&self, all: Vec<SnapshotEntry>) -> Vec<SnapshotEntry> {
        all.into_iter().filter(|s| self.matches(s)).collect()
    }
}
