//! `sql` and `row_count` against a restored SQLite database (`Subject::sqlite`).
//!
//! The database is opened read-only with the SQLite lifeboat is built with; a check verifies
//! the copy, it never changes it (a statement that writes fails the check). Values are
//! compared as text: an integer in decimal, a real as Rust's `f64` prints it (`2.5`; `3.0` is
//! `3`, the same normalisation as a float `expect`), text as stored, a blob in lower-case hex,
//! NULL as for PostgreSQL. SQLite has no boolean type: `expect = 1` / `0`, not `true`.
//! Recorded row counts (`extra.sqlite.row_counts`) are keyed by the bare table name.
use super::{row_count, sql, Outcome, Subject};
use lifeboat_config::RowCountExpect;
use lifeboat_sqlite::query;
use std::path::Path;

pub(crate) fn run_sql(db: &Path, q: &str, expect: &str) -> Outcome {
    let a = query::query(db, q).map_err(|e| format!("the query failed: {e}"))?;
    sql::judge(a.columns, &a.rows, expect)
}

pub(crate) fn run_row_count(
    db: &Path,
    table: &str,
    expect: &RowCountExpect,
    s: &Subject,
) -> Outcome {
    let count = query::count_rows(db, table)
        .map_err(|e| format!("counting the rows of {table} failed: {e}"))?;
    row_count::judge(table, &query::table_key(table), count, expect, s)
}
