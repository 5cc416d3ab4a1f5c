//! `lifeboat mode [normal|degraded|read-only]`.

use crate::{output, session::Session};
use anyhow::Result;
use clap::Args;
use lifeboat_core::mode::Mode;

/// `lifeboat mode`.
#[derive(Args, Debug)]
pub struct ModeArgs {
    /// `normal`, `degraded` (add data, destroy nothing) or `read-only`; without it the
    /// current mode is shown
    mode: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat mode`.
pub fn run(s: &Session, a: &ModeArgs) -> Result<i32> {
    let repo = s.open()?;
    match &a.mode {
        None => {
            let st = lifeboat_ops::mode::show(&s.ctx, &repo)?;
            if a.json {
                output::json(&st);
            } else {
                match &st.since {
                    Some(r) => println!(
                        "repository mode: {} (set {} by {}@{})",
                        st.mode, r.time, r.user, r.host
                    ),
                    None => println!("repository mode: {}", st.mode),
                }
            }
        }
        Some(name) => {
            let m: Mode = name.parse()?;
            let rec = lifeboat_ops::mode::set(&s.ctx, &repo, m)?;
            if a.json {
                output::json(&rec);
            } else {
                println!("repository mode is now {m}");
            }
        }
    }
    Ok(0)
}
