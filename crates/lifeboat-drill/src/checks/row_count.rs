//! `row_count`: at least `min` rows, or exactly the count recorded at backup time.
//!
//! Counts with `SELECT count(*)` on the restored table. Recorded counts are keyed
//! `schema.table` without quotes; a table named without a schema is `public.table`. (SQLite
//! copies: `sqlite.rs` counts, keyed by the bare table name, and judges with [`judge`].)
use super::{client, Outcome, PgConn, Subject};
use lifeboat_config::RowCountExpect;

/// How many recorded tables a "not recorded" detail lists.
const LIST_AT_MOST: usize = 10;

pub(crate) fn run(
    pg: &PgConn,
    db: &str,
    table: &str,
    expect: &RowCountExpect,
    s: &Subject,
) -> Outcome {
    let sql = format!("SELECT count(*) FROM {}", client::table(table));
    let count: u64 = client::query_value(pg, db, &sql)
        .map_err(|e| format!("counting the rows of {table} failed: {e}"))?
        .trim()
        .parse()
        .map_err(|e| format!("counting the rows of {table}: unexpected answer ({e})"))?;
    judge(table, &client::table_key(table), count, expect, s)
}

/// Compares the `count` of `table` (recorded under `key`) with what the check expects.
pub(crate) fn judge(
    table: &str,
    key: &str,
    count: u64,
    expect: &RowCountExpect,
    s: &Subject,
) -> Outcome {
    match expect {
        RowCountExpect::Min(min) if count >= *min => {
            Ok(format!("{table} has {count} rows (at least {min})"))
        }
        RowCountExpect::Min(min) => Err(format!(
            "{table} has {count} rows, fewer than the minimum of {min}"
        )),
        RowCountExpect::Recorded => {
            let Some(recorded) = &s.recorded_rows else {
                return Err(format!(
                    "{table} has {count} rows, but the backup recorded no row counts to compare with"
                ));
            };
            let Some(&want) = recorded.get(key) else {
                let mut names: Vec<&str> = recorded.keys().map(String::as_str).collect();
                let more = names.len().saturating_sub(LIST_AT_MOST);
                names.truncate(LIST_AT_MOST);
                let listed = if names.is_empty() {
                    "none".to_string()
                } else if more > 0 {
                    format!("{} and {more} more", names.join(", "))
                } else {
                    names.join(", ")
                };
                return Err(format!(
                    "no row count was recorded for {key} at backup time (recorded: {listed}); {table} has {count} rows"
                ));
            };
            if count == want {
                Ok(format!(
                    "{table} has {count} rows, as recorded at backup time"
                ))
            } else {
                let diff = if count < want {
                    format!("{} missing", want - count)
                } else {
                    format!("{} more", count - want)
                };
                Err(format!(
                    "{table} has {count} rows, but {want} were recorded at backup time ({diff})"
                ))
            }
        }
    }
}
