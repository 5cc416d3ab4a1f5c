//! Scratch space: each drill works in its own directory below the plan's `scratch_dir`, with a
//! marker naming the process that owns it. A drill killed half-way leaves its directory (and
//! possibly a running server) behind; the next drill finds directories whose owner is gone,
//! stops any server still running in them and removes them (docs/design/drills.md).

use lifeboat_postgres::cluster::kill_postmaster;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Prefix of drill directories in a scratch root.
pub const DIR_PREFIX: &str = "lifeboat-drill-";
/// The marker file in a drill directory.
pub const MARKER: &str = "lifeboat-drill.json";

/// Unix socket paths are limited to 107 bytes (`.s.PGSQL.PORT` included).
const MAX_SOCKET_DIR: usize = 90;

/// Who owns a drill directory.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Marker {
    /// The drill.
    pub drill: String,
    /// The owning process.
    pub pid: u32,
    /// That process's start time (clock ticks since boot, `/proc/PID/stat` field 22), so a
    /// recycled pid is not mistaken for the owner.
    pub process_start: u64,
    /// When the directory was made (RFC 3339).
    pub created: String,
    /// A socket directory outside the drill directory (when its path would be too long).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_dir: Option<PathBuf>,
}

/// Why scratch space could not be prepared.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}; choose a writable scratch_dir", path.display())]
pub struct ScratchError {
    what: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ScratchError + 'a {
    move |source| ScratchError {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is parenthesised and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn owner_alive(m: &Marker) -> bool {
    process_start(m.pid).is_some_and(|t| t == m.process_start)
}

/// One drill's scratch directory.
#[derive(Debug)]
pub struct Scratch {
    /// The directory.
    pub dir: PathBuf,
    /// Where unix sockets go (inside `dir` unless that path is too long).
    pub socket_dir: PathBuf,
    removed: bool,
}

impl Scratch {
    /// Removes leftovers of dead drills in `root`, then creates a fresh directory for `drill`.
    /// Returns the scratch space and one note per leftover removed.
    pub fn prepare(root: &Path, drill: &str) -> Result<(Scratch, Vec<String>), ScratchError> {
        std::fs::create_dir_all(root).map_err(io("creating the scratch directory", root))?;
        let notes = remove_leftovers(root);
        let safe: String = drill
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let dir = root.join(format!("{DIR_PREFIX}{safe}-{:08x}", rand::random::<u32>()));
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(io("creating", &dir))?;
        }
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        let inside = dir.join("sock");
        let socket_dir = if inside.as_os_str().len() < MAX_SOCKET_DIR {
            inside
        } else {
            std::env::temp_dir().join(format!("lbdrill-{:08x}", rand::random::<u32>()))
        };
        let pid = std::process::id();
        let marker = Marker {
            drill: drill.to_string(),
            pid,
            process_start: process_start(pid).unwrap_or(0),
            created: jiff::Timestamp::now().to_string(),
            socket_dir: (!socket_dir.starts_with(&dir)).then(|| socket_dir.clone()),
        };
        let path = dir.join(MARKER);
        let mut f = std::fs::File::create(&path).map_err(io("writing", &path))?;
        f.write_all(&serde_json::to_vec_pretty(&marker).expect("marker serializes"))
            .and_then(|_| f.sync_all())
            .map_err(io("writing", &path))?;
        Ok((
            Scratch {
                dir,
                socket_dir,
                removed: false,
            },
            notes,
        ))
    }

    /// Stops any server still running in the directory and removes it.
    pub fn remove(mut self) -> Vec<String> {
        self.removed = true;
        remove_dir(&self.dir, Some(&self.socket_dir))
    }

    /// Keeps the directory (`--keep`): it is no longer removed when dropped, and the next drill
    /// leaves it alone only while this process lives.
    pub fn keep(mut self) -> PathBuf {
        self.removed = true;
        self.dir.clone()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.removed {
            remove_dir(&self.dir, Some(&self.socket_dir));
        }
    }
}

/// Stops servers in `dir`'s data directories (any subdirectory with a `postmaster.pid`) and
/// removes `dir` and an outside socket directory. Returns problems as notes.
fn remove_dir(dir: &Path, socket_dir: Option<&Path>) -> Vec<String> {
    let mut notes = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.join("postmaster.pid").exists() && kill_postmaster(&p) {
                notes.push(format!(
                    "stopped the server left running in {}",
                    p.display()
                ));
            }
        }
    }
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            notes.push(format!("could not remove {}: {e}", dir.display()));
        }
    }
    if let Some(s) = socket_dir.filter(|s| !s.starts_with(dir)) {
        let _ = std::fs::remove_dir_all(s);
    }
    notes
}

/// Removes the drill directories in `root` whose owning process is gone (a drill that was
/// killed, or a `--keep` copy whose process ended); returns a note per directory removed.
pub fn remove_leftovers(root: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return notes;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(DIR_PREFIX) || !e.path().is_dir() {
            continue;
        }
        let marker: Option<Marker> = std::fs::read(e.path().join(MARKER))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let (alive, what, socket) = match &marker {
            Some(m) => (
                owner_alive(m),
                format!(
                    "drill '{}' (process {}, started {})",
                    m.drill, m.pid, m.created
                ),
                m.socket_dir.clone(),
            ),
            // A directory without a readable marker is a drill killed while creating it.
            None => (false, "an unfinished drill".to_string(), None),
        };
        if alive {
            continue;
        }
        let mut detail = remove_dir(&e.path(), socket.as_deref());
        let mut note = format!("removed the leftovers of {what} in {}", e.path().display());
        if !detail.is_empty() {
            note.push_str(&format!(" ({})", detail.join("; ")));
            detail.clear();
        }
        notes.push(note);
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_of_dead_drills_are_removed_and_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let (live, notes) = Scratch::prepare(root.path(), "weekly").unwrap();
        assert!(notes.is_empty());
        // A directory owned by a process that no longer exists.
        let dead = root.path().join(format!("{DIR_PREFIX}old-00000001"));
        std::fs::create_dir(&dead).unwrap();
        let m = Marker {
            drill: "old".into(),
            pid: u32::MAX - 1,
            process_start: 1,
            created: "2026-01-01T00:00:00Z".into(),
            socket_dir: None,
        };
        std::fs::write(dead.join(MARKER), serde_json::to_vec(&m).unwrap()).unwrap();
        std::fs::create_dir(dead.join("data")).unwrap();
        // Unrelated directories are never touched.
        std::fs::create_dir(root.path().join("keep-me")).unwrap();
        let notes = remove_leftovers(root.path());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("drill 'old'"), "{notes:?}");
        assert!(!dead.exists());
        assert!(live.dir.exists(), "a running drill's directory was removed");
        assert!(root.path().join("keep-me").exists());
        let dir = live.dir.clone();
        live.remove();
        assert!(!dir.exists());
    }
}
