//! Backups of a child process's standard output.

use super::stream::backup_stream;
use super::{BackupOptions, BackupOutcome, Progress};
use crate::error::{Error, Result};
use crate::repo::Repository;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::sync::{Arc, Mutex};

/// Backs up the standard output of a command. If the command exits non-zero (or is killed),
/// nothing is recorded and the error carries the tail of its standard error.
pub fn backup_command(
    repo: &Repository,
    name: &str,
    command: &[String],
    opts: &BackupOptions,
    progress: Arc<Progress>,
) -> Result<BackupOutcome> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::Invalid("no command given to back up the output of".into()))?;
    // Its own process group, so that stopping it stops what it started too (a shell's
    // children hold the pipe open after the shell is gone).
    let mut child = std::process::Command::new(program)
        .process_group(0)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::SourceFailed(format!("cannot start command `{}`: {e}", command.join(" ")))
        })?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let tail = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 64 * 1024 {
                buf.drain(..buf.len() - 16 * 1024);
            }
        }
        buf
    });
    // A command that produces nothing for a while blocks the reading thread, which then cannot
    // see a cancellation: a watcher kills the command instead, so the read ends at once.
    // `done` is set (under its lock) before the child is reaped, and the watcher kills only
    // while holding the lock and seeing `done` unset, so it never signals a reused pid.
    let done = Arc::new(Mutex::new(false));
    let watcher = {
        let (done, cancel, pid) = (done.clone(), progress.cancel.clone(), child.id());
        std::thread::spawn(move || loop {
            {
                let done = done.lock().expect("watcher flag");
                if *done {
                    return;
                }
                if cancel.is_cancelled() {
                    // SAFETY: kill has no memory preconditions; the child is not reaped yet
                    // (see above), so the pid still names it.
                    unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        })
    };
    let child = Mutex::new(child);
    let result = backup_stream(repo, name, stdout, opts, progress, |_| {
        // Stop watching before the child is reaped: its pid may be reused afterwards.
        *done.lock().expect("watcher flag") = true;
        let status = child.lock().expect("child").wait().map_err(|e| {
            Error::SourceFailed(format!("waiting for `{}` failed: {e}", command.join(" ")))
        })?;
        if status.success() {
            return Ok(BTreeMap::new());
        }
        Err(Error::SourceFailed(String::new()))
    });
    *done.lock().expect("watcher flag") = true;
    let _ = watcher.join();
    // Make sure the child is gone whatever happened (a failed backup must not leave it running).
    let mut child = child.into_inner().expect("child");
    if matches!(child.try_wait(), Ok(None)) {
        // SAFETY: as above; not reaped yet, so its group id is still its own.
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
    }
    let _ = child.kill();
    let status = child.wait().ok();
    let stderr_tail = tail.join().unwrap_or_default();
    match result {
        Err(Error::SourceFailed(msg)) if msg.is_empty() || status.is_some_and(|s| !s.success()) => {
            let text = String::from_utf8_lossy(&stderr_tail);
            let lines: Vec<&str> = text.lines().collect();
            let tail_text = lines[lines.len().saturating_sub(20)..].join("\n");
            let how = match status {
                Some(s) => match s.code() {
                    Some(c) => format!("exited with status {c}"),
                    None => "was killed by a signal".into(),
                },
                None => "failed".into(),
            };
            Err(Error::SourceFailed(format!(
                "command `{}` {how}; no snapshot was written{}{}",
                command.join(" "),
                if tail_text.is_empty() {
                    ""
                } else {
                    ". Its stderr ended with:\n"
                },
                tail_text
            )))
        }
        other => other,
    }
}
