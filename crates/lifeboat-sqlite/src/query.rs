//! What restore drills ask of a restored database: `integrity_check`, the answer of a query,
//! a table's row count. Errors are SQLite's own messages, for a check's detail.
//!
//! Queries run on a read-only connection: a check verifies the copy, it never changes it.

use crate::meta::quote_ident;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// The answer of a query: its column count and rows, each value as text (`None` is NULL).
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    /// How many columns the result has.
    pub columns: usize,
    /// The rows.
    pub rows: Vec<Vec<Option<String>>>,
}

/// Opens a restored database read-only.
pub fn open_read_only(path: &Path) -> Result<Connection, String> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// A value as text: an integer in decimal, a real as Rust's `f64` prints it (`2.5`; `3.0` is
/// `3`), text as stored, a blob in lower-case hex.
pub fn value_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(hex::encode(b)),
    }
}

/// Runs `sql` (one statement) and returns its answer.
pub fn query(path: &Path, sql: &str) -> Result<Answer, String> {
    let c = open_read_only(path)?;
    let mut st = c.prepare(sql).map_err(|e| e.to_string())?;
    let columns = st.column_count();
    let mut rows = st.query([]).map_err(|e| e.to_string())?;
    let mut out = Answer {
        columns,
        rows: Vec::new(),
    };
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        let mut row = Vec::with_capacity(columns);
        for i in 0..columns {
            row.push(value_text(r.get_ref(i).map_err(|e| e.to_string())?));
        }
        out.rows.push(row);
    }
    Ok(out)
}

/// A table as named in a check (`t`, `main.t`, `"odd name"`) as the key of the recorded
/// row counts: the bare table name, unquoted.
pub fn table_key(table: &str) -> String {
    let t = table.trim();
    let t = t
        .strip_prefix("main.")
        .or_else(|| t.strip_prefix("\"main\"."))
        .unwrap_or(t);
    match t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => t.to_string(),
    }
}

/// The exact row count of `table` (named as in [`table_key`]).
pub fn count_rows(path: &Path, table: &str) -> Result<u64, String> {
    let c = open_read_only(path)?;
    let n: i64 = c
        .query_row(
            &format!(
                "SELECT count(*) FROM main.{}",
                quote_ident(&table_key(table))
            ),
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    Ok(n.max(0) as u64)
}

/// Everything `PRAGMA integrity_check` verifies, of a database file at rest
/// ([`crate::verify::full_check`]): the problems (empty: `ok`).
pub fn integrity_check(path: &Path) -> Result<Vec<String>, String> {
    crate::verify::check_file(path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_counts_of_a_database_file() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("x.db");
        Connection::open(&db)
            .unwrap()
            .execute_batch(
                "CREATE TABLE \"my table\"(a, b); INSERT INTO \"my table\" VALUES (1, 2.5), (NULL, x'beef'), ('t', 3.0);",
            )
            .unwrap();
        let a = query(&db, "SELECT a, b FROM \"my table\" ORDER BY rowid").unwrap();
        assert_eq!(a.columns, 2);
        assert_eq!(
            a.rows,
            vec![
                vec![Some("1".into()), Some("2.5".into())],
                vec![None, Some("beef".into())],
                vec![Some("t".into()), Some("3".into())],
            ]
        );
        assert_eq!(count_rows(&db, "\"my table\"").unwrap(), 3);
        assert_eq!(count_rows(&db, "main.\"my table\"").unwrap(), 3);
        assert_eq!(table_key("main.\"my table\""), "my table");
        assert!(count_rows(&db, "missing")
            .unwrap_err()
            .contains("no such table"));
        assert!(query(&db, "DELETE FROM \"my table\"").is_err());
        assert_eq!(integrity_check(&db).unwrap(), Vec::<String>::new());
    }
}
