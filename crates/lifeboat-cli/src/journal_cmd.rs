//! The journal hook around command dispatch, and the `journal` and `mode` commands.
//!
//! Every command that changes a repository or reads data out of it is described before it runs
//! ([`describe`]); the repositories it opens register themselves ([`remember`]) and it notes the
//! snapshots it touched ([`affected`]); after it finished, [`finish`] appends one journal record
//! with its result to each registered repository. A journal that cannot be appended to never
//! changes the command's own outcome: it is reported on stderr.

use super::{Cli, Command, KeyCommand};
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use lifeboat_core::journal::{self, Entry, Journal, Outcome, SavedHead};
use lifeboat_core::mode::{self, Mode};
use lifeboat_core::Repository;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// `lifeboat journal`.
#[derive(Args, Debug)]
pub struct JournalArgs {
    #[command(subcommand)]
    command: Option<JournalCommand>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum JournalCommand {
    /// Recompute the hash chain; report the first broken link, missing records and, given a
    /// saved head, a truncated or rewritten tail
    Verify {
        /// A head saved earlier with `lifeboat journal head` (SEQ:HASH or HASH)
        #[arg(long)]
        head: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the current head (SEQ:HASH); save it somewhere else to detect a rewritten tail later
    Head {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// `lifeboat mode`.
#[derive(Args, Debug)]
pub struct ModeArgs {
    /// `read-only` or `normal`; without it the current mode is shown
    mode: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

struct Target {
    journal: Journal,
    arguments: BTreeMap<String, String>,
    snapshots: Vec<String>,
}

static TARGETS: Mutex<Vec<Target>> = Mutex::new(Vec::new());
static NOTE: Mutex<Option<String>> = Mutex::new(None);

/// What is journaled about a command: its name and the arguments that matter.
pub type Description = (String, BTreeMap<String, String>);

fn args<const N: usize>(pairs: [(&str, Option<String>); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect()
}

fn list(v: &[String]) -> Option<String> {
    (!v.is_empty()).then(|| v.join(" "))
}

fn flag(b: bool) -> Option<String> {
    b.then(|| "true".to_string())
}

fn abs(p: &std::path::Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// The journal description of a command, `None` for commands that are not journaled (listing,
/// stats, key list, unlock, the journal itself). PostgreSQL commands are described by
/// `postgres_cmd::journal_description` (called by `main`).
pub fn describe(cli: &Cli) -> Option<Description> {
    let (op, a) = match &cli.command {
        Command::Init(a) => ("init", args([("object_lock", a.object_lock.clone())])),
        Command::Backup(a) => (
            "backup",
            args([
                (
                    "paths",
                    list(&a.paths.iter().map(|p| abs(p)).collect::<Vec<_>>()),
                ),
                ("stdin_name", a.stdin_name.clone()),
                ("command", a.stdin_from_command.then(|| a.command.join(" "))),
                ("tags", list(&a.tags)),
                ("host", a.host.clone()),
                ("excludes", list(&a.excludes)),
            ]),
        ),
        Command::Restore(a) => (
            "restore",
            args([
                ("snapshot", Some(a.snapshot.clone())),
                ("target", Some(abs(&a.target))),
                ("includes", list(&a.includes)),
                ("overwrite", flag(a.overwrite)),
            ]),
        ),
        Command::Dump(a) => (
            "dump",
            args([
                ("snapshot", Some(a.snapshot.clone())),
                ("path", a.path.clone()),
            ]),
        ),
        Command::Check(a) => (
            "check",
            args([
                ("read_data", flag(a.read_data)),
                ("read_data_subset", a.read_data_subset.clone()),
            ]),
        ),
        Command::Forget(a) => {
            let keep = [
                ("last", a.keep_last),
                ("hourly", a.keep_hourly),
                ("daily", a.keep_daily),
                ("weekly", a.keep_weekly),
                ("monthly", a.keep_monthly),
                ("yearly", a.keep_yearly),
            ]
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("keep-{k}={v}")))
            .chain(a.keep_within.iter().map(|w| format!("keep-within={w}")))
            .collect::<Vec<_>>();
            (
                "forget",
                args([
                    ("snapshots", list(&a.snapshots)),
                    ("policy", list(&keep)),
                    ("tags", list(&a.tags)),
                    ("host", a.host.clone()),
                    ("dry_run", flag(a.dry_run)),
                    ("prune", flag(a.prune)),
                ]),
            )
        }
        Command::Prune(a) => ("prune", args([("dry_run", flag(a.dry_run))])),
        Command::Key(KeyCommand::Add(a)) => ("key add", args([("write_only", flag(a.write_only))])),
        Command::Key(KeyCommand::Remove { id }) => ("key remove", args([("id", Some(id.clone()))])),
        Command::Key(KeyCommand::Passwd(_)) => ("key passwd", BTreeMap::new()),
        Command::Copy(a) => (
            "copy",
            args([
                ("role", Some("source".into())),
                ("to", Some(a.to.clone())),
                ("snapshots", list(&a.snapshots)),
            ]),
        ),
        Command::Mode(ModeArgs { mode: Some(m), .. }) => {
            ("mode", args([("mode", Some(m.clone()))]))
        }
        _ => return None,
    };
    Some((op.to_string(), a))
}

/// Registers an opened repository: the command's record goes to its journal. Returns its
/// position for [`affected_in`].
pub fn remember(repo: &Repository) -> usize {
    remember_with(repo, BTreeMap::new())
}

/// Like [`remember`], with arguments recorded only in this repository's record (they override
/// the command's).
pub fn remember_with(repo: &Repository, arguments: BTreeMap<String, String>) -> usize {
    let mut t = TARGETS.lock().expect("journal targets");
    t.push(Target {
        journal: Journal::of(repo),
        arguments,
        snapshots: Vec::new(),
    });
    t.len() - 1
}

/// Notes a snapshot the command created, removed, read or copied (first repository).
pub fn affected(id: &str) {
    affected_in(0, id);
}

/// Notes a snapshot of the repository registered at `pos`.
pub fn affected_in(pos: usize, id: &str) {
    if let Some(t) = TARGETS.lock().expect("journal targets").get_mut(pos) {
        t.snapshots.push(id.to_string());
    }
}

/// A short note recorded with a successful result (for example a check's error count).
pub fn note(text: impl Into<String>) {
    *NOTE.lock().expect("journal note") = Some(text.into());
}

/// Appends the command's record to every registered repository.
pub fn finish(description: Option<Description>, result: &Result<i32>) {
    let Some((operation, arguments)) = description else {
        return;
    };
    let note = NOTE
        .lock()
        .expect("journal note")
        .take()
        .unwrap_or_default();
    let outcome = match result {
        Ok(0) => Outcome::ok(note),
        Ok(3) if operation == "backup" => Outcome::ok(if note.is_empty() {
            "partial: some files could not be read and were skipped".to_string()
        } else {
            note
        }),
        Ok(code) => Outcome::error(
            [format!("exit code {code}"), note]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(": "),
        ),
        Err(e) => Outcome::error(format!("{e:#}")),
    };
    let targets = std::mem::take(&mut *TARGETS.lock().expect("journal targets"));
    for t in targets {
        let mut args = arguments.clone();
        args.extend(t.arguments);
        let entry = Entry {
            operation: operation.clone(),
            arguments: args,
            result: outcome.clone(),
            snapshots: t.snapshots,
        };
        if let Err(e) = t.journal.append(entry) {
            eprintln!(
                "warning: the {operation} record could not be appended to the journal of {}: {e}",
                t.journal.location()
            );
        }
    }
}

/// `lifeboat journal ...`.
pub fn run_journal(cli: &Cli, a: &JournalArgs) -> Result<i32> {
    let repo = super::open_repo(cli)?;
    let journal = Journal::of(&repo);
    match &a.command {
        None => {
            let records = journal.list()?;
            if a.json {
                let v: Vec<serde_json::Value> = records
                    .iter()
                    .map(|r| match r {
                        Ok(r) => serde_json::to_value(r).expect("record serializes"),
                        Err((seq, e)) => {
                            serde_json::json!({"seq": seq, "unreadable": e.to_string()})
                        }
                    })
                    .collect();
                super::output::json(&v);
            } else {
                print_records(&records);
            }
            Ok(0)
        }
        Some(JournalCommand::Head { json }) => {
            let head = journal.head()?;
            if *json {
                super::output::json(&head);
            } else {
                println!("{head}");
            }
            Ok(0)
        }
        Some(JournalCommand::Verify { head, json }) => {
            let saved: Option<SavedHead> = head.as_deref().map(str::parse).transpose()?;
            let report = journal::verify(&journal, saved.as_ref())?;
            if *json {
                super::output::json(&report);
            } else if report.problems.is_empty() {
                match &report.head {
                    Some(h) => println!(
                        "journal intact: {} records, chain verified; head {h}{}",
                        report.records,
                        if report.saved_head_ok == Some(true) {
                            " (the saved head is part of the chain)"
                        } else {
                            ""
                        }
                    ),
                    None => println!("journal is empty"),
                }
            } else {
                for p in &report.problems {
                    println!("record {}: {}: {}", p.seq, p.kind, p.message);
                }
                if let Some(f) = report.first_broken {
                    println!("first broken link: record {f}");
                }
                if !report.missing.is_empty() {
                    println!(
                        "missing records: {}",
                        report
                            .missing
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                eprintln!(
                    "error: the journal failed verification ({} problems)",
                    report.problems.len()
                );
            }
            Ok(if report.problems.is_empty() { 0 } else { 1 })
        }
    }
}

fn print_records(records: &[std::result::Result<journal::Record, (u64, lifeboat_core::Error)>]) {
    for r in records {
        match r {
            Err((seq, e)) => println!("{seq:>5}  UNREADABLE: {e}"),
            Ok(r) => {
                let time = r.time.split('.').next().unwrap_or(&r.time);
                let mut details: Vec<String> = r
                    .arguments
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                if !r.snapshots.is_empty() {
                    details.push(format!(
                        "snapshots={}",
                        r.snapshots
                            .iter()
                            .map(|s| &s[..8.min(s.len())])
                            .collect::<Vec<_>>()
                            .join(",")
                    ));
                }
                let result = if r.result.message.is_empty() {
                    r.result.status.clone()
                } else {
                    format!("{}: {}", r.result.status, r.result.message)
                };
                println!(
                    "{:>5}  {}  {}@{}  {}  [{}]  {}",
                    r.seq,
                    time,
                    r.user,
                    r.host,
                    r.operation,
                    result,
                    details.join(" ")
                );
            }
        }
    }
}

/// `lifeboat mode [read-only|normal]`.
pub fn run_mode(cli: &Cli, a: &ModeArgs) -> Result<i32> {
    let repo = super::open_repo(cli)?;
    match &a.mode {
        None => {
            let rec = mode::current_record(&repo)?;
            let m = rec.as_ref().map_or(Mode::Normal, |r| r.mode);
            if a.json {
                super::output::json(&serde_json::json!({"mode": m, "since": rec}));
            } else {
                match rec {
                    Some(r) => println!(
                        "repository mode: {m} (set {} by {}@{})",
                        r.time, r.user, r.host
                    ),
                    None => println!("repository mode: {m}"),
                }
            }
        }
        Some(name) => {
            let m: Mode = match name.parse() {
                Ok(m) => m,
                Err(e) => bail!("{e}"),
            };
            let rec = mode::set(&repo, m)?;
            if a.json {
                super::output::json(&rec);
            } else {
                println!("repository mode is now {m}");
            }
        }
    }
    Ok(0)
}
