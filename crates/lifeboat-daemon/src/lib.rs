//! The lifeboat daemon (`lifeboat daemon`): schedules, an authenticated HTTP API, Prometheus
//! metrics, notifications, crash recovery and a dashboard, specified in
//! `docs/design/daemon.md`.
//!
//! It is a front end like the CLI: every job is a call into `lifeboat-ops`, which owns mode
//! checks, locks, journal records and hooks. This crate adds what only a long-running process
//! needs: when jobs run ([`scheduler`], [`schedule`]), how they are run and remembered
//! ([`runner`], [`jobs`], [`state`]), what happened to the previous process ([`crash`]), what
//! the repositories look like now ([`probe`]), who may ask for what ([`auth`], [`api`]), and
//! who is told ([`notify`], [`metrics`]).

#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod crash;
pub mod dashboard;
pub mod jobs;
pub mod metrics;
pub mod notify;
pub mod probe;
pub mod runner;
pub mod schedule;
pub mod scheduler;
pub mod server;
pub mod state;

pub use server::{run, Options};

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration file is missing or invalid.
    #[error(transparent)]
    Config(#[from] lifeboat_config::ConfigError),
    /// The state directory or database failed.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// Listening, TLS or the runtime failed.
    #[error("{0}")]
    Start(String),
}
