//! Governance: the rules over a repository and the operations that set them. [`mode`]
//! (resilience modes), [`journal`] (the hash-chained audit trail), [`lock`] (concurrency),
//! [`writeonly`] (issuing write-only keys) and [`forget`] (retention policies: which snapshots
//! to keep). Their stored forms are in [`crate::format`]; the object-lock storage layer is
//! [`crate::layers::object_lock`].

pub mod forget;
pub mod journal;
pub mod lock;
pub mod mode;
pub mod writeonly;
