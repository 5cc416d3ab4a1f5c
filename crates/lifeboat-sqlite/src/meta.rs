//! What a SQLite snapshot records (`extra.sqlite`), and how it is read from a database.

use crate::{EXTRA_KEY, SOURCE};
use lifeboat_core::snapshot::SnapshotEntry;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What a SQLite snapshot records under `extra.sqlite` (docs/design/sqlite.md), read from the
/// consistent copy that was stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SqliteMeta {
    /// The database's absolute path when it was backed up.
    pub path: String,
    /// `PRAGMA page_size`.
    pub page_size: u32,
    /// `PRAGMA page_count` of the copy.
    pub page_count: u64,
    /// Bytes stored (page size × page count).
    pub size: u64,
    /// The source's `PRAGMA journal_mode` (`wal`, `delete`, `truncate`, `persist`, ...).
    pub journal_mode: String,
    /// `PRAGMA user_version` (the application's schema version).
    pub user_version: i64,
    /// `PRAGMA application_id`.
    pub application_id: i64,
    /// SHA-256 (hex) of the schema's canonical text ([`schema_hash`]).
    pub schema_hash: String,
    /// The SQLite library that took the copy.
    pub sqlite_version: String,
    /// The PRAGMA the copy passed before it was recorded: `integrity_check` (the default) or
    /// `quick_check`.
    pub check: String,
    /// Its result: always `ok` (a copy that fails is never recorded).
    pub integrity_check: String,
    /// How the copy was taken: `backup-api` (one `sqlite3_backup_step(-1)`).
    pub method: String,
    /// The fixed block size the stream was stored in (a multiple of `page_size`).
    pub block_size: u32,
    /// Seconds the copy took (the source's read transaction was open this long).
    pub copy_seconds: f64,
    /// The database file's permission bits, owner and group when it was backed up (a
    /// restore that creates the file gives it these).
    pub file_mode: u32,
    /// Owner (uid).
    pub uid: u32,
    /// Group (gid).
    pub gid: u32,
    /// Exact row counts of every ordinary table (`PRAGMA table_list` type `table`, not
    /// `sqlite_*`), counted in the copy: table name → rows.
    pub row_counts: BTreeMap<String, u64>,
}

impl SqliteMeta {
    /// Reads the metadata of a SQLite snapshot; `None` for other snapshots.
    pub fn from_snapshot(s: &SnapshotEntry) -> Option<SqliteMeta> {
        if s.snapshot.source != SOURCE {
            return None;
        }
        serde_json::from_value(s.snapshot.extra.get(EXTRA_KEY)?.clone()).ok()
    }
}

/// The `file:` URI of `path` with `query` (`immutable=1`): `%`, `?` and `#` escaped.
fn uri(path: &Path, query: &str) -> String {
    let mut out = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out.push('?');
    out.push_str(query);
    out
}

/// Opens a file lifeboat wrote and nobody else touches (a copy, a restored file) read-only and
/// immutable: no locks, and no `-wal`/`-shm` files are created beside it, whatever its journal
/// mode. Reads are memory-mapped.
pub fn open_immutable(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open_with_flags(
        uri(path, "immutable=1"),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    pragma(&c, "PRAGMA mmap_size = 1099511627776")?;
    pragma(&c, "PRAGMA cache_size = -65536")?;
    Ok(c)
}

/// Runs a PRAGMA (or any statement) and ignores the rows it returns.
pub(crate) fn pragma(c: &Connection, sql: &str) -> rusqlite::Result<()> {
    let mut st = c.prepare(sql)?;
    let mut rows = st.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// How a copy is checked before it is recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// What `PRAGMA integrity_check` verifies — the b-trees, the free list, the records, the
    /// constraints, and every index against its table — in linear time on two cores:
    /// `PRAGMA quick_check` beside lifeboat's sequential index verification
    /// ([`crate::verify`]; tables it cannot reason about get `PRAGMA integrity_check(TABLE)`).
    #[default]
    Full,
    /// `PRAGMA quick_check`: the same without comparing indexes with their tables (linear in
    /// the database's size; several times faster on large, indexed databases).
    Quick,
    /// `PRAGMA integrity_check` itself, one index lookup per row and index (several times
    /// slower than `Full` on large indexed databases; the same findings).
    Pragma,
}

impl Check {
    /// The check's name as recorded (`integrity_check`, `quick_check`, `pragma
    /// integrity_check`).
    pub fn pragma(self) -> &'static str {
        match self {
            Check::Full => "integrity_check",
            Check::Quick => "quick_check",
            Check::Pragma => "pragma integrity_check",
        }
    }

    /// The PRAGMA [`run_check`] runs for this check.
    fn statement(self) -> &'static str {
        match self {
            Check::Full | Check::Pragma => "PRAGMA integrity_check",
            Check::Quick => "PRAGMA quick_check",
        }
    }
}

/// `PRAGMA integrity_check`: the problems it reports (empty: `ok`).
pub fn integrity_check(c: &Connection) -> rusqlite::Result<Vec<String>> {
    run_check(c, Check::Full)
}

/// `PRAGMA integrity_check` (for [`Check::Full`] and [`Check::Pragma`]) or `quick_check`:
/// the problems reported (empty: `ok`).
pub fn run_check(c: &Connection, check: Check) -> rusqlite::Result<Vec<String>> {
    let mut st = c.prepare(check.statement())?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for r in rows {
        let r = r?;
        if r != "ok" {
            out.push(r);
        }
    }
    Ok(out)
}

/// SHA-256 (lower-case hex) of the schema's canonical text: for every row of
/// `SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name, tbl_name`, the four
/// values (a NULL `sql`, as for automatic indexes, as the empty text) each followed by a NUL
/// byte, then a newline. Equal schemas hash equally, whatever the order they were created in;
/// any changed table, index, view or trigger definition changes it.
pub fn schema_hash(c: &Connection) -> rusqlite::Result<String> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut st = c.prepare(
        "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY type, name, tbl_name",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        for i in 0..4 {
            let v: String = r.get(i)?;
            h.update(v.as_bytes());
            h.update([0u8]);
        }
        h.update(b"\n");
    }
    Ok(hex::encode(h.finalize()))
}

/// The ordinary tables of the main schema (`PRAGMA table_list` type `table`, without SQLite's
/// own `sqlite_*` tables), by name.
pub fn tables(c: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = c.prepare(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name",
    )?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Exact row counts of every ordinary table ([`tables`]).
pub fn row_counts(c: &Connection) -> rusqlite::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for t in tables(c)? {
        let n: i64 = c.query_row(
            &format!("SELECT count(*) FROM main.{}", quote_ident(&t)),
            [],
            |r| r.get(0),
        )?;
        out.insert(t, n.max(0) as u64);
    }
    Ok(out)
}

/// An integer PRAGMA's value.
pub(crate) fn pragma_int(c: &Connection, name: &str) -> rusqlite::Result<i64> {
    c.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_escape_what_sqlite_would_read_as_query() {
        assert_eq!(
            uri(Path::new("/a b/x?y#z%.db"), "immutable=1"),
            "file:/a b/x%3fy%23z%25.db?immutable=1"
        );
    }

    #[test]
    fn schema_hash_ignores_creation_order_and_sees_changes() {
        let a = Connection::open_in_memory().unwrap();
        a.execute_batch("CREATE TABLE t(x); CREATE TABLE u(y); CREATE INDEX ix ON t(x);")
            .unwrap();
        let b = Connection::open_in_memory().unwrap();
        b.execute_batch("CREATE TABLE u(y); CREATE TABLE t(x); CREATE INDEX ix ON t(x);")
            .unwrap();
        assert_eq!(schema_hash(&a).unwrap(), schema_hash(&b).unwrap());
        b.execute_batch("ALTER TABLE u ADD COLUMN z").unwrap();
        assert_ne!(schema_hash(&a).unwrap(), schema_hash(&b).unwrap());
    }

    #[test]
    fn row_counts_cover_ordinary_tables_only() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE \"we\"\"ird\"(x INTEGER PRIMARY KEY AUTOINCREMENT); INSERT INTO \"we\"\"ird\" DEFAULT VALUES; \
             CREATE TABLE w(k PRIMARY KEY, v) WITHOUT ROWID; INSERT INTO w VALUES (1, 2), (2, 3); \
             CREATE VIEW v AS SELECT * FROM w;",
        )
        .unwrap();
        let counts = row_counts(&c).unwrap();
        assert_eq!(
            counts,
            BTreeMap::from([("we\"ird".to_string(), 1), ("w".to_string(), 2)])
        );
    }
}
