//! What the SQL checks share: running `psql` against the restored server, reading its answers,
//! turning its failures into a check's detail, and quoting identifiers from the configuration.

use super::PgConn;
use lifeboat_postgres::tools::{describe_status, last_lines};
use std::process::{Command, Output, Stdio};

/// psql prints NULL as this (`-P null=`): a control character no sensible answer contains.
const NULL_MARK: &str = "\u{1a}";
const FIELD_SEP: &str = "\u{1f}";
const RECORD_SEP: &str = "\u{1e}";

/// A `psql` for `db`: no psqlrc, no password prompt, stop at the first error, UTF-8 client
/// encoding (what `hash_chain` hashes) and UTC (what `freshness` parses).
pub(super) fn psql(pg: &PgConn, db: &str) -> Command {
    let mut c = pg.tools.command("psql");
    c.args(["-X", "-q", "-w", "-v", "ON_ERROR_STOP=1"])
        .arg("-d")
        .arg(pg.dsn(db))
        .env("PGCLIENTENCODING", "UTF8")
        .env("PGTZ", "UTC")
        .env("PGDATESTYLE", "ISO")
        .env_remove("PGOPTIONS")
        .env_remove("PGSERVICE");
    c
}

/// The answer of a query: its column count and rows (`None` is NULL).
#[derive(Debug, Default)]
pub(super) struct Answer {
    /// How many columns the result has (0 for a statement that returns no rows).
    pub columns: usize,
    /// The rows, each with `columns` fields.
    pub rows: Vec<Vec<Option<String>>>,
}

/// Runs `sql` and returns its answer; on failure the error is psql's own message (PostgreSQL's
/// `ERROR:  ...` lines), or how psql could not be run.
pub(super) fn query(pg: &PgConn, db: &str, sql: &str) -> Result<Answer, String> {
    let mut c = psql(pg, db);
    c.args(["-A", "-F", FIELD_SEP, "-R", RECORD_SEP, "-P", "footer=off"])
        .arg("-P")
        .arg(format!("null={NULL_MARK}"))
        .arg("-c")
        .arg(sql);
    let out = output(c)?;
    if !out.status.success() {
        return Err(failure(&out.status, &out.stderr));
    }
    Ok(parse_answer(&String::from_utf8_lossy(&out.stdout)))
}

/// Runs `sql`, expecting one row of one column that is not NULL.
pub(super) fn query_value(pg: &PgConn, db: &str, sql: &str) -> Result<String, String> {
    let a = query(pg, db, sql)?;
    match (a.columns, a.rows.as_slice()) {
        (1, [row]) => row[0]
            .clone()
            .ok_or_else(|| format!("`{sql}` returned NULL")),
        _ => Err(format!(
            "`{sql}` returned {} rows of {} columns, expected one value",
            a.rows.len(),
            a.columns
        )),
    }
}

/// Runs a command to completion with its output captured; a program that cannot be started is
/// an error naming it.
pub(super) fn output(mut c: Command) -> Result<Output, String> {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            format!(
                "cannot run {}: {e}",
                c.get_program().to_string_lossy().into_owned()
            )
        })
}

/// The detail of a failed psql: its error output (PostgreSQL's message), else how it ended.
pub(super) fn failure(status: &std::process::ExitStatus, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let tail = last_lines(text.trim_end(), 20);
    if tail.trim().is_empty() {
        format!("psql {}", describe_status(status))
    } else {
        tail
    }
}

/// Parses psql's unaligned output with a header: `header RS row RS row ... \n`.
fn parse_answer(text: &str) -> Answer {
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return Answer::default();
    }
    let mut records = text.split(RECORD_SEP);
    let header = records.next().unwrap_or_default();
    let columns = header.split(FIELD_SEP).count();
    let rows = records
        .map(|r| {
            r.split(FIELD_SEP)
                .map(|f| (f != NULL_MARK).then(|| f.to_string()))
                .collect()
        })
        .collect();
    Answer { columns, rows }
}

/// Splits a possibly schema-qualified name into its parts (dots inside double quotes do not
/// split), keeping each part as written.
fn split_name(name: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (i, ch) in name.char_indices() {
        match ch {
            '"' => in_quotes = !in_quotes,
            '.' if !in_quotes => {
                parts.push(&name[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&name[start..]);
    parts
}

fn is_quoted(part: &str) -> bool {
    part.len() >= 2 && part.starts_with('"') && part.ends_with('"')
}

/// Quotes one identifier (`"name"`, embedded quotes doubled) unless it is already quoted.
pub(super) fn ident(name: &str) -> String {
    let name = name.trim();
    if is_quoted(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Quotes a possibly schema-qualified table name part by part (`schema.table`).
pub(super) fn table(name: &str) -> String {
    split_name(name.trim())
        .into_iter()
        .map(ident)
        .collect::<Vec<_>>()
        .join(".")
}

/// The `schema.table` key a table's recorded row count is stored under: parts unquoted,
/// `public` when no schema is given.
pub(super) fn table_key(name: &str) -> String {
    let parts: Vec<String> = split_name(name.trim())
        .into_iter()
        .map(|p| {
            let p = p.trim();
            if is_quoted(p) {
                p[1..p.len() - 1].replace("\"\"", "\"")
            } else {
                p.to_string()
            }
        })
        .collect();
    if parts.len() == 1 {
        format!("public.{}", parts[0])
    } else {
        parts.join(".")
    }
}

/// A string literal (`'it''s'`; standard_conforming_strings is on in every supported version).
pub(super) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A query as written, without trailing semicolons and whitespace (so it can be wrapped).
pub(super) fn bare_query(q: &str) -> &str {
    q.trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_part_by_part() {
        assert_eq!(ident("events"), "\"events\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(ident("\"Mixed\""), "\"Mixed\"");
        assert_eq!(table("events"), "\"events\"");
        assert_eq!(table("audit.log"), "\"audit\".\"log\"");
        assert_eq!(table("\"a.b\".c"), "\"a.b\".\"c\"");
        assert_eq!(table("x; DROP TABLE y"), "\"x; DROP TABLE y\"");
    }

    #[test]
    fn recorded_keys_are_unquoted_and_schema_qualified() {
        assert_eq!(table_key("events"), "public.events");
        assert_eq!(table_key("audit.log"), "audit.log");
        assert_eq!(table_key("\"Audit\".\"Lo\"\"g\""), "Audit.Lo\"g");
    }

    #[test]
    fn answers_parse() {
        let a = parse_answer("a\n");
        assert_eq!((a.columns, a.rows.len()), (1, 0));
        let a = parse_answer("a\u{1e}\n");
        assert_eq!(a.rows, vec![vec![Some(String::new())]]);
        let a = parse_answer("a\u{1e}\u{1a}\n");
        assert_eq!(a.rows, vec![vec![None]]);
        let a = parse_answer("a\u{1f}b\u{1e}1\u{1f}2\u{1e}3\u{1f}4\n");
        assert_eq!(a.columns, 2);
        assert_eq!(a.rows.len(), 2);
        assert_eq!(parse_answer("").columns, 0);
        assert_eq!(bare_query(" SELECT 1 ;\n"), "SELECT 1");
    }
}
