//! Running PostgreSQL's own programs: finding them, streaming their output, collecting their
//! error output, and small `psql` queries.

use crate::error::{PgError, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

/// Where PostgreSQL's programs are taken from.
///
/// Order: `LIFEBOAT_PG_BINDIR`; `/usr/lib/postgresql/<major>/bin` when the server's major
/// version is known (client programs should match the server); `pg_config --bindir`; the
/// highest `/usr/lib/postgresql/*/bin`; finally plain names looked up on `PATH`.
#[derive(Clone, Debug, Default)]
pub struct PgTools {
    bindir: Option<PathBuf>,
}

impl PgTools {
    /// Finds the programs, preferring those of server major version `major`.
    pub fn locate(major: Option<u32>) -> PgTools {
        if let Some(dir) = std::env::var_os("LIFEBOAT_PG_BINDIR") {
            return PgTools {
                bindir: Some(PathBuf::from(dir)),
            };
        }
        if let Some(m) = major {
            let dir = PathBuf::from(format!("/usr/lib/postgresql/{m}/bin"));
            if dir.join("pg_dump").exists() {
                return PgTools { bindir: Some(dir) };
            }
        }
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            if out.status.success() {
                let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
                if dir.join("pg_dump").exists() {
                    return PgTools { bindir: Some(dir) };
                }
            }
        }
        PgTools {
            bindir: highest_versioned_bindir(),
        }
    }

    /// The path (or bare name) of `program`.
    pub fn program(&self, program: &str) -> PathBuf {
        match &self.bindir {
            Some(d) if d.join(program).exists() => d.join(program),
            _ => PathBuf::from(program),
        }
    }

    /// A `Command` for `program`, with standard input closed.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.program(program));
        c.stdin(Stdio::null());
        c
    }

    /// Runs a small SQL query through `psql` and returns its rows (fields as text; NULL is "").
    pub fn query(&self, dsn: &str, sql: &str) -> Result<Vec<Vec<String>>> {
        let mut c = self.command("psql");
        c.args(["-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"])
            .arg("-F")
            .arg("\u{1f}")
            .arg("-R")
            .arg("\u{1e}")
            .arg("-d")
            .arg(dsn)
            .arg("-c")
            .arg(sql);
        let out = run_capture(c, "psql")?;
        let text = String::from_utf8_lossy(&out);
        Ok(text
            .split('\u{1e}')
            .map(|r| r.trim_matches('\n'))
            .filter(|r| !r.is_empty())
            .map(|r| r.split('\u{1f}').map(str::to_string).collect())
            .collect())
    }

    /// Runs a query expected to return exactly one row.
    pub fn query_row(&self, dsn: &str, sql: &str) -> Result<Vec<String>> {
        let mut rows = self.query(dsn, sql)?;
        if rows.len() != 1 {
            return Err(PgError::unexpected(
                format!("answer to `{sql}`"),
                format!("{} rows, expected one", rows.len()),
            ));
        }
        Ok(rows.remove(0))
    }
}

fn highest_versioned_bindir() -> Option<PathBuf> {
    let mut best: Option<(u32, PathBuf)> = None;
    for e in std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten() {
        let Ok(v) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let bin = e.path().join("bin");
        if bin.join("pg_dump").exists() && best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, bin));
        }
    }
    best.map(|(_, p)| p)
}

/// Keeps the last part of a stream (a child's standard error) on a background thread.
pub struct StderrTail {
    thread: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl StderrTail {
    /// Starts draining `r`.
    pub fn start<R: Read + Send + 'static>(mut r: R) -> Self {
        let thread = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            while let Ok(n) = r.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 256 * 1024 {
                    buf.drain(..buf.len() - 64 * 1024);
                }
            }
            buf
        });
        StderrTail {
            thread: Some(thread),
        }
    }

    /// Waits for the end of the stream and returns its last `lines` lines.
    pub fn finish(&mut self, lines: usize) -> String {
        let buf = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        last_lines(&String::from_utf8_lossy(&buf), lines)
    }
}

/// The last `n` lines of `text`.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Describes how a process ended.
pub fn describe_status(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "failed".into(),
    }
}

/// Formats a failure of `what` with its stderr tail.
pub fn tool_failure(what: &str, how: &str, tail: &str, consequence: &str) -> PgError {
    PgError::Tool(format!(
        "{what} {how}{consequence}{}{}",
        if tail.is_empty() {
            ""
        } else {
            ". Its error output ended with:\n"
        },
        tail
    ))
}

/// Runs a command to completion and returns its standard output; fails with its stderr tail.
pub fn run_capture(mut c: Command, name: &str) -> Result<Vec<u8>> {
    let out = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| PgError::ToolNotFound {
            program: c.get_program().to_string_lossy().into_owned(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(tool_failure(
            name,
            &describe_status(&out.status),
            &last_lines(&String::from_utf8_lossy(&out.stderr), 20),
            "",
        ));
    }
    Ok(out.stdout)
}

/// A child process whose standard output is streamed somewhere (into the repository).
///
/// Its standard error is drained in the background; [`ChildSource::finish`] waits for it and
/// turns a non-zero exit or a signal into an error carrying the error-output tail. Dropping an
/// unfinished `ChildSource` kills the child, so a failed backup never leaves it running.
pub struct ChildSource {
    child: Child,
    tail: StderrTail,
    what: String,
}

impl ChildSource {
    /// Starts `cmd` with piped stdout and stderr; `what` names it in errors (e.g. `pg_dump of db`).
    pub fn spawn(mut cmd: Command, what: impl Into<String>) -> Result<(ChildSource, ChildStdout)> {
        let what = what.into();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| PgError::ToolNotFound {
                program: cmd.get_program().to_string_lossy().into_owned(),
                detail: e.to_string(),
            })?;
        let stdout = child.stdout.take().expect("piped stdout");
        let tail = StderrTail::start(child.stderr.take().expect("piped stderr"));
        Ok((ChildSource { child, tail, what }, stdout))
    }

    /// Waits for the child; an error names how it ended and carries its error output.
    /// `consequence` is appended to the first line (e.g. "; no snapshot was written").
    pub fn finish(&mut self, consequence: &str) -> Result<()> {
        let status = self
            .child
            .wait()
            .map_err(|e| PgError::Tool(format!("waiting for {} failed: {e}", self.what)))?;
        let tail = self.tail.finish(20);
        if status.success() {
            return Ok(());
        }
        Err(tool_failure(
            &self.what,
            &describe_status(&status),
            &tail,
            consequence,
        ))
    }

    /// Kills the child (if still running) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildSource {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// Returns `dsn` with its database replaced by `db` (URI or `key=value` connection strings).
pub fn with_database(dsn: &str, db: &str) -> String {
    let lower = dsn.to_ascii_lowercase();
    for scheme in ["postgresql://", "postgres://"] {
        if lower.starts_with(scheme) {
            let rest = &dsn[scheme.len()..];
            let (before_query, query) = match rest.find('?') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            let authority = match before_query.find('/') {
                Some(i) => &before_query[..i],
                None => before_query,
            };
            return format!(
                "{}{authority}/{}{query}",
                &dsn[..scheme.len()],
                percent_encode(db)
            );
        }
    }
    let escaped = db.replace('\\', "\\\\").replace('\'', "\\'");
    if dsn.trim().is_empty() {
        format!("dbname='{escaped}'")
    } else {
        format!("{dsn} dbname='{escaped}'")
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Quotes `s` as a postgresql.conf string literal.
pub fn conf_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Reads the database system identifier from a data directory's `global/pg_control` (its
/// first field, `system_identifier`, a little-endian u64).
pub fn read_control_system_id(data_dir: &Path) -> Option<u64> {
    let mut f = std::fs::File::open(data_dir.join("global/pg_control")).ok()?;
    let mut b = [0u8; 8];
    f.read_exact(&mut b).ok()?;
    Some(u64::from_le_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_substitution() {
        assert_eq!(
            with_database("host=/tmp port=5432", "a b"),
            "host=/tmp port=5432 dbname='a b'"
        );
        assert_eq!(with_database("", "x"), "dbname='x'");
        assert_eq!(
            with_database("dbname=x", "it's"),
            "dbname=x dbname='it\\'s'"
        );
        assert_eq!(
            with_database("postgresql://u:p@h:5/old?sslmode=disable", "new db"),
            "postgresql://u:p@h:5/new%20db?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "d"), "postgres://h/d");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/usr/bin/lifeboat"), "/usr/bin/lifeboat");
        assert_eq!(shell_quote("a b'c"), "'a b'\\''c'");
        assert_eq!(conf_quote("x 'y'"), "'x ''y'''");
    }
}
