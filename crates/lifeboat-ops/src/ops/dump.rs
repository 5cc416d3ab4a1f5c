//! `dump`: one file or a stream snapshot, written to a writer.

use crate::modes::{self, Operation};
use crate::record::{Recorder, FIRST};
use crate::{journaled, Context, Result};
use lifeboat_core::Repository;
use std::io::Write;

/// Writes `path` of `snapshot` (optional for stream snapshots) to `out`, verifying its
/// recorded size and SHA-256.
pub fn dump(
    ctx: &Context,
    repo: &Repository,
    snapshot: &str,
    path: Option<&str>,
    out: &mut dyn Write,
) -> Result<()> {
    let mut rec = Recorder::new(ctx, "dump");
    rec.arg("snapshot", Some(snapshot.to_string()))
        .arg("path", path.map(str::to_string));
    rec.add(repo);
    journaled(ctx, rec, |rec| {
        modes::require(repo, Operation::Dump)?;
        let snap = repo.find_snapshot(snapshot)?;
        rec.affected(FIRST, &snap.id);
        let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
        lifeboat_core::restore::dump(repo, &snap, path, &mut w)?;
        w.flush()
            .map_err(|e| lifeboat_core::Error::io("writing", "the dump output", e))?;
        Ok(())
    })
}
