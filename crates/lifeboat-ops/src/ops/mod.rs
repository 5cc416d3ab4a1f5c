//! One module per operation (or family of operations on one object).

pub mod app;
pub mod backup;
pub mod check;
pub mod copy;
pub mod diff;
pub mod drill;
pub mod dump;
pub mod find;
pub mod forget;
pub mod init;
pub mod journal;
pub mod keys;
pub mod list;
pub mod mode;
pub mod prune;
pub mod restore;
pub mod restore_point;
pub mod rewrite;
pub mod unlock;
pub mod wal;
