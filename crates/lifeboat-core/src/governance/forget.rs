//! Retention policies (`forget`): which snapshots to keep, as a pure function over snapshots.
//!
//! Semantics follow restic: snapshots are grouped (by host and source by default), sorted newest
//! first; `keep-last N` keeps the N newest; `keep-hourly/daily/weekly/monthly/yearly N` keep the
//! newest snapshot of each of the last N distinct hours/days/... that have snapshots;
//! `keep-within D` keeps everything within D of the group's newest snapshot. A snapshot is kept
//! if any rule keeps it.

use crate::error::{Error, Result};
use crate::format::snapshot::SnapshotEntry;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;

/// A keep policy.
#[derive(Clone, Debug, Default)]
pub struct KeepPolicy {
    /// Keep the N newest.
    pub last: Option<u32>,
    /// Keep one per hour for N hours.
    pub hourly: Option<u32>,
    /// Keep one per day for N days.
    pub daily: Option<u32>,
    /// Keep one per ISO week for N weeks.
    pub weekly: Option<u32>,
    /// Keep one per month for N months.
    pub monthly: Option<u32>,
    /// Keep one per year for N years.
    pub yearly: Option<u32>,
    /// Keep everything within this duration of the newest snapshot.
    pub within: Option<jiff::SignedDuration>,
}

impl KeepPolicy {
    /// True when no rule is set.
    pub fn is_empty(&self) -> bool {
        self.last.is_none()
            && self.hourly.is_none()
            && self.daily.is_none()
            && self.weekly.is_none()
            && self.monthly.is_none()
            && self.yearly.is_none()
            && self.within.is_none()
    }
}

/// Parses durations like `7d`, `2w`, `1y6m`, `36h` (y = 365 days, m = 30 days).
pub fn parse_duration(s: &str) -> Result<jiff::SignedDuration> {
    let bad = || {
        Error::Invalid(format!(
            "bad duration '{s}': use a number and unit, e.g. 7d, 2w, 1y6m, 36h"
        ))
    };
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let hours = match c {
            'h' => 1,
            'd' => 24,
            'w' => 24 * 7,
            'm' => 24 * 30,
            'y' => 24 * 365,
            _ => return Err(bad()),
        };
        total += n * hours;
    }
    if !num.is_empty() || s.is_empty() {
        return Err(bad());
    }
    Ok(jiff::SignedDuration::from_hours(total))
}

/// One snapshot's verdict.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Decision {
    /// Snapshot id.
    pub id: String,
    /// Group key (host and source).
    pub group: String,
    /// Kept or removed.
    pub keep: bool,
    /// The rules that keep it.
    pub reasons: Vec<String>,
}

/// Applies `policy` to `snapshots` (already filtered by tag/host), grouping by host and source.
pub fn apply(snapshots: &[SnapshotEntry], policy: &KeepPolicy) -> Vec<Decision> {
    let mut groups: BTreeMap<String, Vec<&SnapshotEntry>> = BTreeMap::new();
    for s in snapshots {
        let key = format!(
            "host={} source={}",
            s.snapshot.hostname,
            s.snapshot.source_label()
        );
        groups.entry(key).or_default().push(s);
    }
    let tz = TimeZone::system();
    let mut out = Vec::new();
    for (group, mut list) in groups {
        list.sort_by_key(|s| std::cmp::Reverse(s.snapshot.timestamp()));
        let newest = list.first().map(|s| s.snapshot.timestamp());
        type Bucket = fn(&jiff::Zoned) -> String;
        let rules: [(&str, Option<u32>, Bucket); 5] = [
            ("hourly", policy.hourly, |z| {
                z.strftime("%Y-%m-%d %H").to_string()
            }),
            ("daily", policy.daily, |z| {
                z.strftime("%Y-%m-%d").to_string()
            }),
            ("weekly", policy.weekly, |z| {
                let d = z.date().iso_week_date();
                format!("{}-W{}", d.year(), d.week())
            }),
            ("monthly", policy.monthly, |z| {
                z.strftime("%Y-%m").to_string()
            }),
            ("yearly", policy.yearly, |z| z.strftime("%Y").to_string()),
        ];
        let mut counters: Vec<(u32, Option<String>)> =
            rules.iter().map(|r| (r.1.unwrap_or(0), None)).collect();
        let mut last_left = policy.last.unwrap_or(0);
        for s in list {
            let mut reasons = Vec::new();
            if last_left > 0 {
                last_left -= 1;
                reasons.push("last".to_string());
            }
            let zoned = s.snapshot.timestamp().to_zoned(tz.clone());
            for (i, (name, _, bucket)) in rules.iter().enumerate() {
                let b = bucket(&zoned);
                let (left, last) = &mut counters[i];
                if *left > 0 && last.as_deref() != Some(b.as_str()) {
                    *left -= 1;
                    *last = Some(b.clone());
                    reasons.push(format!("{name} ({b})"));
                }
            }
            if let (Some(within), Some(newest)) = (policy.within, newest) {
                if newest.duration_since(s.snapshot.timestamp()) <= within {
                    reasons.push("within".to_string());
                }
            }
            out.push(Decision {
                id: s.id.clone(),
                group: group.clone(),
                keep: !reasons.is_empty(),
                reasons,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::blob::BlobId;
    use crate::format::snapshot::Snapshot;

    fn snap(id: &str, time: &str) -> SnapshotEntry {
        SnapshotEntry {
            id: id.to_string(),
            snapshot: Snapshot {
                time: time.to_string(),
                hostname: "h".into(),
                username: "u".into(),
                source: "files".into(),
                paths: vec!["/data".into()],
                stream: None,
                tags: vec![],
                parent: None,
                tree: BlobId([0; 32]),
                summary: None,
                extra: Default::default(),
                dictionary: None,
                program_version: String::new(),
                original: None,
                replaces: Vec::new(),
            },
        }
    }

    #[test]
    fn keep_daily_keeps_newest_per_day() {
        let s = vec![
            snap("a", "2026-01-01T10:00:00Z"),
            snap("b", "2026-01-01T12:00:00Z"),
            snap("c", "2026-01-02T12:00:00Z"),
            snap("d", "2026-01-03T12:00:00Z"),
        ];
        let p = KeepPolicy {
            daily: Some(2),
            ..Default::default()
        };
        let kept: Vec<_> = apply(&s, &p)
            .into_iter()
            .filter(|d| d.keep)
            .map(|d| d.id)
            .collect();
        assert_eq!(kept, vec!["d", "c"]);
    }

    #[test]
    fn keep_last_and_within() {
        let s = vec![
            snap("a", "2026-01-01T00:00:00Z"),
            snap("b", "2026-01-05T00:00:00Z"),
            snap("c", "2026-01-10T00:00:00Z"),
        ];
        let p = KeepPolicy {
            last: Some(1),
            within: Some(parse_duration("5d").unwrap()),
            ..Default::default()
        };
        let kept: Vec<_> = apply(&s, &p)
            .into_iter()
            .filter(|d| d.keep)
            .map(|d| d.id)
            .collect();
        assert_eq!(kept, vec!["c", "b"]);
    }

    #[test]
    fn parse_duration_units() {
        assert_eq!(
            parse_duration("1d12h").unwrap(),
            jiff::SignedDuration::from_hours(36)
        );
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("x").is_err());
    }
}
