//! `freshness`: the newest timestamp is no older than `max_lag` before the recovery point.
//!
//! The query runs wrapped (`SELECT to_char(q.t::timestamptz, ...) FROM (<query>) AS q(t)`,
//! in a session whose time zone is UTC) so that whatever timestamp type it returns comes back
//! as an RFC 3339 UTC time. Without a known recovery time it is compared with now.
use super::{client, Outcome, PgConn};
use lifeboat_config::format_duration;
use std::time::Duration;

pub(crate) fn run(
    pg: &PgConn,
    db: &str,
    query: &str,
    max_lag: Duration,
    at: Option<jiff::Timestamp>,
) -> Outcome {
    let sql = format!(
        "SELECT to_char(q.t::timestamptz, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM ({}) AS q(t)",
        client::bare_query(query)
    );
    let a = client::query(pg, db, &sql).map_err(|e| format!("the query failed: {e}"))?;
    let text = match a.rows.as_slice() {
        [row] => match &row[0] {
            Some(t) => t.clone(),
            None => {
                return Err(
                    "the query returned NULL instead of a timestamp (no rows to take it from?)"
                        .into(),
                )
            }
        },
        rows => {
            return Err(format!(
                "the query returned {} rows, expected one timestamp",
                rows.len()
            ))
        }
    };
    let t: jiff::Timestamp = text
        .parse()
        .map_err(|e| format!("the query returned {text:?}, not a timestamp: {e}"))?;
    let (reference, against) = match at {
        Some(r) => (r, format!("the recovery point {r}")),
        None => (
            jiff::Timestamp::now(),
            "now (the recovery time is not known)".to_string(),
        ),
    };
    let lag = reference.duration_since(t);
    let limit = format!("max_lag {}", format_duration(max_lag));
    if lag.is_negative() {
        return Ok(format!(
            "newest timestamp {t} is {} after {against} ({limit})",
            show(lag.unsigned_abs())
        ));
    }
    let lag = lag.unsigned_abs();
    if lag <= max_lag {
        Ok(format!(
            "newest timestamp {t} is {} before {against} ({limit})",
            show(lag)
        ))
    } else {
        Err(format!(
            "newest timestamp {t} is {} before {against}, more than {limit}",
            show(lag)
        ))
    }
}

/// A lag in the configuration's units, with sub-second lags shown as such.
fn show(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format_duration(d)
    }
}
