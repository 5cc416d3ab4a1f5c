//! `sequence_gaps`: per partition, the sequence column runs without gaps or duplicates.
use super::{Outcome, PgConn};
pub(crate) fn run(
    _pg: &PgConn,
    _db: &str,
    _table: &str,
    _partition_by: &[String],
    _sequence: &str,
    _start: i64,
) -> Outcome {
    Err("sequence_gaps is not written yet".into())
}
