//! `copy`: replicate snapshots (and what they reference) into another repository.
//!
//! Blob ids are keyed per repository (keyed BLAKE3 with each repository's own id key), so a copy
//! cannot move stored blobs as they are: every blob is read and verified with the source keys,
//! re-identified with the destination's id key, and stored (compressed and encrypted under the
//! destination keys) unless the destination already has it. Trees name their children by id, so
//! they are rewritten depth-first with the translated ids; an id map shared by all snapshots of
//! one run avoids translating a subtree twice.
//!
//! The translations of data blobs are kept in the destination (`copymap/<source repository
//! id>/...`, under the destination's metadata key, written after the snapshot using them), so a
//! later copy of a mostly unchanged snapshot reads only trees and new data from the source.
//!
//! Each copied snapshot records `extra.copied_from = <source snapshot id>`. A source snapshot
//! whose id is already some destination snapshot's `copied_from` (or whose own `copied_from` is
//! a destination snapshot, i.e. it was copied from there) is skipped, so copying twice never
//! duplicates snapshots.
//!
//! Write order per snapshot is the backup's: packs, then the index naming them, then the
//! snapshot ([`BlobSaver`](crate::archiver::BlobSaver)). When the source turns out damaged (a
//! pack missing or failing authentication), the copy stops with an error naming the pack; the
//! snapshot being copied is not written and its packs are not indexed (the next prune of the
//! destination removes them). Snapshots finished earlier in the same run stay: they are
//! complete.
//!
//! `copy.rs` is the operation, `copymap.rs` the translations it keeps in the destination.

mod copy;
mod copymap;

pub use copy::{copy, CopiedSnapshot, CopyReport, COPIED_FROM};
pub use copymap::COPYMAP_PREFIX;
