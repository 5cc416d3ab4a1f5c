//! One module per command: its arguments, the call into the operations layer, its output.

pub mod app;
pub mod backup;
pub mod check;
pub mod config;
pub mod copy;
pub mod daemon;
pub mod diff;
pub mod drill;
pub mod dump;
pub mod find;
pub mod forget;
pub mod init;
pub mod journal;
pub mod key;
pub mod ls;
pub mod mode;
pub mod postgres;
pub mod prune;
pub mod restore;
pub mod restore_point;
pub mod rewrite;
pub mod snapshots;
pub mod sqlite;
pub mod stats;
pub mod tag;
pub mod unlock;
pub mod wal;

use clap::Args;

/// `--json` alone.
#[derive(Args, Debug)]
pub struct JsonArg {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// `--tag` and `--host` filters.
#[derive(Args, Debug, Clone)]
pub struct FilterArgs {
    /// Only snapshots with this tag (repeatable; any matches)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Only snapshots of this host
    #[arg(long)]
    pub host: Option<String>,
}

impl FilterArgs {
    /// The operations layer's filter.
    pub fn filter(&self) -> lifeboat_ops::filter::SnapshotFilter {
        lifeboat_ops::filter::SnapshotFilter {
            host: self.host.clone(),
            tags: self.tags.clone(),
        }
    }
}
