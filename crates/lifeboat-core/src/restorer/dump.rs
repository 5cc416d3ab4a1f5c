//! `dump`: writes one file, or a stream snapshot's stream, to a writer.

use super::walk::find_node;
use crate::error::{Error, Hint, Result};
use crate::format::snapshot::SnapshotEntry;
use crate::format::tree::NodeKind;
use crate::repo::Repository;
use std::io::Write;

/// Writes one file (or a stream snapshot's stream) to `out`, verifying every blob, and for
/// streams the recorded size and SHA-256. `path` may be omitted for stream snapshots.
pub fn dump(
    repo: &Repository,
    snapshot: &SnapshotEntry,
    path: Option<&str>,
    out: &mut dyn Write,
) -> Result<u64> {
    use sha2::Digest;
    let index = repo.load_index()?;
    let (node, display) = match path {
        Some(p) => (find_node(repo, &index, snapshot, p)?, p.to_string()),
        None => match &snapshot.snapshot.stream {
            Some(s) => (find_node(repo, &index, snapshot, &s.name)?, s.name.clone()),
            None => {
                return Err(Error::guided(
                    format!(
                        "snapshot {} holds files: give the path of a file in it to dump",
                        snapshot.short_id()
                    ),
                    Hint::RunOperation { operation: "ls" },
                ))
            }
        },
    };
    if node.kind() != NodeKind::File {
        return Err(Error::guided(
            format!(
                "{display} is not a regular file: only files are dumped, directories are restored"
            ),
            Hint::RunOperation {
                operation: "restore",
            },
        ));
    }
    let mut hasher = sha2::Sha256::new();
    let mut total = 0u64;
    for id in &node.content {
        let data = repo.read_blob(&index, id).map_err(|e| match e {
            Error::Corrupt { object, detail } => {
                Error::corrupt(object, format!("{detail} (while dumping {display})"))
            }
            other => other,
        })?;
        hasher.update(&data);
        total += data.len() as u64;
        out.write_all(&data)
            .map_err(|e| Error::io("writing output of", &display, e))?;
    }
    out.flush()
        .map_err(|e| Error::io("writing output of", &display, e))?;
    if total != node.size {
        return Err(Error::VerificationFailed {
            what: display,
            detail: format!("recorded size {} but {} bytes were read", node.size, total),
        });
    }
    if let Some(s) = &snapshot.snapshot.stream {
        if path.is_none() || path == Some(s.name.as_str()) {
            let got = hex::encode(hasher.finalize());
            if got != s.sha256 || total != s.size {
                return Err(Error::VerificationFailed {
                    what: format!("stream {}", s.name),
                    detail: format!(
                        "recorded sha256 {} ({} bytes), got {got} ({total} bytes)",
                        s.sha256, s.size
                    ),
                });
            }
        }
    }
    Ok(total)
}
