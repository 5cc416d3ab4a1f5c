//! Who runs an operation, through which front end, and how the front end watches and stops it.

use lifeboat_core::backup::Progress;
use lifeboat_core::cancel::CancelToken;
use serde::Serialize;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// The front end an operation was started from; recorded in the journal (`via`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrontEnd {
    /// The `lifeboat` command line.
    Cli,
    /// The daemon's HTTP API.
    Api,
    /// The daemon's scheduler.
    Scheduler,
    /// A restore drill.
    Drill,
}

impl FrontEnd {
    /// The name recorded in journal records.
    pub fn name(self) -> &'static str {
        match self {
            FrontEnd::Cli => "cli",
            FrontEnd::Api => "api",
            FrontEnd::Scheduler => "scheduler",
            FrontEnd::Drill => "drill",
        }
    }
}

/// Who acts.
#[derive(Clone, Debug, Serialize)]
pub struct Actor {
    /// The acting user: the operating-system user for the CLI, the API token's name for the API.
    pub user: String,
    /// Through which front end.
    pub front_end: FrontEnd,
}

impl Actor {
    /// The operating-system user running this process.
    pub fn os_user(front_end: FrontEnd) -> Self {
        Actor {
            user: lifeboat_core::util::username(),
            front_end,
        }
    }
}

/// What every operation receives besides its request: who acts, the progress counters the
/// front end displays, and the cancellation token it may trigger (inside the counters, so the
/// engine's pipelines see it).
#[derive(Clone, Debug)]
pub struct Context {
    /// Who acts.
    pub actor: Actor,
    /// Live counters and the cancellation token.
    pub progress: Arc<Progress>,
    /// Bytes written by a restore so far (polled by progress displays).
    pub restored_bytes: Arc<AtomicU64>,
    warnings: Arc<Mutex<Vec<String>>>,
}

impl Context {
    /// A context for `actor` with fresh counters and a token nobody has cancelled.
    pub fn new(actor: Actor) -> Self {
        Context {
            actor,
            progress: Arc::new(Progress::default()),
            restored_bytes: Arc::new(AtomicU64::new(0)),
            warnings: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A context for the operating-system user on the command line.
    pub fn cli() -> Self {
        Self::new(Actor::os_user(FrontEnd::Cli))
    }

    /// Records a warning for the front end to show (an operation's result stays the same).
    pub fn warn(&self, text: impl Into<String>) {
        self.warnings.lock().expect("warnings").push(text.into());
    }

    /// Takes the warnings recorded so far.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().expect("warnings"))
    }

    /// The token that stops the running operation.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.progress.cancel
    }
}
