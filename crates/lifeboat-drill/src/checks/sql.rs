//! `sql`: the query returns exactly `expect`.
use super::{Outcome, PgConn};
pub(crate) fn run(_pg: &PgConn, _db: &str, _query: &str, _expect: &str) -> Outcome {
    Err("sql is not written yet".into())
}
