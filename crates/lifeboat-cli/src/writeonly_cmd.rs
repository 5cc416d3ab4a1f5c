//! `lifeboat key add [--write-only]`.

use super::{read_new_password, NewPassword};
use anyhow::Result;
use clap::Args;
use lifeboat_core::Repository;

/// `lifeboat key add`.
#[derive(Args, Debug)]
pub struct AddKeyArgs {
    #[command(flatten)]
    pub password: NewPassword,
    /// Create a write-only key: it can back up (with deduplication) but cannot read data,
    /// snapshots or file names, restore, forget or prune (docs/design/writeonly.md)
    #[arg(long)]
    pub write_only: bool,
}

/// Adds a full or write-only key and prints its id (and the recipient for write-only keys).
pub fn add_key(repo: &Repository, a: &AddKeyArgs) -> Result<()> {
    let password = read_new_password(&a.password)?;
    if password.is_empty() {
        anyhow::bail!("refusing an empty password");
    }
    if a.write_only {
        let (id, recipient) = lifeboat_core::writeonly::add_write_only_key(repo, &password)?;
        println!("added write-only key {}", &id[..8]);
        println!("data written with it is sealed to the repository's recipient {recipient}");
        println!("only full keys (which hold the identity) can read it back");
    } else {
        let id = repo.add_key(&password)?;
        println!("added key {}", &id[..8]);
    }
    Ok(())
}
