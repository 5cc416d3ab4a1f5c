//! `sequence_gaps`: per partition, the sequence column runs without gaps or duplicates.
//!
//! Runs on the server in one query: a window (`lag` and `row_number` over the partition,
//! ordered by the sequence) flags each row that is not its predecessor plus one (or, for a
//! partition's first row, not `start`); an aggregate keeps each partition's first flagged
//! row. Only the summary and the first few bad partitions come back, so the check scales to
//! tables of any size.
use super::{client, Outcome, PgConn};

/// How many bad partitions a detail names.
const LIST_AT_MOST: usize = 10;

pub(crate) fn run(
    pg: &PgConn,
    db: &str,
    table: &str,
    partition_by: &[String],
    sequence: &str,
    start: i64,
) -> Outcome {
    let sql = build_query(table, partition_by, sequence, start);
    let a = client::query(pg, db, &sql)
        .map_err(|e| format!("checking the sequence {sequence} of {table} failed: {e}"))?;
    let mut rows = 0u64;
    let mut partitions = 0u64;
    let mut bad = 0u64;
    let mut listed = Vec::new();
    for r in &a.rows {
        let field = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        match field(0).as_str() {
            "s" => {
                rows = field(1).parse().unwrap_or(0);
                partitions = field(2).parse().unwrap_or(0);
                bad = field(3).parse().unwrap_or(0);
            }
            _ => {
                let what = match field(2).as_str() {
                    "1" => format!("first missing number is {}", field(3)),
                    "2" => format!("{} is duplicated", field(3)),
                    "3" => format!("starts at {}, before {start}", field(3)),
                    _ => format!("has rows whose {sequence} is NULL"),
                };
                listed.push(format!("{}: {what}", field(1)));
            }
        }
    }
    let scope = if partition_by.is_empty() {
        format!("{rows} rows")
    } else {
        format!("{rows} rows in {partitions} partitions")
    };
    if bad == 0 {
        return Ok(format!("{scope}, no gaps or duplicates"));
    }
    let more = bad.saturating_sub(listed.len() as u64);
    let mut detail = if partition_by.is_empty() {
        format!("{sequence} of {table} has gaps or duplicates ({scope}): ")
    } else {
        format!(
            "{bad} of {partitions} partitions of {table} {} gaps or duplicates in {sequence} ({scope}): ",
            if bad == 1 { "has" } else { "have" }
        )
    };
    detail.push_str(&listed.join("; "));
    if more > 0 {
        detail.push_str(&format!("; and {more} more"));
    }
    Err(detail)
}

/// The query: one `s` row (rows, partitions, bad partitions) and up to [`LIST_AT_MOST`] `b`
/// rows (partition, problem code, number): 1 gap (first missing number), 2 duplicate,
/// 3 starts before `start`, 4 NULL sequence values.
fn build_query(table: &str, partition_by: &[String], sequence: &str, start: i64) -> String {
    let cols: Vec<String> = partition_by.iter().map(|c| client::ident(c)).collect();
    let lead = cols.iter().map(|c| format!("{c}, ")).collect::<String>();
    let list = cols.join(", ");
    let window_partition = if cols.is_empty() {
        String::new()
    } else {
        format!("PARTITION BY {list} ")
    };
    let group = if cols.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {list}")
    };
    let order = if cols.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {list}")
    };
    let describe = if partition_by.is_empty() {
        "'the table'".to_string()
    } else {
        let parts: Vec<String> = partition_by
            .iter()
            .zip(&cols)
            .map(|(name, c)| {
                format!(
                    "{} || coalesce(({c})::text, 'NULL')",
                    client::literal(&format!("{name}="))
                )
            })
            .collect();
        format!("concat_ws(', ', {})", parts.join(", "))
    };
    format!(
        "WITH w AS (
  SELECT {lead}lb__n, lag(lb__n) OVER o AS lb__prev, row_number() OVER o AS lb__rn
  FROM (SELECT {lead}({seq})::bigint AS lb__n FROM {table}) AS s
  WINDOW o AS ({window_partition}ORDER BY lb__n)
), f AS (
  SELECT {lead}lb__rn,
    lb__n IS NULL OR (lb__rn = 1 AND lb__n <> {start}) OR (lb__rn > 1 AND lb__n <> lb__prev + 1) AS lb__bad,
    CASE WHEN lb__n IS NULL THEN 4
         WHEN lb__rn = 1 THEN CASE WHEN lb__n > {start} THEN 1 ELSE 3 END
         WHEN lb__n = lb__prev THEN 2 ELSE 1 END AS lb__code,
    CASE WHEN lb__n IS NULL THEN NULL
         WHEN lb__rn = 1 THEN CASE WHEN lb__n > {start} THEN {start} ELSE lb__n END
         WHEN lb__n = lb__prev THEN lb__n ELSE lb__prev + 1 END AS lb__num
  FROM w
), pp AS (
  SELECT {lead}count(*) AS lb__cnt,
    min(ARRAY[lb__rn, lb__code, lb__num]) FILTER (WHERE lb__bad) AS lb__first
  FROM f{group}
  HAVING count(*) > 0
)
SELECT 's', coalesce(sum(lb__cnt), 0)::text, count(*)::text, count(lb__first)::text FROM pp
UNION ALL
(SELECT 'b', {describe}, lb__first[2]::text, lb__first[3]::text FROM pp
 WHERE lb__first IS NOT NULL{order} LIMIT {LIST_AT_MOST})",
        seq = client::ident(sequence),
        table = client::table(table),
    )
}
