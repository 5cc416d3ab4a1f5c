use super::*;
use std::time::Duration;

const EXAMPLE: &str = include_str!("../../../docs/examples/lifeboat.toml");
const FILE: &str = "/etc/lifeboat/lifeboat.toml";

fn problems(text: &str) -> Vec<Problem> {
    match Config::parse(text, FILE) {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(e) => e.problems(),
    }
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in text"))
        + 1
}

const MINIMAL: &str = r#"
[repositories.main]
url = "/srv/backup/repo"
password_file = "/etc/lifeboat/main.pass"
"#;

#[test]
fn example_file_parses() {
    let config = Config::parse(EXAMPLE, FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.path, Path::new(FILE));

    let main = config.repository("main").unwrap();
    assert_eq!(main.url, "/srv/backup/repo");
    assert_eq!(
        main.password_source(),
        Some(PasswordSource::File("/etc/lifeboat/main.pass".into()))
    );
    let offsite = config.repository("offsite").unwrap();
    assert!(matches!(
        offsite.password_source(),
        Some(PasswordSource::Command(_))
    ));
    assert_eq!(offsite.object_lock.unwrap().to_string(), "COMPLIANCE:30");
    let s3 = offsite.s3.as_ref().unwrap();
    assert_eq!(s3.region.as_deref(), Some("eu-central-1"));
    assert_eq!(s3.virtual_host_style, Some(false));
    assert_eq!(
        s3.secret_access_key_file.as_deref(),
        Some(Path::new("/etc/lifeboat/offsite.s3-secret"))
    );

    let app = config.source("app").unwrap();
    assert_eq!(app.repository, "main");
    assert_eq!(app.tags, ["app"]);
    let SourceKind::Files(files) = &app.kind else {
        panic!("{app:?}")
    };
    assert_eq!(files.paths, [PathBuf::from("/srv/app"), "/etc/app".into()]);
    assert_eq!(files.exclude, ["*.tmp", "/srv/app/cache"]);
    assert!(files.one_file_system);

    let SourceKind::Command(cmd) = &config.source("registry").unwrap().kind else {
        panic!()
    };
    assert_eq!(cmd.stream_name, "registry.json");
    assert_eq!(cmd.command, ["app-cli", "export", "registry"]);

    let SourceKind::Postgres(shop) = &config.source("shop").unwrap().kind else {
        panic!()
    };
    assert_eq!(shop.databases, PgDatabases::Named(vec!["shop".into()]));

    let pg_source = config.source("pg").unwrap();
    assert_eq!(pg_source.kind.name(), "postgres-physical");
    let SourceKind::PostgresPhysical(pg) = &pg_source.kind else {
        panic!()
    };
    assert_eq!(pg.method, PhysicalMethod::Auto);
    assert_eq!(pg.cluster, "main");
    assert_eq!(pg.checkpoint, Checkpoint::Fast);
    assert_eq!(pg.wal_timeout, Duration::from_secs(300));
    assert_eq!(pg.compression, 1);
    assert_eq!(pg.push_ahead, 2);
    assert_eq!(
        pg.data_directory.as_deref(),
        Some(Path::new("/var/lib/postgresql/16/main"))
    );
    assert!(matches!(
        config.source("notes").unwrap().kind,
        SourceKind::Sqlite(_)
    ));

    let daily = config.policy("daily").unwrap();
    assert_eq!(daily.keep_last, Some(3));
    assert_eq!(daily.keep_daily, Some(7));
    assert_eq!(daily.keep_within.as_deref(), Some("7d"));
    assert!(daily.prune);
    assert_eq!(daily.repository.as_deref(), Some("main"));
    assert!(!config.policy("databases").unwrap().prune);

    assert_eq!(
        shop.count_rows,
        CountRows::Tables(vec!["public.orders".into(), "public.customers".into()])
    );

    let nightly = &config.schedules["nightly"];
    assert_eq!(
        nightly.job,
        ScheduledJob::Backup {
            source: "shop".into()
        }
    );
    assert_eq!(
        nightly.when,
        When::Cron {
            expression: "30 2 * * *".into(),
            timezone: "Europe/Berlin".into()
        }
    );
    assert!(nightly.catch_up);
    assert_eq!(nightly.retry.attempts, 3);
    assert_eq!(nightly.retry.delay(2), Duration::from_secs(60));
    assert_eq!(nightly.retry.delay(3), Duration::from_secs(120));
    assert_eq!(nightly.retry.delay(30), Duration::from_secs(1800));
    assert_eq!(
        config.schedules["app-hourly"].when,
        When::Every(Duration::from_secs(3600))
    );
    assert_eq!(
        config.targets["shop"],
        Target {
            source: "shop".into(),
            rpo: Some(Duration::from_secs(3600)),
            rto: Some(Duration::from_secs(1800)),
        }
    );
    assert_eq!(config.targets["pg"].rpo, Some(Duration::from_secs(300)));
    let weekly = &config.drills["shop-weekly"];
    assert_eq!(weekly.source, "shop");
    assert_eq!(
        weekly.pick,
        Pick::Random {
            within: Some(Duration::from_secs(30 * 86_400))
        }
    );
    assert_eq!(weekly.jobs, Some(4));
    assert_eq!(weekly.run_as.as_deref(), Some("postgres"));
    let kinds: Vec<_> = weekly.checks.iter().map(|c| c.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "amcheck",
            "row_count",
            "row_count",
            "sequence_gaps",
            "hash_chain",
            "sql",
            "freshness",
            "command"
        ]
    );
    let names: Vec<_> = weekly.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "amcheck #1",
            "row_count public.orders",
            "row_count public.customers",
            "sequence_gaps invoices",
            "audit log chain",
            "sql #6",
            "freshness #7",
            "shop smoke test"
        ]
    );
    let pitr = &config.drills["pg-pitr"];
    assert_eq!(pitr.to.as_deref(), Some("now-15m"));
    assert_eq!(pitr.timeout, Duration::from_secs(7200));
    assert_eq!(
        pitr.checks[1].kind,
        CheckKind::Sql {
            query: "SELECT bool_and(total >= 0) FROM orders".into(),
            expect: "t".into()
        }
    );
    assert_eq!(config.drills["app-files"].checks.len(), 1);
    assert_eq!(
        config.drills.keys().collect::<Vec<_>>(),
        ["app-files", "notes-daily", "pg-pitr", "shop-weekly"]
    );
    assert!(matches!(
        config.notifications["ops"].channel,
        Channel::Webhook { slack: true, .. }
    ));
    assert_eq!(config.daemon.listen.to_string(), "127.0.0.1:9187");
    assert_eq!(config.daemon.tokens["ci"].role, Role::Operator);
}

#[test]
fn spec_quotes_the_example_verbatim() {
    let spec = include_str!("../../../docs/design/config.md");
    assert!(
        spec.contains(&format!("```toml\n{EXAMPLE}```")),
        "docs/design/config.md must end with docs/examples/lifeboat.toml verbatim"
    );
}

#[test]
fn contract_example_from_the_brief_parses() {
    let text = r#"
[repositories.main]
url = "/srv/backup/repo"
password_file = "/etc/lifeboat/main.pass"

[sources.app]
kind = "files"
paths = ["/srv/app"]
exclude = ["*.tmp"]
repository = "main"
tags = ["app"]

[sources.registry]
kind = "command"
stream_name = "registry.json"
command = ["app-cli", "export", "registry"]
repository = "main"

[sources.shop]
kind = "postgres"
dsn = "postgresql://backup@localhost/postgres"
database = "shop"
repository = "main"

[sources.pg]
kind = "postgres-physical"
dsn = "..."
method = "auto"
cluster = "main"
data_directory = "/var/lib/postgresql/16/main"
repository = "main"

[retention.daily]
keep_last = 3
keep_daily = 7
tags = []
prune = true
"#;
    let config = Config::parse(text, FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.sources.len(), 4);
    assert_eq!(config.daemon, DaemonConfig::default());
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let text = format!(
        "{MINIMAL}\n[sources.app]\nkind = \"files\"\npathz = [\"/srv/app\"]\nrepository = \"main\"\n"
    );
    let ps = problems(&text);
    let unknown = ps
        .iter()
        .find(|p| p.message.contains("unknown key"))
        .unwrap();
    assert_eq!(unknown.line, Some(line_of(&text, "pathz")));
    assert_eq!(unknown.key.as_deref(), Some("sources.app.pathz"));
    let shown = unknown.to_string();
    assert!(
        shown.starts_with(&format!(
            "{FILE}:{}: unknown key 'pathz' in [sources.app] (expected one of: ",
            line_of(&text, "pathz")
        )),
        "{shown}"
    );
    assert!(shown.contains("paths"), "{shown}");
    // The missing 'paths' is reported too, on the header line.
    let missing = ps
        .iter()
        .find(|p| p.message.contains("needs 'paths'"))
        .unwrap();
    assert_eq!(missing.line, Some(line_of(&text, "[sources.app]")));
}

#[test]
fn unknown_top_level_and_nested_keys() {
    let text = format!("{MINIMAL}colour = \"blue\"\n\n[sourcez.x]\na = 1\n");
    let ps = problems(&text);
    // `colour` belongs to [repositories.main] (it follows that header).
    assert!(ps
        .iter()
        .any(|p| p.key.as_deref() == Some("repositories.main.colour")
            && p.line == Some(line_of(&text, "colour"))));
    assert!(ps
        .iter()
        .any(|p| p.key.as_deref() == Some("sourcez")
            && p.line == Some(line_of(&text, "[sourcez.x]"))));
}

#[test]
fn wrong_type_names_its_line() {
    let text = format!("{MINIMAL}\n[retention.daily]\nkeep_last = 3\nkeep_daily = \"seven\"\n");
    let ps = problems(&text);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].line, Some(line_of(&text, "keep_daily")));
    assert_eq!(ps[0].key.as_deref(), Some("retention.daily.keep_daily"));
    assert!(
        ps[0].message.contains("expected an integer, found string"),
        "{}",
        ps[0]
    );
}

#[test]
fn wrong_element_type_names_its_line() {
    let text =
        format!("{MINIMAL}\n[sources.app]\nkind = \"files\"\npaths = [\n  \"/a\",\n  42,\n]\n");
    let ps = problems(&text);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].line, Some(line_of(&text, "42")));
    assert!(ps[0].message.contains("element 2 is integer"), "{}", ps[0]);
}

#[test]
fn all_problems_are_reported_in_file_order() {
    let text = r#"
[repositories.main]
url = ""

[sources.a]
kind = "files"
repository = "nowhere"

[sources.b]
kind = "tarball"

[retention.empty]
tags = ["x"]
"#;
    let ps = problems(text);
    let lines: Vec<_> = ps.iter().map(|p| p.line.unwrap()).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
    let all = ps
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains("'url' in [repositories.main] is empty"),
        "{all}"
    );
    assert!(all.contains("needs 'paths'"), "{all}");
    assert!(all.contains("names repository 'nowhere'"), "{all}");
    assert!(all.contains("unknown kind 'tarball'"), "{all}");
    assert!(all.contains("[retention.empty] keeps nothing"), "{all}");
    assert_eq!(ps.len(), 5, "{all}");
    // The error's Display lists them all, one per line.
    let err = Config::parse(text, FILE).unwrap_err();
    assert_eq!(err.to_string(), all);
    assert!(matches!(err, ConfigError::Invalid { .. }));
}

#[test]
fn dangling_repository_reference() {
    let text = format!(
        "{MINIMAL}\n[sources.app]\nkind = \"files\"\npaths = [\"/srv/app\"]\nrepository = \"mian\"\n"
    );
    let ps = problems(&text);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].line, Some(line_of(&text, "mian")));
    assert_eq!(ps[0].key.as_deref(), Some("sources.app.repository"));
    assert!(ps[0].message.contains("'mian'"), "{}", ps[0]);
    assert!(ps[0].message.contains("configured: main"), "{}", ps[0]);
}

#[test]
fn repository_defaults_to_the_only_one() {
    let text = format!("{MINIMAL}\n[sources.app]\nkind = \"files\"\npaths = [\"/srv/app\"]\n");
    let config = Config::parse(&text, FILE).unwrap();
    assert_eq!(config.source("app").unwrap().repository, "main");

    let two = format!("{text}\n[repositories.other]\nurl = \"/b\"\n");
    let ps = problems(&two);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert!(ps[0].message.contains("needs 'repository'"), "{}", ps[0]);
}

#[test]
fn syntax_errors_have_lines() {
    let text = "[repositories.main]\nurl = \"/x\"\nurl = \"/y\"\n";
    let err = Config::parse(text, FILE).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    let ps = err.problems();
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].line, Some(3));
    assert!(ps[0].message.contains("duplicate key"), "{}", ps[0]);
    // Only the first syntax error: what a parser reports after it is mostly its own confusion.
    let ps = Config::parse("a = [1,\nb = 2\n[x\n", FILE)
        .unwrap_err()
        .problems();
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert!(ps[0]
        .to_string()
        .starts_with(&format!("{FILE}:2: TOML syntax error")));
}

#[test]
fn more_than_one_password_source_is_an_error() {
    let text = "[repositories.main]\nurl = \"/x\"\npassword_file = \"/p\"\npassword_command = \"pass x\"\n";
    let ps = problems(text);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].line, Some(4));
    assert!(
        ps[0].message.contains("more than one password source"),
        "{}",
        ps[0]
    );
}

#[test]
fn password_sources_from_keys() {
    let text = "[repositories.a]\nurl = \"/a\"\npassword_env = \"A_PASS\"\n\
                [repositories.b]\nurl = \"/b\"\npassword = \"inline\"\n\
                [repositories.c]\nurl = \"/c\"\n";
    let config = Config::parse(text, FILE).unwrap();
    assert_eq!(
        config.repository("a").unwrap().password_source(),
        Some(PasswordSource::Env("A_PASS".into()))
    );
    assert_eq!(
        config.repository("b").unwrap().password_source(),
        Some(PasswordSource::Inline(Secret::new("inline")))
    );
    assert_eq!(config.repository("c").unwrap().password_source(), None);
}

fn write_with_mode(dir: &Path, text: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("lifeboat.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn inline_password_in_group_readable_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[repositories.main]\nurl = \"/srv/repo\"\npassword = \"hunter2\"\n";
    let path = write_with_mode(dir.path(), text, 0o640);
    let err = Config::load(&path).unwrap_err();
    let ps = err.problems();
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].path, path);
    assert_eq!(ps[0].line, Some(3));
    assert_eq!(ps[0].key.as_deref(), Some("repositories.main.password"));
    let msg = ps[0].to_string();
    assert!(msg.contains("mode 0640"), "{msg}");
    assert!(
        msg.contains(&format!("chmod 600 {}", path.display())),
        "{msg}"
    );
    assert!(msg.contains("password_file"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert_eq!(Config::check(&path), ps);

    // The same file, mode 0600, is accepted.
    let path = write_with_mode(dir.path(), text, 0o600);
    let config = Config::load(&path).unwrap();
    assert_eq!(
        config.repository("main").unwrap().password_source(),
        Some(PasswordSource::Inline(Secret::new("hunter2")))
    );
    assert!(Config::check(&path).is_empty());

    // Without an inline secret, a group-readable file is fine.
    let path = write_with_mode(
        dir.path(),
        "[repositories.main]\nurl = \"/srv/repo\"\npassword_file = \"main.pass\"\n",
        0o644,
    );
    let config = Config::load(&path).unwrap();
    // ...and the relative password file is resolved against the file's directory.
    assert_eq!(
        config.repository("main").unwrap().password_source(),
        Some(PasswordSource::File(dir.path().join("main.pass")))
    );
}

#[test]
fn inline_s3_secret_in_world_readable_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[repositories.s3]\nurl = \"s3://bucket/prefix\"\npassword_file = \"/p\"\n\
                [repositories.s3.s3]\nsecret_access_key = \"abc\"\n";
    let path = write_with_mode(dir.path(), text, 0o604);
    let ps = Config::check(&path);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].line, Some(5));
    assert_eq!(
        ps[0].key.as_deref(),
        Some("repositories.s3.s3.secret_access_key")
    );
    let path = write_with_mode(dir.path(), text, 0o600);
    let config = Config::load(&path).unwrap();
    let s3 = config.repository("s3").unwrap().s3.clone().unwrap();
    assert_eq!(s3.read_secret_access_key().unwrap().as_deref(), Some("abc"));
}

#[test]
fn commands_in_a_world_writable_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[repositories.main]\nurl = \"/srv/repo\"\npassword_command = \"pass x\"\n";
    let path = write_with_mode(dir.path(), text, 0o602);
    let ps = Config::check(&path);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert!(ps[0].message.contains("writable by others"), "{}", ps[0]);
    assert_eq!(ps[0].line, Some(3));
}

#[test]
fn command_checks_in_a_world_writable_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[repositories.main]\nurl = \"/srv/repo\"\n[sources.app]\nkind = \"files\"\npaths = [\"/a\"]\n\
                [drills.d]\nsource = \"app\"\n[[drills.d.checks]]\nkind = \"command\"\ncommand = [\"verify\"]\n";
    let path = write_with_mode(dir.path(), text, 0o602);
    let ps = Config::check(&path);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert!(ps[0].message.contains("writable by others"), "{}", ps[0]);
    assert_eq!(ps[0].line, Some(line_of(text, "kind = \"command\"")));
    let path = write_with_mode(dir.path(), text, 0o600);
    assert!(Config::check(&path).is_empty());
}

#[test]
fn missing_file_is_a_read_error() {
    let err = Config::load("/nonexistent/lifeboat.toml").unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    let ps = err.problems();
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].line, None);
    assert!(
        ps[0].to_string().contains("/nonexistent/lifeboat.toml"),
        "{}",
        ps[0]
    );
}

#[test]
fn lookups_list_known_names() {
    let config = Config::parse(EXAMPLE, FILE).unwrap();
    let err = config.repository("nope").unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{FILE}: no repository named 'nope' in [repositories] (configured: main, offsite)")
    );
    let err = config.source("nope").unwrap_err().to_string();
    assert!(
        err.contains("configured: app, notes, pg, registry, shop"),
        "{err}"
    );
    let err = config.policy("nope").unwrap_err().to_string();
    assert!(err.contains("no retention policy named 'nope'"), "{err}");
    assert!(err.contains("configured: daily, databases"), "{err}");
    let empty = Config::parse("", FILE).unwrap();
    let err = empty.policy("x").unwrap_err().to_string();
    assert!(err.contains("none is configured"), "{err}");
}

#[test]
fn postgres_database_choices() {
    let base = format!("{MINIMAL}\n[sources.db]\nkind = \"postgres\"\n");
    let parse_db = |extra: &str| {
        let config = Config::parse(&format!("{base}{extra}"), FILE).unwrap();
        match &config.source("db").unwrap().kind {
            SourceKind::Postgres(pg) => pg.databases.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(parse_db(""), PgDatabases::FromDsn);
    assert_eq!(
        parse_db("databases = [\"a\", \"b\"]\n"),
        PgDatabases::Named(vec!["a".into(), "b".into()])
    );
    assert_eq!(parse_db("all = true\n"), PgDatabases::All);
    let ps = problems(&format!("{base}database = \"a\"\nall = true\n"));
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert!(ps[0]
        .message
        .contains("only one of database, databases and all"));
    assert_eq!(
        ps[0].line,
        Some(line_of(
            &format!("{base}database = \"a\"\nall = true\n"),
            "all = true"
        ))
    );
}

#[test]
fn physical_source_values_are_checked() {
    let text = format!(
        "{MINIMAL}\n[sources.pg]\nkind = \"postgres-physical\"\nmethod = \"rsync\"\ncheckpoint = \"slow\"\nwal_timeout = \"5\"\ncompression = 99\n"
    );
    let ps = problems(&text);
    let keys: Vec<_> = ps.iter().filter_map(|p| p.key.as_deref()).collect();
    assert_eq!(
        keys,
        [
            "sources.pg.method",
            "sources.pg.checkpoint",
            "sources.pg.wal_timeout",
            "sources.pg.compression"
        ],
        "{ps:?}"
    );
    assert!(ps[0].message.contains("auto, copy, pg_basebackup"));

    let ok = format!(
        "{MINIMAL}\n[sources.pg]\nkind = \"postgres-physical\"\nmethod = \"pg_basebackup\"\ncheckpoint = \"spread\"\nwal_timeout = 90\n"
    );
    let config = Config::parse(&ok, FILE).unwrap();
    let SourceKind::PostgresPhysical(pg) = &config.source("pg").unwrap().kind else {
        panic!()
    };
    assert_eq!(pg.method, PhysicalMethod::PgBasebackup);
    assert_eq!(pg.checkpoint, Checkpoint::Spread);
    assert_eq!(pg.wal_timeout, Duration::from_secs(90));
    assert_eq!(pg.cluster, DEFAULT_CLUSTER);
}

#[test]
fn command_source_needs_stream_name_and_command() {
    let text = format!("{MINIMAL}\n[sources.reg]\nkind = \"command\"\ncommand = []\n");
    let ps = problems(&text);
    let all = ps
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("needs 'stream_name'"), "{all}");
    assert!(all.contains("'command' in [sources.reg] is empty"), "{all}");
}

#[test]
fn sqlite_sources_parse() {
    let text =
        format!("{MINIMAL}\n[sources.db]\nkind = \"sqlite\"\npaths = [\"/var/db.sqlite\"]\n");
    let config = Config::parse(&text, FILE).unwrap();
    assert_eq!(
        config.source("db").unwrap().kind,
        SourceKind::Sqlite(SqliteSource {
            paths: vec!["/var/db.sqlite".into()],
            check: SqliteCheck::Full,
        })
    );
    let text = format!(
        "{MINIMAL}\n[sources.db]\nkind = \"sqlite\"\npaths = [\"/var/db.sqlite\"]\ncheck = \"quick\"\n"
    );
    let config = Config::parse(&text, FILE).unwrap();
    assert!(matches!(
        &config.source("db").unwrap().kind,
        SourceKind::Sqlite(s) if s.check == SqliteCheck::Quick
    ));
    let text = format!(
        "{MINIMAL}\n[sources.db]\nkind = \"sqlite\"\npaths = [\"/var/db.sqlite\"]\ncheck = \"fast\"\n"
    );
    let err = Config::parse(&text, FILE).unwrap_err().to_string();
    assert!(
        err.contains("unknown check 'fast' in [sources.db] (expected full, quick or pragma)"),
        "{err}"
    );
}

#[test]
fn repository_urls_are_checked() {
    for (url, ok) in [
        ("/srv/repo", true),
        ("local:/srv/repo", true),
        ("s3:https://s3.example.com/bucket/prefix", true),
        ("s3:s3.example.com/bucket", true),
        ("s3://bucket/a/b", true),
        ("s3://", false),
        ("s3:https://host", false),
        ("s3:ftp://host/bucket", false),
        ("sftp://host/repo", false),
    ] {
        let text = format!("[repositories.r]\nurl = \"{url}\"\n");
        assert_eq!(Config::parse(&text, FILE).is_ok(), ok, "{url}");
    }
    // Relative local paths are resolved against the configuration file's directory.
    let config = Config::parse("[repositories.r]\nurl = \"repo\"\n", FILE).unwrap();
    assert_eq!(config.repository("r").unwrap().url, "/etc/lifeboat/repo");
    let config = Config::parse("[repositories.r]\nurl = \"local:repo\"\n", FILE).unwrap();
    assert_eq!(
        config.repository("r").unwrap().url,
        "local:/etc/lifeboat/repo"
    );
    // S3 options need an S3 url.
    let ps = problems("[repositories.r]\nurl = \"/srv\"\n[repositories.r.s3]\nregion = \"x\"\n");
    assert!(ps[0].message.contains("not an S3 location"), "{}", ps[0]);
}

#[test]
fn object_lock_is_checked() {
    let ps = problems("[repositories.r]\nurl = \"s3://b\"\nobject_lock = \"FOREVER:30\"\n");
    assert_eq!(ps[0].line, Some(3));
    let config = Config::parse(
        "[repositories.r]\nurl = \"s3://b\"\nobject_lock = \"governance:7\"\n",
        FILE,
    )
    .unwrap();
    let lock = config.repository("r").unwrap().object_lock.unwrap();
    assert_eq!(lock.mode, ObjectLockMode::Governance);
    assert_eq!(lock.days, 7);
}

#[test]
fn retention_rules() {
    let ps = problems("[retention.p]\nkeep_last = 0\n");
    assert!(ps[0].message.contains("keeps nothing"), "{}", ps[0]);
    let ps = problems("[retention.p]\nkeep_within = \"30s\"\n");
    assert_eq!(ps[0].key.as_deref(), Some("retention.p.keep_within"));
    let ps = problems("[retention.p]\nkeep_last = -1\n");
    assert!(ps[0].message.contains("between 0 and"), "{}", ps[0]);
    let ps = problems("[retention.p]\nkeep_last = 1\nrepository = \"x\"\n");
    assert!(ps[0].message.contains("names repository 'x'"), "{}", ps[0]);
    let config = Config::parse("[retention.p]\nkeep_within = \"1y6m\"\n", FILE).unwrap();
    assert_eq!(
        config.policy("p").unwrap().keep_within.as_deref(),
        Some("1y6m")
    );
}

#[test]
fn physical_sources_must_not_collide() {
    let text = format!(
        "{MINIMAL}\n[sources.a]\nkind = \"postgres-physical\"\ndata_directory = \"/pg\"\n\
         [sources.b]\nkind = \"postgres-physical\"\ndata_directory = \"/pg\"\n"
    );
    let ps = problems(&text);
    let keys: Vec<_> = ps.iter().filter_map(|p| p.key.as_deref()).collect();
    // Both on [sources.b]: the cluster clash on its header line (no 'cluster' key there), the
    // data directory clash on its key's line.
    assert_eq!(
        keys,
        ["sources.b.cluster", "sources.b.data_directory"],
        "{ps:?}"
    );
}

#[test]
fn wal_source_by_data_directory_else_the_only_one() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    std::fs::create_dir(&one).unwrap();
    std::fs::create_dir(&two).unwrap();
    let text = format!(
        "{MINIMAL}\n[sources.a]\nkind = \"postgres-physical\"\ndata_directory = \"{}\"\n\
         [sources.b]\nkind = \"postgres-physical\"\ncluster = \"second\"\ndata_directory = \"{}\"\n",
        one.display(),
        two.display()
    );
    let config = Config::parse(&text, FILE).unwrap();
    let (source, pg) = config.wal_source(&two).unwrap();
    assert_eq!(source.name, "b");
    assert_eq!(pg.cluster, "second");
    // Through a symbolic link to the directory too.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&one, &link).unwrap();
    assert_eq!(config.wal_source(&link).unwrap().0.name, "a");
    let err = config.wal_source(dir.path()).unwrap_err();
    assert!(matches!(err, ConfigError::NoWalSource { .. }));
    assert!(err.to_string().contains("several (a, b)"), "{err}");

    let single = format!("{MINIMAL}\n[sources.a]\nkind = \"postgres-physical\"\n");
    let config = Config::parse(&single, FILE).unwrap();
    assert_eq!(config.wal_source(dir.path()).unwrap().0.name, "a");
    let none = Config::parse(MINIMAL, FILE).unwrap();
    assert!(none.wal_source(dir.path()).is_err());
}

#[test]
fn daemon_sections_are_checked() {
    let base = format!("{MINIMAL}\n");
    let ps = problems(&format!(
        "{base}[schedules.s]\njob = \"backup\"\nsource = \"nope\"\nevery = \"1m\"\n"
    ));
    assert!(ps[0].message.contains("source 'nope'"), "{ps:?}");
    let ps = problems(&format!(
        "{base}[schedules.s]\njob = \"prune\"\nrepository = \"main\"\ncron = \"nonsense\"\n"
    ));
    assert_eq!(ps[0].key.as_deref(), Some("schedules.s.cron"), "{ps:?}");
    let ps = problems(&format!(
        "{base}[schedules.s]\njob = \"prune\"\nrepository = \"main\"\n"
    ));
    assert!(ps[0].message.contains("needs 'cron'"), "{ps:?}");
    let ps = problems(&format!("{base}[daemon]\nlisten = \"0.0.0.0:8420\"\n"));
    assert!(ps[0].message.contains("tls_cert"), "{ps:?}");
    let ps = problems(&format!(
        "{base}[daemon.tokens.x]\nrole = \"root\"\nhash = \"abc\"\n"
    ));
    assert_eq!(ps.len(), 2, "{ps:?}");
    let ps = problems(&format!(
        "{base}[notifications.n]\nkind = \"webhook\"\nurl = \"http://x\"\nevents = [\"nope\"]\n"
    ));
    assert!(ps[0].message.contains("unknown event"), "{ps:?}");
    let ps = problems("[schedules]\ns = 1\n");
    assert_eq!(ps[0].key.as_deref(), Some("schedules.s"));
    let ps = problems("daemon = 1\n");
    assert_eq!(ps[0].key.as_deref(), Some("daemon"));
}

#[test]
fn problems_serialize() {
    let ps = problems("[retention.p]\nkeep_lats = 1\n");
    let json = serde_json::to_value(&ps).unwrap();
    assert_eq!(json[0]["path"], FILE);
    assert_eq!(json[0]["line"], 2);
    assert_eq!(json[0]["key"], "retention.p.keep_lats");
    assert!(json[0]["message"]
        .as_str()
        .unwrap()
        .contains("unknown key 'keep_lats'"));
}

#[test]
fn quoted_names_in_keys() {
    let ps = problems("[retention.\"my policy\"]\nkeep_lats = 1\n");
    assert_eq!(
        ps[0].key.as_deref(),
        Some("retention.\"my policy\".keep_lats")
    );
}

#[test]
fn locate_order() {
    let dir = tempfile::tempdir().unwrap();
    let default = dir.path().join("lifeboat.toml");
    let explicit = Path::new("/explicit.toml");
    let env = Some(PathBuf::from("/env.toml"));
    assert_eq!(
        locate_with(Some(explicit), env.clone(), &default),
        Some(explicit.to_path_buf())
    );
    assert_eq!(locate_with(None, env, &default), Some("/env.toml".into()));
    assert_eq!(locate_with(None, Some(PathBuf::new()), &default), None);
    assert_eq!(locate_with(None, None, &default), None);
    std::fs::write(&default, "").unwrap();
    assert_eq!(locate_with(None, None, &default), Some(default.clone()));
}

#[test]
fn secrets_are_not_in_debug_output() {
    let config = Config::parse(
        "[repositories.r]\nurl = \"s3://b\"\npassword = \"pw-123\"\n[repositories.r.s3]\nsecret_access_key = \"sk-456\"\n",
        FILE,
    )
    .unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("pw-123") && !debug.contains("sk-456"),
        "{debug}"
    );
}

/// Sources of every kind, for drills and targets.
const SOURCES: &str = r#"
[repositories.main]
url = "/srv/backup/repo"

[sources.shop]
kind = "postgres"
database = "shop"

[sources.pg]
kind = "postgres-physical"

[sources.app]
kind = "files"
paths = ["/srv/app"]

[sources.registry]
kind = "command"
stream_name = "registry.json"
command = ["app-cli", "export"]

[sources.notes]
kind = "sqlite"
paths = ["/var/lib/notes.db"]
"#;

/// The 1-based lines of every line of `text` that is `needle` (trimmed).
fn lines_equal(text: &str, needle: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == needle)
        .map(|(i, _)| i + 1)
        .collect()
}

/// SOURCES plus `[drills.d]` with `source = SOURCE` and the check bodies `checks` (each a
/// `[[drills.d.checks]]` entry).
fn drill_text(source: &str, checks: &[&str]) -> String {
    let mut text = format!("{SOURCES}\n[drills.d]\nsource = \"{source}\"\n");
    for check in checks {
        text.push_str(&format!("\n[[drills.d.checks]]\n{check}\n"));
    }
    text
}

fn only_problem(text: &str) -> Problem {
    let ps = problems(text);
    assert_eq!(ps.len(), 1, "{ps:#?}");
    ps.into_iter().next().unwrap()
}

#[test]
fn drill_with_every_check_kind_parses_with_defaults() {
    let text = drill_text(
        "shop",
        &[
            "kind = \"amcheck\"",
            "kind = \"row_count\"\ntable = \"public.orders\"\nexpect = \"recorded\"",
            "kind = \"row_count\"\ntable = \"customers\"\nmin = 10\ndatabase = \"crm\"",
            "kind = \"sequence_gaps\"\ntable = \"invoices\"\nsequence = \"invoice_no\"",
            "kind = \"hash_chain\"\ntable = \"events\"\norder_by = \"seq\"\nhash = \"h\"\nprev = \"p\"\ninput = \"p || payload\"",
            "kind = \"sql\"\nquery = \"SELECT 1\"\nexpect = 1",
            "kind = \"freshness\"\nquery = \"SELECT max(at) FROM events\"\nmax_lag = \"15m\"",
            "kind = \"command\"\ncommand = [\"verify\", \"--all\"]",
        ],
    );
    let config = Config::parse(&text, FILE).unwrap_or_else(|e| panic!("{e}"));
    let drill = &config.drills["d"];
    let lines = lines_equal(&text, "[[drills.d.checks]]");
    assert_eq!(lines.len(), 8);
    let expected = Drill {
        name: "d".into(),
        source: "shop".into(),
        pick: Pick::Latest,
        to: None,
        scratch_dir: DEFAULT_SCRATCH_DIR.into(),
        jobs: None,
        database: None,
        timeout: Duration::from_secs(3600),
        run_as: None,
        checks: vec![
            Check {
                name: "amcheck #1".into(),
                database: None,
                line: lines[0],
                kind: CheckKind::Amcheck,
            },
            Check {
                name: "row_count public.orders".into(),
                database: None,
                line: lines[1],
                kind: CheckKind::RowCount {
                    table: "public.orders".into(),
                    expect: RowCountExpect::Recorded,
                },
            },
            Check {
                name: "row_count customers".into(),
                database: Some("crm".into()),
                line: lines[2],
                kind: CheckKind::RowCount {
                    table: "customers".into(),
                    expect: RowCountExpect::Min(10),
                },
            },
            Check {
                name: "sequence_gaps invoices".into(),
                database: None,
                line: lines[3],
                kind: CheckKind::SequenceGaps {
                    table: "invoices".into(),
                    partition_by: vec![],
                    sequence: "invoice_no".into(),
                    start: 1,
                },
            },
            Check {
                name: "hash_chain events".into(),
                database: None,
                line: lines[4],
                kind: CheckKind::HashChain {
                    table: "events".into(),
                    partition_by: vec![],
                    order_by: "seq".into(),
                    hash: "h".into(),
                    prev: "p".into(),
                    input: "p || payload".into(),
                    genesis: "0".repeat(64),
                    algorithm: HashAlgorithm::Sha256,
                },
            },
            Check {
                name: "sql #6".into(),
                database: None,
                line: lines[5],
                kind: CheckKind::Sql {
                    query: "SELECT 1".into(),
                    expect: "1".into(),
                },
            },
            Check {
                name: "freshness #7".into(),
                database: None,
                line: lines[6],
                kind: CheckKind::Freshness {
                    query: "SELECT max(at) FROM events".into(),
                    max_lag: Duration::from_secs(900),
                },
            },
            Check {
                name: "command #8".into(),
                database: None,
                line: lines[7],
                kind: CheckKind::Command {
                    command: vec!["verify".into(), "--all".into()],
                    timeout: Duration::from_secs(600),
                },
            },
        ],
    };
    assert_eq!(*drill, expected);
}

#[test]
fn drill_keys_and_check_options_parse() {
    let text = format!(
        "{SOURCES}
[drills.\"pg pitr\"]
source = \"pg\"
pick = \"random:30d\"
to = \"2026-12-01T14:30:00Z\"
scratch_dir = \"scratch\"
jobs = 8
database = \"app\"
timeout = 7200
run_as = \"pgdrill\"

[[drills.\"pg pitr\".checks]]
kind = \"hash_chain\"
name = \"ledger\"
database = \"ledger\"
table = \"entries\"
partition_by = [\"account\", \"year\"]
order_by = \"seq\"
hash = \"h\"
prev = \"p\"
input = \"p || amount::text\"
genesis = \"\"
algorithm = \"sha256\"

[[drills.\"pg pitr\".checks]]
kind = \"sequence_gaps\"
table = \"t\"
sequence = \"n\"
partition_by = [\"k\"]
start = 0

[[drills.\"pg pitr\".checks]]
kind = \"command\"
command = [\"check\"]
timeout = \"30s\"
"
    );
    let config = Config::parse(&text, FILE).unwrap_or_else(|e| panic!("{e}"));
    let drill = &config.drills["pg pitr"];
    assert_eq!(drill.name, "pg pitr");
    assert_eq!(
        drill.pick,
        Pick::Random {
            within: Some(Duration::from_secs(30 * 86_400))
        }
    );
    assert_eq!(drill.to.as_deref(), Some("2026-12-01T14:30:00Z"));
    // Resolved against the configuration file's directory.
    assert_eq!(drill.scratch_dir, Path::new("/etc/lifeboat/scratch"));
    assert_eq!(drill.jobs, Some(8));
    assert_eq!(drill.database.as_deref(), Some("app"));
    assert_eq!(drill.timeout, Duration::from_secs(7200));
    assert_eq!(drill.run_as.as_deref(), Some("pgdrill"));
    let lines = lines_equal(&text, "[[drills.\"pg pitr\".checks]]");
    assert_eq!(
        drill.checks[0],
        Check {
            name: "ledger".into(),
            database: Some("ledger".into()),
            line: lines[0],
            kind: CheckKind::HashChain {
                table: "entries".into(),
                partition_by: vec!["account".into(), "year".into()],
                order_by: "seq".into(),
                hash: "h".into(),
                prev: "p".into(),
                input: "p || amount::text".into(),
                genesis: String::new(),
                algorithm: HashAlgorithm::Sha256,
            },
        }
    );
    assert_eq!(
        drill.checks[1].kind,
        CheckKind::SequenceGaps {
            table: "t".into(),
            partition_by: vec!["k".into()],
            sequence: "n".into(),
            start: 0,
        }
    );
    assert_eq!(drill.checks[2].name, "command #3");
    assert_eq!(
        drill.checks[2].kind,
        CheckKind::Command {
            command: vec!["check".into()],
            timeout: Duration::from_secs(30),
        }
    );
    // Snapshot ids and the other picks.
    for (pick, expected) in [
        ("latest", Pick::Latest),
        ("oldest", Pick::Oldest),
        ("random", Pick::Random { within: None }),
        ("A1B2c3", Pick::Snapshot("a1b2c3".into())),
    ] {
        let text = format!("{SOURCES}\n[drills.d]\nsource = \"app\"\npick = \"{pick}\"\n");
        let config = Config::parse(&text, FILE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.drills["d"].pick, expected, "{pick}");
    }
}

#[test]
fn drill_without_checks_is_allowed() {
    for source in ["app", "registry", "shop", "pg", "notes"] {
        let config =
            Config::parse(&drill_text(source, &[]), FILE).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.drills["d"].checks.is_empty(), "{source}");
    }
}

#[test]
fn inline_checks_have_their_lines() {
    let text = format!(
        "{SOURCES}\n[drills.d]\nsource = \"shop\"\nchecks = [\n  {{ kind = \"amcheck\" }},\n  {{ kind = \"sql\", query = \"SELECT 1\", expect = \"1\" }},\n]\n"
    );
    let config = Config::parse(&text, FILE).unwrap_or_else(|e| panic!("{e}"));
    let checks = &config.drills["d"].checks;
    assert_eq!(checks[0].line, line_of(&text, "amcheck"));
    assert_eq!(checks[1].line, line_of(&text, "SELECT 1"));
    assert_eq!(checks[1].name, "sql #2");
}

#[test]
fn sql_expect_is_kept_as_postgres_prints_it() {
    for (value, expected) in [
        ("\"0 rows\"", "0 rows"),
        ("\"\"", ""),
        ("42", "42"),
        ("-7", "-7"),
        ("0x10", "16"),
        ("1_000", "1000"),
        ("2.5", "2.5"),
        ("3.0", "3"),
        ("1e3", "1000"),
        ("true", "t"),
        ("false", "f"),
    ] {
        let text = drill_text(
            "notes",
            &[&format!(
                "kind = \"sql\"\nquery = \"SELECT x\"\nexpect = {value}"
            )],
        );
        let config = Config::parse(&text, FILE).unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(
            config.drills["d"].checks[0].kind,
            CheckKind::Sql {
                query: "SELECT x".into(),
                expect: expected.into()
            },
            "{value}"
        );
    }
    let text = drill_text(
        "shop",
        &["kind = \"sql\"\nquery = \"SELECT now()\"\nexpect = 2026-01-01T00:00:00Z"],
    );
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.checks[1].expect"));
    assert_eq!(p.line, Some(line_of(&text, "expect = 2026")));
    assert!(
        p.message
            .contains("expected a string, an integer, a float or a boolean, found datetime"),
        "{p}"
    );
}

#[test]
fn unknown_check_kind_names_its_line_and_the_kinds() {
    let text = drill_text(
        "shop",
        &["kind = \"amcheck\"", "kind = \"checksum\"\ntable = \"t\""],
    );
    let p = only_problem(&text);
    assert_eq!(p.line, Some(line_of(&text, "checksum")));
    assert_eq!(p.key.as_deref(), Some("drills.d.checks[2].kind"));
    assert_eq!(
        p.message,
        "unknown check kind 'checksum' in [drills.d.checks[2]] (expected one of: amcheck, row_count, sequence_gaps, hash_chain, sql, freshness, command)"
    );
    // A check without a kind: on the entry's line.
    let text = drill_text("shop", &["table = \"t\""]);
    let p = only_problem(&text);
    assert_eq!(p.line, Some(line_of(&text, "[[drills.d.checks]]")));
    assert_eq!(p.key.as_deref(), Some("drills.d.checks[1].kind"));
    assert!(p.message.contains("needs 'kind'"), "{p}");
}

#[test]
fn missing_required_check_field_names_the_entry_line_and_key() {
    let text = drill_text(
        "shop",
        &[
            "kind = \"amcheck\"",
            "kind = \"hash_chain\"\ntable = \"events\"\norder_by = \"seq\"\nhash = \"h\"\ninput = \"x\"",
        ],
    );
    let p = only_problem(&text);
    assert_eq!(p.line, Some(lines_equal(&text, "[[drills.d.checks]]")[1]));
    assert_eq!(p.key.as_deref(), Some("drills.d.checks[2].prev"));
    assert!(
        p.to_string().starts_with(&format!(
            "{FILE}:{}: [drills.d.checks[2]] needs 'prev' (",
            p.line.unwrap()
        )),
        "{p}"
    );

    // Every missing field of every check is reported.
    let text = drill_text(
        "shop",
        &[
            "kind = \"hash_chain\"",
            "kind = \"sequence_gaps\"",
            "kind = \"sql\"",
            "kind = \"freshness\"",
            "kind = \"command\"",
            "kind = \"row_count\"",
        ],
    );
    let keys: Vec<_> = problems(&text)
        .into_iter()
        .map(|p| p.key.unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "drills.d.checks[1].table",
            "drills.d.checks[1].order_by",
            "drills.d.checks[1].hash",
            "drills.d.checks[1].prev",
            "drills.d.checks[1].input",
            "drills.d.checks[2].table",
            "drills.d.checks[2].sequence",
            "drills.d.checks[3].query",
            "drills.d.checks[3].expect",
            "drills.d.checks[4].query",
            "drills.d.checks[4].max_lag",
            "drills.d.checks[5].command",
            "drills.d.checks[6].table",
            "drills.d.checks[6].min",
        ]
    );
}

#[test]
fn unknown_keys_of_a_check_kind_are_problems() {
    let text = drill_text("shop", &["kind = \"amcheck\"\ntable = \"t\""]);
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.checks[1].table"));
    assert_eq!(p.line, Some(line_of(&text, "table = \"t\"")));
    assert_eq!(
        p.message,
        "unknown key 'table' in [drills.d.checks[1]] (expected one of: kind, name, database)"
    );
    let text = format!("{SOURCES}\n[drills.d]\nsource = \"shop\"\nevery = \"7d\"\n");
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.every"));
    assert!(
        p.message.contains("expected one of: source, pick, to"),
        "{p}"
    );
}

#[test]
fn to_on_a_logical_source_is_refused() {
    let text = format!("{SOURCES}\n[drills.d]\nsource = \"shop\"\nto = \"now-15m\"\n");
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.to"));
    assert_eq!(p.line, Some(line_of(&text, "to = ")));
    assert!(
        p.message.contains("needs a postgres-physical source")
            && p.message.contains("[sources.shop] is kind = \"postgres\""),
        "{p}"
    );
    // On a physical source it is checked.
    let ok = format!("{SOURCES}\n[drills.d]\nsource = \"pg\"\nto = \"latest\"\n");
    assert_eq!(
        Config::parse(&ok, FILE).unwrap().drills["d"].to.as_deref(),
        Some("latest")
    );
    let bad = format!("{SOURCES}\n[drills.d]\nsource = \"pg\"\nto = \"yesterday\"\n");
    let p = only_problem(&bad);
    assert_eq!(p.key.as_deref(), Some("drills.d.to"));
    assert!(p.message.contains("is not a recovery target"), "{p}");
}

#[test]
fn bad_pick_is_reported_with_the_pick_message() {
    let text = format!("{SOURCES}\n[drills.d]\nsource = \"shop\"\npick = \"newest\"\n");
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.pick"));
    assert_eq!(p.line, Some(line_of(&text, "pick = ")));
    let expected = "newest".parse::<Pick>().unwrap_err();
    assert_eq!(p.message, format!("'pick' in [drills.d]: {expected}"));
}

#[test]
fn drill_values_are_checked() {
    let text = format!(
        "{SOURCES}\n[drills.d]\nsource = \"shop\"\njobs = 0\ntimeout = \"1\"\nrun_as = \"\"\nscratch_dir = 5\n"
    );
    let keys: Vec<_> = problems(&text)
        .into_iter()
        .map(|p| p.key.unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "drills.d.jobs",
            "drills.d.timeout",
            "drills.d.run_as",
            "drills.d.scratch_dir"
        ]
    );
    let text = format!("{SOURCES}\n[drills.d]\nsource = \"shop\"\njobs = 257\n");
    assert!(only_problem(&text).message.contains("between 1 and 256"));
    let text = format!("{SOURCES}\n[drills.d]\npick = \"latest\"\n");
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.source"));
    assert_eq!(p.line, Some(line_of(&text, "[drills.d]")));
    let text = format!("{SOURCES}\n[drills.d]\nsource = \"shop\"\nchecks = 1\n");
    let p = only_problem(&text);
    assert!(p.message.contains("expected an array of tables"), "{p}");
    let text = format!(
        "{SOURCES}\n[drills.d]\nsource = \"shop\"\n[drills.d.checks]\nkind = \"amcheck\"\n"
    );
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.checks"));
    assert!(p.message.contains("found table"), "{p}");
    let text = format!("{SOURCES}\n[drills.d]\nsource = \"shop\"\nchecks = [\"amcheck\"]\n");
    let p = only_problem(&text);
    assert!(p.message.contains("element 1 is string"), "{p}");
}

#[test]
fn drill_naming_a_missing_source_is_refused() {
    let text = format!("{SOURCES}\n[drills.d]\nsource = \"shpo\"\n");
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.source"));
    assert_eq!(p.line, Some(line_of(&text, "shpo")));
    assert_eq!(
        p.message,
        "[drills.d] names source 'shpo', which is not configured (configured: app, notes, pg, registry, shop)"
    );
    let p = only_problem("[drills.d]\nsource = \"x\"\n");
    assert!(p.message.contains("add a [sources.NAME] section"), "{p}");
    // A source with problems of its own still counts as configured.
    let text = format!("{MINIMAL}\n[sources.s]\nkind = \"files\"\n[drills.d]\nsource = \"s\"\n");
    let p = only_problem(&text);
    assert!(p.message.contains("needs 'paths'"), "{p}");
}

#[test]
fn target_naming_a_missing_source_is_refused() {
    let text = format!("{SOURCES}\n[targets.shpo]\nrpo = \"1h\"\n");
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("targets.shpo"));
    assert_eq!(p.line, Some(line_of(&text, "[targets.shpo]")));
    assert!(
        p.message.contains("source 'shpo', which is not configured")
            && p.message
                .contains("configured: app, notes, pg, registry, shop"),
        "{p}"
    );
}

#[test]
fn targets_parse_and_are_checked() {
    let text = format!("{SOURCES}\n[targets.shop]\nrpo = \"15m\"\nrto = 900\n[targets.pg]\n");
    let config = Config::parse(&text, FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.targets["shop"],
        Target {
            source: "shop".into(),
            rpo: Some(Duration::from_secs(900)),
            rto: Some(Duration::from_secs(900)),
        }
    );
    assert_eq!(config.targets["pg"].rpo, None);
    let text = format!("{SOURCES}\n[targets.shop]\nrpo = \"soon\"\nrta = \"1h\"\n");
    let ps = problems(&text);
    let keys: Vec<_> = ps.iter().filter_map(|p| p.key.as_deref()).collect();
    assert_eq!(keys, ["targets.shop.rpo", "targets.shop.rta"], "{ps:?}");
    assert!(
        ps[1].message.contains("expected one of: rpo, rto"),
        "{}",
        ps[1]
    );
}

#[test]
fn row_count_needs_exactly_one_of_min_and_expect() {
    let text = drill_text(
        "shop",
        &["kind = \"row_count\"\ntable = \"t\"\nmin = 1\nexpect = \"recorded\""],
    );
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.checks[1].expect"));
    assert_eq!(p.line, Some(line_of(&text, "expect = ")));
    assert!(p.message.contains("has both min and expect"), "{p}");

    let text = drill_text("shop", &["kind = \"row_count\"\ntable = \"t\""]);
    let p = only_problem(&text);
    assert_eq!(p.line, Some(line_of(&text, "[[drills.d.checks]]")));
    assert!(p.message.contains("needs 'min'"), "{p}");

    let text = drill_text(
        "shop",
        &["kind = \"row_count\"\ntable = \"t\"\nexpect = \"exact\""],
    );
    assert!(only_problem(&text).message.contains("must be \"recorded\""));
    let text = drill_text("shop", &["kind = \"row_count\"\ntable = \"t\"\nmin = -1"]);
    assert!(only_problem(&text).message.contains("between 0 and"));
}

#[test]
fn expect_recorded_on_a_physical_source_is_refused() {
    let check = "kind = \"row_count\"\ntable = \"t\"\nexpect = \"recorded\"";
    let text = drill_text("pg", &[check]);
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.checks[1].expect"));
    assert_eq!(p.line, Some(line_of(&text, "expect = ")));
    assert!(
        p.message
            .contains("[sources.pg] is kind = \"postgres-physical\""),
        "{p}"
    );
    // Logical PostgreSQL and SQLite backups record counts.
    for source in ["shop", "notes"] {
        let config = Config::parse(&drill_text(source, &[check]), FILE).unwrap();
        assert_eq!(
            config.drills["d"].checks[0].kind,
            CheckKind::RowCount {
                table: "t".into(),
                expect: RowCountExpect::Recorded
            }
        );
    }
    // min works on a physical source.
    let text = drill_text("pg", &["kind = \"row_count\"\ntable = \"t\"\nmin = 5"]);
    assert!(Config::parse(&text, FILE).is_ok());
}

#[test]
fn check_kinds_must_suit_the_source() {
    for kind in ["amcheck", "sequence_gaps", "hash_chain", "freshness"] {
        let body = match kind {
            "amcheck" => "kind = \"amcheck\"".to_string(),
            "sequence_gaps" => "kind = \"sequence_gaps\"\ntable = \"t\"\nsequence = \"n\"".into(),
            "hash_chain" => "kind = \"hash_chain\"\ntable = \"t\"\norder_by = \"n\"\nhash = \"h\"\nprev = \"p\"\ninput = \"i\"".into(),
            _ => "kind = \"freshness\"\nquery = \"q\"\nmax_lag = \"1h\"".into(),
        };
        for source in ["shop", "pg"] {
            assert!(
                Config::parse(&drill_text(source, &[&body]), FILE).is_ok(),
                "{kind} on {source}"
            );
        }
        for (source, source_kind) in [
            ("app", "files"),
            ("registry", "command"),
            ("notes", "sqlite"),
        ] {
            let text = drill_text(source, &[&body]);
            let p = only_problem(&text);
            assert_eq!(p.key.as_deref(), Some("drills.d.checks[1].kind"));
            assert_eq!(p.line, Some(line_of(&text, &format!("kind = \"{kind}\""))));
            assert!(
                p.message.contains(&format!(
                    "needs a PostgreSQL source; [sources.{source}] is kind = \"{source_kind}\""
                )),
                "{p}"
            );
        }
    }
    for body in [
        "kind = \"sql\"\nquery = \"q\"\nexpect = 1",
        "kind = \"row_count\"\ntable = \"t\"\nmin = 1",
    ] {
        for source in ["shop", "pg", "notes"] {
            assert!(
                Config::parse(&drill_text(source, &[body]), FILE).is_ok(),
                "{body} on {source}"
            );
        }
        for source in ["app", "registry"] {
            let p = only_problem(&drill_text(source, &[body]));
            assert!(p.message.contains("needs a database source"), "{p}");
        }
    }
    for source in ["app", "registry", "shop", "pg", "notes"] {
        let text = drill_text(source, &["kind = \"command\"\ncommand = [\"true\"]"]);
        assert!(Config::parse(&text, FILE).is_ok(), "command on {source}");
    }
}

#[test]
fn duplicate_check_names_are_refused() {
    let text = drill_text(
        "shop",
        &[
            "kind = \"amcheck\"\nname = \"integrity\"",
            "kind = \"sql\"\nquery = \"q\"\nexpect = 1\nname = \"integrity\"",
        ],
    );
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("drills.d.checks[2].name"));
    assert_eq!(p.line, Some(lines_equal(&text, "name = \"integrity\"")[1]));
    assert_eq!(
        p.message,
        format!(
            "[drills.d.checks[2]] has the same name 'integrity' as the check on line {} of [drills.d]: give one of them another 'name'",
            lines_equal(&text, "[[drills.d.checks]]")[0]
        )
    );
    // Default names collide too (two checks of one table), reported on the second entry.
    let text = drill_text(
        "shop",
        &[
            "kind = \"row_count\"\ntable = \"events\"\nmin = 1",
            "kind = \"row_count\"\ntable = \"events\"\nexpect = \"recorded\"",
        ],
    );
    let p = only_problem(&text);
    assert_eq!(p.line, Some(lines_equal(&text, "[[drills.d.checks]]")[1]));
    assert!(p.message.contains("'row_count events'"), "{p}");
    // The same name in two drills is fine.
    let text = format!(
        "{}\n[drills.e]\nsource = \"shop\"\n[[drills.e.checks]]\nkind = \"amcheck\"\n",
        drill_text("shop", &["kind = \"amcheck\""])
    );
    assert!(Config::parse(&text, FILE).is_ok());
}

#[test]
fn wrong_types_in_checks_name_their_line() {
    let text = drill_text(
        "shop",
        &[
            "kind = \"sequence_gaps\"\ntable = \"t\"\nsequence = \"n\"\npartition_by = \"tenant\"",
            "kind = \"hash_chain\"\ntable = \"t\"\norder_by = \"n\"\nhash = \"h\"\nprev = 1\ninput = \"i\"\nalgorithm = \"md5\"",
            "kind = \"freshness\"\nquery = \"q\"\nmax_lag = true",
            "kind = \"command\"\ncommand = \"true\"\ntimeout = \"ten minutes\"",
            "kind = 7",
            "kind = \"amcheck\"\nname = 1",
        ],
    );
    let ps = problems(&text);
    let got: Vec<_> = ps
        .iter()
        .map(|p| (p.key.clone().unwrap(), p.line.unwrap()))
        .collect();
    let expected: Vec<(String, usize)> = [
        (
            "drills.d.checks[1].partition_by",
            "partition_by = \"tenant\"",
        ),
        ("drills.d.checks[2].prev", "prev = 1"),
        ("drills.d.checks[2].algorithm", "algorithm = \"md5\""),
        ("drills.d.checks[3].max_lag", "max_lag = true"),
        ("drills.d.checks[4].command", "command = \"true\""),
        ("drills.d.checks[4].timeout", "timeout = \"ten minutes\""),
        ("drills.d.checks[5].kind", "kind = 7"),
        ("drills.d.checks[6].name", "name = 1"),
    ]
    .iter()
    .map(|(k, needle)| (k.to_string(), line_of(&text, needle)))
    .collect();
    assert_eq!(got, expected, "{ps:#?}");
    assert_eq!(
        ps[0].message,
        "wrong type for 'partition_by' in [drills.d.checks[1]]: expected an array of strings, found string"
    );
    assert!(ps[2].message.contains("expected sha256"), "{}", ps[2]);
}

#[test]
fn count_rows_of_logical_sources() {
    let base = format!("{MINIMAL}\n[sources.db]\nkind = \"postgres\"\n");
    let count_rows = |extra: &str| {
        let config =
            Config::parse(&format!("{base}{extra}"), FILE).unwrap_or_else(|e| panic!("{e}"));
        match &config.source("db").unwrap().kind {
            SourceKind::Postgres(pg) => pg.count_rows.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(count_rows(""), CountRows::All);
    assert_eq!(count_rows("count_rows = true\n"), CountRows::All);
    assert_eq!(count_rows("count_rows = false\n"), CountRows::None);
    assert_eq!(
        count_rows("count_rows = [\"public.events\", \"orders\"]\n"),
        CountRows::Tables(vec!["public.events".into(), "orders".into()])
    );

    for (value, message) in [
        (
            "\"yes\"",
            "expected true, false or an array of table names, found string",
        ),
        ("[]", "'count_rows' in [sources.db] is empty"),
        ("[\"a\", 1]", "element 2 is integer"),
        ("[\"\"]", "has an empty string"),
    ] {
        let text = format!("{base}count_rows = {value}\n");
        let p = only_problem(&text);
        assert_eq!(p.key.as_deref(), Some("sources.db.count_rows"), "{value}");
        assert_eq!(p.line, Some(line_of(&text, "count_rows")), "{value}");
        assert!(p.message.contains(message), "{value}: {p}");
    }
    // Only logical PostgreSQL sources count rows.
    let text =
        format!("{MINIMAL}\n[sources.pg]\nkind = \"postgres-physical\"\ncount_rows = true\n");
    let p = only_problem(&text);
    assert_eq!(p.key.as_deref(), Some("sources.pg.count_rows"));
    assert!(p.message.starts_with("unknown key 'count_rows'"), "{p}");
}
