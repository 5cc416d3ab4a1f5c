//! `lifeboat diff`.

use crate::session::Session;
use anyhow::Result;
use clap::Args;
use std::io::Write;

/// `lifeboat diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The first snapshot (id, unique prefix or `latest`)
    snapshot1: String,
    /// The second snapshot
    snapshot2: String,
    /// Print one JSON document: both snapshots, the changes and the totals
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat diff`: `+` added, `-` removed, `M` content changed, `U` metadata only,
/// `T` kind changed; then the totals.
pub fn run(s: &Session, a: &DiffArgs) -> Result<i32> {
    let repo = s.open()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut changes = Vec::new();
    let json = a.json;
    let (sa, sb, summary) =
        lifeboat_ops::diff::diff(&s.ctx, &repo, &a.snapshot1, &a.snapshot2, &mut |c| {
            if json {
                changes.push(serde_json::to_value(c).expect("a change serializes"));
                Ok(())
            } else {
                let mut line = format!("{}    {}", c.change.marker(), c.path.to_string_lossy());
                if c.kind == "dir" {
                    line.push('/');
                }
                if !c.fields.is_empty()
                    && c.change == lifeboat_core::inspect::diff::ChangeKind::Metadata
                {
                    line.push_str(&format!("  ({})", c.fields.join(", ")));
                }
                writeln!(out, "{line}")
            }
        })?;
    if json {
        let v = serde_json::json!({
            "snapshot1": sa.id,
            "snapshot2": sb.id,
            "changes": changes,
            "summary": summary,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(out)?;
        writeln!(
            out,
            "comparing snapshot {} to {}:",
            sa.short_id(),
            sb.short_id()
        )?;
        writeln!(
            out,
            "  files:       {} new, {} removed, {} changed",
            summary.files_added, summary.files_removed, summary.files_modified
        )?;
        writeln!(
            out,
            "  dirs:        {} new, {} removed",
            summary.dirs_added, summary.dirs_removed
        )?;
        writeln!(
            out,
            "  other:       {} metadata only, {} changed kind",
            summary.metadata_changed, summary.type_changed
        )?;
        writeln!(
            out,
            "  data:        {} added, {} removed",
            crate::output::human_bytes(summary.bytes_added),
            crate::output::human_bytes(summary.bytes_removed)
        )?;
    }
    out.flush()?;
    Ok(0)
}
