//! Backups of file trees, directories and streams.
mod saver;
pub use saver::*;
