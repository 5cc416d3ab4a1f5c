//! Rules over a repository: modes, the journal, locks and retention policies.
pub mod forget;
pub mod journal;
pub mod lock;
pub mod mode;
