//! `lifeboat unlock`.

use crate::session::Session;
use anyhow::Result;
use clap::Args;

/// `lifeboat unlock`.
#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// Remove every lock, not only stale ones
    #[arg(long)]
    remove_all: bool,
}

/// Runs `lifeboat unlock`.
pub fn run(s: &Session, a: &UnlockArgs) -> Result<i32> {
    let repo = s.open()?;
    let n = lifeboat_ops::unlock::unlock(&s.ctx, &repo, a.remove_all)?;
    println!("removed {n} lock(s)");
    Ok(0)
}
