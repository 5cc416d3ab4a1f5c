//! One journal record per operation and repository, built while the operation runs.
//!
//! An operation creates a [`Recorder`] with its name and the arguments that matter, registers
//! each repository it opens ([`Recorder::add`]), notes the snapshots it created, removed, read
//! or copied ([`Recorder::affected`]) and a short note ([`Recorder::note`]); [`Recorder::finish`]
//! appends one record with the result to every registered repository's journal (`ok`, `error`
//! or `cancelled`). The acting user and front end come from the [`Context`]. A journal that
//! cannot be appended to never changes the operation's own outcome: the failure is returned as
//! a warning for the front end to show.

use crate::context::Context;
use crate::error::OpsError;
use lifeboat_core::journal::{Entry, Journal, Outcome};
use lifeboat_core::Repository;
use std::collections::BTreeMap;

struct Target {
    journal: Journal,
    arguments: BTreeMap<String, String>,
    snapshots: Vec<String>,
}

/// Collects one operation's journal record (see the module documentation).
pub struct Recorder {
    operation: String,
    arguments: BTreeMap<String, String>,
    user: String,
    targets: Vec<Target>,
    note: Option<String>,
}

/// Position of a registered repository in a [`Recorder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetId(usize);

/// The first registered repository.
pub const FIRST: TargetId = TargetId(0);

impl Recorder {
    /// Starts the record of `operation` run in `ctx`.
    pub fn new(ctx: &Context, operation: &str) -> Self {
        let mut arguments = BTreeMap::new();
        arguments.insert("via".to_string(), ctx.actor.front_end.name().to_string());
        Recorder {
            operation: operation.to_string(),
            arguments,
            user: ctx.actor.user.clone(),
            targets: Vec::new(),
            note: None,
        }
    }

    /// Records an argument (skipped when `value` is `None`).
    pub fn arg(&mut self, key: &str, value: Option<impl Into<String>>) -> &mut Self {
        if let Some(v) = value {
            self.arguments.insert(key.to_string(), v.into());
        }
        self
    }

    /// Records a list argument, space separated (skipped when empty).
    pub fn list(&mut self, key: &str, values: &[String]) -> &mut Self {
        let v = (!values.is_empty()).then(|| values.join(" "));
        self.arg(key, v)
    }

    /// Records a flag (only when set).
    pub fn flag(&mut self, key: &str, on: bool) -> &mut Self {
        self.arg(key, on.then_some("true"))
    }

    /// Registers a repository whose journal gets the record.
    pub fn add(&mut self, repo: &Repository) -> TargetId {
        self.add_with(repo, BTreeMap::new())
    }

    /// Like [`Recorder::add`], with arguments recorded only in this repository's record.
    pub fn add_with(&mut self, repo: &Repository, arguments: BTreeMap<String, String>) -> TargetId {
        self.targets.push(Target {
            journal: Journal::of(repo),
            arguments,
            snapshots: Vec::new(),
        });
        TargetId(self.targets.len() - 1)
    }

    /// Notes a snapshot of the repository at `target`.
    pub fn affected(&mut self, target: TargetId, id: &str) {
        if let Some(t) = self.targets.get_mut(target.0) {
            t.snapshots.push(id.to_string());
        }
    }

    /// A short note recorded with the result (for example a check's error count).
    pub fn note(&mut self, text: impl Into<String>) {
        self.note = Some(text.into());
    }

    /// Appends the record with `result` to every registered repository. Returns warnings about
    /// journals that could not be appended to.
    pub fn finish<T>(self, result: &Result<T, OpsError>) -> Vec<String> {
        let note = self.note.clone().unwrap_or_default();
        let outcome = match result {
            Ok(_) => Outcome::ok(note),
            Err(e) if e.is_cancelled() => Outcome::cancelled(e.to_string()),
            Err(e) => Outcome::error(e.to_string()),
        };
        self.append(outcome)
    }

    /// Appends the record with an explicit outcome (for results that are not plain success,
    /// such as a check that ran and found errors).
    pub fn append(self, outcome: Outcome) -> Vec<String> {
        let mut warnings = Vec::new();
        for t in self.targets {
            let mut args = self.arguments.clone();
            args.extend(t.arguments);
            let entry = Entry {
                operation: self.operation.clone(),
                arguments: args,
                result: outcome.clone(),
                snapshots: t.snapshots,
                user: Some(self.user.clone()),
            };
            if let Err(e) = t.journal.append(entry) {
                warnings.push(format!(
                    "the {} record could not be appended to the journal of {}: {e}",
                    self.operation,
                    t.journal.location()
                ));
            }
        }
        warnings
    }
}
