//! `lifeboat journal [verify|head]`.

use crate::{output, session::Session};
use anyhow::Result;
use clap::{Args, Subcommand};
use lifeboat_ops::journal::Listed;

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

/// Runs `lifeboat journal ...`.
pub fn run(s: &Session, a: &JournalArgs) -> Result<i32> {
    let repo = s.open()?;
    match &a.command {
        None => {
            let records = lifeboat_ops::journal::list(&s.ctx, &repo)?;
            if a.json {
                output::json(&records);
            } else {
                print_records(&records);
            }
            Ok(0)
        }
        Some(JournalCommand::Head { json }) => {
            let head = lifeboat_ops::journal::head(&s.ctx, &repo)?;
            if *json {
                output::json(&head);
            } else {
                println!("{head}");
            }
            Ok(0)
        }
        Some(JournalCommand::Verify { head, json }) => {
            let report = lifeboat_ops::journal::verify(&s.ctx, &repo, head.as_deref())?;
            if *json {
                output::json(&report);
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

fn print_records(records: &[Listed]) {
    for r in records {
        match r {
            Listed::Unreadable { seq, unreadable } => {
                println!("{seq:>5}  UNREADABLE: {unreadable}")
            }
            Listed::Record(r) => {
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
