//! Physical restore and point-in-time recovery: choose a base backup, unpack it, write the
//! recovery settings, and optionally start a temporary server until recovery reaches its target.
//!
//! The code is cut by concern, lower levels first: `user` (the `--run-as` user), `state` (a
//! cluster's backups, archive end and continuity), `unpack` (writing a base backup into a
//! directory), `settings` (`postgresql.auto.conf` and `recovery.signal`), `server` (the
//! temporary server and what recovery reached) and `restore` (the whole restore). Everything
//! public is re-exported here, so paths stay `pitr::X`.

mod restore;
pub(crate) mod server;
mod settings;
mod state;
mod unpack;
pub(crate) mod user;

pub use restore::{restore_physical, PhysicalRestoreOptions, PhysicalRestoreReport};
pub use server::{parse_recovery_log, start_and_wait, RecoveryPoint, StartOptions, StartReport};
pub use state::{cluster_state, continuity, read_histories, ClusterState};
pub use unpack::unpack_base_backup;
pub use user::RunAs;
