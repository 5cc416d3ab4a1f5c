//! The index half of lifeboat's full check, in linear time (docs/design/sqlite.md, "Checking
//! the copy").
//!
//! `PRAGMA integrity_check` is `PRAGMA quick_check` (every b-tree page, the free list, record
//! formats, `NOT NULL`, `CHECK` and `STRICT` types) plus, for every index, "is each row's
//! entry in the index, is every entry a row's, and do `UNIQUE` keys repeat". SQLite answers the
//! second part with one b-tree descent per row and index: random access, several times the
//! cost of the first part on a large indexed database. This module answers the same question
//! with sequential scans only, so it runs beside `quick_check` on another core:
//!
//! - **content**: one scan of each table (`NOT INDEXED`) and one covering scan of each of its
//!   indexes (`INDEXED BY`) add up, per index, a 128-bit multiset digest of the entries
//!   `(key columns…, rowid)` (XXH3-128 of each entry, summed modulo 2¹²⁸). The index holds
//!   exactly its table's entries when the counts and the sums agree;
//! - **order**: the covering scan walks the index b-tree from left to right; every entry must
//!   sort strictly after the one before it (the key columns with their `DESC` flags under
//!   `BINARY`, then the rowid), or lookups through the index would miss rows;
//! - **uniqueness**: in a `UNIQUE` index, two neighbours with equal keys and no `NULL` in
//!   them are a violated constraint.
//!
//! Tables this cannot reason about exactly — `WITHOUT ROWID`, partial or expression indexes,
//! a collation other than `BINARY`, a database not in UTF-8, a table whose `rowid`, `_rowid_`
//! and `oid` are all real columns — are checked by `PRAGMA integrity_check(TABLE)` instead.

use crate::meta::{quote_ident, tables};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use xxhash_rust::xxh3::xxh3_128;

/// What [`verify_indexes`] found.
#[derive(Debug, Default)]
pub struct Verified {
    /// Problems, in the style of `integrity_check`'s messages (empty: `ok`).
    pub problems: Vec<String>,
    /// Exact row count of every ordinary table (a by-product of the scans).
    pub row_counts: BTreeMap<String, u64>,
    /// Tables checked with `PRAGMA integrity_check(TABLE)` instead.
    pub by_pragma: Vec<String>,
}

/// Everything `PRAGMA integrity_check` verifies: `PRAGMA quick_check` on `quick` in another
/// thread while [`verify_indexes`] runs on `indexes` (two connections to the same database).
/// The problems of both are in the answer.
pub fn full_check(quick: Connection, indexes: &Connection) -> rusqlite::Result<Verified> {
    let (found, verified) = std::thread::scope(|s| {
        let q = s.spawn(move || crate::meta::run_check(&quick, crate::Check::Quick));
        let v = verify_indexes(indexes);
        (q.join(), v)
    });
    let found = found.unwrap_or_else(|_| Ok(vec!["the quick_check thread panicked".into()]))?;
    let mut verified = verified?;
    if !verified.by_pragma.is_empty() {
        tracing::debug!(
            "tables checked with PRAGMA integrity_check(TABLE): {}",
            verified.by_pragma.join(", ")
        );
    }
    verified.problems.splice(0..0, found);
    Ok(verified)
}

/// [`full_check`] of the database file at `path`, opened twice `immutable=1`: the problems
/// (empty: `ok`).
pub fn check_file(path: &std::path::Path) -> rusqlite::Result<Vec<String>> {
    let a = crate::meta::open_immutable(path)?;
    let b = crate::meta::open_immutable(path)?;
    Ok(full_check(a, &b)?.problems)
}

/// An index as far as the check needs it.
struct Index {
    name: String,
    unique: bool,
    /// The key columns' names (without the rowid) and whether each is `DESC`.
    columns: Vec<(String, bool)>,
}

/// Checks every index of the main schema against its table (see the module docs). Errors
/// are SQLite's (a corrupt page met by a scan, an interrupt).
pub fn verify_indexes(c: &Connection) -> rusqlite::Result<Verified> {
    let mut out = Verified::default();
    let utf8 = c
        .query_row("PRAGMA encoding", [], |r| r.get::<_, String>(0))?
        .eq_ignore_ascii_case("UTF-8");
    for table in tables(c)? {
        match plan(c, &table, utf8)? {
            Some((rowid, indexes)) => {
                let rows = check_table(c, &table, &rowid, &indexes, &mut out.problems)?;
                out.row_counts.insert(table, rows);
            }
            None => {
                let mut st = c.prepare(&format!(
                    "PRAGMA main.integrity_check({})",
                    quote_ident(&table)
                ))?;
                let found = st.query_map([], |r| r.get::<_, String>(0))?;
                for f in found {
                    let f = f?;
                    if f != "ok" {
                        out.problems.push(f);
                    }
                }
                let n: i64 = c.query_row(
                    &format!("SELECT count(*) FROM main.{}", quote_ident(&table)),
                    [],
                    |r| r.get(0),
                )?;
                out.row_counts.insert(table.clone(), n.max(0) as u64);
                out.by_pragma.push(table);
            }
        }
    }
    Ok(out)
}

/// The name the rowid goes by in `table` and its indexes, or `None` when the table needs
/// `PRAGMA integrity_check(TABLE)`.
fn plan(c: &Connection, table: &str, utf8: bool) -> rusqlite::Result<Option<(String, Vec<Index>)>> {
    if !utf8 {
        return Ok(None);
    }
    let without_rowid: i64 = c.query_row(
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
        [table],
        |r| r.get(0),
    )?;
    if without_rowid != 0 {
        return Ok(None);
    }
    let mut st = c.prepare("SELECT name FROM pragma_table_xinfo(?1, 'main')")?;
    let columns: Vec<String> = st
        .query_map([table], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let Some(rowid) = ["rowid", "_rowid_", "oid"]
        .into_iter()
        .find(|n| !columns.iter().any(|c| c.eq_ignore_ascii_case(n)))
    else {
        return Ok(None);
    };
    let mut st =
        c.prepare("SELECT name, \"unique\", partial FROM pragma_index_list(?1, 'main')")?;
    let listed: Vec<(String, bool, bool)> = st
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut indexes = Vec::new();
    for (name, unique, partial) in listed {
        if partial {
            return Ok(None);
        }
        let mut st = c.prepare(
            "SELECT cid, name, \"desc\", coll FROM pragma_index_xinfo(?1, 'main') WHERE key = 1 ORDER BY seqno",
        )?;
        let keys: Vec<(i64, Option<String>, bool, Option<String>)> = st
            .query_map([&name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut cols = Vec::new();
        for (cid, col, desc, coll) in keys {
            let binary = coll.is_none_or(|c| c.eq_ignore_ascii_case("BINARY"));
            match col {
                Some(col) if cid >= 0 && binary => cols.push((col, desc)),
                _ => return Ok(None),
            }
        }
        if cols.is_empty() {
            return Ok(None);
        }
        indexes.push(Index {
            name,
            unique,
            columns: cols,
        });
    }
    // The covering scans must walk the index itself; anything else is not this check.
    for ix in &indexes {
        let sql = index_scan(table, rowid, ix);
        let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let details: Vec<String> = st
            .query_map([], |r| r.get(3))?
            .collect::<rusqlite::Result<_>>()?;
        if !details.iter().any(|d| d.contains("COVERING INDEX")) {
            return Ok(None);
        }
    }
    Ok(Some((rowid.to_string(), indexes)))
}

fn index_scan(table: &str, rowid: &str, ix: &Index) -> String {
    let cols: Vec<String> = ix.columns.iter().map(|(c, _)| quote_ident(c)).collect();
    format!(
        "SELECT {}, {rowid} FROM main.{} INDEXED BY {}",
        cols.join(", "),
        quote_ident(table),
        quote_ident(&ix.name)
    )
}

/// Scans `table` and each of its indexes; returns the table's row count.
fn check_table(
    c: &Connection,
    table: &str,
    rowid: &str,
    indexes: &[Index],
    problems: &mut Vec<String>,
) -> rusqlite::Result<u64> {
    // One table scan feeds every index's digest.
    let mut needed: Vec<&str> = Vec::new();
    for ix in indexes {
        for (col, _) in &ix.columns {
            if !needed.iter().any(|n| n == col) {
                needed.push(col);
            }
        }
    }
    let positions: Vec<Vec<usize>> = indexes
        .iter()
        .map(|ix| {
            ix.columns
                .iter()
                .map(|(col, _)| 1 + needed.iter().position(|n| n == col).expect("listed"))
                .collect()
        })
        .collect();
    let select: Vec<String> = std::iter::once(rowid.to_string())
        .chain(needed.iter().map(|n| quote_ident(n)))
        .collect();
    let mut st = c.prepare(&format!(
        "SELECT {} FROM main.{} NOT INDEXED",
        select.join(", "),
        quote_ident(table)
    ))?;
    let mut rows = st.query([])?;
    let mut count = 0u64;
    let mut from_table = vec![0u128; indexes.len()];
    let mut buf = Vec::with_capacity(256);
    while let Some(r) = rows.next()? {
        count += 1;
        let id = r.get_ref(0)?;
        for (i, pos) in positions.iter().enumerate() {
            buf.clear();
            for &p in pos {
                encode(&mut buf, r.get_ref(p)?);
            }
            encode(&mut buf, id);
            from_table[i] = from_table[i].wrapping_add(xxh3_128(&buf));
        }
    }
    drop(rows);
    drop(st);

    for (ix, table_sum) in indexes.iter().zip(from_table) {
        let width = ix.columns.len();
        let mut st = c.prepare(&index_scan(table, rowid, ix))?;
        let mut rows = st.query([])?;
        let mut entries = 0u64;
        let mut sum = 0u128;
        // The entry before and this one; their buffers are reused from entry to entry.
        let mut prev: Vec<Owned> = vec![Owned::Null; width + 1];
        let mut entry: Vec<Owned> = vec![Owned::Null; width + 1];
        let mut out_of_order = false;
        let mut duplicates = 0u64;
        while let Some(r) = rows.next()? {
            entries += 1;
            buf.clear();
            for (p, slot) in entry.iter_mut().enumerate() {
                let v = r.get_ref(p)?;
                encode(&mut buf, v);
                slot.set(v);
            }
            sum = sum.wrapping_add(xxh3_128(&buf));
            if entries > 1 {
                let keys = compare_keys(&prev[..width], &entry[..width], &ix.columns);
                let whole = keys.then_with(|| compare(&prev[width], &entry[width]));
                if whole != Ordering::Less && !out_of_order {
                    out_of_order = true;
                    problems.push(format!(
                        "index {} is out of order near rowid {} (lookups through it would miss rows)",
                        ix.name,
                        entry[width].display()
                    ));
                }
                if ix.unique
                    && keys == Ordering::Equal
                    && !entry[..width].iter().any(|v| matches!(v, Owned::Null))
                {
                    duplicates += 1;
                }
            }
            std::mem::swap(&mut prev, &mut entry);
        }
        if duplicates > 0 {
            problems.push(format!(
                "non-unique entry in index {} ({duplicates} repeated key(s))",
                ix.name
            ));
        }
        if entries != count {
            problems.push(format!(
                "wrong # of entries in index {}: {entries} entries for {count} rows of {table}",
                ix.name
            ));
        } else if sum != table_sum {
            problems.push(format!(
                "index {} does not hold the rows of {table} (the same number of entries, different content)",
                ix.name
            ));
        }
    }
    Ok(count)
}

/// Appends one value, encoded so that values SQL holds equal encode equally (an integral REAL
/// as the INTEGER it equals) and different ones never collide by concatenation.
fn encode(buf: &mut Vec<u8>, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => buf.push(0),
        ValueRef::Integer(i) => {
            buf.push(1);
            buf.extend_from_slice(&i.to_le_bytes());
        }
        ValueRef::Real(f) => match integral(f) {
            Some(i) => {
                buf.push(1);
                buf.extend_from_slice(&i.to_le_bytes());
            }
            None => {
                buf.push(2);
                buf.extend_from_slice(&f.to_bits().to_le_bytes());
            }
        },
        ValueRef::Text(t) => {
            buf.push(3);
            buf.extend_from_slice(&(t.len() as u64).to_le_bytes());
            buf.extend_from_slice(t);
        }
        ValueRef::Blob(b) => {
            buf.push(4);
            buf.extend_from_slice(&(b.len() as u64).to_le_bytes());
            buf.extend_from_slice(b);
        }
    }
}

/// The i64 a REAL equals exactly, if any.
fn integral(f: f64) -> Option<i64> {
    if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
    {
        Some(f as i64)
    } else {
        None
    }
}

/// A value of an index entry, kept until the next entry is compared with it.
#[derive(Debug, Clone, PartialEq)]
enum Owned {
    Null,
    Int(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl Owned {
    /// Takes `v`'s value, reusing this slot's buffer where it can.
    fn set(&mut self, v: ValueRef<'_>) {
        match (self, v) {
            (Owned::Text(b), ValueRef::Text(t)) | (Owned::Blob(b), ValueRef::Blob(t)) => {
                b.clear();
                b.extend_from_slice(t);
            }
            (slot, v) => {
                *slot = match v {
                    ValueRef::Null => Owned::Null,
                    ValueRef::Integer(i) => Owned::Int(i),
                    ValueRef::Real(f) => Owned::Real(f),
                    ValueRef::Text(t) => Owned::Text(t.to_vec()),
                    ValueRef::Blob(b) => Owned::Blob(b.to_vec()),
                }
            }
        }
    }

    fn display(&self) -> String {
        match self {
            Owned::Null => "NULL".into(),
            Owned::Int(i) => i.to_string(),
            Owned::Real(f) => f.to_string(),
            Owned::Text(t) => String::from_utf8_lossy(t).into_owned(),
            Owned::Blob(b) => format!("x'{}'", hex::encode(b)),
        }
    }

    /// SQLite's storage-class rank: NULL < numbers < TEXT < BLOB.
    fn rank(&self) -> u8 {
        match self {
            Owned::Null => 0,
            Owned::Int(_) | Owned::Real(_) => 1,
            Owned::Text(_) => 2,
            Owned::Blob(_) => 3,
        }
    }
}

fn compare_keys(a: &[Owned], b: &[Owned], columns: &[(String, bool)]) -> Ordering {
    for ((x, y), (_, desc)) in a.iter().zip(b).zip(columns) {
        let o = compare(x, y);
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Two values as SQLite orders them under `BINARY`.
fn compare(a: &Owned, b: &Owned) -> Ordering {
    match (a, b) {
        (Owned::Int(x), Owned::Int(y)) => x.cmp(y),
        (Owned::Real(x), Owned::Real(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Owned::Int(x), Owned::Real(y)) => int_real(*x, *y),
        (Owned::Real(x), Owned::Int(y)) => int_real(*y, *x).reverse(),
        (Owned::Text(x), Owned::Text(y)) | (Owned::Blob(x), Owned::Blob(y)) => x.cmp(y),
        _ => a.rank().cmp(&b.rank()),
    }
}

/// An INTEGER against a REAL, exactly.
fn int_real(i: i64, r: f64) -> Ordering {
    if r.is_nan() {
        return Ordering::Greater;
    }
    if r < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    if r >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    let t = r.trunc() as i64;
    match i.cmp(&t) {
        Ordering::Equal => {
            let frac = r - r.trunc();
            if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(sql: &str) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(sql).unwrap();
        c
    }

    fn problems(c: &Connection) -> Vec<String> {
        verify_indexes(c).unwrap().problems
    }

    /// Rewrites an index's definition behind SQLite's back, then reloads the schema.
    fn redefine(c: &Connection, index: &str, sql: &str) {
        c.execute_batch("PRAGMA writable_schema = ON").unwrap();
        c.execute(
            "UPDATE sqlite_schema SET sql = ?1 WHERE name = ?2",
            [sql, index],
        )
        .unwrap();
        c.execute_batch("PRAGMA writable_schema = OFF").unwrap();
        // A schema change is seen by the next statement of a fresh schema load.
        c.execute_batch("PRAGMA writable_schema = RESET").unwrap();
    }

    const SCHEMA: &str =
        "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER, c REAL, d BLOB);
        CREATE UNIQUE INDEX t_a ON t(a);
        CREATE INDEX t_bc ON t(b DESC, c);
        CREATE INDEX t_d ON t(d);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
        INSERT INTO t(a, b, c, d)
            SELECT CASE WHEN i % 50 = 0 THEN NULL ELSE hex(randomblob(8)) END,
                   i % 7, CASE WHEN i % 3 = 0 THEN i ELSE i / 3.0 END,
                   CASE WHEN i % 5 = 0 THEN NULL ELSE randomblob(i % 20) END
            FROM n;";

    #[test]
    fn a_sound_database_is_ok_and_agrees_with_integrity_check() {
        let c = db(SCHEMA);
        let v = verify_indexes(&c).unwrap();
        assert_eq!(v.problems, Vec::<String>::new());
        assert_eq!(v.row_counts["t"], 500);
        assert!(v.by_pragma.is_empty());
        assert_eq!(
            crate::meta::integrity_check(&c).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_index_over_the_wrong_column_is_found() {
        let c = db(SCHEMA);
        redefine(&c, "t_d", "CREATE INDEX t_d ON t(a)");
        let p = problems(&c);
        assert!(
            p.iter()
                .any(|p| p.contains("index t_d") && p.contains("different content")),
            "{p:?}"
        );
        assert!(!crate::meta::integrity_check(&c).unwrap().is_empty());
    }

    #[test]
    fn an_index_in_the_wrong_order_is_found() {
        let c = db(SCHEMA);
        // Same entries, so the digest agrees; but the order is now backwards.
        redefine(&c, "t_bc", "CREATE INDEX t_bc ON t(b ASC, c)");
        let p = problems(&c);
        assert!(
            p.iter().any(|p| p.contains("t_bc is out of order")),
            "{p:?}"
        );
        assert!(!crate::meta::integrity_check(&c).unwrap().is_empty());
    }

    #[test]
    fn a_violated_unique_constraint_is_found() {
        let c = db(SCHEMA);
        c.execute_batch("CREATE INDEX t_b ON t(b)").unwrap();
        redefine(&c, "t_b", "CREATE UNIQUE INDEX t_b ON t(b)");
        let p = problems(&c);
        assert!(
            p.iter()
                .any(|p| p.contains("non-unique entry in index t_b")),
            "{p:?}"
        );
        assert!(!crate::meta::integrity_check(&c).unwrap().is_empty());
    }

    #[test]
    fn a_missing_index_entry_is_found() {
        let c = db(SCHEMA);
        // A row written while the index was not known to SQLite has no entry in it.
        c.execute_batch("PRAGMA writable_schema = ON").unwrap();
        let sql: String = c
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE name = 't_d'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let root: i64 = c
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 't_d'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        c.execute("DELETE FROM sqlite_schema WHERE name = 't_d'", [])
            .unwrap();
        c.execute_batch("PRAGMA writable_schema = RESET").unwrap();
        c.execute(
            "INSERT INTO t(a, b, c, d) VALUES ('new', 1, 1.5, x'01')",
            [],
        )
        .unwrap();
        c.execute_batch("PRAGMA writable_schema = ON").unwrap();
        c.execute(
            "INSERT INTO sqlite_schema(type, name, tbl_name, rootpage, sql) VALUES ('index', 't_d', 't', ?1, ?2)",
            rusqlite::params![root, sql],
        )
        .unwrap();
        c.execute_batch("PRAGMA writable_schema = RESET").unwrap();
        let p = problems(&c);
        assert!(
            p.iter()
                .any(|p| p.contains("wrong # of entries in index t_d")),
            "{p:?}"
        );
        assert!(!crate::meta::integrity_check(&c).unwrap().is_empty());
    }

    #[test]
    fn tables_it_cannot_reason_about_go_to_the_pragma() {
        let c = db("CREATE TABLE w(k PRIMARY KEY, v) WITHOUT ROWID; INSERT INTO w VALUES (1, 2);
             CREATE TABLE p(x, y); CREATE INDEX p_x ON p(x) WHERE y > 0; INSERT INTO p VALUES (1, 1);
             CREATE TABLE e(x); CREATE INDEX e_x ON e(x + 1); INSERT INTO e VALUES (3);
             CREATE TABLE n(x TEXT); CREATE INDEX n_x ON n(x COLLATE NOCASE); INSERT INTO n VALUES ('A');
             CREATE TABLE plain(x); INSERT INTO plain VALUES (1), (2);");
        let v = verify_indexes(&c).unwrap();
        assert_eq!(v.problems, Vec::<String>::new());
        assert_eq!(v.by_pragma, vec!["e", "n", "p", "w"]);
        assert_eq!(v.row_counts["plain"], 2);
        assert_eq!(v.row_counts["w"], 1);
    }

    #[test]
    fn mixed_storage_classes_in_untyped_columns_raise_no_false_alarm() {
        // Untyped columns keep whatever they are given: integers, reals (integral or not,
        // negative zero, huge), text, blobs and NULLs side by side, in ASC and DESC keys.
        let c = db("CREATE TABLE m(a, b, c NUMERIC, d REAL);
             CREATE INDEX m_ab ON m(a DESC, b);
             CREATE INDEX m_cd ON m(c, d DESC, a);
             CREATE UNIQUE INDEX m_u ON m(b, a);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO m
             SELECT CASE abs(random()) % 7
                      WHEN 0 THEN NULL WHEN 1 THEN random() % 100 WHEN 2 THEN (random() % 1000) / 7.0
                      WHEN 3 THEN hex(randomblob(abs(random()) % 4)) WHEN 4 THEN randomblob(abs(random()) % 3)
                      WHEN 5 THEN -0.0 ELSE 9.3e18 END,
                    i,
                    CASE abs(random()) % 4 WHEN 0 THEN '12' WHEN 1 THEN '1.5' WHEN 2 THEN 'x' ELSE 3 END,
                    CASE abs(random()) % 3 WHEN 0 THEN 2 WHEN 1 THEN '2.0' ELSE NULL END
             FROM n;");
        assert_eq!(
            crate::meta::integrity_check(&c).unwrap(),
            Vec::<String>::new()
        );
        let v = verify_indexes(&c).unwrap();
        assert_eq!(v.problems, Vec::<String>::new());
        assert!(v.by_pragma.is_empty());
        assert_eq!(v.row_counts["m"], 3000);
    }

    #[test]
    fn sql_ordering_of_mixed_values_is_followed() {
        let vals = [
            Owned::Null,
            Owned::Int(-3),
            Owned::Real(-2.5),
            Owned::Int(2),
            Owned::Real(2.5),
            Owned::Int(3),
            Owned::Text(b"A".to_vec()),
            Owned::Text(b"a".to_vec()),
            Owned::Blob(vec![0]),
        ];
        for w in vals.windows(2) {
            assert_eq!(compare(&w[0], &w[1]), Ordering::Less, "{w:?}");
            assert_eq!(compare(&w[1], &w[0]), Ordering::Greater, "{w:?}");
        }
        assert_eq!(compare(&Owned::Int(2), &Owned::Real(2.0)), Ordering::Equal);
    }
}
