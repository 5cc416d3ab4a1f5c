//! Walking `[daemon]`, `[schedules.NAME]` and `[notifications.NAME]`.

use super::{configured, Parser, Sec, Span};
use crate::daemon::*;
use crate::Config;
use std::net::SocketAddr;
use toml::de::DeValue;

const DAEMON_KEYS: &[&str] = &[
    "listen",
    "tls_cert",
    "tls_key",
    "state_dir",
    "shutdown_timeout",
    "metrics_public",
    "restore_roots",
    "max_body",
    "probe_interval",
    "tokens",
];
const TOKEN_KEYS: &[&str] = &["role", "hash"];
const SCHEDULE_KEYS: &[&str] = &[
    "job",
    "source",
    "policy",
    "repository",
    "destination",
    "drill",
    "read_data",
    "cron",
    "every",
    "timezone",
    "jitter",
    "catch_up",
    "timeout",
    "retry",
];
const RETRY_KEYS: &[&str] = &["attempts", "backoff", "max_backoff"];
const NOTIFICATION_KEYS: &[&str] = &[
    "kind", "url", "format", "command", "events", "attempts", "timeout",
];

/// A reference from a schedule to another section, checked once everything is read.
pub(super) struct Reference {
    owner: String,
    key: &'static str,
    name: String,
    span: Span,
}

impl Parser<'_> {
    /// `[daemon]`.
    pub(super) fn daemon(&mut self, sec: &Sec) -> DaemonConfig {
        self.check_keys(sec, DAEMON_KEYS);
        let mut d = DaemonConfig::default();
        if let Some((listen, span)) = self.nonempty_string(sec, "listen") {
            match listen.parse::<SocketAddr>() {
                Ok(a) => d.listen = a,
                Err(_) => {
                    let message = format!(
                        "'listen' in [daemon] is not an address and port such as 127.0.0.1:8420: '{listen}'"
                    );
                    self.report_key(sec, "listen", &span, message);
                }
            }
        }
        let cert = self.path(sec, "tls_cert");
        let key = self.path(sec, "tls_key");
        match (cert, key) {
            (Some(c), Some(k)) => d.tls = Some((c, k)),
            (None, None) => {}
            _ => {
                let given = if sec.has("tls_cert") {
                    "tls_key"
                } else {
                    "tls_cert"
                };
                self.missing(sec, given, "tls_cert and tls_key are given together");
            }
        }
        if d.tls.is_none() && !d.listen.ip().is_loopback() {
            let span = Self::key_span(sec, "listen");
            let message = format!(
                "'listen' in [daemon] is {}, not a loopback address: the API would be reachable from the network in clear text; give tls_cert and tls_key, or listen on 127.0.0.1",
                d.listen
            );
            self.report_key(sec, "listen", &span, message);
        }
        d.state_dir = self.path(sec, "state_dir");
        if let Some(t) = self.duration(sec, "shutdown_timeout") {
            d.shutdown_timeout = t;
        }
        if let Some(t) = self.duration(sec, "probe_interval") {
            d.probe_interval = t;
        }
        d.metrics_public = self.boolean(sec, "metrics_public").is_some_and(|(b, _)| b);
        if let Some((roots, _)) = self.strings(sec, "restore_roots") {
            d.restore_roots = roots.iter().map(|r| self.resolve(r)).collect();
        }
        if let Some((s, span)) = self.nonempty_string(sec, "max_body") {
            match parse_size(&s) {
                Some(n) => d.max_body = n,
                None => {
                    let message = format!(
                        "'max_body' in [daemon] is not a size such as \"1MiB\" or \"64KiB\": '{s}'"
                    );
                    self.report_key(sec, "max_body", &span, message);
                }
            }
        }
        if let Some(tokens) = self.table(sec, "tokens") {
            for (key, value) in tokens.table.iter() {
                let name = key.get_ref().to_string();
                let DeValue::Table(t) = value.get_ref() else {
                    let message = format!(
                        "wrong type for '{name}' in [daemon.tokens]: expected a table ([daemon.tokens.{name}])"
                    );
                    self.report(&key.span(), Some(tokens.key_path(&name)), message);
                    continue;
                };
                let tsec = Sec {
                    table: t,
                    name: tokens.key_path(&name),
                    header: key.span(),
                };
                self.check_keys(&tsec, TOKEN_KEYS);
                let role = self
                    .required_string(&tsec, "role", "read, operator or admin")
                    .and_then(|r| match r.parse::<Role>() {
                        Ok(role) => Some(role),
                        Err(e) => {
                            let span = Self::key_span(&tsec, "role");
                            self.report_key(&tsec, "role", &span, e);
                            None
                        }
                    });
                let hash = self
                    .required_string(
                        &tsec,
                        "hash",
                        "the line printed by `lifeboat daemon token add`",
                    )
                    .filter(|h| {
                        let ok = h
                            .strip_prefix("sha256:")
                            .is_some_and(|x| x.len() == 64 && x.bytes().all(|b| b.is_ascii_hexdigit()));
                        if !ok {
                            let span = Self::key_span(&tsec, "hash");
                            let message = format!(
                                "'hash' in [{}] must be \"sha256:\" and 64 hex digits, as printed by `lifeboat daemon token add` (the token itself is never stored)",
                                tsec.name
                            );
                            self.report_key(&tsec, "hash", &span, message);
                        }
                        ok
                    });
                if let (Some(role), Some(hash)) = (role, hash) {
                    d.tokens.insert(
                        name.clone(),
                        Token {
                            name,
                            role,
                            hash: hash.to_ascii_lowercase(),
                        },
                    );
                }
            }
        }
        d
    }

    /// A `[schedules.NAME]` section.
    pub(super) fn schedule(
        &mut self,
        name: &str,
        sec: &Sec,
        refs: &mut Vec<Reference>,
    ) -> Option<Schedule> {
        let start = self.problems.len();
        self.check_keys(sec, SCHEDULE_KEYS);
        let job_kind =
            self.required_string(sec, "job", "backup, forget, prune, check, drill or copy")?;
        let mut need = |p: &mut Self, key: &'static str, what: &str| -> Option<String> {
            let v = p.required_string(sec, key, what)?;
            refs.push(Reference {
                owner: sec.name.clone(),
                key,
                name: v.clone(),
                span: Self::key_span(sec, key),
            });
            Some(v)
        };
        let job = match job_kind.as_str() {
            "backup" => ScheduledJob::Backup {
                source: need(self, "source", "the source to back up")?,
            },
            "forget" => ScheduledJob::Forget {
                policy: need(self, "policy", "the retention policy to apply")?,
            },
            "prune" => ScheduledJob::Prune {
                repository: need(self, "repository", "the repository to prune")?,
            },
            "check" => ScheduledJob::Check {
                repository: need(self, "repository", "the repository to check")?,
                read_data: self.boolean(sec, "read_data").is_some_and(|(b, _)| b),
            },
            "drill" => ScheduledJob::Drill {
                drill: need(self, "drill", "the drill to run")?,
            },
            "copy" => ScheduledJob::Copy {
                repository: need(self, "repository", "the repository to copy from")?,
                destination: need(self, "destination", "the repository to copy to")?,
            },
            other => {
                let span = Self::key_span(sec, "job");
                let message = format!(
                    "unknown job '{other}' in [{}] (expected one of: {})",
                    sec.name,
                    JOB_KINDS.join(", ")
                );
                self.report_key(sec, "job", &span, message);
                return None;
            }
        };
        let when = match (sec.has("cron"), sec.has("every")) {
            (true, true) => {
                let span = Self::key_span(sec, "every");
                let message = format!("[{}] gives both 'cron' and 'every': keep one", sec.name);
                self.report_key(sec, "every", &span, message);
                None
            }
            (false, false) => {
                self.missing(
                    sec,
                    "cron",
                    "when it runs: cron = \"0 2 * * *\" or every = \"1h\"",
                );
                None
            }
            (true, false) => {
                let expression = self.nonempty_string(sec, "cron");
                let timezone = self
                    .nonempty_string(sec, "timezone")
                    .map_or("UTC".to_string(), |(t, _)| t);
                if let Some((e, span)) = &expression {
                    if let Err(why) = <croner::Cron as std::str::FromStr>::from_str(e) {
                        let message =
                            format!("'cron' in [{}] is not a cron expression: {why}", sec.name);
                        self.report_key(sec, "cron", span, message);
                    }
                }
                if timezone.parse::<chrono_tz::Tz>().is_err() {
                    let span = Self::key_span(sec, "timezone");
                    let message = format!(
                        "'timezone' in [{}] is not a known IANA time zone: '{timezone}' (e.g. UTC, Europe/Berlin)",
                        sec.name
                    );
                    self.report_key(sec, "timezone", &span, message);
                }
                expression.map(|(expression, _)| When::Cron {
                    expression,
                    timezone,
                })
            }
            (false, true) => self.duration(sec, "every").map(When::Every),
        };
        if sec.has("timezone") && !sec.has("cron") {
            let span = Self::key_span(sec, "timezone");
            let message = format!("'timezone' in [{}] applies to 'cron' only", sec.name);
            self.report_key(sec, "timezone", &span, message);
        }
        let jitter = self.duration(sec, "jitter");
        let catch_up = self.boolean(sec, "catch_up").is_some_and(|(b, _)| b);
        let timeout = self.duration(sec, "timeout");
        let mut retry = Retry::default();
        if let Some(r) = self.table(sec, "retry") {
            self.check_keys(&r, RETRY_KEYS);
            if let Some((n, _)) = self.integer(&r, "attempts", (1, 100)) {
                retry.attempts = n as u32;
            }
            if let Some(b) = self.duration(&r, "backoff") {
                retry.backoff = b;
            }
            if let Some(m) = self.duration(&r, "max_backoff") {
                retry.max_backoff = m;
            }
            if retry.max_backoff < retry.backoff {
                let span = Self::key_span(&r, "max_backoff");
                let message = format!("'max_backoff' in [{}] is shorter than 'backoff'", r.name);
                self.report_key(&r, "max_backoff", &span, message);
            }
        }
        if self.problems.len() > start {
            return None;
        }
        Some(Schedule {
            name: name.to_string(),
            job,
            when: when?,
            jitter,
            catch_up,
            timeout,
            retry,
        })
    }

    /// Reports references of schedules to sections that are not configured.
    pub(super) fn schedule_refs(
        &mut self,
        refs: Vec<Reference>,
        config: &Config,
        declared: &DeclaredNames,
    ) {
        for r in refs {
            let (known, section): (Vec<&str>, &str) = match r.key {
                "source" => (
                    declared.sources.iter().map(String::as_str).collect(),
                    "sources",
                ),
                "policy" => (
                    config.retention.keys().map(String::as_str).collect(),
                    "retention",
                ),
                "drill" => (config.drills.keys().map(String::as_str).collect(), "drills"),
                _ => (
                    declared.repositories.iter().map(String::as_str).collect(),
                    "repositories",
                ),
            };
            if !known.contains(&r.name.as_str()) {
                let message = format!(
                    "[{}] names {} '{}', which is not configured ({})",
                    r.owner,
                    r.key,
                    r.name,
                    configured(known.into_iter(), section)
                );
                self.report(&r.span, Some(format!("{}.{}", r.owner, r.key)), message);
            }
        }
    }

    /// A `[notifications.NAME]` section.
    pub(super) fn notification(&mut self, name: &str, sec: &Sec) -> Option<Notification> {
        let start = self.problems.len();
        self.check_keys(sec, NOTIFICATION_KEYS);
        let kind = self.required_string(sec, "kind", "webhook or command")?;
        let channel = match kind.as_str() {
            "webhook" => {
                let url = self.required_string(sec, "url", "where to POST the event")?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    let span = Self::key_span(sec, "url");
                    let message = format!(
                        "'url' in [{}] must start with http:// or https://",
                        sec.name
                    );
                    self.report_key(sec, "url", &span, message);
                }
                let slack = match self.string(sec, "format") {
                    None => false,
                    Some((f, _)) if f == "json" => false,
                    Some((f, _)) if f == "slack" => true,
                    Some((f, span)) => {
                        let message = format!(
                            "unknown format '{f}' in [{}] (expected json or slack)",
                            sec.name
                        );
                        self.report_key(sec, "format", &span, message);
                        false
                    }
                };
                Channel::Webhook { url, slack }
            }
            "command" => Channel::Command {
                command: self
                    .nonempty_strings(sec, "command", "the program and its arguments")?
                    .0,
            },
            other => {
                let span = Self::key_span(sec, "kind");
                let message = format!(
                    "unknown kind '{other}' in [{}] (expected webhook or command)",
                    sec.name
                );
                self.report_key(sec, "kind", &span, message);
                return None;
            }
        };
        let events = match self.strings(sec, "events") {
            None => DEFAULT_EVENTS.iter().map(|e| e.to_string()).collect(),
            Some((events, span)) => {
                for e in &events {
                    if !EVENTS.contains(&e.as_str()) {
                        let message = format!(
                            "unknown event '{e}' in [{}] (expected any of: {})",
                            sec.name,
                            EVENTS.join(", ")
                        );
                        self.report_key(sec, "events", &span, message);
                    }
                }
                events
            }
        };
        let attempts = self
            .integer(sec, "attempts", (1, 20))
            .map_or(3, |(n, _)| n as u32);
        let timeout = self
            .duration(sec, "timeout")
            .unwrap_or(std::time::Duration::from_secs(10));
        if self.problems.len() > start {
            return None;
        }
        Some(Notification {
            name: name.to_string(),
            channel,
            events,
            attempts,
            timeout,
        })
    }
}

/// The names of sections declared in the file (including ones with problems of their own).
pub(super) struct DeclaredNames {
    pub(super) sources: Vec<String>,
    pub(super) repositories: Vec<String>,
}

/// `1MiB`, `64KiB`, `1048576`, `2MB`.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: usize = n.parse().ok()?;
    let mul: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mul).filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse() {
        assert_eq!(super::parse_size("1MiB"), Some(1 << 20));
        assert_eq!(super::parse_size("64KiB"), Some(65536));
        assert_eq!(super::parse_size("100"), Some(100));
        assert_eq!(super::parse_size("1 XB"), None);
        assert_eq!(super::parse_size("0"), None);
    }
}
