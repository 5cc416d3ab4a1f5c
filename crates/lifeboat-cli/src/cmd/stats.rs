//! `lifeboat stats`.

use super::JsonArg;
use crate::{output, session::Session};
use anyhow::Result;

/// Runs `lifeboat stats`.
pub fn run(s: &Session, a: &JsonArg) -> Result<i32> {
    let repo = s.open()?;
    let st = lifeboat_ops::list::stats(&s.ctx, &repo)?;
    if a.json {
        output::json(&st);
    } else {
        output::stats(&st);
    }
    Ok(0)
}
