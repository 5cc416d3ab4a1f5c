//! `lifeboat key add|list|remove|passwd`.

use super::JsonArg;
use crate::output;
use crate::session::{prompt, Session};
use anyhow::Result;
use clap::{Args, Subcommand};
use lifeboat_config::PasswordSource;
use std::path::PathBuf;

/// `lifeboat key ...`.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Add a key (new password from LIFEBOAT_NEW_PASSWORD, --new-password-file, or asked twice on a terminal)
    Add(AddKeyArgs),
    /// List keys
    List(JsonArg),
    /// Remove a key by id or unique prefix
    Remove {
        /// Key id or prefix
        id: String,
    },
    /// Change the password of the key in use
    Passwd(NewPassword),
}

/// Where the new password comes from.
#[derive(Args, Debug)]
pub struct NewPassword {
    /// Read the new password from this file
    #[arg(long, env = "LIFEBOAT_NEW_PASSWORD_FILE")]
    new_password_file: Option<PathBuf>,
}

/// `lifeboat key add`.
#[derive(Args, Debug)]
pub struct AddKeyArgs {
    #[command(flatten)]
    password: NewPassword,
    /// Create a write-only key: it can back up (with deduplication) but cannot read data,
    /// snapshots or file names, restore, forget or prune (docs/design/writeonly.md)
    #[arg(long)]
    write_only: bool,
}

fn new_password(a: &NewPassword) -> Result<Vec<u8>> {
    let source = if std::env::var_os("LIFEBOAT_NEW_PASSWORD").is_some() {
        Some(PasswordSource::Env("LIFEBOAT_NEW_PASSWORD".into()))
    } else {
        a.new_password_file.clone().map(PasswordSource::File)
    };
    match source {
        Some(s) => Ok(s.read()?),
        None => prompt("the new key", true)?.ok_or_else(|| {
            anyhow::anyhow!("no new password given: set LIFEBOAT_NEW_PASSWORD, pass --new-password-file, or run from a terminal to be asked")
        }),
    }
}

/// Runs `lifeboat key ...`.
pub fn run(s: &Session, k: &KeyCommand) -> Result<i32> {
    let mut repo = s.open()?;
    match k {
        KeyCommand::Add(a) => {
            let password = new_password(&a.password)?;
            let added = lifeboat_ops::keys::add(&s.ctx, &repo, &password, a.write_only)?;
            match &added.recipient {
                Some(recipient) => {
                    println!("added write-only key {}", &added.id[..8]);
                    println!(
                        "data written with it is sealed to the repository's recipient {recipient}"
                    );
                    println!("only full keys (which hold the identity) can read it back");
                }
                None => println!("added key {}", &added.id[..8]),
            }
        }
        KeyCommand::List(j) => {
            let keys = lifeboat_ops::keys::list(&s.ctx, &repo)?;
            if j.json {
                output::json(&keys);
            } else {
                println!(
                    " {:<10} {:<12} {:<12} {:<20} created",
                    "ID", "kind", "user", "host"
                );
                for k in keys {
                    println!(
                        "{}{:<10} {:<12} {:<12} {:<20} {}",
                        if k.current { "*" } else { " " },
                        &k.id[..8],
                        k.kind,
                        k.username,
                        k.hostname,
                        k.created
                    );
                }
            }
        }
        KeyCommand::Remove { id } => {
            let removed = lifeboat_ops::keys::remove(&s.ctx, &repo, id)?;
            println!("removed key {}", &removed[..8]);
        }
        KeyCommand::Passwd(np) => {
            let password = new_password(np)?;
            let id = lifeboat_ops::keys::passwd(&s.ctx, &mut repo, &password)?;
            println!("password changed; new key {}", &id[..8]);
        }
    }
    Ok(0)
}
