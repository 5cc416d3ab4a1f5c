//! `sql`: the query returns exactly `expect`.
//!
//! The query runs as written; it passes when it returns one row of one column whose text (as
//! psql prints it: `t`/`f` for booleans) equals `expect`. A NULL answer is compared as the
//! empty text (and also matches `expect = "NULL"`); the detail says it was NULL.
use super::{client, Outcome, PgConn};

/// How much of a long answer a detail shows.
const SHOW_AT_MOST: usize = 200;

pub(crate) fn run(pg: &PgConn, db: &str, query: &str, expect: &str) -> Outcome {
    let a = client::query(pg, db, query).map_err(|e| format!("the query failed: {e}"))?;
    judge(a.columns, &a.rows, expect)
}

/// Compares an answer (`columns` wide) with `expect`: one row of one column whose text equals
/// it.
pub(crate) fn judge(columns: usize, rows: &[Vec<Option<String>>], expect: &str) -> Outcome {
    let value = match (columns, rows) {
        (1, [row]) => &row[0],
        (_, rows) => {
            return Err(format!(
                "the query returned {} {} of {} {}, expected one row of one column ({})",
                rows.len(),
                if rows.len() == 1 { "row" } else { "rows" },
                columns,
                if columns == 1 { "column" } else { "columns" },
                shown(expect)
            ))
        }
    };
    match value {
        None if expect.is_empty() || expect == "NULL" => Ok(format!(
            "the query returned NULL, which counts as {} as expected",
            shown(expect)
        )),
        None => Err(format!(
            "the query returned NULL (compared as ''), expected {}",
            shown(expect)
        )),
        Some(v) if v == expect => Ok(format!("the query returned {} as expected", shown(v))),
        Some(v) => Err(format!(
            "the query returned {}, expected {}",
            shown(v),
            shown(expect)
        )),
    }
}

fn shown(s: &str) -> String {
    if s.chars().count() > SHOW_AT_MOST {
        let cut: String = s.chars().take(SHOW_AT_MOST).collect();
        format!("'{cut}...' ({} characters)", s.chars().count())
    } else {
        format!("'{s}'")
    }
}
