//! `hash_chain`: every row's `prev` is the previous row's `hash`, and `hash` is the digest of `input`.
//!
//! The rows stream out of the server in chain order through one
//! `COPY (SELECT <partition columns>, (<order_by>)::text, <hash>, <prev>, (<input>)::text
//! FROM <table> ORDER BY <partition columns>, <order_by>) TO STDOUT` run by psql (UTF-8 client
//! encoding, so the input text's bytes are what `sha256(convert_to(input, 'UTF8'))` hashes on
//! the server), and are verified as they arrive: nothing of the table is held in memory
//! besides the current row, the previous row's hash and its partition key.
//!
//! Rows belong to the same partition when the text of their partition columns is the same.
//! In each partition the first row's `prev` must be `genesis` and every later row's `prev`
//! the previous row's `hash`; every `hash` must be the lower-case hex SHA-256 of `input`.
//! A NULL `prev`, `hash` or `input` is a break. Rows whose `order_by` values tie have no
//! defined order; give `order_by` a unique order within a partition.
use super::{client, counted, Outcome, PgConn};
use lifeboat_config::{CheckKind, HashAlgorithm};
use lifeboat_core::cancel::CancelToken;
use lifeboat_postgres::tools::StderrTail;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

/// How many broken rows a detail describes.
const LIST_AT_MOST: usize = 10;
/// Rows between two looks at the cancellation token.
const CANCEL_EVERY: u64 = 16 * 1024;
/// The read buffer, and the pipe size asked for (fewer wake-ups of psql and of us).
const BUFFER: usize = 1 << 20;

const PREV_BROKEN: &str = "prev does not match the previous row's hash";
const HASH_BROKEN: &str = "hash is not the SHA-256 of input";

pub(crate) fn run(pg: &PgConn, db: &str, kind: &CheckKind, cancel: &CancelToken) -> Outcome {
    let CheckKind::HashChain {
        table,
        partition_by,
        order_by,
        hash,
        prev,
        input,
        genesis,
        algorithm,
    } = kind
    else {
        return Err("internal error: not a hash_chain check".into());
    };
    match algorithm {
        HashAlgorithm::Sha256 => {}
    }
    let sql = copy_query(table, partition_by, order_by, hash, prev, input);
    let mut c = client::psql(pg, db);
    c.arg("-c")
        .arg(&sql)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().map_err(|e| {
        format!(
            "cannot run {}: {e}",
            c.get_program().to_string_lossy().into_owned()
        )
    })?;
    let mut child = Reaped(child);
    let stdout = child.0.stdout.take().expect("piped stdout");
    let mut stderr = StderrTail::start(child.0.stderr.take().expect("piped stderr"));
    grow_pipe(&stdout);

    let mut chain = Chain::new(partition_by, order_by, genesis.as_bytes());
    let mut reader = BufReader::with_capacity(BUFFER, stdout);
    let mut line = Vec::with_capacity(64 * 1024);
    let read: Result<(), String> = loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(format!("reading the rows of {table} from psql failed: {e}")),
        }
        if let Err(e) = chain.row(&line) {
            break Err(e);
        }
        if chain.rows.is_multiple_of(CANCEL_EVERY) && cancel.is_cancelled() {
            break Err(format!(
                "cancelled after {} rows: the drill was cancelled",
                chain.rows
            ));
        }
    };
    // A psql that failed on its own explains a truncated or garbled stream better than the
    // stream does; one that we stopped (cancellation, unreadable output) does not.
    let ours = read.is_err() && !psql_has_exited(&mut child.0);
    if ours {
        child.kill();
    }
    drop(reader);
    let status = child.0.wait();
    let errors = stderr.finish(20);
    match status {
        Ok(s) if !s.success() && !ours => Err(format!(
            "reading the chain of {table} failed: {}",
            client::failure(&s, errors.as_bytes())
        )),
        Ok(_) => read.and_then(|()| chain.outcome(table)),
        Err(e) => Err(format!("waiting for psql failed: {e}")),
    }
}

/// The COPY statement that streams the chain in order. The output columns get names of their
/// own so that `ORDER BY (<order_by>)` always means the expression, never a text column.
fn copy_query(
    table: &str,
    partition_by: &[String],
    order_by: &str,
    hash: &str,
    prev: &str,
    input: &str,
) -> String {
    let cols: Vec<String> = partition_by.iter().map(|c| client::ident(c)).collect();
    let mut select: Vec<String> = cols.clone();
    select.push(format!("({order_by})::text AS lb__order"));
    select.push(format!("{} AS lb__hash", client::ident(hash)));
    select.push(format!("{} AS lb__prev", client::ident(prev)));
    select.push(format!("({input})::text AS lb__input"));
    let mut order = cols;
    order.push(format!("({order_by})"));
    format!(
        "COPY (SELECT {} FROM {} ORDER BY {}) TO STDOUT",
        select.join(", "),
        client::table(table),
        order.join(", ")
    )
}

/// Whether psql has ended (or ends within a moment: it may be writing its last words).
fn psql_has_exited(child: &mut Child) -> bool {
    for _ in 0..20 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// Kills and reaps psql when the check returns early.
struct Reaped(Child);

impl Reaped {
    fn kill(&mut self) {
        let _ = self.0.kill();
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[cfg(target_os = "linux")]
fn grow_pipe(p: &std::process::ChildStdout) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own; failure (a lower pipe-max-size) is harmless.
    unsafe { libc::fcntl(p.as_raw_fd(), libc::F_SETPIPE_SZ, BUFFER as libc::c_int) };
}

#[cfg(not(target_os = "linux"))]
fn grow_pipe(_: &std::process::ChildStdout) {}

/// The verification state: where the chain is, and what was found so far.
struct Chain<'a> {
    partition_by: &'a [String],
    order_by: &'a str,
    genesis: &'a [u8],
    /// The raw (COPY text) partition columns of the current partition.
    key: Vec<u8>,
    /// The previous row's hash, unescaped; `None` when it was NULL.
    last: Vec<u8>,
    last_null: bool,
    /// Scratch for unescaped fields.
    input: Vec<u8>,
    field: Vec<u8>,
    rows: u64,
    partitions: u64,
    bad_partitions: u64,
    this_partition_bad: bool,
    broken_rows: u64,
    prev_breaks: u64,
    hash_breaks: u64,
    listed: Vec<String>,
}

impl<'a> Chain<'a> {
    fn new(partition_by: &'a [String], order_by: &'a str, genesis: &'a [u8]) -> Self {
        Chain {
            partition_by,
            order_by,
            genesis,
            key: Vec::new(),
            last: Vec::with_capacity(128),
            last_null: false,
            input: Vec::with_capacity(64 * 1024),
            field: Vec::with_capacity(128),
            rows: 0,
            partitions: 0,
            bad_partitions: 0,
            this_partition_bad: false,
            broken_rows: 0,
            prev_breaks: 0,
            hash_breaks: 0,
            listed: Vec::new(),
        }
    }

    /// Verifies one COPY text line (`p1 TAB ... TAB order TAB hash TAB prev TAB input \n`).
    fn row(&mut self, line: &[u8]) -> Result<(), String> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let malformed = || {
            format!(
                "unexpected COPY output (expected {} tab-separated fields): {}",
                self.partition_by.len() + 4,
                String::from_utf8_lossy(&line[..line.len().min(200)])
            )
        };
        let mut pos = 0;
        for _ in 0..self.partition_by.len() {
            pos += tab(&line[pos..]).ok_or_else(malformed)? + 1;
        }
        let key_end = pos.saturating_sub(1);
        let order_end = pos + tab(&line[pos..]).ok_or_else(malformed)?;
        let hash_start = order_end + 1;
        let hash_end = hash_start + tab(&line[hash_start..]).ok_or_else(malformed)?;
        let prev_start = hash_end + 1;
        let prev_end = prev_start + tab(&line[prev_start..]).ok_or_else(malformed)?;
        let hash = &line[hash_start..hash_end];
        let prev = &line[prev_start..prev_end];
        let input = &line[prev_end + 1..];

        let first = self.rows == 0 || line[..key_end] != self.key[..];
        self.rows += 1;
        if first {
            self.key.clear();
            self.key.extend_from_slice(&line[..key_end]);
            self.partitions += 1;
            self.this_partition_bad = false;
            self.last.clear();
            self.last.extend_from_slice(self.genesis);
            self.last_null = false;
        }

        // The link to the previous row (or genesis).
        let prev_problem = if prev == b"\\N" {
            Some("prev is NULL")
        } else if self.last_null {
            Some("the previous row's hash is NULL")
        } else if eq_copy_text(prev, &self.last, &mut self.field) {
            None
        } else {
            Some("")
        };

        // The row's own digest.
        let mut digest = [0u8; 64];
        let hash_problem = if input == b"\\N" {
            Some("input is NULL")
        } else if hash == b"\\N" {
            Some("hash is NULL")
        } else {
            let text = if input.contains(&b'\\') {
                unescape(input, &mut self.input);
                &self.input[..]
            } else {
                input
            };
            hex_digest(text, &mut digest);
            if eq_copy_text(hash, &digest, &mut self.field) {
                None
            } else if String::from_utf8_lossy(hash)
                .eq_ignore_ascii_case(std::str::from_utf8(&digest).expect("hex is ASCII"))
            {
                Some("it is upper-case hex; lower-case is expected")
            } else {
                Some("")
            }
        };

        // The next row links to this row's hash as stored.
        self.last_null = hash == b"\\N";
        if !self.last_null {
            if hash_problem.is_none() {
                self.last.clear();
                self.last.extend_from_slice(&digest);
            } else {
                unescape(hash, &mut self.last);
            }
        }

        if prev_problem.is_some() || hash_problem.is_some() {
            self.broken(
                &line[..key_end],
                &line[pos..order_end],
                first,
                prev_problem,
                hash_problem,
            );
        }
        Ok(())
    }

    /// Counts a broken row and describes it while fewer than [`LIST_AT_MOST`] are.
    fn broken(
        &mut self,
        key: &[u8],
        order: &[u8],
        first: bool,
        prev_problem: Option<&str>,
        hash_problem: Option<&str>,
    ) {
        self.broken_rows += 1;
        if !self.this_partition_bad {
            self.this_partition_bad = true;
            self.bad_partitions += 1;
        }
        self.prev_breaks += u64::from(prev_problem.is_some());
        self.hash_breaks += u64::from(hash_problem.is_some());
        if self.listed.len() >= LIST_AT_MOST {
            return;
        }
        let mut what = Vec::new();
        if let Some(p) = prev_problem {
            let base = if first {
                "prev does not match the genesis value (first row of its partition)"
            } else {
                PREV_BROKEN
            };
            what.push(with_reason(base, p));
        }
        if let Some(h) = hash_problem {
            what.push(with_reason(HASH_BROKEN, h));
        }
        let mut place = String::new();
        if !self.partition_by.is_empty() {
            let values: Vec<String> = key
                .split(|&b| b == b'\t')
                .zip(self.partition_by)
                .map(|(v, name)| format!("{name}={}", shown(v)))
                .collect();
            place.push_str(&values.join(", "));
            place.push_str(" at ");
        }
        place.push_str(&format!("{}={}", self.order_by, shown(order)));
        self.listed
            .push(format!("{place}: {}", what.join(", and ")));
    }

    fn outcome(&self, table: &str) -> Outcome {
        let scope = if self.partition_by.is_empty() {
            format!("{} rows", self.rows)
        } else {
            format!("{} rows in {} partitions", self.rows, self.partitions)
        };
        if self.broken_rows == 0 {
            return Ok(format!(
                "{scope}: every prev is the previous row's hash and every hash the SHA-256 of its input"
            ));
        }
        let partitions = if self.partition_by.is_empty() {
            String::new()
        } else {
            format!(
                " in {} of {} partitions",
                self.bad_partitions, self.partitions
            )
        };
        let mut detail = format!(
            "the chain of {table} is broken at {} of {}{partitions} ({}, {}): {}",
            self.broken_rows,
            counted(self.rows, "row"),
            counted(self.prev_breaks, "prev mismatch"),
            counted(self.hash_breaks, "hash mismatch"),
            self.listed.join("; ")
        );
        let more = self.broken_rows - self.listed.len() as u64;
        if more > 0 {
            detail.push_str(&format!(
                "; and {more} more broken {}",
                if more == 1 { "row" } else { "rows" }
            ));
        }
        Err(detail)
    }
}

fn with_reason(base: &str, reason: &str) -> String {
    if reason.is_empty() {
        base.to_string()
    } else {
        format!("{base} ({reason})")
    }
}

/// A COPY text field for a message: unescaped, NULL as `NULL`.
fn shown(raw: &[u8]) -> String {
    if raw == b"\\N" {
        return "NULL".into();
    }
    let mut out = Vec::new();
    unescape(raw, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The offset of the first tab.
#[inline]
fn tab(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\t')
}

/// Whether the COPY text field `raw` (not NULL) stands for `value`.
#[inline]
fn eq_copy_text(raw: &[u8], value: &[u8], scratch: &mut Vec<u8>) -> bool {
    if raw == value {
        // Equal raw text is equal text unless `raw` holds an escape (then `value` does too,
        // and the unescaped `raw` is shorter).
        return !value.contains(&b'\\');
    }
    if !raw.contains(&b'\\') {
        return false;
    }
    unescape(raw, scratch);
    scratch[..] == *value
}

/// Lower-case hex SHA-256 of `data` into `out`.
#[inline]
fn hex_digest(data: &[u8], out: &mut [u8; 64]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha256::digest(data);
    for (i, b) in d.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
}

/// Decodes a COPY text field's backslash escapes into `out` (cleared first): `\b \f \n \r
/// \t \v`, `\\`, octal `\ooo`, hex `\xhh`, and a backslash before any other character stands
/// for that character.
fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' || i + 1 == raw.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = raw[i + 1];
        i += 2;
        match e {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && i < raw.len() && (b'0'..=b'7').contains(&raw[i]) {
                    v = v * 8 + u32::from(raw[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xff) as u8);
            }
            b'x' if i < raw.len() && raw[i].is_ascii_hexdigit() => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < raw.len() && raw[i].is_ascii_hexdigit() {
                    v = v * 16 + (raw[i] as char).to_digit(16).expect("hex digit");
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> String {
        hex::encode(Sha256::digest(s.as_bytes()))
    }

    #[test]
    fn copy_text_unescapes() {
        let mut out = Vec::new();
        unescape(br"a\tb\\c\nd\101\x41\q", &mut out);
        assert_eq!(out, b"a\tb\\c\ndAAq");
        let mut d = [0u8; 64];
        hex_digest(b"abc", &mut d);
        assert_eq!(std::str::from_utf8(&d).unwrap(), hex("abc"));
    }

    #[test]
    fn chains_verify_row_by_row() {
        let parts = vec!["tenant_id".to_string()];
        let genesis = "0".repeat(64);
        let mut c = Chain::new(&parts, "seq", genesis.as_bytes());
        let h1 = hex(&format!("{genesis}x\ty"));
        let h2 = hex(&format!("{h1}z"));
        c.row(format!("7\t1\t{h1}\t{genesis}\t{genesis}x\\ty\n").as_bytes())
            .unwrap();
        c.row(format!("7\t2\t{h2}\t{h1}\t{h1}z\n").as_bytes())
            .unwrap();
        let h3 = hex(&format!("{genesis}w"));
        c.row(format!("8\t1\t{h3}\t{genesis}\t{genesis}w\n").as_bytes())
            .unwrap();
        assert!(c.outcome("events").is_ok(), "{:?}", c.outcome("events"));
        // A wrong link and a wrong digest.
        c.row(format!("8\t2\t{h2}\t{h1}\t{h1}tampered\n").as_bytes())
            .unwrap();
        let e = c.outcome("events").unwrap_err();
        assert!(e.contains("tenant_id=8 at seq=2"), "{e}");
        assert!(e.contains(PREV_BROKEN) && e.contains(HASH_BROKEN), "{e}");
        assert!(c.row(b"only\tthree\tfields\n").is_err());
        assert!(copy_query("a.b", &parts, "seq", "h", "p", "p || x")
            .contains("FROM \"a\".\"b\" ORDER BY \"tenant_id\", (seq)"));
    }
}
