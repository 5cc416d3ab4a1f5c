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

    assert_eq!(config.schedules["nightly"]["at"].as_str(), Some("02:30"));
    assert!(config.drills.contains_key("weekly-restore"));
    assert_eq!(config.targets["shop"]["rpo"].as_str(), Some("1h"));
    assert!(config.notifications.contains_key("ops"));
    assert_eq!(config.daemon["listen"].as_str(), Some("127.0.0.1:9187"));
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
    assert!(config.daemon.is_empty());
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
fn sqlite_is_reserved_but_accepted() {
    let text =
        format!("{MINIMAL}\n[sources.db]\nkind = \"sqlite\"\npaths = [\"/var/db.sqlite\"]\n");
    let config = Config::parse(&text, FILE).unwrap();
    assert_eq!(
        config.source("db").unwrap().kind,
        SourceKind::Sqlite(SqliteSource {
            paths: vec!["/var/db.sqlite".into()]
        })
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
fn reserved_sections_are_kept() {
    let text = "[schedules.s]\nanything = { goes = [1, 2] }\n[daemon]\nx = 1\n";
    let config = Config::parse(text, FILE).unwrap();
    assert_eq!(
        config.schedules["s"]["anything"]["goes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(config.daemon["x"].as_integer(), Some(1));
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
