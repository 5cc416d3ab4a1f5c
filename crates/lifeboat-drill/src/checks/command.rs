//! `command`: the application's own checker exits 0.
//!
//! The program runs directly (no shell) in its own process group, with standard input closed
//! and standard output and error combined into one pipe. It learns where the restored copy is
//! from `PGHOST`/`PGPORT`/`PGDATABASE`/`PGUSER` (a restored server) and
//! `LIFEBOAT_RESTORED_PATH` (restored files; for SQLite sources the restored database file).
//! The end of its output goes into the detail, whether it passed or not. On timeout or
//! cancellation its whole process group is killed, and when it exits whatever it left running
//! in its group is killed too.
use super::{Outcome, Subject};
use lifeboat_config::format_duration;
use lifeboat_core::cancel::CancelToken;
use lifeboat_postgres::tools::{describe_status, last_lines, shell_quote};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much output the detail keeps: the last lines of the last bytes.
const TAIL_LINES: usize = 20;
const TAIL_BYTES: usize = 4096;
/// How long to wait for the output pipe to close once the process group is gone (a process
/// that left the group may still hold it).
const DRAIN_WAIT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(20);

pub(crate) fn run(
    s: &Subject,
    db: &str,
    command: &[String],
    timeout: Duration,
    cancel: &CancelToken,
) -> Outcome {
    let mut env: Vec<(String, std::ffi::OsString)> = Vec::new();
    if let Some(pg) = &s.pg {
        env.push(("PGHOST".into(), pg.socket_dir.clone().into_os_string()));
        env.push(("PGPORT".into(), pg.port.to_string().into()));
        env.push(("PGDATABASE".into(), db.into()));
        env.push(("PGUSER".into(), pg.user.clone().into()));
    }
    if let Some(p) = &s.restored_path {
        env.push(("LIFEBOAT_RESTORED_PATH".into(), p.clone().into_os_string()));
    }
    run_program(command, &env, timeout, cancel)
}

/// Runs `command` (program and arguments, no shell) with `env` added to its environment, in its
/// own process group, standard input closed; `Ok` with its output's tail when it exits 0,
/// `Err` with what happened and the tail otherwise (also used for restore-point hooks).
pub fn run_program(
    command: &[String],
    env: &[(String, std::ffi::OsString)],
    timeout: Duration,
    cancel: &CancelToken,
) -> Outcome {
    let Some((program, args)) = command.split_first() else {
        return Err("no command given".into());
    };
    let shown = command
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let (reader, writer) =
        std::io::pipe().map_err(|e| format!("cannot start `{shown}`: creating a pipe: {e}"))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| format!("cannot start `{shown}`: creating a pipe: {e}"))?;
    let mut c = Command::new(program);
    c.args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2);
    for (k, v) in env {
        c.env(k, v);
    }
    let t0 = Instant::now();
    let spawned = c.spawn();
    // The command keeps the pipe's write ends: drop them, or the read never ends.
    drop(c);
    let mut child = spawned.map_err(|e| format!("cannot start {program}: {e}"))?;
    let output = Arc::new(Mutex::new(Tail::default()));
    let drained = {
        let output = output.clone();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let mut reader = reader;
            let mut chunk = [0u8; 8192];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                output.lock().expect("output tail").push(&chunk[..n]);
            }
            let _ = tx.send(());
        });
        rx
    };
    let ended = wait(&mut child, t0, timeout, cancel);
    let waited = t0.elapsed();
    // Ask the pipe to close: everything in the group is gone by now.
    let _ = drained.recv_timeout(DRAIN_WAIT);
    let text = output.lock().expect("output tail").text();
    let with_output = |head: String| {
        if text.is_empty() {
            format!("{head} (no output)")
        } else {
            format!("{head}; its output ended with:\n{text}")
        }
    };
    match ended {
        Ended::Exited(status) if status.success() => Ok(with_output(format!(
            "`{shown}` exited with status 0 after {:.1}s",
            waited.as_secs_f64()
        ))),
        Ended::Exited(status) => Err(with_output(format!(
            "`{shown}` {} after {:.1}s",
            describe_status(&status),
            waited.as_secs_f64()
        ))),
        Ended::TimedOut => Err(with_output(format!(
            "`{shown}` did not finish within the timeout of {} and was killed",
            format_duration(timeout)
        ))),
        Ended::Cancelled => Err(with_output(format!(
            "`{shown}` was killed after {:.1}s: the drill was cancelled",
            waited.as_secs_f64()
        ))),
        Ended::WaitFailed(e) => Err(with_output(format!("waiting for `{shown}` failed: {e}"))),
    }
}

enum Ended {
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
    WaitFailed(std::io::Error),
}

/// Waits for the child (polling, to see the timeout and the cancellation). Whatever happens,
/// its process group is killed before the child is reaped: while the child is an unreaped
/// zombie its pid, and so its group id, cannot be reused, so the signal never hits a stranger.
fn wait(child: &mut Child, t0: Instant, timeout: Duration, cancel: &CancelToken) -> Ended {
    let pid = child.id() as libc::pid_t;
    let ended = loop {
        match exited_unreaped(pid) {
            Ok(true) => break None,
            Ok(false) => {}
            Err(e) => break Some(Ended::WaitFailed(e)),
        }
        if cancel.is_cancelled() {
            break Some(Ended::Cancelled);
        }
        if t0.elapsed() >= timeout {
            break Some(Ended::TimedOut);
        }
        std::thread::sleep(POLL);
    };
    // SAFETY: kill has no memory preconditions; the child is not reaped yet (see above).
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let status = child.wait();
    match (ended, status) {
        (Some(e), _) => e,
        (None, Ok(s)) => Ended::Exited(s),
        (None, Err(e)) => Ended::WaitFailed(e),
    }
}

/// True once `pid` has exited; it is left a zombie (`WNOWAIT`) for `Child::wait` to reap.
fn exited_unreaped(pid: libc::pid_t) -> std::io::Result<bool> {
    // SAFETY: an all-zero siginfo_t is a valid value for waitid to fill in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `info` is a valid, writable siginfo_t; waitid writes nothing else.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            // SAFETY: waitid succeeded, so si_pid is initialised (0 when nothing has exited).
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The last [`TAIL_BYTES`]-ish of a stream.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
        if self.0.len() > 4 * TAIL_BYTES {
            self.0.drain(..self.0.len() - TAIL_BYTES);
        }
    }

    fn text(&self) -> String {
        let b = &self.0[self.0.len().saturating_sub(TAIL_BYTES)..];
        let text = String::from_utf8_lossy(b);
        last_lines(text.trim_end(), TAIL_LINES)
    }
}
