//! Which processes have a file open (Linux: `/proc/*/fd`), so that a restore never replaces a
//! database under a running application.
//!
//! Files are compared by device and inode (what `/proc/PID/fd/N` resolves to), so a process
//! that opened the database through another path (a symbolic link, a bind mount) is found too.
//! A process whose `fd` directory cannot be read (another user's, when lifeboat is not root) is
//! not seen.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A process that has one of the files open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub command: String,
    /// Which of the files it has open.
    pub file: PathBuf,
}

/// The processes other than this one that have any of `files` open (files that do not exist
/// are skipped), ordered by pid.
pub fn holders(files: &[PathBuf]) -> Vec<Holder> {
    let wanted: Vec<((u64, u64), &PathBuf)> = files
        .iter()
        .filter_map(|p| {
            let m = std::fs::metadata(p).ok()?;
            Some(((m.dev(), m.ino()), p))
        })
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    let mut pids: Vec<u32> = procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|pid| *pid != me)
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let fd_dir = PathBuf::from(format!("/proc/{pid}/fd"));
        let Ok(fds) = std::fs::read_dir(&fd_dir) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(m) = std::fs::metadata(fd.path()) else {
                continue;
            };
            if let Some((_, file)) = wanted.iter().find(|(k, _)| *k == (m.dev(), m.ino())) {
                out.push(Holder {
                    pid,
                    command: command(pid),
                    file: (*file).clone(),
                });
                break;
            }
        }
    }
    out
}

fn command(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The database file and the companions SQLite keeps beside it: `-wal`, `-shm`, `-journal`.
pub fn with_companions(db: &Path) -> Vec<PathBuf> {
    let mut out = vec![db.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        out.push(PathBuf::from(s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_child_holding_a_file_and_not_ourselves() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x.db");
        std::fs::write(&f, b"x").unwrap();
        let _mine = std::fs::File::open(&f).unwrap();
        assert!(holders(&with_companions(&f)).is_empty());
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("exec 3<\"$0\"; exec sleep 30")
            .arg(&f)
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let found = loop {
            let h = holders(&with_companions(&f));
            if !h.is_empty() || std::time::Instant::now() > deadline {
                break h;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, child.id());
        assert_eq!(found[0].file, f);
    }
}
