//! The repository format: how every object lifeboat stores is encoded.
pub mod b64;
pub mod blob;
pub mod chunker;
pub mod config;
pub mod crypto;
pub mod dict;
pub mod index;
pub mod journal;
pub mod json;
pub mod keys;
pub mod mode;
pub mod pack;
pub mod snapshot;
pub mod tree;
pub mod writeonly;
pub mod zblob;
