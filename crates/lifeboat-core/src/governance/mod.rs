//! Rules over a repository: modes, the journal, locks, write-only keys and retention policies.
pub mod forget;
pub mod journal;
pub mod lock;
pub mod mode;
pub mod writeonly;
