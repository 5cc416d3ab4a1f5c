//! `row_count`: at least `min` rows, or exactly the count recorded at backup time.
use super::{Outcome, PgConn, Subject};
use lifeboat_config::RowCountExpect;
pub(crate) fn run(
    _pg: &PgConn,
    _db: &str,
    _table: &str,
    _expect: &RowCountExpect,
    _s: &Subject,
) -> Outcome {
    Err("row_count is not written yet".into())
}
