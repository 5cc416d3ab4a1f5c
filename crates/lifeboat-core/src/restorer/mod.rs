//! Reading data back out: listing (`ls`), `restore` to a directory and `dump` to a writer.
//!
//! Every blob is authenticated, decompressed and checked against its id before a single byte of
//! it is written; a damaged blob stops the restore with an error naming the file and the pack.
//! `walk.rs` walks trees, `restore.rs` restores into a directory, `dump.rs` writes one file.

mod dump;
mod restore;
mod walk;
mod xattrs;

pub use dump::dump;
pub use restore::{restore, RestoreOptions, RestoreSummary};
pub use walk::{find_node, walk};
