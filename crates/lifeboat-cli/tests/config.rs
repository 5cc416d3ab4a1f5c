//! The configuration file from the command line: `-r @NAME`, `backup --source NAME`,
//! `forget --policy NAME`, `config check`, and the refusals that protect users (unknown keys
//! with their line, an inline password in a group-readable file).

mod common;

use common::{write, Env};
use predicates::prelude::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Writes `text` as the configuration file (mode 600) and returns its path.
fn config(env: &Env, text: &str) -> PathBuf {
    let p = env.path("lifeboat.toml");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn password_file(env: &Env) -> PathBuf {
    let p = env.path("main.pass");
    std::fs::write(&p, format!("{}\n", env.password)).unwrap();
    p
}

/// The lifeboat command with nothing but the configuration file (no repository, no password
/// in the environment).
fn bare(env: &Env, cfg: &Path) -> assert_cmd::Command {
    let mut c = env.cmd();
    c.env_remove("LIFEBOAT_REPOSITORY")
        .env_remove("LIFEBOAT_PASSWORD")
        .env("LIFEBOAT_CONFIG", cfg);
    c
}

fn standard(env: &Env) -> PathBuf {
    let src = env.path("src");
    write(&src.join("a.txt"), b"alpha");
    write(&src.join("skip.tmp"), b"temporary");
    let pass = password_file(env);
    config(
        env,
        &format!(
            r#"
[repositories.main]
url = "{repo}"
password_file = "{pass}"

[sources.app]
kind = "files"
paths = ["{src}"]
exclude = ["*.tmp"]
repository = "main"
tags = ["app"]

[sources.registry]
kind = "command"
stream_name = "registry.json"
command = ["echo", "{{\"agents\": 3}}"]
repository = "main"

[retention.daily]
keep_last = 1
tags = ["app"]
prune = true
"#,
            repo = env.repo.display(),
            pass = pass.display(),
            src = src.display()
        ),
    )
}

#[test]
fn backup_source_and_named_repository_work_with_only_the_config_file() {
    let env = Env::new();
    let cfg = standard(&env);
    let out = bare(&env, &cfg)
        .args(["backup", "--source", "app", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["summary"]["files_new"], 1,
        "the *.tmp exclude applies: {v}"
    );
    bare(&env, &cfg)
        .args(["backup", "--source", "registry"])
        .assert()
        .success();
    let snaps: serde_json::Value = serde_json::from_slice(
        &bare(&env, &cfg)
            .args(["-r", "@main", "snapshots", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let snaps = snaps.as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    assert!(snaps.iter().any(|s| s["tags"][0] == "app"));
    assert!(snaps.iter().any(|s| s["stream"]["name"] == "registry.json"));
    // Without -r the configuration's only repository is used.
    bare(&env, &cfg)
        .args(["dump", "latest"])
        .assert()
        .success()
        .stdout(predicate::str::contains("agents"));
    // forget --policy: keep_last 1 of the app snapshots, then prune (policy's prune = true).
    bare(&env, &cfg)
        .args(["backup", "--source", "app"])
        .assert()
        .success();
    let f: serde_json::Value = serde_json::from_slice(
        &bare(&env, &cfg)
            .args(["forget", "--policy", "daily", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(f["removed"].as_array().unwrap().len(), 1, "{f}");
    assert!(f["prune"].is_object(), "{f}");
    bare(&env, &cfg)
        .args(["check", "--read-data"])
        .assert()
        .success();
}

#[test]
fn unknown_names_are_refused_with_the_known_ones() {
    let env = Env::new();
    let cfg = standard(&env);
    bare(&env, &cfg)
        .args(["backup", "--source", "nope"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("nope"))
        .stderr(predicate::str::contains("app"));
    bare(&env, &cfg)
        .args(["-r", "@elsewhere", "snapshots"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("elsewhere"));
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let env = Env::new();
    let pass = password_file(&env);
    let cfg = config(
        &env,
        &format!(
            "[repositories.main]\nurl = \"{}\"\npassword_file = \"{}\"\n\n[sources.app]\nkind = \"files\"\npathz = [\"/srv\"]\n",
            env.repo.display(),
            pass.display()
        ),
    );
    let out = bare(&env, &cfg).args(["config", "check"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains(&format!("{}:7:", cfg.display())), "{text}");
    assert!(text.contains("pathz"), "{text}");
    // Any command that needs the file refuses it the same way.
    bare(&env, &cfg)
        .args(["backup", "--source", "app"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains(":7:"));
}

#[test]
fn inline_password_in_a_group_readable_file_is_refused() {
    let env = Env::new();
    let cfg = config(
        &env,
        &format!(
            "[repositories.main]\nurl = \"{}\"\npassword = \"{}\"\n",
            env.repo.display(),
            env.password
        ),
    );
    bare(&env, &cfg).args(["snapshots"]).assert().success();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o640)).unwrap();
    bare(&env, &cfg)
        .args(["snapshots"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("chmod 600"));
}

#[test]
fn config_check_reaches_every_repository_and_lists_each_problem() {
    let env = Env::new();
    let cfg = standard(&env);
    let out = bare(&env, &cfg)
        .args(["config", "check", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["repositories"][0]["ok"], true);
    // A wrong password, a missing repository and a missing program: three problems.
    let wrong = env.path("wrong.pass");
    std::fs::write(&wrong, "not it").unwrap();
    let cfg = config(
        &env,
        &format!(
            r#"
[repositories.main]
url = "{repo}"
password_file = "{wrong}"

[repositories.gone]
url = "{gone}"
password_file = "{wrong}"

[sources.registry]
kind = "command"
stream_name = "r.json"
command = ["no-such-program-for-lifeboat"]
repository = "main"
"#,
            repo = env.repo.display(),
            gone = env.path("gone").display(),
            wrong = wrong.display()
        ),
    );
    let out = bare(&env, &cfg)
        .args(["config", "check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems: Vec<String> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("wrong password")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("not a lifeboat repository")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("no-such-program-for-lifeboat")),
        "{problems:?}"
    );
}
