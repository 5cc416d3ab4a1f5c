//! Durations written as numbers with units: `30s`, `5m`, `1h30m`, `7d`, `2w`.

use std::time::Duration;

/// A duration string that [`parse_duration`] (or the `keep_within` grammar) does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad duration '{input}': {expected}")]
pub struct DurationError {
    /// The string given.
    pub input: String,
    /// What was expected.
    pub expected: &'static str,
}

const EXPECTED: &str =
    "use numbers with units s, m, h, d or w (s = seconds, m = minutes), e.g. 30s, 5m, 1h30m, 7d";
const EXPECTED_WITHIN: &str =
    "use numbers with units h, d, w, m or y (m = months of 30 days, y = 365 days), e.g. 36h, 7d, 2w, 1y6m";

/// Parses a duration: one or more `NUMBER UNIT` groups with the units `s` (seconds), `m`
/// (minutes), `h` (hours), `d` (days of 24 hours) and `w` (weeks), e.g. `30s`, `5m`, `1h30m`,
/// `7d`. A bare number is refused (the unit is never guessed).
///
/// `keep_within` in a retention policy uses the grammar of `lifeboat forget --keep-within`
/// instead, where `m` means months; see [`parse_keep_within`].
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let secs = parse_units(s, EXPECTED, |unit| match unit {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3_600),
        'd' => Some(86_400),
        'w' => Some(7 * 86_400),
        _ => None,
    })?;
    Ok(Duration::from_secs(secs))
}

/// Parses a retention `keep_within` duration with the grammar of `lifeboat forget
/// --keep-within`: `NUMBER UNIT` groups with `h` (hours), `d` (days), `w` (weeks), `m` (months
/// of 30 days) and `y` (years of 365 days), e.g. `36h`, `7d`, `2w`, `1y6m`.
pub fn parse_keep_within(s: &str) -> Result<Duration, DurationError> {
    let secs = parse_units(s, EXPECTED_WITHIN, |unit| match unit {
        'h' => Some(3_600),
        'd' => Some(86_400),
        'w' => Some(7 * 86_400),
        'm' => Some(30 * 86_400),
        'y' => Some(365 * 86_400),
        _ => None,
    })?;
    Ok(Duration::from_secs(secs))
}

/// Formats a duration in the grammar of [`parse_duration`], largest units first (`1h30m`,
/// `7d`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ('w', 7 * 86_400),
        ('d', 86_400),
        ('h', 3_600),
        ('m', 60),
        ('s', 1),
    ] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

fn parse_units(
    s: &str,
    expected: &'static str,
    unit_secs: impl Fn(char) -> Option<u64>,
) -> Result<u64, DurationError> {
    let bad = || DurationError {
        input: s.to_string(),
        expected,
    };
    let text = s.trim();
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let secs = unit_secs(c).ok_or_else(bad)?;
        total = n
            .checked_mul(secs)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(
            parse_duration("2w").unwrap(),
            Duration::from_secs(14 * 86400)
        );
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "1h30",
            "-5m",
            "1.5h",
            "99999999999999999999w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let err = parse_duration("5").unwrap_err().to_string();
        assert!(err.contains("'5'"), "{err}");
    }

    #[test]
    fn keep_within_months() {
        assert_eq!(
            parse_keep_within("1y6m").unwrap(),
            Duration::from_secs((365 + 180) * 86400)
        );
        assert_eq!(
            parse_keep_within("7d").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert!(parse_keep_within("30s").is_err());
    }
}
