//! The repository format (`docs/design/repository.md` and the specs extending it): how every
//! object lifeboat stores is encoded, and single objects read or written given a storage and
//! keys. Nothing here knows the [`Repository`](crate::Repository) handle.
//!
//! - Keys: [`config`] (public parameters), [`crypto`] (key hierarchy, envelopes), [`keys`] (key
//!   files), [`writeonly`] (the recipient envelope, the identity, write-only key files).
//! - Encodings: [`json`] (sealed JSON objects), [`b64`] (bytes in JSON).
//! - Data: [`chunker`], [`blob`], [`plain`] (plaintext buffers), [`zblob`] and [`dict`]
//!   (compression), [`pack`], [`index`].
//! - Manifests: [`tree`], [`snapshot`].
//! - Evidence and sets: [`drill`] (drill reports), [`restore_point`] (restore points, pins).
//! - Governance records: [`mode`] (mode records), [`journal`] (journal records).

pub mod b64;
pub mod blob;
pub mod chunker;
pub mod config;
pub mod crypto;
pub mod dict;
pub mod drill;
pub mod index;
pub mod journal;
pub mod json;
pub mod keys;
pub mod mode;
pub mod pack;
pub mod plain;
pub mod restore_point;
pub mod snapshot;
pub mod tree;
pub mod writeonly;
pub mod zblob;
