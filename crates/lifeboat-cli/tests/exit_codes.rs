//! Exit codes hold for every command and every crate: wrong password (12), not a repository
//! (10), locked (11), refused by the mode (13), across file, stream, PostgreSQL, WAL and copy
//! commands. (The same codes for commands that reach a live PostgreSQL server are checked in
//! postgres.rs.)

mod common;

use common::{write, Env};
use predicates::prelude::*;

/// A WAL-looking file to push (the push fails at the repository before reading it).
fn wal_file(env: &Env) -> std::path::PathBuf {
    let p = env.path("pg_wal/000000010000000000000001");
    write(&p, &vec![0u8; 16 * 1024 * 1024]);
    p
}

fn commands(env: &Env, other: &Env) -> Vec<Vec<String>> {
    let src = env.path("src");
    write(&src.join("a.txt"), b"a");
    let wal = wal_file(env);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        s(&["snapshots"]),
        s(&["backup", &src.display().to_string()]),
        s(&[
            "backup",
            "--stdin-name",
            "x.sql",
            "--stdin-from-command",
            "--",
            "echo",
            "hi",
        ]),
        s(&[
            "restore",
            "latest",
            "--target",
            &env.path("t").display().to_string(),
        ]),
        s(&["check"]),
        s(&["prune"]),
        s(&["forget", "--keep-last", "1"]),
        s(&["backup", "postgres", "--dsn", "host=/nonexistent dbname=x"]),
        s(&[
            "backup",
            "postgres",
            "--physical",
            "--dsn",
            "host=/nonexistent",
        ]),
        s(&[
            "restore",
            "postgres",
            "--physical",
            "--target-dir",
            &env.path("pgdata").display().to_string(),
        ]),
        s(&["wal-push", &wal.display().to_string()]),
        s(&["wal", "verify"]),
        s(&["wal", "show"]),
        s(&["wal", "expire"]),
        s(&["copy", "--to", &other.repo.display().to_string()]),
        s(&["mode"]),
        s(&["journal"]),
    ]
}

#[test]
fn wrong_password_exits_12_for_every_command() {
    let env = Env::new();
    let other = Env::new();
    for args in commands(&env, &other) {
        env.cmd()
            .env("LIFEBOAT_PASSWORD", "wrong")
            .args(&args)
            .assert()
            .code(12)
            .stderr(predicate::str::contains("wrong password"));
    }
}

#[test]
fn not_a_repository_exits_10_for_every_command() {
    let env = Env::uninit();
    std::fs::create_dir_all(&env.repo).unwrap();
    let other = Env::new();
    for args in commands(&env, &other) {
        let out = env.cmd().args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(10),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("is not a lifeboat repository"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("hint: create one with `lifeboat init`"),
            "{err}"
        );
    }
}

#[test]
fn wrong_destination_password_for_copy_exits_12() {
    let env = Env::new();
    let other = Env::new();
    env.cmd()
        .env("LIFEBOAT_TO_PASSWORD", "wrong")
        .args(["copy", "--to", &other.repo.display().to_string()])
        .assert()
        .code(12);
}

#[test]
fn locked_repository_exits_11_for_files_streams_wal_and_copy() {
    std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
    let env = Env::new();
    let other = Env::new();
    let src = env.path("src");
    write(&src.join("a.txt"), b"a");
    env.backup(&[&src]);
    let storage = lifeboat_storage::choose::open(&env.repo.display().to_string()).unwrap();
    let repo = lifeboat_core::Repository::open(storage, env.password.as_bytes()).unwrap();
    let _held =
        lifeboat_core::lock::acquire(&repo, true, "test", std::time::Duration::ZERO).unwrap();
    let wal = wal_file(&env);
    for args in [
        vec!["backup".to_string(), src.display().to_string()],
        vec![
            "backup".into(),
            "--stdin-name".into(),
            "x".into(),
            "--stdin-from-command".into(),
            "--".into(),
            "echo".into(),
            "x".into(),
        ],
        vec!["prune".into()],
        vec!["forget".into(), "--keep-last".into(), "1".into()],
        vec!["wal".into(), "expire".into()],
        vec![
            "copy".into(),
            "--to".into(),
            other.repo.display().to_string(),
        ],
    ] {
        let out = env
            .cmd()
            .env("LIFEBOAT_LOCK_WAIT", "0")
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(11), "{args:?}: {err}");
        assert!(err.contains("repository is locked"), "{err}");
        assert!(err.contains("lifeboat unlock"), "{err}");
    }
    let _ = wal;
}

#[test]
fn missing_repository_is_named_once_with_what_to_do() {
    let env = Env::new();
    let out = env
        .cmd()
        .env_remove("LIFEBOAT_REPOSITORY")
        .arg("snapshots")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("no repository given").count(), 1, "{err}");
    assert!(err.contains("-r/--repo"), "{err}");
    assert!(!err.contains("storage open in :"), "{err}");
}

#[test]
fn mode_refusals_exit_13_and_name_the_mode() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a.txt"), b"a");
    env.backup(&[&src]);
    env.cmd().args(["mode", "degraded"]).assert().success();
    // Degraded: data keeps flowing in.
    env.backup(&[&src]);
    for args in [
        vec!["prune"],
        vec!["forget", "--keep-last", "1"],
        vec!["wal", "expire"],
        vec!["key", "passwd"],
    ] {
        env.cmd()
            .env("LIFEBOAT_NEW_PASSWORD", "new one")
            .args(&args)
            .assert()
            .code(13)
            .stderr(predicate::str::contains("degraded mode"))
            .stderr(predicate::str::contains("lifeboat mode normal"));
    }
    env.cmd().args(["check", "--read-data"]).assert().success();
    env.cmd().args(["mode", "read-only"]).assert().success();
    env.cmd()
        .args(["backup", &src.display().to_string()])
        .assert()
        .code(13)
        .stderr(predicate::str::contains("read-only mode"));
    env.cmd().args(["mode", "normal"]).assert().success();
    env.cmd()
        .args(["forget", "--keep-last", "1", "--prune"])
        .assert()
        .success();
}
