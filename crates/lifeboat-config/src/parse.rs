//! The walker that turns the parsed TOML document into a [`Config`], collecting every
//! [`Problem`] with the line of the key it is about.
//!
//! serde's derive would stop at the first error and (for internally tagged enums) lose the
//! spans, so the document is parsed into [`DeTable`]s, which keep the span of every key and
//! value, and walked by hand.

use crate::duration::{parse_duration, parse_keep_within};
use crate::error::{ConfigError, Problem};
use crate::model::*;
use crate::password::{PasswordSource, Secret};
use crate::Config;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

type Span = Range<usize>;

mod daemon;

const TOP_LEVEL: &[&str] = &[
    "repositories",
    "sources",
    "retention",
    "schedules",
    "drills",
    "targets",
    "notifications",
    "daemon",
    "restore_points",
];
const REPOSITORY_KEYS: &[&str] = &[
    "url",
    "password_file",
    "password_command",
    "password_env",
    "password",
    "s3",
    "object_lock",
];
const PASSWORD_KEYS: &[&str] = &[
    "password_file",
    "password_command",
    "password_env",
    "password",
];
const S3_KEYS: &[&str] = &[
    "endpoint",
    "region",
    "access_key_id",
    "secret_access_key",
    "secret_access_key_file",
    "session_token",
    "virtual_host_style",
];
const SOURCE_COMMON: &[&str] = &["kind", "repository", "tags", "host", "restore_point"];
const RESTORE_POINTS_KEYS: &[&str] = &["pre_command", "post_command", "timeout"];
const FILES_KEYS: &[&str] = &["paths", "exclude", "one_file_system", "xattrs"];
const COMMAND_KEYS: &[&str] = &["stream_name", "command"];
const POSTGRES_KEYS: &[&str] = &["dsn", "database", "databases", "all", "count_rows"];
const PHYSICAL_KEYS: &[&str] = &[
    "dsn",
    "method",
    "cluster",
    "data_directory",
    "checkpoint",
    "wal_timeout",
    "key_cache",
    "compression",
    "push_ahead",
];
const SQLITE_KEYS: &[&str] = &["paths", "check"];
const TARGET_KEYS: &[&str] = &["rpo", "rto"];
const DRILL_KEYS: &[&str] = &[
    "source",
    "pick",
    "to",
    "scratch_dir",
    "jobs",
    "database",
    "timeout",
    "run_as",
    "checks",
];
const CHECK_COMMON: &[&str] = &["kind", "name", "database"];
const ROW_COUNT_KEYS: &[&str] = &["table", "min", "expect"];
const SEQUENCE_GAPS_KEYS: &[&str] = &["table", "sequence", "partition_by", "start"];
const HASH_CHAIN_KEYS: &[&str] = &[
    "table",
    "order_by",
    "hash",
    "prev",
    "input",
    "partition_by",
    "genesis",
    "algorithm",
];
const SQL_KEYS: &[&str] = &["query", "expect"];
const FRESHNESS_KEYS: &[&str] = &["query", "max_lag"];
const COMMAND_CHECK_KEYS: &[&str] = &["command", "timeout"];
/// Check kinds that need a restored PostgreSQL server.
const PG_CHECKS: &[&str] = &["amcheck", "sequence_gaps", "hash_chain", "freshness"];
/// Check kinds that need a restored database (PostgreSQL or SQLite).
const DB_CHECKS: &[&str] = &["sql", "row_count"];
/// The source kinds that restore a PostgreSQL server.
const PG_SOURCE_KINDS: &[&str] = &["postgres", "postgres-physical"];
/// The source kinds that restore a database (where `sql` and `row_count` can run).
const DB_SOURCE_KINDS: &[&str] = &["postgres", "postgres-physical", "sqlite"];
/// The source kinds whose backups record row counts (for `row_count` with
/// `expect = "recorded"`).
const RECORDING_KINDS: &[&str] = &["postgres", "sqlite"];
/// The default `timeout` of a drill: WAL replay and server start.
const DRILL_TIMEOUT: Duration = Duration::from_secs(3600);
/// The default `timeout` of a `command` check.
const COMMAND_CHECK_TIMEOUT: Duration = Duration::from_secs(600);

/// The declared sources by name, with their kind when it is known (`None` when it is missing
/// or unknown, a problem reported with the source).
type SourceKinds = BTreeMap<String, Option<&'static str>>;

const RETENTION_KEYS: &[&str] = &[
    "keep_last",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
    "keep_within",
    "tags",
    "host",
    "prune",
    "repository",
];
const KEEP_COUNTS: &[&str] = &[
    "keep_last",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
];

/// Mode bits that let group or others read the file.
const GROUP_OTHER_READ: u32 = 0o044;
/// Mode bit that lets others write the file.
const OTHER_WRITE: u32 = 0o002;

/// A table being read: the dotted name it has in messages (`sources.app`) and the span of its
/// name (the header line, for problems about missing keys).
struct Sec<'t, 'i> {
    table: &'t DeTable<'i>,
    name: String,
    header: Span,
}

impl<'t, 'i> Sec<'t, 'i> {
    fn entry(
        &self,
        key: &str,
    ) -> Option<(
        &'t Spanned<std::borrow::Cow<'i, str>>,
        &'t Spanned<DeValue<'i>>,
    )> {
        self.table.iter().find(|(k, _)| k.get_ref().as_ref() == key)
    }

    fn has(&self, key: &str) -> bool {
        self.entry(key).is_some()
    }

    fn key_path(&self, key: &str) -> String {
        format!("{}.{}", self.name, segment(key))
    }
}

/// A key as it appears in a dotted path: bare when TOML allows, else quoted.
fn segment(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

pub(crate) struct Parser<'a> {
    path: &'a Path,
    /// The directory relative paths are resolved against (the file's directory).
    base: Option<PathBuf>,
    /// The file's mode, when known (permission rules apply only then).
    mode: Option<u32>,
    line_starts: Vec<usize>,
    problems: Vec<Problem>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &str, path: &'a Path, mode: Option<u32>) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        Parser {
            path,
            base,
            mode,
            line_starts,
            problems: Vec::new(),
        }
    }

    /// The 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    fn report(&mut self, span: &Span, key: Option<String>, message: String) {
        let line = Some(self.line(span.start));
        self.problems.push(Problem {
            path: self.path.to_path_buf(),
            line,
            key,
            message,
        });
    }

    fn report_key(&mut self, sec: &Sec, key: &str, span: &Span, message: String) {
        self.report(span, Some(sec.key_path(key)), message);
    }

    /// The value of the string key `key` among `choices` (the first is the default, used also
    /// after reporting an unknown value with `message`).
    fn choice<T: Copy>(
        &mut self,
        sec: &Sec,
        key: &str,
        choices: &[(&str, T)],
        message: impl FnOnce(&str) -> String,
    ) -> T {
        let default = choices[0].1;
        let Some((value, span)) = self.string(sec, key) else {
            return default;
        };
        match choices.iter().find(|(name, _)| *name == value) {
            Some((_, v)) => *v,
            None => {
                let text = message(&value);
                self.report_key(sec, key, &span, text);
                default
            }
        }
    }

    /// Reports, at the second of them, that `sec` gives more than one of `keys` (they exclude
    /// each other); `message` gets the keys given.
    fn at_most_one(&mut self, sec: &Sec, keys: &[&str], message: impl FnOnce(&[&str]) -> String) {
        let given: Vec<&str> = keys.iter().copied().filter(|k| sec.has(k)).collect();
        if given.len() > 1 {
            let span = sec
                .entry(given[1])
                .map(|(k, _)| k.span())
                .unwrap_or(sec.header.clone());
            let text = message(&given);
            self.report_key(sec, given[1], &span, text);
        }
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let p = PathBuf::from(path);
        match &self.base {
            Some(base) if p.is_relative() => base.join(p),
            _ => p,
        }
    }

    /// Reports every key of `sec` not in `allowed`.
    fn check_keys(&mut self, sec: &Sec, allowed: &[&str]) {
        for (key, _) in sec.table.iter() {
            let k = key.get_ref().as_ref();
            if !allowed.contains(&k) {
                let message = format!(
                    "unknown key '{k}' in [{}] (expected one of: {})",
                    sec.name,
                    allowed.join(", ")
                );
                self.report_key(sec, k, &key.span(), message);
            }
        }
    }

    fn wrong_type(&mut self, sec: &Sec, key: &str, span: &Span, expected: &str, found: &str) {
        let message = format!(
            "wrong type for '{key}' in [{}]: expected {expected}, found {found}",
            sec.name
        );
        self.report_key(sec, key, span, message);
    }

    fn missing(&mut self, sec: &Sec, key: &str, what: &str) {
        let message = format!("[{}] needs '{key}' ({what})", sec.name);
        self.report(&sec.header.clone(), Some(sec.key_path(key)), message);
    }

    fn string(&mut self, sec: &Sec, key: &str) -> Option<(String, Span)> {
        let (k, v) = sec.entry(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.to_string(), k.span())),
            other => {
                self.wrong_type(sec, key, &k.span(), "a string", other.type_str());
                None
            }
        }
    }

    /// A string that must not be empty.
    fn nonempty_string(&mut self, sec: &Sec, key: &str) -> Option<(String, Span)> {
        let (s, span) = self.string(sec, key)?;
        if s.trim().is_empty() {
            let message = format!("'{key}' in [{}] is empty", sec.name);
            self.report_key(sec, key, &span, message);
            return None;
        }
        Some((s, span))
    }

    fn boolean(&mut self, sec: &Sec, key: &str) -> Option<(bool, Span)> {
        let (k, v) = sec.entry(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some((*b, k.span())),
            other => {
                self.wrong_type(
                    sec,
                    key,
                    &k.span(),
                    "a boolean (true or false)",
                    other.type_str(),
                );
                None
            }
        }
    }

    fn integer(&mut self, sec: &Sec, key: &str, range: (i64, i64)) -> Option<(i64, Span)> {
        let (k, v) = sec.entry(key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            let found = v.get_ref().type_str();
            self.wrong_type(sec, key, &k.span(), "an integer", found);
            return None;
        };
        let n = i64::from_str_radix(i.as_str(), i.radix()).ok();
        match n {
            Some(n) if n >= range.0 && n <= range.1 => Some((n, k.span())),
            _ => {
                let message = format!(
                    "'{key}' in [{}] must be between {} and {}",
                    sec.name, range.0, range.1
                );
                self.report_key(sec, key, &k.span(), message);
                None
            }
        }
    }

    /// An array of strings; `None` when absent or wrong (reported).
    fn strings(&mut self, sec: &Sec, key: &str) -> Option<(Vec<String>, Span)> {
        let (k, v) = sec.entry(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            let found = v.get_ref().type_str();
            self.wrong_type(sec, key, &k.span(), "an array of strings", found);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (n, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(s.to_string()),
                other => {
                    let message = format!(
                        "wrong type for '{key}' in [{}]: expected an array of strings, element {} is {}",
                        sec.name,
                        n + 1,
                        other.type_str()
                    );
                    self.report_key(sec, key, &item.span(), message);
                    ok = false;
                }
            }
        }
        ok.then_some((out, k.span()))
    }

    /// An array of non-empty strings that must itself not be empty.
    fn nonempty_strings(
        &mut self,
        sec: &Sec,
        key: &str,
        what: &str,
    ) -> Option<(Vec<String>, Span)> {
        if !sec.has(key) {
            self.missing(sec, key, what);
            return None;
        }
        let (list, span) = self.strings(sec, key)?;
        if list.is_empty() {
            let message = format!("'{key}' in [{}] is empty ({what})", sec.name);
            self.report_key(sec, key, &span, message);
            return None;
        }
        if list.iter().any(|s| s.is_empty()) {
            let message = format!("'{key}' in [{}] has an empty string", sec.name);
            self.report_key(sec, key, &span, message);
            return None;
        }
        Some((list, span))
    }

    fn path(&mut self, sec: &Sec, key: &str) -> Option<PathBuf> {
        let (s, _) = self.nonempty_string(sec, key)?;
        Some(self.resolve(&s))
    }

    /// A sub-table such as `[repositories.main.s3]`.
    fn table<'t, 'i>(&mut self, sec: &Sec<'t, 'i>, key: &str) -> Option<Sec<'t, 'i>> {
        let (k, v) = sec.entry(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Sec {
                table: t,
                name: sec.key_path(key),
                header: k.span(),
            }),
            other => {
                self.wrong_type(sec, key, &k.span(), "a table", other.type_str());
                None
            }
        }
    }

    fn inline_secret_allowed(&mut self, sec: &Sec, key: &str, span: &Span) -> bool {
        let Some(mode) = self.mode else {
            return true;
        };
        if mode & GROUP_OTHER_READ == 0 {
            return true;
        }
        let alternative = match key {
            "password" => "password_file, password_command or password_env",
            "secret_access_key" => "secret_access_key_file or AWS_SECRET_ACCESS_KEY",
            _ => "the AWS_SESSION_TOKEN environment variable",
        };
        let message = format!(
            "inline '{key}' in [{}] refused: the configuration file is readable by group or others (mode {:04o}); run `chmod 600 {}` or use {alternative} instead",
            sec.name,
            mode & 0o7777,
            self.path.display()
        );
        self.report_key(sec, key, span, message);
        false
    }

    /// Walks the whole document.
    pub(crate) fn config(mut self, text: &str) -> Result<Config, ConfigError> {
        // Only the first syntax error is reported: after one, a parser's further complaints are
        // mostly consequences of its recovery, not separate mistakes.
        let syntax = |e: toml::de::Error| ConfigError::Syntax {
            path: self.path.to_path_buf(),
            problems: vec![Problem {
                path: self.path.to_path_buf(),
                line: e.span().map(|s| self.line(s.start)),
                key: None,
                message: format!("TOML syntax error: {}", e.message()),
            }],
        };
        let doc = DeTable::parse(text).map_err(syntax)?;
        let doc = doc.get_ref();
        let mut config = Config {
            path: self.path.to_path_buf(),
            repositories: BTreeMap::new(),
            sources: BTreeMap::new(),
            retention: BTreeMap::new(),
            schedules: BTreeMap::new(),
            drills: BTreeMap::new(),
            targets: BTreeMap::new(),
            notifications: BTreeMap::new(),
            daemon: crate::daemon::DaemonConfig::default(),
            restore_points: RestorePoints::default(),
        };

        for (key, value) in doc.iter() {
            let k = key.get_ref().as_ref();
            if !TOP_LEVEL.contains(&k) {
                let message = format!(
                    "unknown key '{k}' at the top level (expected one of: {})",
                    TOP_LEVEL.join(", ")
                );
                self.report(&key.span(), Some(segment(k)), message);
            } else if !matches!(value.get_ref(), DeValue::Table(_)) {
                let message = format!(
                    "wrong type for '{k}': expected a table ([{k}] or [{k}.NAME]), found {}",
                    value.get_ref().type_str()
                );
                self.report(&key.span(), Some(segment(k)), message);
            }
        }

        let mut command_spans = Vec::new();
        let mut repo_refs: Vec<(String, String, Span)> = Vec::new();

        let repository_secs = self.entries(doc, "repositories");
        for (name, sec) in &repository_secs {
            if let Some((key, _)) = sec.entry("password_command") {
                command_spans.push(key.span());
            }
            if let Some(repo) = self.repository(name, sec) {
                config.repositories.insert(name.clone(), repo);
            }
        }
        let declared: Vec<&String> = repository_secs.iter().map(|(n, _)| n).collect();
        let only_repository = match declared.as_slice() {
            [only] => Some(only.as_str()),
            _ => None,
        };

        let source_secs = self.entries(doc, "sources");
        for (name, sec) in &source_secs {
            let is_command = matches!(
                sec.entry("kind").map(|(_, v)| v.get_ref()),
                Some(DeValue::String(s)) if s == "command"
            );
            if is_command {
                command_spans.push(
                    sec.entry("kind")
                        .map_or(sec.header.clone(), |(k, _)| k.span()),
                );
            }
            if let Some(source) = self.source(name, sec, only_repository, &mut repo_refs) {
                config.sources.insert(name.clone(), source);
            }
        }

        for (name, sec) in self.entries(doc, "retention") {
            if let Some(policy) = self.policy(&name, &sec, &mut repo_refs) {
                config.retention.insert(name, policy);
            }
        }

        // References to repositories (a repository with problems of its own still counts as
        // declared: its problems are already reported).
        for (owner, repo, span) in repo_refs {
            if !declared.contains(&&repo) {
                let message = format!(
                    "[{owner}] names repository '{repo}', which is not configured ({})",
                    configured(declared.iter().map(|s| s.as_str()), "repositories")
                );
                self.report(&span, Some(format!("{owner}.repository")), message);
            }
        }

        self.physical_rules(&source_secs, &config);

        // Targets and drills refer to sources (a source with problems of its own still counts
        // as declared: its problems are already reported).
        let source_kinds: SourceKinds = source_secs
            .iter()
            .map(|(name, sec)| {
                let kind = match sec.entry("kind").map(|(_, v)| v.get_ref()) {
                    Some(DeValue::String(s)) => {
                        SOURCE_KINDS.iter().copied().find(|k| *k == s.as_ref())
                    }
                    _ => None,
                };
                (name.clone(), kind)
            })
            .collect();
        for (name, sec) in self.entries(doc, "targets") {
            if let Some(target) = self.target(&name, &sec, &source_kinds) {
                config.targets.insert(name, target);
            }
        }
        for (name, sec) in self.entries(doc, "drills") {
            // A command check runs a command too (the rule for files others can write).
            if let Some(DeValue::Array(items)) = sec.entry("checks").map(|(_, v)| v.get_ref()) {
                for item in items.iter() {
                    let DeValue::Table(check) = item.get_ref() else {
                        continue;
                    };
                    let kind = check.iter().find(|(k, _)| k.get_ref().as_ref() == "kind");
                    if let Some((key, value)) = kind {
                        if matches!(value.get_ref(), DeValue::String(s) if s == "command") {
                            command_spans.push(key.span());
                        }
                    }
                }
            }
            if let Some(drill) = self.drill(&name, &sec, &source_kinds) {
                config.drills.insert(name, drill);
            }
        }

        // The daemon's sections.
        if let Some((key, value)) = doc.iter().find(|(k, _)| k.get_ref().as_ref() == "daemon") {
            if let DeValue::Table(t) = value.get_ref() {
                let sec = Sec {
                    table: t,
                    name: "daemon".into(),
                    header: key.span(),
                };
                config.daemon = self.daemon(&sec);
            }
        }
        let mut refs = Vec::new();
        for (name, sec) in self.entries(doc, "schedules") {
            if let Some(schedule) = self.schedule(&name, &sec, &mut refs) {
                config.schedules.insert(name, schedule);
            }
        }
        let declared_names = daemon::DeclaredNames {
            sources: source_secs.iter().map(|(n, _)| n.clone()).collect(),
            repositories: declared.iter().map(|n| n.to_string()).collect(),
        };
        self.schedule_refs(refs, &config, &declared_names);
        for (name, sec) in self.entries(doc, "notifications") {
            if let Some((key, _)) = sec.entry("command") {
                command_spans.push(key.span());
            }
            if let Some(n) = self.notification(&name, &sec) {
                config.notifications.insert(name, n);
            }
        }
        if let Some((key, value)) = doc
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == "restore_points")
        {
            if let DeValue::Table(t) = value.get_ref() {
                let sec = Sec {
                    table: t,
                    name: "restore_points".into(),
                    header: key.span(),
                };
                self.check_keys(&sec, RESTORE_POINTS_KEYS);
                for k in ["pre_command", "post_command"] {
                    if let Some((cmd_key, _)) = sec.entry(k) {
                        command_spans.push(cmd_key.span());
                    }
                }
                let command = |p: &mut Self, k: &str| {
                    if sec.has(k) {
                        p.nonempty_strings(&sec, k, "the program and its arguments")
                            .map(|(c, _)| c)
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    }
                };
                config.restore_points.pre_command = command(&mut self, "pre_command");
                config.restore_points.post_command = command(&mut self, "post_command");
                if let Some(d) = self.duration(&sec, "timeout") {
                    config.restore_points.timeout = d;
                }
            }
        }

        if let Some(mode) = self.mode {
            if mode & OTHER_WRITE != 0 && !command_spans.is_empty() {
                let message = format!(
                    "the configuration file is writable by others (mode {:04o}) and names commands to run: anyone could change them; run `chmod o-w {}`",
                    mode & 0o7777,
                    self.path.display()
                );
                let span = command_spans[0].clone();
                self.report(&span, None, message);
            }
        }

        if self.problems.is_empty() {
            Ok(config)
        } else {
            let mut problems = self.problems;
            problems.sort_by_key(|p| p.line);
            Err(ConfigError::Invalid {
                path: config.path,
                problems,
            })
        }
    }

    /// The `NAME = table` entries of a top-level map section, reporting entries that are not
    /// tables.
    fn entries<'t, 'i>(
        &mut self,
        doc: &'t DeTable<'i>,
        section: &str,
    ) -> Vec<(String, Sec<'t, 'i>)> {
        let Some((_, value)) = doc.iter().find(|(k, _)| k.get_ref().as_ref() == section) else {
            return Vec::new();
        };
        let DeValue::Table(table) = value.get_ref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in table.iter() {
            let name = key.get_ref().to_string();
            match value.get_ref() {
                DeValue::Table(t) => out.push((
                    name.clone(),
                    Sec {
                        table: t,
                        name: format!("{section}.{}", segment(&name)),
                        header: key.span(),
                    },
                )),
                other => {
                    let message = format!(
                        "wrong type for '{name}' in [{section}]: expected a table ([{section}.{}]), found {}",
                        segment(&name),
                        other.type_str()
                    );
                    let problem_key = format!("{section}.{}", segment(&name));
                    self.report(&key.span(), Some(problem_key), message);
                }
            }
        }
        out
    }

    /// A `[repositories.NAME]` section.
    fn repository(&mut self, name: &str, sec: &Sec) -> Option<RepositoryConfig> {
        self.check_keys(sec, REPOSITORY_KEYS);
        let start = self.problems.len();

        let url = match self.nonempty_string(sec, "url") {
            Some((url, span)) => self.repository_url(sec, &url, &span),
            None => {
                if !sec.has("url") {
                    self.missing(sec, "url", "the repository location: a path, local:PATH, s3:https://HOST/BUCKET/PREFIX or s3://BUCKET/PREFIX");
                }
                None
            }
        };

        self.at_most_one(sec, PASSWORD_KEYS, |given| {
            format!(
                "[{}] has more than one password source ({}): keep exactly one",
                sec.name,
                given.join(", ")
            )
        });
        let mut password = None;
        if let Some(path) = self.path(sec, "password_file") {
            password = Some(PasswordSource::File(path));
        }
        if let Some((cmd, _)) = self.nonempty_string(sec, "password_command") {
            password = Some(PasswordSource::Command(cmd));
        }
        if let Some((var, span)) = self.nonempty_string(sec, "password_env") {
            if var.contains('=') || var.contains('\0') {
                let message = format!(
                    "'password_env' in [{}] must be the name of an environment variable",
                    sec.name
                );
                self.report_key(sec, "password_env", &span, message);
            }
            password = Some(PasswordSource::Env(var));
        }
        if let Some((secret, span)) = self.string(sec, "password") {
            if secret.is_empty() {
                let message = format!("'password' in [{}] is empty", sec.name);
                self.report_key(sec, "password", &span, message);
            } else if self.inline_secret_allowed(sec, "password", &span) {
                password = Some(PasswordSource::Inline(Secret::new(secret)));
            }
        }

        let s3 = self.table(sec, "s3").map(|s3sec| self.s3(&s3sec));
        if s3.is_some() {
            if let Some(url) = &url {
                if !url.starts_with("s3:") {
                    let span = sec
                        .entry("s3")
                        .map(|(k, _)| k.span())
                        .unwrap_or(sec.header.clone());
                    let message = format!(
                        "[{}.s3] is given but url '{url}' is not an S3 location (s3:https://HOST/BUCKET/PREFIX or s3://BUCKET/PREFIX)",
                        sec.name
                    );
                    self.report_key(sec, "s3", &span, message);
                }
            }
        }

        let object_lock = self.string(sec, "object_lock").and_then(|(s, span)| {
            let lock = parse_object_lock(&s);
            if lock.is_none() {
                let message = format!(
                    "bad 'object_lock' in [{}]: '{s}' is not MODE:DAYS with MODE COMPLIANCE or GOVERNANCE and DAYS from 1 to 36500 (e.g. \"COMPLIANCE:30\")",
                    sec.name
                );
                self.report_key(sec, "object_lock", &span, message);
            }
            lock
        });

        if self.problems.len() > start {
            return None;
        }
        Some(RepositoryConfig {
            name: name.to_string(),
            url: url?,
            password,
            s3,
            object_lock,
        })
    }

    /// Checks a repository location and resolves a relative local path.
    fn repository_url(&mut self, sec: &Sec, url: &str, span: &Span) -> Option<String> {
        if url == "memory:" {
            return Some(url.to_string());
        }
        if let Some(path) = url.strip_prefix("local:") {
            if path.is_empty() {
                let message = format!("'url' in [{}] is 'local:' without a path", sec.name);
                self.report_key(sec, "url", span, message);
                return None;
            }
            return Some(format!("local:{}", self.resolve(path).display()));
        }
        if let Some(rest) = url.strip_prefix("s3:") {
            return match check_s3(rest) {
                Ok(()) => Some(url.to_string()),
                Err(why) => {
                    let message = format!("bad S3 'url' in [{}]: {why}", sec.name);
                    self.report_key(sec, "url", span, message);
                    None
                }
            };
        }
        if let Some((scheme, _)) = url.split_once("://") {
            if !scheme.contains('/') {
                let message = format!(
                    "unknown repository scheme '{scheme}:' in [{}] (use a path, local:PATH, s3:https://HOST/BUCKET/PREFIX or s3://BUCKET/PREFIX)",
                    sec.name
                );
                self.report_key(sec, "url", span, message);
                return None;
            }
        }
        Some(self.resolve(url).display().to_string())
    }

    fn s3(&mut self, sec: &Sec) -> S3Options {
        self.check_keys(sec, S3_KEYS);
        let mut s3 = S3Options {
            endpoint: self
                .nonempty_string(sec, "endpoint")
                .map(|(s, _)| s.trim_end_matches('/').to_string()),
            region: self.nonempty_string(sec, "region").map(|(s, _)| s),
            access_key_id: self.nonempty_string(sec, "access_key_id").map(|(s, _)| s),
            secret_access_key: None,
            secret_access_key_file: self.path(sec, "secret_access_key_file"),
            session_token: None,
            virtual_host_style: self.boolean(sec, "virtual_host_style").map(|(b, _)| b),
        };
        if let Some((endpoint, span)) = sec
            .entry("endpoint")
            .and_then(|(k, v)| v.get_ref().as_str().map(|s| (s.to_string(), k.span())))
        {
            if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                let message = format!(
                    "'endpoint' in [{}] must start with https:// or http://",
                    sec.name
                );
                self.report_key(sec, "endpoint", &span, message);
            }
        }
        if let Some((secret, span)) = self.nonempty_string(sec, "secret_access_key") {
            if self.inline_secret_allowed(sec, "secret_access_key", &span) {
                s3.secret_access_key = Some(Secret::new(secret));
            }
            if sec.has("secret_access_key_file") {
                let message = format!(
                    "[{}] has both secret_access_key and secret_access_key_file: keep one",
                    sec.name
                );
                self.report_key(sec, "secret_access_key", &span, message);
            }
        }
        if let Some((token, span)) = self.nonempty_string(sec, "session_token") {
            if self.inline_secret_allowed(sec, "session_token", &span) {
                s3.session_token = Some(Secret::new(token));
            }
        }
        s3
    }

    fn source(
        &mut self,
        name: &str,
        sec: &Sec,
        only_repository: Option<&str>,
        repo_refs: &mut Vec<(String, String, Span)>,
    ) -> Option<Source> {
        let start = self.problems.len();
        let kind = match self.nonempty_string(sec, "kind") {
            Some((kind, _)) if SOURCE_KINDS.contains(&kind.as_str()) => kind,
            Some((kind, span)) => {
                let message = format!(
                    "unknown kind '{kind}' in [{}] (expected one of: {})",
                    sec.name,
                    SOURCE_KINDS.join(", ")
                );
                self.report_key(sec, "kind", &span, message);
                return None;
            }
            None => {
                if !sec.has("kind") {
                    self.missing(sec, "kind", &format!("one of: {}", SOURCE_KINDS.join(", ")));
                }
                return None;
            }
        };
        let specific = match kind.as_str() {
            "files" => FILES_KEYS,
            "command" => COMMAND_KEYS,
            "postgres" => POSTGRES_KEYS,
            "postgres-physical" => PHYSICAL_KEYS,
            _ => SQLITE_KEYS,
        };
        let allowed: Vec<&str> = SOURCE_COMMON.iter().chain(specific).copied().collect();
        self.check_keys(sec, &allowed);

        let repository = match self.nonempty_string(sec, "repository") {
            Some((repo, span)) => {
                repo_refs.push((sec.name.clone(), repo.clone(), span));
                Some(repo)
            }
            None if sec.has("repository") => None,
            None => match only_repository {
                Some(only) => Some(only.to_string()),
                None => {
                    self.missing(
                        sec,
                        "repository",
                        "the name of a [repositories.NAME] section to back up to",
                    );
                    None
                }
            },
        };
        let tags = self
            .strings(sec, "tags")
            .map(|(t, _)| t)
            .unwrap_or_default();
        let host = self.nonempty_string(sec, "host").map(|(h, _)| h);

        let kind = match kind.as_str() {
            "files" => {
                let paths =
                    self.nonempty_strings(sec, "paths", "the files and directories to back up");
                let exclude = self
                    .strings(sec, "exclude")
                    .map(|(e, _)| e)
                    .unwrap_or_default();
                let one_file_system = self.boolean(sec, "one_file_system").is_some_and(|(b, _)| b);
                let xattrs = self.boolean(sec, "xattrs").is_none_or(|(b, _)| b);
                SourceKind::Files(FilesSource {
                    paths: paths
                        .map(|(p, _)| p.iter().map(|p| self.resolve(p)).collect())
                        .unwrap_or_default(),
                    exclude,
                    one_file_system,
                    xattrs,
                })
            }
            "command" => {
                let stream_name = match self.nonempty_string(sec, "stream_name") {
                    Some((s, span)) => {
                        if s.contains('/') {
                            let message = format!(
                                "'stream_name' in [{}] is a file name and must not contain '/'",
                                sec.name
                            );
                            self.report_key(sec, "stream_name", &span, message);
                        }
                        s
                    }
                    None => {
                        if !sec.has("stream_name") {
                            self.missing(sec, "stream_name", "the file name the command's output is stored under, e.g. \"registry.json\"");
                        }
                        String::new()
                    }
                };
                let command = self
                    .nonempty_strings(
                        sec,
                        "command",
                        "the program and its arguments, e.g. [\"app-cli\", \"export\"]",
                    )
                    .map(|(c, _)| c)
                    .unwrap_or_default();
                SourceKind::Command(CommandSource {
                    stream_name,
                    command,
                })
            }
            "postgres" => {
                let dsn = self.string(sec, "dsn").map(|(d, _)| d).unwrap_or_default();
                self.at_most_one(sec, &["database", "databases", "all"], |given| {
                    format!(
                        "[{}] has {}: give only one of database, databases and all",
                        sec.name,
                        given.join(" and ")
                    )
                });
                let mut databases = PgDatabases::FromDsn;
                if let Some((db, _)) = self.nonempty_string(sec, "database") {
                    databases = PgDatabases::Named(vec![db]);
                }
                if sec.has("databases") {
                    if let Some((dbs, _)) =
                        self.nonempty_strings(sec, "databases", "the databases to dump")
                    {
                        databases = PgDatabases::Named(dbs);
                    }
                }
                if self.boolean(sec, "all").is_some_and(|(all, _)| all) {
                    databases = PgDatabases::All;
                }
                SourceKind::Postgres(PostgresSource {
                    dsn,
                    databases,
                    count_rows: self.count_rows(sec),
                })
            }
            "postgres-physical" => SourceKind::PostgresPhysical(self.physical(sec)),
            _ => {
                let paths = self.nonempty_strings(sec, "paths", "the SQLite database files");
                let check = self.choice(
                    sec,
                    "check",
                    &[
                        ("full", SqliteCheck::Full),
                        ("quick", SqliteCheck::Quick),
                        ("pragma", SqliteCheck::Pragma),
                    ],
                    |c| {
                        format!(
                            "unknown check '{c}' in [{}] (expected full, quick or pragma)",
                            sec.name
                        )
                    },
                );
                SourceKind::Sqlite(SqliteSource {
                    paths: paths
                        .map(|(p, _)| p.iter().map(|p| self.resolve(p)).collect())
                        .unwrap_or_default(),
                    check,
                })
            }
        };

        if self.problems.len() > start {
            return None;
        }
        Some(Source {
            name: name.to_string(),
            repository: repository?,
            tags,
            host,
            restore_point: self.boolean(sec, "restore_point").is_some_and(|(b, _)| b),
            kind,
        })
    }

    /// `count_rows` of a logical PostgreSQL source: `true` (the default), `false` or a
    /// non-empty array of table names.
    fn count_rows(&mut self, sec: &Sec) -> CountRows {
        let Some((k, v)) = sec.entry("count_rows") else {
            return CountRows::All;
        };
        match v.get_ref() {
            DeValue::Boolean(true) => CountRows::All,
            DeValue::Boolean(false) => CountRows::None,
            DeValue::Array(_) => self
                .nonempty_strings(
                    sec,
                    "count_rows",
                    "the tables whose rows are counted; use false to count none",
                )
                .map_or(CountRows::All, |(tables, _)| CountRows::Tables(tables)),
            other => {
                self.wrong_type(
                    sec,
                    "count_rows",
                    &k.span(),
                    "true, false or an array of table names",
                    other.type_str(),
                );
                CountRows::All
            }
        }
    }

    fn physical(&mut self, sec: &Sec) -> PostgresPhysicalSource {
        let dsn = self.string(sec, "dsn").map(|(d, _)| d).unwrap_or_default();
        let method = self.choice(
            sec,
            "method",
            &[
                ("auto", PhysicalMethod::Auto),
                ("copy", PhysicalMethod::Copy),
                ("pg_basebackup", PhysicalMethod::PgBasebackup),
            ],
            |m| {
                format!(
                    "unknown method '{m}' in [{}] (expected one of: auto, copy, pg_basebackup)",
                    sec.name
                )
            },
        );
        let checkpoint = self.choice(
            sec,
            "checkpoint",
            &[("fast", Checkpoint::Fast), ("spread", Checkpoint::Spread)],
            |c| {
                format!(
                    "unknown checkpoint '{c}' in [{}] (expected fast or spread)",
                    sec.name
                )
            },
        );
        let cluster = match self.nonempty_string(sec, "cluster") {
            None => DEFAULT_CLUSTER.to_string(),
            Some((c, span)) => {
                if c.contains('/') || c.chars().any(char::is_whitespace) {
                    let message =
                        format!("'cluster' in [{}] must not contain '/' or spaces", sec.name);
                    self.report_key(sec, "cluster", &span, message);
                }
                c
            }
        };
        let wal_timeout = self
            .duration(sec, "wal_timeout")
            .unwrap_or(Duration::from_secs(300));
        PostgresPhysicalSource {
            dsn,
            method,
            cluster,
            data_directory: self.path(sec, "data_directory"),
            checkpoint,
            wal_timeout,
            key_cache: self.path(sec, "key_cache"),
            compression: self
                .integer(sec, "compression", (-7, 22))
                .map(|(n, _)| n as i32)
                .unwrap_or(1),
            push_ahead: self
                .integer(sec, "push_ahead", (0, 1024))
                .map(|(n, _)| n as usize)
                .unwrap_or(2),
        }
    }

    /// A duration: a string such as "5m", or an integer number of seconds.
    fn duration(&mut self, sec: &Sec, key: &str) -> Option<Duration> {
        let (k, v) = sec.entry(key)?;
        match v.get_ref() {
            DeValue::Integer(_) => self
                .integer(sec, key, (1, i64::MAX))
                .map(|(n, _)| Duration::from_secs(n as u64)),
            DeValue::String(s) => match parse_duration(s) {
                Ok(d) if !d.is_zero() => Some(d),
                Ok(_) => {
                    let message = format!("'{key}' in [{}] must not be zero", sec.name);
                    self.report_key(sec, key, &k.span(), message);
                    None
                }
                Err(e) => {
                    let message = format!("'{key}' in [{}]: {e}", sec.name);
                    self.report_key(sec, key, &k.span(), message);
                    None
                }
            },
            other => {
                self.wrong_type(
                    sec,
                    key,
                    &k.span(),
                    "a duration string such as \"5m\" or an integer number of seconds",
                    other.type_str(),
                );
                None
            }
        }
    }

    fn policy(
        &mut self,
        name: &str,
        sec: &Sec,
        repo_refs: &mut Vec<(String, String, Span)>,
    ) -> Option<RetentionPolicy> {
        // A misspelt keep_* key is reported as unknown, not also as "keeps nothing".
        let start = self.problems.len();
        self.check_keys(sec, RETENTION_KEYS);
        let mut counts = [None; 6];
        for (slot, key) in counts.iter_mut().zip(KEEP_COUNTS) {
            *slot = self
                .integer(sec, key, (0, i64::from(u32::MAX)))
                .map(|(n, _)| n as u32);
        }
        let keep_within = self
            .nonempty_string(sec, "keep_within")
            .and_then(|(s, span)| match parse_keep_within(&s) {
                Ok(_) => Some(s),
                Err(e) => {
                    let message = format!("'keep_within' in [{}]: {e}", sec.name);
                    self.report_key(sec, "keep_within", &span, message);
                    None
                }
            });
        let repository = self.nonempty_string(sec, "repository").map(|(repo, span)| {
            repo_refs.push((sec.name.clone(), repo.clone(), span));
            repo
        });
        let policy = RetentionPolicy {
            name: name.to_string(),
            keep_last: counts[0],
            keep_hourly: counts[1],
            keep_daily: counts[2],
            keep_weekly: counts[3],
            keep_monthly: counts[4],
            keep_yearly: counts[5],
            keep_within,
            tags: self
                .strings(sec, "tags")
                .map(|(t, _)| t)
                .unwrap_or_default(),
            host: self.nonempty_string(sec, "host").map(|(h, _)| h),
            prune: self.boolean(sec, "prune").is_some_and(|(b, _)| b),
            repository,
        };
        if self.problems.len() > start {
            return None;
        }
        let keeps_something =
            counts.iter().any(|c| c.is_some_and(|n| n > 0)) || policy.keep_within.is_some();
        if !keeps_something {
            let message = format!(
                "[{}] keeps nothing: give at least one of {} greater than 0, or keep_within (forget would remove every snapshot)",
                sec.name,
                KEEP_COUNTS.join(", ")
            );
            self.report(&sec.header.clone(), Some(sec.name.clone()), message);
            return None;
        }
        Some(policy)
    }

    /// A string key that must be given and not be empty; `what` says what it is (for the
    /// message when it is missing).
    fn required_string(&mut self, sec: &Sec, key: &str, what: &str) -> Option<String> {
        if !sec.has(key) {
            self.missing(sec, key, what);
            return None;
        }
        self.nonempty_string(sec, key).map(|(s, _)| s)
    }

    /// The span of `key`'s name in `sec`, else of the section's header.
    fn key_span(sec: &Sec, key: &str) -> Span {
        sec.entry(key).map_or(sec.header.clone(), |(k, _)| k.span())
    }

    /// A `[targets.NAME]` section: the recovery objectives of the source `NAME`.
    fn target(&mut self, name: &str, sec: &Sec, sources: &SourceKinds) -> Option<Target> {
        let start = self.problems.len();
        self.check_keys(sec, TARGET_KEYS);
        if !sources.contains_key(name) {
            let message = format!(
                "[{}] is for source '{name}', which is not configured (a target is named after its source; {})",
                sec.name,
                configured(sources.keys().map(String::as_str), "sources")
            );
            self.report(&sec.header.clone(), Some(sec.name.clone()), message);
        }
        let rpo = self.duration(sec, "rpo");
        let rto = self.duration(sec, "rto");
        if self.problems.len() > start {
            return None;
        }
        Some(Target {
            source: name.to_string(),
            rpo,
            rto,
        })
    }

    /// A `[drills.NAME]` section with its `[[drills.NAME.checks]]`.
    fn drill(&mut self, name: &str, sec: &Sec, sources: &SourceKinds) -> Option<Drill> {
        let start = self.problems.len();
        self.check_keys(sec, DRILL_KEYS);

        // The source, and its kind when known (the rules below that depend on the kind are
        // skipped when it is not: the source's own problems say why).
        let mut source_kind = None;
        let source = match self.nonempty_string(sec, "source") {
            Some((source, span)) => {
                match sources.get(&source) {
                    Some(kind) => source_kind = kind.map(|k| (source.clone(), k)),
                    None => {
                        let message = format!(
                            "[{}] names source '{source}', which is not configured ({})",
                            sec.name,
                            configured(sources.keys().map(String::as_str), "sources")
                        );
                        self.report_key(sec, "source", &span, message);
                    }
                }
                Some(source)
            }
            None => {
                if !sec.has("source") {
                    self.missing(
                        sec,
                        "source",
                        "the name of the [sources.NAME] section whose backups are drilled",
                    );
                }
                None
            }
        };
        let source_kind = source_kind.as_ref().map(|(n, k)| (n.as_str(), *k));

        let pick = match self.string(sec, "pick") {
            None => Pick::Latest,
            Some((s, span)) => s.parse::<Pick>().unwrap_or_else(|e| {
                let message = format!("'pick' in [{}]: {e}", sec.name);
                self.report_key(sec, "pick", &span, message);
                Pick::Latest
            }),
        };
        let to = self.string(sec, "to").and_then(|(s, span)| {
            if let Some((source, kind)) = source_kind {
                if kind != "postgres-physical" {
                    let message = format!(
                        "'to' in [{}] needs a postgres-physical source (point-in-time recovery replays WAL); [sources.{}] is kind = \"{kind}\"",
                        sec.name,
                        segment(source)
                    );
                    self.report_key(sec, "to", &span, message);
                }
            }
            match parse_pitr_to(&s, jiff::Timestamp::now()) {
                Ok(_) => Some(s),
                Err(e) => {
                    let message = format!("'to' in [{}]: {e}", sec.name);
                    self.report_key(sec, "to", &span, message);
                    None
                }
            }
        });
        let scratch_dir = self
            .path(sec, "scratch_dir")
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SCRATCH_DIR));
        let jobs = self.integer(sec, "jobs", (1, 256)).map(|(n, _)| n as u32);
        let database = self.nonempty_string(sec, "database").map(|(d, _)| d);
        let timeout = self.duration(sec, "timeout").unwrap_or(DRILL_TIMEOUT);
        let run_as = self.nonempty_string(sec, "run_as").map(|(u, _)| u);
        let checks = self.checks(sec, source_kind);

        if self.problems.len() > start {
            return None;
        }
        Some(Drill {
            name: name.to_string(),
            source: source?,
            pick,
            to,
            scratch_dir,
            jobs,
            database,
            timeout,
            run_as,
            checks,
        })
    }

    /// The `[[drills.NAME.checks]]` of the drill `sec`, whose source is `source` (name and
    /// kind, when known).
    fn checks(&mut self, sec: &Sec, source: Option<(&str, &'static str)>) -> Vec<Check> {
        let Some((k, v)) = sec.entry("checks") else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            let found = v.get_ref().type_str();
            self.wrong_type(
                sec,
                "checks",
                &k.span(),
                "an array of tables ([[drills.NAME.checks]])",
                found,
            );
            return Vec::new();
        };
        let mut checks: Vec<Check> = Vec::with_capacity(items.len());
        for (n, item) in items.iter().enumerate() {
            let DeValue::Table(table) = item.get_ref() else {
                let message = format!(
                    "wrong type for 'checks' in [{}]: expected an array of tables, element {} is {}",
                    sec.name,
                    n + 1,
                    item.get_ref().type_str()
                );
                self.report_key(sec, "checks", &item.span(), message);
                continue;
            };
            // The span of an array-of-tables element is its [[...]] header (of an inline
            // table, the table itself): the line the check starts on.
            let check_sec = Sec {
                table,
                name: format!("{}.checks[{}]", sec.name, n + 1),
                header: item.span(),
            };
            let Some(check) = self.check(&check_sec, n + 1, source) else {
                continue;
            };
            if let Some(first) = checks.iter().find(|c| c.name == check.name) {
                let message = format!(
                    "[{}] has the same name '{}' as the check on line {} of [{}]: give one of them another 'name'",
                    check_sec.name, check.name, first.line, sec.name
                );
                let span = Self::key_span(&check_sec, "name");
                self.report(&span, Some(check_sec.key_path("name")), message);
                continue;
            }
            checks.push(check);
        }
        checks
    }

    /// One check, the `position`th (from 1) of its drill.
    fn check(
        &mut self,
        sec: &Sec,
        position: usize,
        source: Option<(&str, &'static str)>,
    ) -> Option<Check> {
        let start = self.problems.len();
        let kind = match self.nonempty_string(sec, "kind") {
            Some((kind, _)) if CHECK_KINDS.contains(&kind.as_str()) => kind,
            Some((kind, span)) => {
                let message = format!(
                    "unknown check kind '{kind}' in [{}] (expected one of: {})",
                    sec.name,
                    CHECK_KINDS.join(", ")
                );
                self.report_key(sec, "kind", &span, message);
                return None;
            }
            None => {
                if !sec.has("kind") {
                    self.missing(sec, "kind", &format!("one of: {}", CHECK_KINDS.join(", ")));
                }
                return None;
            }
        };
        let specific = match kind.as_str() {
            "amcheck" => &[][..],
            "row_count" => ROW_COUNT_KEYS,
            "sequence_gaps" => SEQUENCE_GAPS_KEYS,
            "hash_chain" => HASH_CHAIN_KEYS,
            "sql" => SQL_KEYS,
            "freshness" => FRESHNESS_KEYS,
            _ => COMMAND_CHECK_KEYS,
        };
        let allowed: Vec<&str> = CHECK_COMMON.iter().chain(specific).copied().collect();
        self.check_keys(sec, &allowed);
        let name = self.nonempty_string(sec, "name").map(|(n, _)| n);
        let database = self.nonempty_string(sec, "database").map(|(d, _)| d);

        // Whether the drill's source restores something this kind can check.
        if let Some((source, source_kind)) = source {
            let needs = if PG_CHECKS.contains(&kind.as_str()) {
                Some(("a PostgreSQL source", PG_SOURCE_KINDS))
            } else if DB_CHECKS.contains(&kind.as_str()) {
                Some((
                    "a database source (postgres, postgres-physical or sqlite)",
                    DB_SOURCE_KINDS,
                ))
            } else {
                None
            };
            if let Some((what, kinds)) = needs {
                if !kinds.contains(&source_kind) {
                    let message = format!(
                        "a {kind} check ([{}]) needs {what}; [sources.{}] is kind = \"{source_kind}\"",
                        sec.name,
                        segment(source)
                    );
                    let span = Self::key_span(sec, "kind");
                    self.report_key(sec, "kind", &span, message);
                }
            }
        }

        let check_kind = match kind.as_str() {
            "amcheck" => CheckKind::Amcheck,
            "row_count" => self.row_count(sec, source),
            "sequence_gaps" => CheckKind::SequenceGaps {
                table: self
                    .required_string(sec, "table", "the table, optionally schema-qualified")
                    .unwrap_or_default(),
                partition_by: self
                    .strings(sec, "partition_by")
                    .map(|(p, _)| p)
                    .unwrap_or_default(),
                sequence: self
                    .required_string(
                        sec,
                        "sequence",
                        "the integer column numbered 1, 2, 3, ... per partition",
                    )
                    .unwrap_or_default(),
                start: self
                    .integer(sec, "start", (i64::MIN, i64::MAX))
                    .map_or(1, |(n, _)| n),
            },
            "hash_chain" => self.hash_chain(sec),
            "sql" => CheckKind::Sql {
                query: self
                    .required_string(sec, "query", "the SQL query to run")
                    .unwrap_or_default(),
                expect: self.sql_expect(sec).unwrap_or_default(),
            },
            "freshness" => CheckKind::Freshness {
                query: self
                    .required_string(sec, "query", "an SQL query returning one timestamp")
                    .unwrap_or_default(),
                max_lag: if sec.has("max_lag") {
                    self.duration(sec, "max_lag")
                } else {
                    self.missing(
                        sec,
                        "max_lag",
                        "how much older than the recovery point the timestamp may be, e.g. \"15m\"",
                    );
                    None
                }
                .unwrap_or_default(),
            },
            _ => CheckKind::Command {
                command: self
                    .nonempty_strings(
                        sec,
                        "command",
                        "the program and its arguments, e.g. [\"app-cli\", \"verify\"]",
                    )
                    .map(|(c, _)| c)
                    .unwrap_or_default(),
                timeout: self
                    .duration(sec, "timeout")
                    .unwrap_or(COMMAND_CHECK_TIMEOUT),
            },
        };

        if self.problems.len() > start {
            return None;
        }
        Some(Check {
            name: name.unwrap_or_else(|| default_check_name(&check_kind, position)),
            database,
            line: self.line(sec.header.start),
            kind: check_kind,
        })
    }

    /// A `row_count` check: `table` and exactly one of `min` and `expect = "recorded"`.
    fn row_count(&mut self, sec: &Sec, source: Option<(&str, &'static str)>) -> CheckKind {
        let table = self
            .required_string(
                sec,
                "table",
                "the table to count, optionally schema-qualified",
            )
            .unwrap_or_default();
        self.at_most_one(sec, &["min", "expect"], |_| {
            format!(
                "[{}] has both min and expect: give one (min = N for at least N rows, or expect = \"recorded\" for exactly the count recorded at backup time)",
                sec.name
            )
        });
        if !sec.has("min") && !sec.has("expect") {
            let message = format!(
                "[{}] needs 'min' (at least N rows) or expect = \"recorded\" (exactly the count recorded at backup time)",
                sec.name
            );
            self.report(&sec.header.clone(), Some(sec.key_path("min")), message);
        }
        let mut expect = RowCountExpect::Min(0);
        if let Some((min, _)) = self.integer(sec, "min", (0, i64::MAX)) {
            expect = RowCountExpect::Min(min as u64);
        }
        if let Some((value, span)) = self.string(sec, "expect") {
            if value != "recorded" {
                let message = format!(
                    "'expect' in [{}] must be \"recorded\" (the count recorded at backup time), not '{value}'; use min = N for a lower bound",
                    sec.name
                );
                self.report_key(sec, "expect", &span, message);
            } else {
                expect = RowCountExpect::Recorded;
                // Files and command sources are refused for row_count as a whole.
                if let Some((source, kind)) = source {
                    if !RECORDING_KINDS.contains(&kind) && DB_SOURCE_KINDS.contains(&kind) {
                        let message = format!(
                            "expect = \"recorded\" in [{}] needs a source whose backups record row counts (kind = \"postgres\" or \"sqlite\"); [sources.{}] is kind = \"{kind}\" (use min = N)",
                            sec.name,
                            segment(source)
                        );
                        self.report_key(sec, "expect", &span, message);
                    }
                }
            }
        }
        CheckKind::RowCount { table, expect }
    }

    /// A `hash_chain` check.
    fn hash_chain(&mut self, sec: &Sec) -> CheckKind {
        let mut required =
            |key: &str, what: &str| self.required_string(sec, key, what).unwrap_or_default();
        let table = required("table", "the table, optionally schema-qualified");
        let order_by = required(
            "order_by",
            "the SQL expression ordering the rows of a partition, e.g. \"seq\"",
        );
        let hash = required("hash", "the column holding each row's hex digest");
        let prev = required("prev", "the column holding the previous row's digest");
        let input = required(
            "input",
            "the SQL expression whose digest 'hash' must be, e.g. \"prev || payload::text\"",
        );
        let algorithm = self.choice(
            sec,
            "algorithm",
            &[("sha256", HashAlgorithm::Sha256)],
            |a| {
                format!(
                    "unknown algorithm '{a}' in [{}] (expected sha256)",
                    sec.name
                )
            },
        );
        CheckKind::HashChain {
            table,
            partition_by: self
                .strings(sec, "partition_by")
                .map(|(p, _)| p)
                .unwrap_or_default(),
            order_by,
            hash,
            prev,
            input,
            genesis: self
                .string(sec, "genesis")
                .map_or_else(|| "0".repeat(64), |(g, _)| g),
            algorithm,
        }
    }

    /// The `expect` of an `sql` check, as PostgreSQL prints it: a string as written, an
    /// integer in decimal, a float as Rust writes it, a boolean as `t`/`f`.
    fn sql_expect(&mut self, sec: &Sec) -> Option<String> {
        let Some((k, v)) = sec.entry("expect") else {
            self.missing(
                sec,
                "expect",
                "the query's result as psql prints it unaligned, e.g. \"0\" or \"t\"",
            );
            return None;
        };
        let text = match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n.to_string()),
            DeValue::Float(f) => f
                .as_str()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() || f.as_str().contains("inf"))
                .map(|x| x.to_string()),
            DeValue::Boolean(b) => Some(if *b { "t" } else { "f" }.to_string()),
            other => {
                self.wrong_type(
                    sec,
                    "expect",
                    &k.span(),
                    "a string, an integer, a float or a boolean",
                    other.type_str(),
                );
                return None;
            }
        };
        if text.is_none() {
            let message = format!("'expect' in [{}] is out of range", sec.name);
            self.report_key(sec, "expect", &k.span(), message);
        }
        text
    }

    /// Rules across postgres-physical sources: one data directory per source, one source per
    /// repository and cluster.
    fn physical_rules(&mut self, secs: &[(String, Sec)], config: &Config) {
        let mut by_dir: BTreeMap<&Path, &str> = BTreeMap::new();
        let mut by_cluster: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        for (name, sec) in secs {
            let Some(source) = config.sources.get(name) else {
                continue;
            };
            let SourceKind::PostgresPhysical(pg) = &source.kind else {
                continue;
            };
            let span_of = |key: &str| {
                sec.entry(key)
                    .map(|(k, _)| k.span())
                    .unwrap_or(sec.header.clone())
            };
            if let Some(dir) = &pg.data_directory {
                if let Some(other) = by_dir.insert(dir, name) {
                    let message = format!(
                        "[{}] has the same data_directory as [sources.{}]: wal-push could not tell them apart",
                        sec.name,
                        segment(other)
                    );
                    self.report(
                        &span_of("data_directory"),
                        Some(sec.key_path("data_directory")),
                        message,
                    );
                }
            }
            if let Some(other) = by_cluster.insert((&source.repository, &pg.cluster), name) {
                let message = format!(
                    "[{}] and [sources.{}] both archive cluster '{}' into repository '{}': give one of them another 'cluster'",
                    sec.name,
                    segment(other),
                    pg.cluster,
                    source.repository
                );
                self.report(&span_of("cluster"), Some(sec.key_path("cluster")), message);
            }
        }
    }
}

/// The end of a message about a name that is not configured: the configured names of
/// `[section.NAME]`, or how to add one.
fn configured<'n>(names: impl Iterator<Item = &'n str>, section: &str) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        format!("add a [{section}.NAME] section")
    } else {
        format!("configured: {}", names.join(", "))
    }
}

/// The name a check gets when it has no `name`: its kind and table (`hash_chain events`), else
/// its kind and 1-based position in the drill (`sql #3`).
fn default_check_name(kind: &CheckKind, position: usize) -> String {
    match kind {
        CheckKind::RowCount { table, .. }
        | CheckKind::SequenceGaps { table, .. }
        | CheckKind::HashChain { table, .. } => format!("{} {table}", kind.name()),
        _ => format!("{} #{position}", kind.name()),
    }
}

/// Checks the part of an S3 location after `s3:` (the rules of `lifeboat -r`).
fn check_s3(rest: &str) -> Result<(), String> {
    let path = if let Some(path) = rest.strip_prefix("//") {
        path
    } else {
        let hostpath = match rest.split_once("://") {
            Some(("http" | "https", hostpath)) => hostpath,
            Some((other, _)) => {
                return Err(format!(
                    "the endpoint scheme must be http or https, not '{other}'"
                ))
            }
            None => rest,
        };
        let (host, path) = hostpath.split_once('/').unwrap_or((hostpath, ""));
        if host.is_empty() {
            return Err("no endpoint host (s3:https://HOST/BUCKET/PREFIX)".into());
        }
        path
    };
    let path = path.trim_matches('/');
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    if bucket.is_empty() {
        return Err("no bucket (s3:https://HOST/BUCKET/PREFIX or s3://BUCKET/PREFIX)".into());
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|c| c == "." || c == "..") || prefix.contains("//") {
        return Err("the prefix must not contain '.', '..' or empty components".into());
    }
    Ok(())
}

/// Parses `MODE:DAYS` (the rules of `lifeboat init --object-lock`).
fn parse_object_lock(s: &str) -> Option<ObjectLock> {
    let (mode, days) = s.split_once(':')?;
    let mode = match mode.trim().to_ascii_uppercase().as_str() {
        "COMPLIANCE" => ObjectLockMode::Compliance,
        "GOVERNANCE" => ObjectLockMode::Governance,
        _ => return None,
    };
    let days: u32 = days.trim().parse().ok()?;
    (1..=36500)
        .contains(&days)
        .then_some(ObjectLock { mode, days })
}
