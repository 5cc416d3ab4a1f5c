//! When a schedule runs next: croner for `cron` (in the schedule's time zone), plain addition
//! for `every`, a random jitter on top, and whether a run was missed while the daemon was down.

use chrono::{DateTime, Utc};
use lifeboat_config::{Schedule, When};
use rand::Rng;
use std::str::FromStr;
use std::time::Duration;

/// The first occurrence of `when` strictly after `after` (without jitter).
pub fn next_after(when: &When, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match when {
        When::Every(d) => {
            Some(after + chrono::Duration::from_std(*d).unwrap_or(chrono::Duration::MAX))
        }
        When::Cron {
            expression,
            timezone,
        } => {
            let cron = parsed(expression)?;
            let tz: chrono_tz::Tz = timezone.parse().ok()?;
            cron.find_next_occurrence(&after.with_timezone(&tz), false)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        }
    }
}

/// `expression` parsed by croner, once per expression and thread (status requests and the
/// scheduler's tick ask often; the configuration was validated when it was loaded).
fn parsed(expression: &str) -> Option<croner::Cron> {
    thread_local! {
        static PARSED: std::cell::RefCell<std::collections::HashMap<String, croner::Cron>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    PARSED.with(|m| {
        let mut m = m.borrow_mut();
        if let Some(c) = m.get(expression) {
            return Some(c.clone());
        }
        let c = croner::Cron::from_str(expression).ok()?;
        if m.len() > 256 {
            m.clear();
        }
        m.insert(expression.to_string(), c.clone());
        Some(c)
    })
}

/// A random delay in `[0, jitter)`.
pub fn jitter(s: &Schedule) -> Duration {
    match s.jitter {
        Some(j) if !j.is_zero() => {
            Duration::from_millis(rand::thread_rng().gen_range(0..j.as_millis().max(1) as u64))
        }
        _ => Duration::ZERO,
    }
}

/// The schedule's interval: `every`, or the gap between the next two cron occurrences.
pub fn interval(when: &When, now: DateTime<Utc>) -> Option<Duration> {
    match when {
        When::Every(d) => Some(*d),
        When::Cron { .. } => {
            let a = next_after(when, now)?;
            let b = next_after(when, a)?;
            (b - a).to_std().ok()
        }
    }
}

/// The next run of `s` given its last scheduled start (if any) and the time now: for a
/// schedule that ran before, the next occurrence after that run; else the next from now.
/// The result may lie in the past: a run was missed ([`missed`]).
pub fn next_run(
    s: &Schedule,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match last {
        Some(l) => next_after(&s.when, l),
        None => next_after(&s.when, now),
    }
}

/// True when a run of `s` fell due between its last start and now (the daemon was down).
pub fn missed(s: &Schedule, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last.and_then(|l| next_after(&s.when, l))
        .is_some_and(|due| due <= now)
}

/// Parses an RFC 3339 time from the state database.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat_config::{Retry, ScheduledJob};

    fn sched(when: When) -> Schedule {
        Schedule {
            name: "s".into(),
            job: ScheduledJob::Backup { source: "a".into() },
            when,
            jitter: None,
            catch_up: true,
            timeout: None,
            retry: Retry::default(),
        }
    }

    #[test]
    fn cron_and_every_give_the_next_occurrence() {
        let t = parse_time("2026-12-01T10:17:00Z").unwrap();
        let hourly = When::Cron {
            expression: "0 * * * *".into(),
            timezone: "UTC".into(),
        };
        assert_eq!(
            next_after(&hourly, t).unwrap(),
            parse_time("2026-12-01T11:00:00Z").unwrap()
        );
        let berlin = When::Cron {
            expression: "30 2 * * *".into(),
            timezone: "Europe/Berlin".into(),
        };
        assert_eq!(
            next_after(&berlin, t).unwrap(),
            parse_time("2026-12-02T01:30:00Z").unwrap()
        );
        assert_eq!(interval(&hourly, t), Some(Duration::from_secs(3600)));
        let every = When::Every(Duration::from_secs(600));
        assert_eq!(
            next_after(&every, t).unwrap(),
            parse_time("2026-12-01T10:27:00Z").unwrap()
        );
    }

    #[test]
    fn a_run_missed_while_down_is_detected() {
        let s = sched(When::Every(Duration::from_secs(60)));
        let now = parse_time("2026-12-01T10:00:00Z").unwrap();
        assert!(missed(&s, parse_time("2026-12-01T09:00:00Z"), now));
        assert!(!missed(&s, parse_time("2026-12-01T09:59:30Z"), now));
        assert!(!missed(&s, None, now));
    }
}
